package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// dataPlane is the broker's state beyond its config: the metadata store,
// the log managers (one per log directory) and the replicas.
type dataPlane struct {
	meta     *metadata.Store
	logs     []*log.Manager
	replicas *replicaSet
	sessions *fetchSessionCache
	applyMu  sync.Mutex // serialises applyImage
	ready    atomic.Bool
	closed   atomic.Bool
	groups   groupSlot     // the group coordinator, created on first use
	txns     txnSlot       // the transaction coordinator, created on first use
	fs       vfs.FS        // the file system of logs, producer snapshots and the metadata log
	stop     chan struct{} // closed by Close to end background work
	bg       sync.WaitGroup
}

// Options are the parts of a broker that are not configuration.
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
}

// New opens the node's logs and metadata store, registers the node as a
// broker and creates its partitions from the metadata image. The caller
// serves it (server.New(..., b)) and must Close it.
func New(cfg *config.Config, opts Options) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The coordinators start lazily, so check their settings now: a bad
	// group.* or transaction.* value stops the node instead of failing
	// every later group or transaction request.
	if _, err := group.ConfigFromProps(cfg.NodeID, cfg.Props); err != nil {
		return nil, fmt.Errorf("group coordinator settings: %w", err)
	}
	if _, err := txn.ConfigFromProps(cfg.NodeID, cfg.Props); err != nil {
		return nil, fmt.Errorf("transaction coordinator settings: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	fs := opts.FS
	if fs == nil {
		fs = vfs.OS
	}
	b := &Broker{cfg: cfg, logger: logger, metrics: opts.Metrics, dataPlane: &dataPlane{
		replicas: newReplicaSet(),
		sessions: newFetchSessionCache(int(cfg.FetchMaxSessions), opts.Now),
		txns:     txnSlot{offsets: newPendingTxnOffsets()},
		fs:       fs,
		stop:     make(chan struct{}),
	}}
	for _, dir := range cfg.LogDirs {
		m, err := log.OpenManager(log.ManagerOptions{
			FS:                     fs,
			Dir:                    dir,
			Now:                    opts.Now,
			Logger:                 logger.With("log_dir", dir),
			RetentionCheckInterval: time.Duration(cfg.LogRetentionCheckIntervalMs) * time.Millisecond,
		})
		if err != nil {
			b.closeLogs()
			if errors.Is(err, vfs.ErrLocked) {
				return nil, err // the sentence names the directory and its owner
			}
			return nil, fmt.Errorf("open log dir %s: %w", dir, err)
		}
		b.logs = append(b.logs, m)
		if cfg.LogCleanerEnable {
			// The cleaner stops when the manager closes.
			if _, err := m.StartCleaner(log.DefaultCleanerConfig()); err != nil {
				b.closeLogs()
				return nil, fmt.Errorf("start log cleaner in %s: %w", dir, err)
			}
		}
	}
	meta, err := metadata.Open(metadata.Config{
		NodeID:                   cfg.NodeID,
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
		b.closeLogs()
		if errors.Is(err, vfs.ErrLocked) {
			return nil, err
		}
		return nil, fmt.Errorf("open metadata: %w", err)
	}
	b.meta = meta
	meta.Watch(b.watchImage)
	b.watchImage(nil, meta.Image())
	b.deleteStrayLogs()

	host, port, err := b.advertised(opts.AdvertisedAddr)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = meta.RegisterBroker(ctx, metadata.Broker{ID: cfg.NodeID, Host: host, Port: port})
		cancel()
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("register broker: %w", err)
	}
	if err := b.finalizeTransactionVersion(); err != nil {
		b.Close()
		return nil, err
	}
	if opts.Metrics != nil {
		opts.Metrics.SetPartitionLister(b.partitionStats)
	}
	b.startHousekeeping()
	b.ready.Store(true)
	b.resumeTxns()
	return b, nil
}

func (b *Broker) advertised(override string) (string, int32, error) {
	addr := override
	if addr == "" {
		addr = b.cfg.AdvertisedListeners[0].Addr()
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
func (b *Broker) watchImage(prev, next *metadata.Image) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	if b.closed.Load() {
		return
	}
	b.replicas.mu.RLock()
	applied := b.replicas.applied
	b.replicas.mu.RUnlock()
	if next.Epoch < applied {
		return
	}
	if prev == nil || prev.Epoch < applied {
		prev = &metadata.Image{}
	}
	b.applyImage(prev, next)
}

// deleteStrayLogs removes logs left on disk for partitions that are no
// longer in the image (a topic deleted while this node was down).
func (b *Broker) deleteStrayLogs() {
	for _, m := range b.logs {
		for _, l := range m.Logs() {
			tp := l.TopicPartition()
			if b.replica(tp) == nil {
				if err := m.Delete(tp); err != nil {
					b.logger.Warn("cannot delete stray partition log", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				} else {
					b.logger.Info("deleted stray partition log", "topic", tp.Topic, "partition", tp.Partition)
				}
			}
		}
	}
}

// Ready reports nil once the broker serves requests.
func (b *Broker) Ready() error {
	if b.dataPlane == nil || !b.ready.Load() {
		return errors.New("broker is starting")
	}
	if b.closed.Load() {
		return errors.New("broker is shutting down")
	}
	return nil
}

// Metadata is the cluster metadata store.
func (b *Broker) Metadata() *metadata.Store { return b.meta }

// LogManagers are the log managers, one per log directory.
func (b *Broker) LogManagers() []*log.Manager { return b.logs }

// LogManager returns the manager holding a partition's log, or the first
// one if no manager has it.
func (b *Broker) LogManager(tp log.TopicPartition) *log.Manager { return b.managerFor(tp) }

// Close stops applying metadata, closes the partitions (writing producer
// snapshots), closes the logs (flush, checkpoints, clean-shutdown marker)
// and the metadata store. The server must be shut down first.
func (b *Broker) Close() error {
	// closed first, then applyMu: an image being applied sees closed and
	// stops between partitions, so a large topic create does not hold up
	// the shutdown.
	alreadyClosed := b.closed.Swap(true)
	b.applyMu.Lock()
	b.applyMu.Unlock() //nolint:staticcheck // waits for an apply in progress to stop
	if !alreadyClosed {
		close(b.stop)
	}
	b.bg.Wait()
	b.CloseTxns()
	b.CloseGroups()
	var errs []error
	if b.meta != nil {
		errs = append(errs, b.meta.Close())
	}
	b.replicas.mu.Lock()
	reps := b.replicas.byTP
	b.replicas.byTP = map[log.TopicPartition]*replica{}
	b.replicas.mu.Unlock()
	for _, r := range reps {
		errs = append(errs, r.part.Close())
	}
	errs = append(errs, b.closeLogs())
	return errors.Join(errs...)
}

func (b *Broker) closeLogs() error {
	var errs []error
	for _, m := range b.logs {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

func (b *Broker) partitionStats() []metrics.PartitionStat {
	stats := b.replicaStats()
	out := make([]metrics.PartitionStat, len(stats))
	for i, s := range stats {
		out[i] = metrics.PartitionStat{Topic: s.tp.Topic, Partition: s.tp.Partition, LogStartOffset: s.logStart, LogEndOffset: s.logEnd, HighWatermark: s.highWatermark, SizeBytes: s.size}
	}
	return out
}

// newPartition opens the leader state over a log.
func (b *Broker) newPartition(l *log.Log, tp log.TopicPartition, topicID [16]byte, leaderEpoch int32) (*partition.Partition, error) {
	return partition.New(partition.Config{
		Log:                    l,
		FS:                     b.fs,
		Topic:                  tp.Topic,
		TopicID:                topicID,
		Partition:              tp.Partition,
		LeaderEpoch:            leaderEpoch,
		ProducerIDExpirationMs: b.cfg.ProducerIDExpirationMs,
		Logger:                 b.logger,
	})
}
