package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// replica is one partition hosted by this node: its log and its leader
// state. The settings pointer is swapped when the topic's configs change.
type replica struct {
	tp       log.TopicPartition
	topicID  [16]byte
	log      *log.Log
	part     *partition.Partition
	settings *topicSettings // immutable; replaced under replicaSet.mu
}

// topicSettings are a topic's effective configs, parsed once per change:
// explicit topic overrides over dynamic broker configs over node configs.
type topicSettings struct {
	log               log.Config
	maxMessageBytes   int32
	timestampType     partition.TimestampType
	minInsyncReplicas int32
	timestampBeforeMs int64
	timestampAfterMs  int64
}

// replicaSet holds the node's replicas, kept in step with the metadata
// image by applyImage (called from the store's Watch goroutine, in order).
type replicaSet struct {
	mu       sync.RWMutex
	byTP     map[log.TopicPartition]*replica
	applied  int64         // image epoch the set reflects
	changed  chan struct{} // closed and replaced at each applyImage
	topicIDs map[string][16]byte
}

func newReplicaSet() *replicaSet {
	return &replicaSet{byTP: map[log.TopicPartition]*replica{}, changed: make(chan struct{}), topicIDs: map[string][16]byte{}}
}

// Partition returns this node's leader state of a partition.
func (b *Broker) Partition(tp log.TopicPartition) (*partition.Partition, bool) {
	r := b.replica(tp)
	if r == nil {
		return nil, false
	}
	return r.part, true
}

func (b *Broker) replica(tp log.TopicPartition) *replica {
	b.replicas.mu.RLock()
	r := b.replicas.byTP[tp]
	b.replicas.mu.RUnlock()
	return r
}

// AwaitImage waits until the replicas reflect the metadata image of at least
// the given epoch (so a topic created by the controller has its local
// partitions), or ctx ends.
func (b *Broker) AwaitImage(ctx context.Context, epoch int64) error {
	for {
		b.replicas.mu.RLock()
		applied, ch := b.replicas.applied, b.replicas.changed
		b.replicas.mu.RUnlock()
		if applied >= epoch {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// applyImage creates the replicas this node leads in next and deletes the
// ones no longer there; it updates configs of topics whose *Topic changed.
// Errors are logged: one bad partition must not stop the others.
//
// It stops early, leaving the image unapplied, when the node is closing: a
// topic of many partitions must not hold up a shutdown. The next start
// applies the image again from the beginning.
func (b *Broker) applyImage(prev, next *metadata.Image) {
	rs := b.replicas
	want := map[log.TopicPartition]struct{}{}
	for _, t := range next.Topics {
		var settings *topicSettings
		created, failed := 0, 0
		for _, p := range t.Partitions {
			if !containsID(p.Replicas, b.cfg.NodeID) {
				continue
			}
			if b.closed.Load() {
				b.logPartitionsCreated(t, created, failed)
				return
			}
			tp := log.TopicPartition{Topic: t.Name, Partition: p.ID}
			want[tp] = struct{}{}
			if settings == nil {
				s, err := b.settingsFor(t, next)
				if err != nil {
					b.logger.Error("topic configs do not parse; using defaults", "topic", t.Name, "err", err)
					s = b.defaultSettings()
				}
				settings = s
			}
			r := b.replica(tp)
			if r != nil && r.topicID != t.ID {
				// The topic was deleted and re-created under the same name.
				b.deleteReplica(r)
				r = nil
			}
			if r == nil {
				if _, err := b.createReplica(tp, t.ID, p, settings); err != nil {
					b.logger.Error("cannot create partition", "topic", tp.Topic, "partition", tp.Partition, "err", err)
					failed++
					continue
				}
				created++
				continue
			}
			if r.part.LeaderEpoch() != p.LeaderEpoch {
				r.part.SetLeaderEpoch(p.LeaderEpoch)
			}
			if prevT := prev.Topic(t.Name); prevT == nil || prevT != t || !sameStrings(prev.BrokerConfigs, next.BrokerConfigs) {
				rs.mu.Lock()
				old := r.settings
				r.settings = settings
				rs.mu.Unlock()
				if old.log != settings.log {
					if err := r.log.SetConfig(settings.log); err != nil {
						b.logger.Error("cannot apply topic configs", "topic", tp.Topic, "partition", tp.Partition, "err", err)
					}
				}
			}
		}
		b.logPartitionsCreated(t, created, failed)
	}
	rs.mu.RLock()
	var gone []*replica
	for tp, r := range rs.byTP {
		if _, ok := want[tp]; !ok {
			gone = append(gone, r)
		}
	}
	rs.mu.RUnlock()
	deleted := map[string]int{}
	for _, r := range gone {
		if b.closed.Load() {
			return
		}
		if b.deleteReplica(r) {
			deleted[r.tp.Topic]++
		}
	}
	for topic, n := range deleted {
		b.logger.Info("partitions deleted", "topic", topic, "partitions", n)
	}
	rs.mu.Lock()
	rs.applied = next.Epoch
	close(rs.changed)
	rs.changed = make(chan struct{})
	rs.mu.Unlock()
}

func (b *Broker) createReplica(tp log.TopicPartition, topicID [16]byte, p metadata.Partition, settings *topicSettings) (*replica, error) {
	mgr := b.managerFor(tp)
	l, err := mgr.Create(tp, topicID, settings.log)
	if err != nil {
		return nil, err
	}
	part, err := b.newPartition(l, tp, topicID, p.LeaderEpoch)
	if err != nil {
		return nil, err
	}
	r := &replica{tp: tp, topicID: topicID, log: l, part: part, settings: settings}
	b.replicas.mu.Lock()
	b.replicas.byTP[tp] = r
	b.replicas.mu.Unlock()
	return r, nil
}

// logPartitionsCreated writes one line per topic whose partitions this
// image created (or opened, at start-up), not one per partition.
func (b *Broker) logPartitionsCreated(t *metadata.Topic, created, failed int) {
	if created == 0 && failed == 0 {
		return
	}
	msg := "topic partitions opened" // start-up: logs found on disk or created
	if b.ready.Load() {
		msg = "topic partitions created"
	}
	attrs := []any{"topic", t.Name, "partitions", created, "topic_id", log.FormatTopicID(t.ID)}
	if failed > 0 {
		b.logger.Error(msg, append(attrs, "failed", failed)...)
		return
	}
	b.logger.Info(msg, attrs...)
}

// deleteReplica closes a replica and deletes its log; it reports whether
// the log is gone.
func (b *Broker) deleteReplica(r *replica) bool {
	b.replicas.mu.Lock()
	if b.replicas.byTP[r.tp] == r {
		delete(b.replicas.byTP, r.tp)
	}
	b.replicas.mu.Unlock()
	if err := r.part.Close(); err != nil {
		b.logger.Warn("closing deleted partition", "topic", r.tp.Topic, "partition", r.tp.Partition, "err", err)
	}
	if err := b.managerFor(r.tp).Delete(r.tp); err != nil {
		b.logger.Error("cannot delete partition log", "topic", r.tp.Topic, "partition", r.tp.Partition, "err", err)
		return false
	}
	return true
}

// managerFor picks the log directory of a partition: the one already
// holding it, else the one with the fewest partitions.
func (b *Broker) managerFor(tp log.TopicPartition) *log.Manager {
	best := b.logs[0]
	for _, m := range b.logs {
		if _, ok := m.Get(tp); ok {
			return m
		}
	}
	for _, m := range b.logs[1:] {
		if len(m.Logs()) < len(best.Logs()) {
			best = m
		}
	}
	return best
}

// replicaStats lists per-partition figures for the metrics scrape.
func (b *Broker) replicaStats() []replicaStat {
	b.replicas.mu.RLock()
	defer b.replicas.mu.RUnlock()
	out := make([]replicaStat, 0, len(b.replicas.byTP))
	for _, r := range b.replicas.byTP {
		out = append(out, replicaStat{r.tp, r.log.LogStartOffset(), r.log.LogEndOffset(), r.part.HighWatermark(), r.log.Size()})
	}
	return out
}

type replicaStat struct {
	tp                                    log.TopicPartition
	logStart, logEnd, highWatermark, size int64
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func sameStrings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// defaultSettings are the node-level defaults, used when configs do not parse.
func (b *Broker) defaultSettings() *topicSettings {
	s, _ := b.settingsFor(&metadata.Topic{}, &metadata.Image{})
	return s
}

// settingsFor resolves a topic's effective configs. Each topic config has a
// broker-level synonym (retention.ms ↔ log.retention.ms); the topic value
// wins, then the dynamic broker value from the image, then the node config.
func (b *Broker) settingsFor(t *metadata.Topic, im *metadata.Image) (*topicSettings, error) {
	c := b.cfg
	lc := log.DefaultConfig()
	lc.SegmentBytes = c.LogSegmentBytes
	lc.SegmentMs = c.LogRollMs
	lc.RetentionMs = c.LogRetentionMs
	lc.RetentionBytes = c.LogRetentionBytes
	lc.CleanupPolicy = c.LogCleanupPolicy
	lc.FlushMessages = c.LogFlushIntervalMessages
	lc.FlushMs = c.LogFlushIntervalMs
	lc.Durability = log.DurabilitySync
	if c.LogDurability == config.DurabilityPageCache {
		lc.Durability = log.DurabilityPageCache
	}
	s := &topicSettings{maxMessageBytes: c.MessageMaxBytes, minInsyncReplicas: 1}

	var errs []error
	get := func(topicKey, brokerKey string) (string, bool) {
		if v, ok := t.Configs[topicKey]; ok {
			return v, true
		}
		if brokerKey != "" {
			if v, ok := im.BrokerConfigs[brokerKey]; ok {
				return v, true
			}
		}
		return "", false
	}
	i64 := func(topicKey, brokerKey string, dst *int64) {
		if v, ok := get(topicKey, brokerKey); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an integer", topicKey, v))
				return
			}
			*dst = n
		}
	}
	i32 := func(topicKey, brokerKey string, dst *int32) {
		n := int64(*dst)
		i64(topicKey, brokerKey, &n)
		if n < math.MinInt32 || n > math.MaxInt32 {
			errs = append(errs, fmt.Errorf("%s: %d out of range", topicKey, n))
			return
		}
		*dst = int32(n)
	}
	// log.roll.hours and log.retention.hours/minutes are handled in the node
	// config; dynamic broker overrides use the ms names.
	i64("segment.bytes", "log.segment.bytes", &lc.SegmentBytes)
	i64("segment.ms", "log.roll.ms", &lc.SegmentMs)
	i32("segment.index.bytes", "log.index.size.max.bytes", &lc.SegmentIndexBytes)
	i32("index.interval.bytes", "log.index.interval.bytes", &lc.IndexIntervalBytes)
	i64("retention.ms", "log.retention.ms", &lc.RetentionMs)
	i64("retention.bytes", "log.retention.bytes", &lc.RetentionBytes)
	if v, ok := get("cleanup.policy", "log.cleanup.policy"); ok {
		lc.CleanupPolicy = v
	}
	i64("delete.retention.ms", "log.cleaner.delete.retention.ms", &lc.DeleteRetentionMs)
	if v, ok := get("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("min.cleanable.dirty.ratio: %q is not a number", v))
		} else {
			lc.MinCleanableDirtyRatio = f
		}
	}
	i64("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms", &lc.MinCompactionLagMs)
	i64("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", &lc.MaxCompactionLagMs)
	i64("flush.messages", "log.flush.interval.messages", &lc.FlushMessages)
	i64("flush.ms", "log.flush.interval.ms", &lc.FlushMs)
	i32("max.message.bytes", "message.max.bytes", &s.maxMessageBytes)
	i32("min.insync.replicas", "min.insync.replicas", &s.minInsyncReplicas)
	i64("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms", &s.timestampBeforeMs)
	i64("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms", &s.timestampAfterMs)
	if v, ok := get("message.timestamp.type", "log.message.timestamp.type"); ok {
		tt, err := partition.ParseTimestampType(v)
		if err != nil {
			errs = append(errs, err)
		}
		s.timestampType = tt
	}
	if err := lc.Validate(); err != nil {
		errs = append(errs, err)
	}
	s.log = lc
	if len(errs) > 0 {
		return s, errors.Join(errs...)
	}
	return s, nil
}
