package replica

// Transactional offsets, as Kafka keeps them: TxnOffsetCommit writes the
// offsets into the group's __consumer_offsets partition as one
// transactional batch of the producer (its id and epoch in the batch
// header), and the transaction's marker on that partition commits or
// aborts them. Until the marker they are pending: kept in a
// group.PendingTxnOffsets per group and producer, so that OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT, and applied to the group coordinator's memory
// when the commit marker is written (they are already durable, so nothing
// is written again). A replay of the partition (the group coordinator's
// load) resolves them the same way by the markers it meets: committed
// records are applied at their marker, aborted ones dropped, and those
// still without a marker become pending again, for the transaction
// coordinator to complete (a crash between PrepareCommit and the markers
// loses nothing).
//
// Lock order: the transaction's lock (the coordinator writes markers
// under it), then an offsets partition's lock (PendingTxnOffsets.LockPartition,
// held from the append of a TxnOffsetCommit until its offsets are pending,
// and from a marker's append until its offsets are applied, so that a
// marker never misses offsets already in the log), then the partition's
// own locks, then the group's.

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// GroupOffsets are one group's offsets by topic and partition.
type GroupOffsets = group.TopicOffsets

// TxnOffsetsPending reports whether a transaction holds uncommitted
// offsets of the group for the partition: OffsetFetch with require_stable
// answers UNSTABLE_OFFSET_COMMIT for it.
func (m *Manager) TxnOffsetsPending(groupID, topic string, partition int32) bool {
	return m.txnOffsets().PendingFor(groupID, topic, partition)
}

// OffsetsPartition is this node's replica of a __consumer_offsets
// partition, which it must lead, the topic created if needed.
func (m *Manager) OffsetsPartition(ctx context.Context, p int32) (*partition.Partition, error) {
	st := m.offsetsStore()
	if st == nil {
		return nil, errors.New("group coordinator not loaded")
	}
	rep, err := st.topic.replica(ctx, p)
	if err != nil {
		return nil, err
	}
	return rep.part, nil
}

// appendTxnOffsets writes a TxnOffsetCommit's accepted offsets to the
// group's partition as a transactional batch of the producer (guard from
// the partition's TxnVerificationGuard, taken before the transaction
// coordinator verified the producer), makes them pending, and waits until
// they are committed to the log. It answers a Kafka error code.
func (m *Manager) AppendTxnOffsets(ctx context.Context, gc *group.Coordinator, groupID string, pid int64, epoch int16, guard uint64, offsets GroupOffsets) int16 {
	st := m.offsetsStore()
	if st == nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	ctx, cancel := context.WithTimeout(ctx, txnOffsetsCommitTimeout)
	defer cancel()
	p, recs := gc.TxnOffsetRecords(groupID, offsets)
	spec := record.DefaultBatchSpec()
	spec.Transactional, spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = true, pid, epoch, 0
	batch, err := buildBatch(spec, recs, func(r group.Record) ([]byte, []byte) { return r.Key, r.Value })
	if err != nil {
		m.logger.Error("cannot encode transactional offsets", "group", groupID, "err", err)
		return kerr.UnknownServerError.Code
	}
	unlock := m.txnOffsets().LockPartition(p)
	part, res, err := st.topic.appendAsync(ctx, p, batch, partition.AppendOptions{Coordinator: true, VerificationGuard: guard})
	if err == nil {
		m.txnOffsets().Add(groupID, pid, offsets)
	}
	unlock()
	if err == nil {
		err = st.topic.await(ctx, part, p, res)
	}
	if err != nil {
		m.logger.Warn("transactional offsets not written", "group", groupID, "producer_id", pid, "err", err)
		return TxnOffsetsAppendCode(err)
	}
	return 0
}

// txnOffsetsCommitTimeout bounds the wait for a TxnOffsetCommit's records
// to be committed (Kafka's offsets.commit.timeout.ms default).
const txnOffsetsCommitTimeout = 5 * time.Second

// txnOffsetsAppendCode maps a failed append to what Kafka's group
// coordinator answers a TxnOffsetCommit.
func TxnOffsetsAppendCode(err error) int16 {
	var ke *kerr.Error
	if !errors.As(err, &ke) {
		return kerr.CoordinatorNotAvailable.Code
	}
	switch ke {
	case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
		return kerr.NotCoordinator.Code
	case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
		return kerr.InvalidCommitOffsetSize.Code
	}
	return ke.Code
}

// writeOffsetsMarker writes a transaction marker to a __consumer_offsets
// partition and then commits (or drops) the producer's pending offsets of
// the groups living there.
func (m *Manager) writeOffsetsMarker(ctx context.Context, part *partition.Partition, pid int64, epoch int16, coordinatorEpoch int32, commit bool) int16 {
	// A load of the partition into the group coordinator holds the
	// partition's lock (below) while it replays, which makes the offsets
	// of transactions without a marker pending: the marker waits for it.
	gc, err := m.Groups()
	if err != nil {
		m.logger.Warn("transaction marker to __consumer_offsets waits for the group coordinator", "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	p := part.Index()
	unlock := m.txnOffsets().LockPartition(p)
	defer unlock()
	if code := markerCode(part.WriteTxnMarker(ctx, pid, epoch, coordinatorEpoch, commit)); code != 0 {
		return code
	}
	for g, offsets := range m.txnOffsets().Take(pid, func(g string) bool { return gc.PartitionFor(g) == p }) {
		if !commit {
			continue
		}
		// The offsets are durable with their marker; a failure here (the
		// coordinator closing, or not serving the partition) is made good
		// by the partition's next load.
		if code := gc.CompleteTransactionalOffsets(g, offsets); code != 0 && code != kerr.NotCoordinator.Code {
			m.logger.Warn("transactional offsets not applied", "group", g, "producer_id", pid, "err", kerr.ErrorForCode(code))
		}
	}
	return 0
}

// replayOffsets replays a __consumer_offsets partition for the group
// coordinator, resolving transactional offsets by their markers: committed
// ones reach fn at their commit marker, aborted ones never, and those with
// no marker yet become pending.
func (s *offsetsStorage) Replay(ctx context.Context, p int32, fn func(group.Record) error) error {
	open := map[int64][]group.Record{} // producer id → its records since its last marker
	err := s.topic.replayBatches(ctx, p, func(h record.Header, batch []byte, from int64) error {
		if h.IsControl() {
			cr, err := record.ParseControlBatch(h, batch)
			if err != nil || (cr.Type != record.ControlCommit && cr.Type != record.ControlAbort) {
				return nil // not a transaction marker
			}
			recs := open[h.ProducerID]
			delete(open, h.ProducerID)
			if cr.Type == record.ControlCommit {
				for _, r := range recs {
					if err := fn(r); err != nil {
						return err
					}
				}
			}
			return nil
		}
		return record.DecodeRecords(h, batch, func(r *record.Record) error {
			if r.Offset(h) < from {
				return nil
			}
			if h.IsTransactional() {
				open[h.ProducerID] = append(open[h.ProducerID], group.Record{Key: clone(r.Key), Value: clone(r.Value)})
				return nil
			}
			return fn(group.Record{Key: r.Key, Value: r.Value})
		})
	})
	if err != nil {
		return err
	}
	pending := s.topic.m.txnOffsets()
	for pid, recs := range open {
		byGroup := map[string]GroupOffsets{}
		for _, r := range recs {
			g, topic, part, o, ok := group.DecodeOffsetRecord(r)
			if !ok {
				continue
			}
			if byGroup[g] == nil {
				byGroup[g] = GroupOffsets{}
			}
			if byGroup[g][topic] == nil {
				byGroup[g][topic] = map[int32]group.CommittedOffset{}
			}
			byGroup[g][topic][part] = o
		}
		for g, offsets := range byGroup {
			pending.Add(g, pid, offsets)
		}
	}
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
