package main

// samsa cluster status: every node of the cluster with its roles, rack,
// whether it is fenced, which one is the active controller, and how far
// each is behind on the metadata log: DescribeCluster (fenced brokers
// included, KIP-1073) and DescribeQuorum (KIP-595), as
// kafka-metadata-quorum.sh describe --status and --replication show them.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
)

// clusterStatus is the output of cluster status.
type clusterStatus struct {
	ClusterID string `json:"cluster_id" yaml:"cluster_id"`
	// Controller is the active controller's node id, -1 when none.
	Controller int32 `json:"controller" yaml:"controller"`
	// LeaderEpoch is the metadata quorum's epoch (the Raft term).
	LeaderEpoch int32 `json:"leader_epoch" yaml:"leader_epoch"`
	// HighWatermark is the metadata log's committed offset.
	HighWatermark int64        `json:"high_watermark" yaml:"high_watermark"`
	Nodes         []nodeStatus `json:"nodes" yaml:"nodes"`
}

type nodeStatus struct {
	ID int32 `json:"id" yaml:"id"`
	// Roles: broker, voter (a controller with a vote), observer (a
	// broker-only node following the metadata log).
	Roles []string `json:"roles" yaml:"roles"`
	// Endpoint is the broker's host:port, "" for a controller-only node.
	Endpoint string  `json:"endpoint" yaml:"endpoint"`
	Rack     *string `json:"rack" yaml:"rack"`
	// State is live, fenced, or - for a controller-only node.
	State string `json:"state" yaml:"state"`
	// MetadataOffset is the metadata offset the node last reported, -1
	// when unknown; Lag is the high watermark minus it.
	MetadataOffset int64 `json:"metadata_offset" yaml:"metadata_offset"`
	Lag            int64 `json:"lag" yaml:"lag"`
	// LastHeardMs is how long ago the controller heard from the node, -1
	// when unknown.
	LastHeardMs int64 `json:"last_heard_ms" yaml:"last_heard_ms"`
}

func newClusterStatusCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "Show every node: roles, rack, fenced or live, the active controller, metadata lag",
		Example: "  samsa cluster status\n  samsa cluster status --format json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := flags.options()
			return withClient(cmd.Context(), flags, func(ctx context.Context, cl *kgo.Client) error {
				dc := kmsg.NewPtrDescribeClusterRequest()
				dc.Version, dc.EndpointType, dc.IncludeFencedBrokers = 2, 1, true
				r, err := dc.RequestWith(ctx, cl)
				if err != nil {
					return cli.Explain(err, o)
				}
				if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
					return cli.Explain(err, o)
				}
				q, err := quorumRequest().RequestWith(ctx, cl)
				if err != nil {
					return cli.Explain(err, o)
				}
				st, err := buildClusterStatus(r, q, time.Now())
				if err != nil {
					return cli.Explain(err, o)
				}
				w := cmd.OutOrStdout()
				return of.print(w, st, func(bool) error { return writeClusterStatus(w, st) })
			})
		},
	}
}

// quorumRequest describes the metadata log's quorum.
func quorumRequest() *kmsg.DescribeQuorumRequest {
	dq := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	t.Partitions = append(t.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	dq.Topics = append(dq.Topics, t)
	return dq
}

func buildClusterStatus(dc *kmsg.DescribeClusterResponse, dq *kmsg.DescribeQuorumResponse, now time.Time) (clusterStatus, error) {
	st := clusterStatus{ClusterID: dc.ClusterID, Controller: dc.ControllerID}
	if err := kerr.ErrorForCode(dq.ErrorCode); err != nil {
		return st, err
	}
	if len(dq.Topics) != 1 || len(dq.Topics[0].Partitions) != 1 {
		return st, fmt.Errorf("DescribeQuorum answered %d topics", len(dq.Topics))
	}
	p := dq.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return st, err
	}
	st.Controller, st.LeaderEpoch, st.HighWatermark = p.LeaderID, p.LeaderEpoch, p.HighWatermark
	nodes := map[int32]*nodeStatus{}
	node := func(id int32) *nodeStatus {
		if n := nodes[id]; n != nil {
			return n
		}
		n := &nodeStatus{ID: id, State: "-", MetadataOffset: -1, Lag: -1, LastHeardMs: -1}
		nodes[id] = n
		return n
	}
	for _, b := range dc.Brokers {
		n := node(b.NodeID)
		n.Roles = append(n.Roles, "broker")
		n.Endpoint = b.Host + ":" + strconv.Itoa(int(b.Port))
		n.Rack = b.Rack
		n.State = "live"
		if b.IsFenced {
			n.State = "fenced"
		}
	}
	replica := func(r kmsg.DescribeQuorumResponseTopicPartitionReplicaState, role string) {
		n := node(r.ReplicaID)
		n.Roles = append(n.Roles, role)
		if r.LogEndOffset >= 0 {
			n.MetadataOffset = r.LogEndOffset
			n.Lag = max(p.HighWatermark-r.LogEndOffset, 0)
		}
		if r.LastFetchTimestamp > 0 {
			n.LastHeardMs = max(now.UnixMilli()-r.LastFetchTimestamp, 0)
		}
	}
	for _, v := range p.CurrentVoters {
		replica(v, "voter")
	}
	for _, o := range p.Observers {
		replica(o, "observer")
	}
	ids := make([]int32, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		st.Nodes = append(st.Nodes, *nodes[id])
	}
	return st, nil
}

func writeClusterStatus(w io.Writer, st clusterStatus) error {
	fmt.Fprintf(w, "Cluster ID:     %s\n", st.ClusterID)
	fmt.Fprintf(w, "Controller:     %d (metadata epoch %d)\n", st.Controller, st.LeaderEpoch)
	fmt.Fprintf(w, "High watermark: %d\n\n", st.HighWatermark)
	t := format.NewTable("ID", "ROLES", "ENDPOINT", "RACK", "STATE", "METADATA-OFFSET", "LAG", "LAST-HEARD")
	for _, n := range st.Nodes {
		rack, endpoint := "-", n.Endpoint
		if n.Rack != nil {
			rack = *n.Rack
		}
		if endpoint == "" {
			endpoint = "-"
		}
		roles := ""
		for i, r := range n.Roles {
			if i > 0 {
				roles += ","
			}
			roles += r
		}
		if n.ID == st.Controller {
			roles += " (active controller)"
		}
		offset, lag, heard := "-", "-", "-"
		if n.MetadataOffset >= 0 {
			offset, lag = strconv.FormatInt(n.MetadataOffset, 10), strconv.FormatInt(n.Lag, 10)
		}
		if n.LastHeardMs >= 0 {
			heard = (time.Duration(n.LastHeardMs) * time.Millisecond).String() + " ago"
		}
		t.Row(strconv.Itoa(int(n.ID)), roles, endpoint, rack, n.State, offset, lag, heard)
	}
	return t.Write(w)
}
