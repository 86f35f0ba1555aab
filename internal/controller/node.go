package controller

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Node is a controller-only node (process.roles=controller): a voter of
// the metadata quorum that holds no partitions. It keeps the metadata log
// in metadata.log.dir and serves the controller APIs; brokers register
// with it and forward their changes to it when it is the active
// controller.
type Node struct {
	Store      *metadata.Store
	Controller *Controller
	Server     *Server
}

// OpenNode opens a controller-only node's metadata store over the Raft
// side of its controller listener.
func OpenNode(cfg *config.Config, stream raft.StreamLayer, logger *slog.Logger) (*Node, error) {
	if cfg.IsBroker() || !cfg.IsController() {
		return nil, errors.New("controller: OpenNode is for process.roles=controller")
	}
	var voters []metadata.Voter
	for _, v := range cfg.ControllerQuorumVoters {
		voters = append(voters, metadata.Voter{ID: v.ID, Addr: v.Addr()})
	}
	store, err := metadata.Open(metadata.Config{
		NodeID:                   cfg.NodeID,
		Dir:                      cfg.MetadataLogDir,
		ClusterID:                cfg.ClusterID,
		Logger:                   logger.With("component", "metadata"),
		DefaultNumPartitions:     cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		MaxPartitionsPerRequest:  cfg.MaxPartitionsPerRequest,
		MaxBrokerPartitions:      cfg.MaxBrokerPartitions,
		Voters:                   voters,
		Stream:                   stream,
		ElectionTimeout:          time.Duration(cfg.ControllerQuorumElectionTimeoutMs) * time.Millisecond,
	})
	if err != nil {
		return nil, fmt.Errorf("open metadata: %w", err)
	}
	ctrl := New(store, Config{
		SessionTimeout:                     time.Duration(cfg.BrokerSessionTimeoutMs) * time.Millisecond,
		Logger:                             logger.With("component", "controller"),
		LeaderImbalanceCheckInterval:       cfg.LeaderImbalanceCheckInterval(),
		LeaderImbalancePerBrokerPercentage: int(cfg.LeaderImbalancePerBrokerPercentage),
	})
	return &Node{Store: store, Controller: ctrl, Server: NewServer(store, ctrl)}, nil
}

// Close stops the controller and closes the store. If this node is the
// active controller it first hands leadership to another voter, so the
// quorum does not wait out an election timeout.
func (n *Node) Close() error {
	n.Store.TransferLeadership()
	n.Controller.Close()
	return n.Store.Close()
}
