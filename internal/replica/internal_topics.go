package replica

// The plumbing the coordinators share for their internal compacted topics
// (__consumer_offsets, __transaction_state): create the topic through the
// metadata store on first write, append a batch through the partition
// (acks=all: return once the high watermark covers it) and replay a
// partition's log batch by batch when a coordinator loads. The group and
// transaction storages (groups.go, txns.go) are thin adapters over it.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// internalTopic is one internal compacted topic of this broker.
type internalTopic struct {
	m            *Manager
	name         string
	partitions   int32
	segmentBytes int64
	compression  string // the topic's compression.type
	// replicationFactor and minISR are the topic's settings
	// (offsets.topic.replication.factor, transaction.state.log.*);
	// minISR 0 leaves min.insync.replicas to the broker default.
	replicationFactor int16
	minISR            int32
	createMu          sync.Mutex
}

func (t *internalTopic) tp(p int32) log.TopicPartition {
	return log.TopicPartition{Topic: t.name, Partition: p}
}

// ensure creates the topic (compacted, with its replication factor and
// min.insync.replicas) if the image lacks it and waits until this node has
// applied the image that holds it. Its partitions spread over the brokers
// like any topic's, so each node coordinates the groups and transactional
// ids of the partitions it leads.
//
// As in Kafka, a cluster with fewer usable brokers than the replication
// factor does not create it: the coordinator answers
// COORDINATOR_NOT_AVAILABLE (clients retry) until enough brokers are up,
// so the topic is never created with fewer replicas than configured
// because one broker started a moment later. A node that is a cluster of
// one (no controller.quorum.voters) creates it with one replica: a
// laptop's node needs no setting for consumer groups to work.
func (t *internalTopic) ensure(ctx context.Context) error {
	if t.m.meta.Image().Topics[t.name] != nil {
		return nil
	}
	t.createMu.Lock()
	defer t.createMu.Unlock()
	if t.m.meta.Image().Topics[t.name] != nil {
		return nil
	}
	rf := max(t.replicationFactor, 1)
	usable := int16(len(t.m.meta.Image().UsableBrokerIDs()))
	if usable < rf {
		if t.m.cfg.Clustered() {
			return fmt.Errorf("%s needs %d usable brokers for its replication factor, and %d are up: %w", t.name, rf, usable, kerr.CoordinatorNotAvailable)
		}
		rf = max(usable, 1)
	}
	configs := map[string]string{
		"cleanup.policy":   "compact",
		"compression.type": t.compression,
		"segment.bytes":    strconv.FormatInt(t.segmentBytes, 10),
	}
	if t.minISR > 0 {
		configs["min.insync.replicas"] = strconv.Itoa(int(min(t.minISR, int32(rf))))
	}
	_, err := t.m.client.CreateTopic(ctx, metadata.CreateTopicRequest{
		Name:              t.name,
		NumPartitions:     t.partitions,
		ReplicationFactor: rf,
		Configs:           configs,
	})
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", t.name, err)
	}
	return t.m.AwaitImage(ctx, t.m.meta.Image().Epoch)
}

// buildBatch encodes records (kv gives each one's key and value) as one
// batch with the spec's producer fields.
func buildBatch[R any](spec record.BatchSpec, recs []R, kv func(R) (key, value []byte)) ([]byte, error) {
	spec.BaseTimestamp = time.Now().UnixMilli()
	bld := record.NewBuilder(spec)
	for _, r := range recs {
		k, v := kv(r)
		if err := bld.Append(record.Record{Key: k, Value: v}); err != nil {
			return nil, err
		}
	}
	return bld.Build(nil)
}

// replica creates the topic if needed and returns this node's replica of
// partition p, which this node must lead: a coordinator writes only to the
// partitions it leads (NOT_LEADER_OR_FOLLOWER, which it answers as
// NOT_COORDINATOR).
func (t *internalTopic) replica(ctx context.Context, p int32) (*Replica, error) {
	if err := t.ensure(ctx); err != nil {
		return nil, err
	}
	if mp, ok := t.m.meta.Image().Partition(t.name, p); ok && mp.Leader != t.m.cfg.NodeID {
		return nil, fmt.Errorf("%s-%d is led by node %d, not this one: %w", t.name, p, mp.Leader, kerr.NotLeaderForPartition)
	}
	rep := t.m.replica(t.tp(p))
	if rep == nil {
		return nil, fmt.Errorf("%s-%d is not on this node: %w", t.name, p, kerr.NotLeaderForPartition)
	}
	return rep, nil
}

// appendAsync creates the topic if needed and appends batch to partition p
// (with the topic's min.insync.replicas), returning once it is written.
// Errors carry the Kafka code (errors.As *kerr.Error).
func (t *internalTopic) appendAsync(ctx context.Context, p int32, batch []byte, opts partition.AppendOptions) (*partition.Partition, partition.AppendResult, error) {
	rep, err := t.replica(ctx, p)
	if err != nil {
		return nil, partition.AppendResult{}, err
	}
	t.m.replicas.mu.RLock()
	opts.MinInsyncReplicas = rep.settings.minInsyncReplicas
	t.m.replicas.mu.RUnlock()
	opts.RequiredAcks = -1
	opts.TimestampType = partition.CreateTime
	res, err := rep.part.AppendAsLeaderAsync(batch, opts)
	if err != nil {
		return nil, res, t.kafkaErr(p, "append to", err)
	}
	return rep.part, res, nil
}

// append is appendAsync followed by the wait for the high watermark
// (acks=all); ctx bounds the wait (REQUEST_TIMED_OUT).
func (t *internalTopic) append(ctx context.Context, p int32, batch []byte, opts partition.AppendOptions) error {
	part, res, err := t.appendAsync(ctx, p, batch, opts)
	if err != nil {
		return err
	}
	return t.await(ctx, part, p, res)
}

// await waits until the high watermark covers an append's records in the
// leader epoch they were appended in: a write whose leadership ended
// before its in-sync replicas had it fails (NOT_LEADER_OR_FOLLOWER, which
// the coordinators answer as NOT_COORDINATOR) rather than succeed on the
// strength of a later leader's high watermark over other records.
func (t *internalTopic) await(ctx context.Context, part *partition.Partition, p int32, res partition.AppendResult) error {
	if err := part.WaitHighWatermarkInEpoch(ctx, res.LastOffset+1, res.LeaderEpoch); err != nil {
		return t.kafkaErr(p, "await the high watermark of", err)
	}
	return nil
}

func (t *internalTopic) kafkaErr(p int32, op string, err error) error {
	code, msg := partition.KafkaError(err)
	if code == nil {
		code = kerr.UnknownServerError
	}
	return fmt.Errorf("%s %s-%d: %s: %w", op, t.name, p, msg, code)
}

// replayBatches calls fn for each batch of partition p from its log start
// to the log end as of the call, in offset order, control batches
// included; from is the first offset fn should use (a read that restarts
// after the log start moved may begin inside a batch). A partition this
// node lacks has nothing to replay.
func (t *internalTopic) replayBatches(ctx context.Context, p int32, fn func(h record.Header, batch []byte, from int64) error) error {
	tp := t.tp(p)
	lm := t.m.managerFor(tp)
	if lm == nil {
		return nil
	}
	l, ok := lm.Get(tp)
	if !ok {
		return nil
	}
	end := l.LogEndOffset()
	var buf []byte
	for off := l.LogStartOffset(); off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		rr, err := l.Read(off, log.ReadOptions{MaxBytes: 1 << 20, MaxOffset: end, MinOneBatch: true})
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			off = l.LogStartOffset() // retention or compaction moved the start
			if off >= end {
				return nil
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s at %d: %w", tp, off, err)
		}
		buf, err = rr.AppendTo(buf[:0])
		rr.Release()
		if err != nil {
			return fmt.Errorf("read %s at %d: %w", tp, off, err)
		}
		if len(buf) == 0 {
			return nil
		}
		next := off
		it := record.Batches(buf)
		for it.Next() {
			h := it.Header()
			if err := fn(h, it.Batch(), off); err != nil {
				return fmt.Errorf("replay %s batch at %d: %w", tp, h.BaseOffset, err)
			}
			next = h.NextOffset()
		}
		if err := it.Err(); err != nil {
			return fmt.Errorf("replay %s at %d: %w", tp, off, err)
		}
		if next <= off {
			return fmt.Errorf("replay %s: no progress at offset %d", tp, off)
		}
		off = next
	}
	return nil
}

// replayRecords calls fn for every data record of partition p in offset
// order, skipping control batches.
func (t *internalTopic) replayRecords(ctx context.Context, p int32, fn func(key, value []byte) error) error {
	return t.replayBatches(ctx, p, func(h record.Header, batch []byte, from int64) error {
		if h.IsControl() {
			return nil
		}
		return record.DecodeRecords(h, batch, func(r *record.Record) error {
			if r.Offset(h) < from {
				return nil
			}
			return fn(r.Key, r.Value)
		})
	})
}

// recordStorage is a coordinator's Storage (group.Storage, txn.Storage)
// over an internal topic: R is the coordinator's key/value record type.
type recordStorage[R any] struct {
	topic internalTopic
	kv    func(R) (key, value []byte)
	mk    func(key, value []byte) R
}

// Append writes the records as one batch and waits until the high
// watermark covers it (acks=all).
func (s *recordStorage[R]) Append(ctx context.Context, p int32, recs []R) error {
	batch, err := buildBatch(record.DefaultBatchSpec(), recs, s.kv)
	if err != nil {
		return err
	}
	return s.topic.append(ctx, p, batch, partition.AppendOptions{})
}

// Replay reads the partition's data records from its start to its end.
func (s *recordStorage[R]) Replay(ctx context.Context, p int32, fn func(R) error) error {
	return s.topic.replayRecords(ctx, p, func(k, v []byte) error { return fn(s.mk(k, v)) })
}
