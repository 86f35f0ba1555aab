package broker

// Wiring of the transaction coordinator (internal/txn) into the broker: one
// coordinator per Broker, created on the first transactional request,
// whose storage is the internal topic __transaction_state (created through
// the metadata store on first write, appended to with acks=all semantics
// and replayed from the partition logs when the coordinator loads), whose
// markers are written in process to this node's partitions, and whose
// periodic work (timeouts, retries, expiry) runs on a ticker.
//
// Offsets sent with TxnOffsetCommit wait here, per group and producer,
// until the commit marker reaches the group's __consumer_offsets
// partition; then they are committed through the group coordinator. They
// are kept in memory only.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnSlot holds the broker's transaction coordinator, created on first
// use, and the transactional offsets waiting for their markers.
type txnSlot struct {
	mu      sync.Mutex // held while creating, loading and closing
	c       *txn.Coordinator
	closed  bool
	done    chan struct{} // closed by CloseTxns; stops the ticker
	offsets *pendingTxnOffsets
}

func init() {
	FindTxnCoordinator = func(b *Broker, id string) (int32, string, int32, int16) {
		if _, err := b.Txns(); err != nil {
			b.logger.Warn("transaction coordinator unavailable", "err", err)
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code
		}
		br, ok := b.meta.Image().Brokers[b.cfg.NodeID]
		if !ok {
			return -1, "", -1, kerr.CoordinatorNotAvailable.Code
		}
		return b.cfg.NodeID, br.Host, br.Port, 0
	}
}

// txnOffsets is the broker's set of pending transactional offsets.
func (b *Broker) txnOffsets() *pendingTxnOffsets {
	slot := &b.txns
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.offsets == nil {
		slot.offsets = newPendingTxnOffsets()
	}
	return slot.offsets
}

// Txns returns the broker's transaction coordinator, creating and loading
// it on first use. An error means it cannot serve yet; handlers answer
// COORDINATOR_NOT_AVAILABLE and clients retry.
func (b *Broker) Txns() (*txn.Coordinator, error) {
	if b.dataPlane == nil || b.meta == nil {
		return nil, errors.New("broker has no data plane")
	}
	slot := &b.txns
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.closed || b.closed.Load() {
		return nil, errors.New("broker is closing")
	}
	if slot.c != nil {
		return slot.c, nil
	}
	if slot.offsets == nil {
		slot.offsets = newPendingTxnOffsets()
	}
	cfg, err := txn.ConfigFromProps(b.cfg.NodeID, b.cfg.Props)
	if err != nil {
		return nil, err
	}
	gcfg, err := group.ConfigFromProps(b.cfg.NodeID, b.cfg.Props)
	if err != nil {
		return nil, err
	}
	st := newStateStorage(b, cfg)
	c, err := txn.New(txn.Options{
		Config:      cfg,
		Storage:     st,
		Markers:     &localMarkerWriter{b: b, offsets: slot.offsets},
		ProducerIDs: func(ctx context.Context) (int64, error) { return allocatorFor(b.meta).allocate(ctx, b.meta) },
		PartitionExists: func(tp txn.TopicPartition) bool {
			_, ok := b.meta.Image().Partition(tp.Topic, tp.Partition)
			return ok
		},
		OffsetsPartition: func(g string) txn.TopicPartition {
			return txn.TopicPartition{Topic: group.OffsetsTopic, Partition: group.PartitionFor(g, gcfg.OffsetsTopicNumPartitions)}
		},
		Logger: b.logger.With("component", "txn-coordinator"),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Load(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("load transaction coordinator: %w", err)
	}
	slot.c = c
	slot.done = make(chan struct{})
	go b.runTxnTicker(c, slot.done, time.Duration(cfg.TransactionAbortTimedOutTransactionCleanupIntervalMs)*time.Millisecond)
	return c, nil
}

// runTxnTicker runs the coordinator's periodic work until done is closed
// or the broker closes.
func (b *Broker) runTxnTicker(c *txn.Coordinator, done chan struct{}, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if b.closed.Load() {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			c.Tick(ctx)
			cancel()
		}
	}
}

// CloseTxns stops the broker's transaction coordinator (its ticker and
// marker retries); later transaction requests are answered
// COORDINATOR_NOT_AVAILABLE. Close calls it before CloseGroups.
func (b *Broker) CloseTxns() {
	if b.dataPlane == nil {
		return
	}
	slot := &b.txns
	slot.mu.Lock()
	defer slot.mu.Unlock()
	slot.closed = true
	if slot.c != nil {
		close(slot.done)
		slot.c.Close()
		slot.c = nil
	}
}

// txnsOrCode is the handlers' way in: the coordinator, or the error code
// to answer with.
func (b *Broker) txnsOrCode(rc *RequestContext) (*txn.Coordinator, int16) {
	c, err := b.Txns()
	if err != nil {
		if rc != nil && rc.Logger != nil {
			rc.Logger.Warn("transaction coordinator unavailable", "err", err)
		}
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return c, 0
}

// localMarkerWriter writes markers to this node's partitions.
type localMarkerWriter struct {
	b       *Broker
	offsets *pendingTxnOffsets
}

func (w *localMarkerWriter) WriteMarkers(ctx context.Context, m txn.Marker) []txn.TopicPartition {
	var failed []txn.TopicPartition
	for _, tp := range m.Partitions {
		if code := w.b.writeMarker(ctx, w.offsets, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Commit, tp.Topic, tp.Partition); code != 0 {
			w.b.logger.Warn("transaction marker not written", "topic", tp.Topic, "partition", tp.Partition,
				"producer_id", m.ProducerID, "err", kerr.ErrorForCode(code))
			failed = append(failed, tp)
		}
	}
	return failed
}

// writeMarker writes one marker to a local partition and returns the
// Kafka error code (0 when written, or when the partition is gone). For a
// __consumer_offsets partition it commits (or drops) the producer's
// pending transactional offsets of the groups living there.
func (b *Broker) writeMarker(ctx context.Context, offsets *pendingTxnOffsets, pid int64, epoch int16, coordinatorEpoch int32, commit bool, topic string, p int32) int16 {
	if topic == group.OffsetsTopic {
		gc, err := b.Groups()
		if err != nil {
			return kerr.CoordinatorNotAvailable.Code
		}
		nparts := gc.Config().OffsetsTopicNumPartitions
		for _, pending := range offsets.take(pid, func(g string) bool { return group.PartitionFor(g, nparts) == p }) {
			if !commit {
				continue
			}
			if code := commitTxnOffsets(gc, pending); code != 0 {
				b.logger.Warn("transactional offsets not committed", "group", pending.group, "producer_id", pid, "err", kerr.ErrorForCode(code))
			}
		}
		return 0
	}
	if _, ok := b.meta.Image().Partition(topic, p); !ok {
		return 0 // deleted: Kafka drops markers of deleted partitions
	}
	part, ok := b.Partition(log.TopicPartition{Topic: topic, Partition: p})
	if !ok {
		return kerr.NotLeaderForPartition.Code
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := part.WriteTxnMarker(ctx, pid, epoch, coordinatorEpoch, commit); err != nil {
		code, _ := partition.KafkaError(err)
		if code == nil {
			return kerr.UnknownServerError.Code
		}
		return code.Code
	}
	return 0
}

// pendingTxnOffsets holds TxnOffsetCommit offsets until their transaction
// ends, by group and producer id.
type pendingTxnOffsets struct {
	mu sync.Mutex
	m  map[txnOffsetsKey]*txnOffsets
}

type txnOffsetsKey struct {
	group string
	pid   int64
}

type txnOffsets struct {
	group      string
	generation int32
	memberID   string
	instanceID *string
	offsets    map[string]map[int32]kmsg.OffsetCommitRequestTopicPartition
}

func newPendingTxnOffsets() *pendingTxnOffsets {
	return &pendingTxnOffsets{m: map[txnOffsetsKey]*txnOffsets{}}
}

// add records offsets of a transaction (later ones for a partition win).
func (p *pendingTxnOffsets) add(req *kmsg.TxnOffsetCommitRequest, accept func(topic string, part int32) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := txnOffsetsKey{req.Group, req.ProducerID}
	t := p.m[k]
	if t == nil {
		t = &txnOffsets{group: req.Group, offsets: map[string]map[int32]kmsg.OffsetCommitRequestTopicPartition{}}
		p.m[k] = t
	}
	t.generation, t.memberID, t.instanceID = req.Generation, req.MemberID, req.InstanceID
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if !accept(rt.Topic, rp.Partition) {
				continue
			}
			ps := t.offsets[rt.Topic]
			if ps == nil {
				ps = map[int32]kmsg.OffsetCommitRequestTopicPartition{}
				t.offsets[rt.Topic] = ps
			}
			op := kmsg.NewOffsetCommitRequestTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch, op.Metadata = rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata
			ps[rp.Partition] = op
		}
	}
}

// take removes and returns the producer's pending offsets of the groups
// that match.
func (p *pendingTxnOffsets) take(pid int64, match func(group string) bool) []*txnOffsets {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*txnOffsets
	for k, t := range p.m {
		if k.pid == pid && match(k.group) {
			out = append(out, t)
			delete(p.m, k)
		}
	}
	return out
}

// pendingFor reports whether a group has transactional offsets waiting for
// a partition (for OffsetFetch require_stable).
func (p *pendingTxnOffsets) pendingFor(g, topic string, part int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, t := range p.m {
		if k.group == g {
			if _, ok := t.offsets[topic][part]; ok {
				return true
			}
		}
	}
	return false
}

// commitTxnOffsets commits a transaction's offsets through the group
// coordinator, as the member that sent them; if that member is gone (the
// group rebalanced since), as an admin commit, which succeeds while the
// group is empty.
func commitTxnOffsets(gc *group.Coordinator, t *txnOffsets) int16 {
	build := func(gen int32, member string, instance *string) *kmsg.OffsetCommitRequest {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 8
		req.Group, req.Generation, req.MemberID, req.InstanceID = t.group, gen, member, instance
		for topic, ps := range t.offsets {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			for _, op := range ps {
				rt.Partitions = append(rt.Partitions, op)
			}
			req.Topics = append(req.Topics, rt)
		}
		return req
	}
	first := func(resp *kmsg.OffsetCommitResponse) int16 {
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					return rp.ErrorCode
				}
			}
		}
		return 0
	}
	code := first(gc.OffsetCommit(build(t.generation, t.memberID, t.instanceID)))
	if code == kerr.UnknownMemberID.Code || code == kerr.IllegalGeneration.Code || code == kerr.FencedInstanceID.Code || code == kerr.RebalanceInProgress.Code {
		code = first(gc.OffsetCommit(build(-1, "", nil)))
	}
	return code
}

// newStateStorage is txn.Storage over __transaction_state.
func newStateStorage(b *Broker, cfg txn.Config) *recordStorage[txn.Record] {
	return &recordStorage[txn.Record]{
		topic: internalTopic{b: b, name: txn.StateTopic, partitions: cfg.TransactionStateLogNumPartitions,
			segmentBytes: cfg.TransactionStateLogSegmentBytes, compression: "uncompressed"},
		kv: func(r txn.Record) ([]byte, []byte) { return r.Key, r.Value },
		mk: func(k, v []byte) txn.Record { return txn.Record{Key: k, Value: v} },
	}
}

// resumeTxns loads the transaction coordinator in the background when
// __transaction_state exists, so that transactions open or prepared at a
// crash are completed or time out without waiting for a client.
func (b *Broker) resumeTxns() {
	if b.meta.Image().Topics[txn.StateTopic] == nil {
		return
	}
	go func() {
		if _, err := b.Txns(); err != nil {
			b.logger.Warn("transaction coordinator not loaded at start", "err", err)
		}
	}()
}
