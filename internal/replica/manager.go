package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/interbroker"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Manager is the node's replica manager (Kafka's ReplicaManager): it owns
// the log managers (one per log directory), the metadata store this node
// follows, the replicas the metadata image assigns to this node and their
// settings, the coordinators' storage on internal topics, and the node's
// start and close order. Handlers reach the data through it; replica
// fetchers and leader/follower transitions belong here too.
//
// Its fields are set by Open and never reassigned; the replica set has its
// own lock.
type Manager struct {
	cfg      *config.Config
	logger   *slog.Logger
	metrics  *metrics.Metrics // nil-safe
	meta     *metadata.Store
	ctrl     *controller.Controller // this node's controller (every node runs one as a voter or a cluster of one)
	client   *controller.Client     // the way to the active controller
	peers    *interbroker.Client    // the way to the other brokers (markers, transaction verification)
	life     lifecycle              // registration and heartbeats
	logs     []*log.Manager
	replicas *replicaSet
	pids     ProducerIDs
	fetchers fetchers         // the follower fetchers, by leader
	isrQueue chan isrProposal // leaders' ISR proposals for the controller
	applyMu  sync.Mutex       // serialises applyImage
	ready    atomic.Bool
	closed   atomic.Bool
	groups   groupSlot     // the group coordinator
	txns     txnSlot       // the transaction coordinator
	fs       vfs.FS        // the file system of logs, producer snapshots and the metadata log
	stop     chan struct{} // closed by Close to end background work
	bg       sync.WaitGroup
}

// Options are the parts of a node that are not configuration.
type Options struct {
	Logger  *slog.Logger     // nil means slog.Default()
	Metrics *metrics.Metrics // nil disables metrics
	// AdvertisedAddr overrides the host:port registered for this node (the
	// first advertised listener); serve passes the bound address when the
	// configured port is 0.
	AdvertisedAddr string
	// FS is the file system of the logs and the metadata log; nil means
	// the real one.
	FS vfs.FS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RaftStream carries the metadata log's Raft traffic when the node is
	// one of a quorum (controller.quorum.voters set): the Raft side of
	// the controller listener (or, on a broker-only node, of its
	// inter-broker listener).
	RaftStream raft.StreamLayer
	// Context, if set, ends the start early: a node asked to stop while it
	// waits to register gives up instead of waiting out
	// initial.broker.registration.timeout.ms.
	Context context.Context
	// ControllerAPIs, if set, is called with the controller APIs as soon
	// as the metadata store is open, before the node registers: the
	// controller listener serves them (the quorum needs them to register
	// its own brokers).
	ControllerAPIs func(*controller.Server)
}

// Open opens the node's logs and metadata store, registers the node as a
// broker and creates its replicas from the metadata image. The caller must
// Close it.
func Open(cfg *config.Config, opts Options) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Check the coordinators' settings before opening anything: a bad
	// group.* or transaction.* value stops the node at once.
	if _, err := group.ConfigFromProps(cfg.NodeID, cfg.Props); err != nil {
		return nil, fmt.Errorf("group coordinator settings: %w", err)
	}
	if _, err := txn.ConfigFromProps(cfg.NodeID, cfg.Props); err != nil {
		return nil, fmt.Errorf("transaction coordinator settings: %w", err)
	}
	if err := ValidateStaticTopicDefaults(cfg); err != nil {
		return nil, fmt.Errorf("topic defaults: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.OS
	}
	m := &Manager{cfg: cfg, logger: logger, metrics: opts.Metrics,
		replicas: newReplicaSet(),
		txns:     txnSlot{offsets: group.NewPendingTxnOffsets()},
		fs:       fs,
		stop:     make(chan struct{}),
		isrQueue: make(chan isrProposal, 1024),
	}
	for _, dir := range cfg.LogDirs {
		lm, err := log.OpenManager(log.ManagerOptions{
			FS:                     fs,
			Dir:                    dir,
			Now:                    opts.Now,
			Logger:                 logger.With("log_dir", dir),
			RetentionCheckInterval: time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond,
			CommitObserver:         m.commitObserver(dir),
		})
		if err != nil {
			m.closeLogs()
			if errors.Is(err, vfs.ErrLocked) {
				return nil, err // the sentence names the directory and its owner
			}
			return nil, fmt.Errorf("open log dir %s: %w", dir, err)
		}
		m.logs = append(m.logs, lm)
		if cfg.LogCleanerEnable {
			// The cleaner stops when the manager closes.
			if _, err := lm.StartCleaner(log.DefaultCleanerConfig()); err != nil {
				m.closeLogs()
				return nil, fmt.Errorf("start log cleaner in %s: %w", dir, err)
			}
		}
	}
	var voters []metadata.Voter
	for _, v := range cfg.ControllerQuorumVoters {
		voters = append(voters, metadata.Voter{ID: v.ID, Addr: v.Addr()})
	}
	if len(voters) > 0 && opts.RaftStream == nil {
		m.closeLogs()
		return nil, errors.New("a node of a controller quorum needs a listener for the metadata log's Raft traffic")
	}
	meta, err := metadata.Open(metadata.Config{
		NodeID:                   cfg.NodeID,
		Voters:                   voters,
		Stream:                   opts.RaftStream,
		ElectionTimeout:          time.Duration(cfg.ControllerQuorumElectionTimeoutMs) * time.Millisecond,
		Dir:                      cfg.MetadataLogDir,
		FS:                       fs,
		ClusterID:                cfg.ClusterID,
		Logger:                   logger.With("component", "metadata"),
		DefaultNumPartitions:     cfg.NumPartitions,
		DefaultReplicationFactor: cfg.DefaultReplicationFactor,
		MaxPartitionsPerRequest:  cfg.MaxPartitionsPerRequest,
		MaxBrokerPartitions:      cfg.MaxBrokerPartitions,
	})
	if err != nil {
		m.closeLogs()
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("open metadata: %w", err)
	}
	m.meta = meta
	if cfg.IsController() {
		m.ctrl = controller.New(meta, controller.Config{
			SessionTimeout:                     time.Duration(cfg.BrokerSessionTimeoutMs) * time.Millisecond,
			Logger:                             logger.With("component", "controller"),
			Now:                                opts.Now,
			LeaderImbalanceCheckInterval:       cfg.LeaderImbalanceCheckInterval(),
			LeaderImbalancePerBrokerPercentage: int(cfg.LeaderImbalancePerBrokerPercentage),
		})
		if opts.ControllerAPIs != nil {
			opts.ControllerAPIs(controller.NewServer(meta, m.ctrl))
		}
	}
	m.client = controller.NewClient(controller.ClientConfig{
		NodeID: cfg.NodeID, Store: meta, Controller: m.ctrl, Voters: voters,
		Logger: logger.With("component", "controller-client"),
	})
	m.peers = interbroker.New(interbroker.Config{
		NodeID:   cfg.NodeID,
		Endpoint: m.brokerEndpoint,
		Logger:   logger.With("component", "interbroker"),
	})
	if err := m.newCoordinators(); err != nil {
		m.Close()
		return nil, err
	}
	meta.Watch(m.watchImage)
	m.watchImage(nil, meta.Image())

	host, port, err := m.advertised(opts.AdvertisedAddr)
	if err == nil {
		err = m.register(opts.Context, host, port)
	}
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("register broker: %w", err)
	}
	// Only now is the image at least as new as this node's registration:
	// a log the image does not name is a stray, not a partition this node
	// has yet to hear of.
	m.deleteStrayLogs()
	if err := m.finalizeTransactionVersion(); err != nil {
		m.Close()
		return nil, err
	}
	if opts.Metrics != nil {
		opts.Metrics.SetSources(m.metricsSources())
	}
	m.startHousekeeping()
	m.startISRManagement()
	m.ready.Store(true)
	m.startCoordinators()
	return m, nil
}

func (m *Manager) advertised(override string) (string, int32, error) {
	addr := override
	if addr == "" {
		l, ok := m.cfg.AdvertisedBrokerListener()
		if !ok {
			return "", 0, errors.New("no advertised listener for clients")
		}
		addr = l.Addr()
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseInt(portStr, 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("advertised port %q: %w", portStr, err)
	}
	return host, int32(port), nil
}

// watchImage applies images in order; an image older than the one applied
// (the initial apply may overtake a queued notification) is skipped.
func (m *Manager) watchImage(prev, next *metadata.Image) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	if m.closed.Load() {
		return
	}
	m.replicas.mu.RLock()
	applied := m.replicas.applied
	m.replicas.mu.RUnlock()
	if next.Epoch < applied {
		return
	}
	if prev == nil || prev.Epoch < applied {
		prev = &metadata.Image{}
	}
	follow := m.applyImage(prev, next)
	// Coordinators let go of partitions this node no longer leads before
	// a fetch can truncate them (design F11).
	m.coordinatorLeadership(next)
	m.startFollowing(follow)
}

// brokerEndpoint is a broker's inter-broker address as the image
// registers it.
func (m *Manager) brokerEndpoint(id int32) (string, bool) {
	b, ok := m.meta.Image().Brokers[id]
	if !ok {
		return "", false
	}
	return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), true
}

// imageChanged returns a channel closed once the replicas reflect an
// image newer than the one they reflect now.
func (m *Manager) imageChanged() <-chan struct{} {
	m.replicas.mu.RLock()
	defer m.replicas.mu.RUnlock()
	return m.replicas.changed
}

// deleteStrayLogs removes logs left on disk for partitions that are no
// longer in the image (a topic deleted while this node was down). A log is
// a stray only when the metadata image, caught up with this node's
// registration, does not name this node a replica of its partition under
// its topic id, and the replicas reflect that image: a log the node has
// simply not opened yet is never taken for one.
func (m *Manager) deleteStrayLogs() {
	im := m.meta.Image()
	for _, lm := range m.logs {
		for _, l := range lm.Logs() {
			tp := l.TopicPartition()
			if p, ok := im.Partition(tp.Topic, tp.Partition); ok && slices.Contains(p.Replicas, m.cfg.NodeID) {
				if t := im.Topic(tp.Topic); t != nil && (l.TopicID() == [16]byte{} || l.TopicID() == t.ID) {
					continue
				}
			}
			if m.replica(tp) == nil {
				if err := lm.Delete(tp); err != nil {
					m.logger.Warn("cannot delete stray partition log", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				} else {
					m.logger.Info("deleted stray partition log", "topic", tp.Topic, "partition", tp.Partition)
				}
			}
		}
	}
}

// Ready reports nil once the broker serves requests.
func (m *Manager) Ready() error {
	if !m.ready.Load() {
		return errors.New("broker is starting")
	}
	if m.closed.Load() {
		return errors.New("broker is shutting down")
	}
	return nil
}

// Metadata is the cluster metadata store.
func (m *Manager) Metadata() *metadata.Store { return m.meta }

// Controller is the node's way to the active controller: the current
// image and the operations that change it.
func (m *Manager) Controller() *controller.Client { return m.client }

// Close stops applying metadata, closes the partitions (writing producer
// snapshots), closes the logs (flush, checkpoints, clean-shutdown marker)
// and the metadata store. The server must be shut down first.
func (m *Manager) Close() error {
	// closed first, then applyMu: an image being applied sees closed and
	// stops between partitions, so a large topic create does not hold up
	// the shutdown.
	alreadyClosed := m.closed.Swap(true)
	m.applyMu.Lock()
	m.applyMu.Unlock() //nolint:staticcheck // waits for an apply in progress to stop
	if !alreadyClosed {
		m.BeginShutdown()
		if m.meta != nil {
			m.meta.TransferLeadership()
		}
		close(m.stop)
	}
	m.bg.Wait()
	m.stopFetchers()
	m.CloseTxns()
	m.CloseGroups()
	if m.peers != nil {
		m.peers.Close()
	}
	var errs []error
	if m.client != nil {
		m.client.Close()
	}
	if m.ctrl != nil {
		m.ctrl.Close()
	}
	if m.meta != nil {
		errs = append(errs, m.meta.Close())
	}
	m.replicas.mu.Lock()
	reps := m.replicas.byTP
	m.replicas.byTP = map[log.TopicPartition]*Replica{}
	m.replicas.mu.Unlock()
	for _, r := range reps {
		errs = append(errs, r.part.Close())
	}
	errs = append(errs, m.closeLogs())
	return errors.Join(errs...)
}

func (m *Manager) closeLogs() error {
	var errs []error
	for _, lm := range m.logs {
		errs = append(errs, lm.Close())
	}
	return errors.Join(errs...)
}

// newPartition opens the partition state over a log, as a follower of no
// epoch with the high watermark the log checkpointed: applyRole makes it
// leader or follower in the image's epoch.
func (m *Manager) newPartition(l *log.Log, tp log.TopicPartition, topicID [16]byte) (*partition.Partition, error) {
	return partition.New(partition.Config{
		Log:                         l,
		FS:                          m.fs,
		Topic:                       tp.Topic,
		TopicID:                     topicID,
		Partition:                   tp.Partition,
		LeaderEpoch:                 -1,
		Follower:                    true,
		ProducerIDExpirationMs:      m.cfg.ProducerIDExpirationMs,
		Logger:                      m.logger,
		Appended:                    m.appendedHook(tp.Topic),
		TruncatedBelowHighWatermark: m.metrics.TruncatedBelowHighWatermark,
	})
}

// ControllerAPIs is the controller APIs over this node's store, nil on a
// node without the controller role.
func (m *Manager) ControllerAPIs() *controller.Server {
	if m.ctrl == nil {
		return nil
	}
	return controller.NewServer(m.meta, m.ctrl)
}
