package replica

// Wiring of the transaction coordinator (internal/txn) into the broker:
// one coordinator per node, created when the node opens, whose storage is
// the internal topic __transaction_state (created through the metadata
// store on first write or by FindCoordinator, appended to with acks=all
// semantics and replayed from the partition logs when the coordinator
// loads a partition), whose partitions follow this node's leadership of
// __transaction_state (coordinators.go), whose markers go to the leaders
// of the transaction's partitions (in process to this node's, as
// WriteTxnMarkers requests to the others: markers.go), and whose periodic
// work (timeouts, retries, expiry) runs on a ticker.
//
// Offsets sent with TxnOffsetCommit are written to __consumer_offsets as
// transactional records and applied at the marker (txn_offsets.go).

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnSlot holds the node's transaction coordinator and the transactional
// offsets waiting for their markers.
type txnSlot struct {
	mu      sync.Mutex
	c       *txn.Coordinator
	store   *recordStorage[txn.Record] // set with c
	tasks   *partitionTasks            // its loads and unloads; set with c
	markers *markerChannel             // its marker writer; set with c
	closed  bool
	done    chan struct{}            // closed by CloseTxns; stops the ticker
	offsets *group.PendingTxnOffsets // set by New, never changed
	// failMarker, set by tests, makes the in-process markers to the
	// partitions it names fail (UNKNOWN_SERVER_ERROR, not retried).
	failMarker atomic.Pointer[func(topic string, partition int32) bool]
}

// txnOffsets is the broker's set of pending transactional offsets.
func (m *Manager) txnOffsets() *group.PendingTxnOffsets { return m.txns.offsets }

// Txns returns the node's transaction coordinator. An error means it no
// longer serves (the node is closing); handlers answer
// COORDINATOR_NOT_AVAILABLE and clients retry. The coordinator answers
// NOT_COORDINATOR for transactional ids of the __transaction_state
// partitions this node does not lead.
func (m *Manager) Txns() (*txn.Coordinator, error) {
	slot := &m.txns
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.closed || slot.c == nil || m.closed.Load() {
		return nil, errors.New("broker is closing")
	}
	return slot.c, nil
}

// newTxns creates the transaction coordinator and starts its ticker; its
// partitions load once startCoordinators runs.
func (m *Manager) newTxns() error {
	cfg, err := txn.ConfigFromProps(m.cfg.NodeID, m.cfg.Props)
	if err != nil {
		return err
	}
	gcfg, err := group.ConfigFromProps(m.cfg.NodeID, m.cfg.Props)
	if err != nil {
		return err
	}
	st := newStateStorage(m, cfg)
	var current atomic.Pointer[txn.Coordinator] // set once c exists, before any marker
	markers := newMarkerChannel(markerChannelConfig{
		self:    m.cfg.NodeID,
		image:   m.meta.Image,
		changed: m.imageChanged,
		local:   m.writeLocalMarker,
		send:    m.sendMarkers,
		// The markers' coordinator epoch is still this coordinator's: it
		// has the id's partition loaded in that epoch, and the image
		// still names this node its leader in it (an unload may be queued
		// behind the load that is writing these markers).
		current: func(mk txn.Marker) bool {
			c := current.Load()
			if c == nil || c.CoordinatorEpoch(mk.TransactionalID) != mk.CoordinatorEpoch {
				return false
			}
			p, ok := m.meta.Image().Partition(txn.StateTopic, c.PartitionFor(mk.TransactionalID))
			return ok && p.Leader == m.cfg.NodeID && p.LeaderEpoch == mk.CoordinatorEpoch
		},
		logger: m.logger.With("component", "txn-markers"),
	})
	c, err := txn.New(txn.Options{
		Config:      cfg,
		Storage:     st,
		Markers:     markers,
		ProducerIDs: m.AllocateProducerID,
		PartitionExists: func(tp txn.TopicPartition) bool {
			_, ok := m.meta.Image().Partition(tp.Topic, tp.Partition)
			return ok
		},
		OffsetsPartition: func(g string) txn.TopicPartition {
			n := m.internalPartitionCount(group.OffsetsTopic, gcfg.OffsetsTopicNumPartitions)
			return txn.TopicPartition{Topic: group.OffsetsTopic, Partition: group.PartitionFor(g, n)}
		},
		NumPartitions: func() int32 {
			return m.internalPartitionCount(txn.StateTopic, cfg.TransactionStateLogNumPartitions)
		},
		Logger:             m.logger.With("component", "txn-coordinator"),
		TransactionVersion: m.transactionVersion,
	})
	if err != nil {
		markers.close()
		return err
	}
	current.Store(c)
	slot := &m.txns
	slot.mu.Lock()
	defer slot.mu.Unlock()
	slot.c, slot.store, slot.markers = c, st, markers
	slot.tasks = newPartitionTasks(txn.StateTopic, m.cfg.NodeID, m.logger.With("component", "txn-coordinator"),
		c.LoadPartition, func(p, epoch int32) { c.UnloadPartition(p, epoch) })
	slot.done = make(chan struct{})
	go m.runTxnTicker(c, slot.done, time.Duration(cfg.TransactionAbortTimedOutTransactionCleanupIntervalMs)*time.Millisecond)
	return nil
}

// runTxnTicker runs the coordinator's periodic work until done is closed
// or the broker closes.
func (m *Manager) runTxnTicker(c *txn.Coordinator, done chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if m.closed.Load() {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			c.Tick(ctx)
			cancel()
		}
	}
}

// CloseTxns stops the node's transaction coordinator (its loads, ticker
// and marker retries); later transaction requests are answered
// COORDINATOR_NOT_AVAILABLE. Close calls it before CloseGroups.
func (m *Manager) CloseTxns() {
	slot := &m.txns
	slot.mu.Lock()
	c, tasks, markers, done, was := slot.c, slot.tasks, slot.markers, slot.done, slot.closed
	slot.closed = true
	slot.mu.Unlock()
	if c != nil && !was {
		close(done)
		// Markers first: a load or tick retrying markers returns at once,
		// leaving them to the partition's next coordinator.
		markers.close()
		tasks.stop()
		c.Close()
	}
}

// writeLocalMarker writes a marker in process to a partition this node
// leads (the marker channel's local path).
func (m *Manager) writeLocalMarker(ctx context.Context, mk txn.Marker, tp txn.TopicPartition) int16 {
	if f := m.txns.failMarker.Load(); f != nil && (*f)(tp.Topic, tp.Partition) {
		return kerr.UnknownServerError.Code
	}
	return m.WriteMarker(ctx, mk.ProducerID, mk.ProducerEpoch, mk.CoordinatorEpoch, mk.Commit, tp.Topic, tp.Partition)
}

// sendMarkers sends a WriteTxnMarkers request to another broker (the
// marker channel's remote path).
func (m *Manager) sendMarkers(ctx context.Context, broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	resp, err := m.peers.Request(ctx, broker, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.WriteTxnMarkersResponse), nil
}

// writeMarker writes one marker to a local partition and returns the
// Kafka error code (0 when written, or when the partition is gone). For a
// __consumer_offsets partition it also commits (or drops) the producer's
// pending transactional offsets of the groups living there.
func (m *Manager) WriteMarker(ctx context.Context, pid int64, epoch int16, coordinatorEpoch int32, commit bool, topic string, p int32) int16 {
	if _, ok := m.meta.Image().Partition(topic, p); !ok {
		return 0 // deleted (or never created): Kafka drops markers of deleted partitions
	}
	part, ok := m.Partition(topic, p)
	if !ok {
		return kerr.NotLeaderForPartition.Code
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if topic == group.OffsetsTopic {
		return m.writeOffsetsMarker(ctx, part, pid, epoch, coordinatorEpoch, commit)
	}
	return markerCode(part.WriteTxnMarker(ctx, pid, epoch, coordinatorEpoch, commit))
}

func markerCode(err error) int16 {
	if err == nil {
		return 0
	}
	code, _ := partition.KafkaError(err)
	if code == nil {
		return kerr.UnknownServerError.Code
	}
	return code.Code
}

// newStateStorage is txn.Storage over __transaction_state.
func newStateStorage(m *Manager, cfg txn.Config) *recordStorage[txn.Record] {
	return &recordStorage[txn.Record]{
		topic: internalTopic{m: m, name: txn.StateTopic, partitions: cfg.TransactionStateLogNumPartitions,
			segmentBytes: cfg.TransactionStateLogSegmentBytes, compression: "uncompressed",
			replicationFactor: cfg.TransactionStateLogReplicationFactor, minISR: cfg.TransactionStateLogMinISR},
		kv: func(r txn.Record) ([]byte, []byte) { return r.Key, r.Value },
		mk: func(k, v []byte) txn.Record { return txn.Record{Key: k, Value: v} },
	}
}

// transactionVersion is the cluster's finalized transaction.version
// feature level (0 when it is not finalized).
func (m *Manager) transactionVersion() int16 {
	return m.meta.Image().Features[txn.FeatureName]
}

// finalizeTransactionVersion records samsa.transaction.version as the
// transaction.version feature level in the metadata log when it differs
// from the finalized one: at the first start, and when an operator changes
// the setting (to fall back to version 1, or to come back to 2). Only an
// invalid setting is an error. Producers
// learn the level from ApiVersions; ones already running keep the
// protocol they chose until they initialise again.
func (m *Manager) finalizeTransactionVersion() error {
	cfg, err := txn.ConfigFromProps(m.cfg.NodeID, m.cfg.Props)
	if err != nil {
		return err
	}
	if m.transactionVersion() == cfg.TransactionVersion {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.client.SetFeatureLevel(ctx, txn.FeatureName, cfg.TransactionVersion); err != nil {
		// Not fatal: the finalized level stays what it was.
		m.logger.Warn("cannot finalize transaction.version", "level", cfg.TransactionVersion, "err", err)
		return nil
	}
	m.logger.Info("transaction.version finalized", "level", cfg.TransactionVersion)
	return nil
}

// FailMarkers makes the in-process markers to the partitions fail names
// fail at once (UNKNOWN_SERVER_ERROR, which the marker channel does not
// retry within a call), leaving the transaction prepared. For fault tests.
func (m *Manager) FailMarkers(fail func(topic string, partition int32) bool) {
	m.txns.failMarker.Store(&fail)
}
