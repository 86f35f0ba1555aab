package replica

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// Replica is one partition hosted by this node: its log and its leader
// state. The settings pointer is swapped when the topic's configs change.
type Replica struct {
	tp       log.TopicPartition
	topicID  [16]byte
	log      *log.Log
	part     *partition.Partition
	settings *topicSettings // immutable; replaced under replicaSet.mu
	// leader is whether the applied image names this node the
	// partition's leader (and it became one): only then does it serve
	// clients and the coordinators. A follower replicates from the leader
	// and serves nothing.
	leader atomic.Bool
	// following is the leader and epoch this replica's fetch was last
	// started for (followLeader -1: none); written by applyRole.
	followMu     sync.Mutex
	followLeader int32
	followEpoch  int32
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
	byTP     map[log.TopicPartition]*Replica
	applied  int64         // image epoch the set reflects
	changed  chan struct{} // closed and replaced at each applyImage
	topicIDs map[string][16]byte
}

func newReplicaSet() *replicaSet {
	return &replicaSet{byTP: map[log.TopicPartition]*Replica{}, changed: make(chan struct{}), topicIDs: map[string][16]byte{}}
}

// Partition returns the partition state.
func (r *Replica) Partition() *partition.Partition { return r.part }

// Replica returns this node's replica of a partition if this node leads
// it, or nil.
func (m *Manager) Replica(topic string, p int32) *Replica {
	r := m.replica(log.TopicPartition{Topic: topic, Partition: p})
	if r == nil || !r.leader.Load() {
		return nil
	}
	return r
}

// Partition returns this node's partition state of a partition it leads.
func (m *Manager) Partition(topic string, p int32) (*partition.Partition, bool) {
	r := m.Replica(topic, p)
	if r == nil {
		return nil, false
	}
	return r.part, true
}

// AppendOptions are the options a client's produce appends to r with: the
// topic's settings (min.insync.replicas, message.timestamp.type,
// max.message.bytes, the timestamp bounds) as they are now.
func (m *Manager) AppendOptions(r *Replica) partition.AppendOptions {
	m.replicas.mu.RLock()
	s := r.settings
	m.replicas.mu.RUnlock()
	return partition.AppendOptions{
		MinInsyncReplicas:    s.minInsyncReplicas,
		TimestampType:        s.timestampType,
		MaxMessageBytes:      s.maxMessageBytes,
		TimestampBeforeMaxMs: s.timestampBeforeMs,
		TimestampAfterMaxMs:  s.timestampAfterMs,
	}
}

func (m *Manager) replica(tp log.TopicPartition) *Replica {
	m.replicas.mu.RLock()
	r := m.replicas.byTP[tp]
	m.replicas.mu.RUnlock()
	return r
}

// AwaitImage waits until the replicas reflect the metadata image of at least
// the given epoch (so a topic created by the controller has its local
// partitions), or ctx ends.
func (m *Manager) AwaitImage(ctx context.Context, epoch int64) error {
	for {
		m.replicas.mu.RLock()
		applied, ch := m.replicas.applied, m.replicas.changed
		m.replicas.mu.RUnlock()
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
func (m *Manager) applyImage(prev, next *metadata.Image) []*roleChange {
	rs := m.replicas
	want := map[log.TopicPartition]struct{}{}
	brokerConfigsChanged := !maps.Equal(prev.BrokerConfigs, next.BrokerConfigs) ||
		!maps.Equal(prev.NodeConfigs[m.cfg.NodeID], next.NodeConfigs[m.cfg.NodeID])
	brokersChanged := !maps.Equal(prev.Brokers, next.Brokers)
	var follow []*roleChange
	// Role changes of existing replicas run on a few goroutines: becoming
	// leader writes and fsyncs the partition's leader-epoch checkpoint,
	// and a node that gets back thousands of leaderships (a restart, a
	// failover) should not do those one after another.
	roles := newRolePool(roleWorkers)
	defer roles.wait() // an early return still waits for the changes begun
	for _, t := range next.Topics {
		var settings *topicSettings
		created, failed := 0, 0
		for _, p := range t.Partitions {
			if !slices.Contains(p.Replicas, m.cfg.NodeID) {
				continue
			}
			if m.closed.Load() {
				m.logPartitionsCreated(t, created, failed)
				return nil
			}
			tp := log.TopicPartition{Topic: t.Name, Partition: p.ID}
			want[tp] = struct{}{}
			if settings == nil {
				s, err := m.settingsFor(t, next)
				if err != nil {
					m.logger.Error("topic configs do not parse; using defaults", "topic", t.Name, "err", err)
					s = m.defaultSettings()
				}
				settings = s
			}
			r := m.replica(tp)
			if r != nil && r.topicID != t.ID {
				// The topic was deleted and re-created under the same name.
				m.deleteReplica(r)
				r = nil
			}
			if r == nil {
				nr, err := m.createReplica(tp, t.ID, p, settings)
				if err != nil {
					m.logger.Error("cannot create partition", "topic", tp.Topic, "partition", tp.Partition, "err", err)
					failed++
					continue
				}
				if c := m.applyRole(nr, next, p, settings, true); c != nil {
					follow = append(follow, c)
				}
				created++
				continue
			}
			prevT := prev.Topic(t.Name)
			if changed := prevT != t || brokersChanged; changed || m.roleDiffers(r, p) {
				roles.run(func() *roleChange { return m.applyRole(r, next, p, settings, changed) })
			}
			if prevT == nil || prevT != t || brokerConfigsChanged {
				rs.mu.Lock()
				old := r.settings
				r.settings = settings
				rs.mu.Unlock()
				if old.log != settings.log {
					if err := r.log.SetConfig(settings.log); err != nil {
						m.logger.Error("cannot apply topic configs", "topic", tp.Topic, "partition", tp.Partition, "err", err)
					}
				}
			}
		}
		m.logPartitionsCreated(t, created, failed)
	}
	follow = append(follow, roles.wait()...)
	rs.mu.RLock()
	var gone []*Replica
	for tp, r := range rs.byTP {
		if _, ok := want[tp]; !ok {
			gone = append(gone, r)
		}
	}
	rs.mu.RUnlock()
	deleted := map[string]int{}
	for _, r := range gone {
		if m.closed.Load() {
			return nil
		}
		m.unfollow(r.tp)
		if m.deleteReplica(r) {
			deleted[r.tp.Topic]++
		}
	}
	for topic, n := range deleted {
		m.logger.Info("partitions deleted", "topic", topic, "partitions", n)
		if next.Topics[topic] == nil {
			m.metrics.ForgetTopic(topic)
		}
	}
	rs.mu.Lock()
	rs.applied = next.Epoch
	close(rs.changed)
	rs.changed = make(chan struct{})
	rs.mu.Unlock()
	return follow
}

func (m *Manager) createReplica(tp log.TopicPartition, topicID [16]byte, p metadata.Partition, settings *topicSettings) (*Replica, error) {
	mgr := m.managerFor(tp)
	l, err := mgr.Create(tp, topicID, settings.log)
	if err != nil {
		return nil, err
	}
	part, err := m.newPartition(l, tp, topicID)
	if err != nil {
		return nil, err
	}
	r := &Replica{tp: tp, topicID: topicID, log: l, part: part, settings: settings, followLeader: -1, followEpoch: -1}
	m.replicas.mu.Lock()
	m.replicas.byTP[tp] = r
	m.replicas.mu.Unlock()
	return r, nil
}

// logPartitionsCreated writes one line per topic whose partitions this
// image created (or opened, at start-up), not one per partition.
func (m *Manager) logPartitionsCreated(t *metadata.Topic, created, failed int) {
	if created == 0 && failed == 0 {
		return
	}
	msg := "topic partitions opened" // start-up: logs found on disk or created
	if m.ready.Load() {
		msg = "topic partitions created"
	}
	attrs := []any{"topic", t.Name, "partitions", created, "topic_id", log.FormatTopicID(t.ID)}
	if failed > 0 {
		m.logger.Error(msg, append(attrs, "failed", failed)...)
		return
	}
	m.logger.Info(msg, attrs...)
}

// deleteReplica closes a replica and deletes its log; it reports whether
// the log is gone.
func (m *Manager) deleteReplica(r *Replica) bool {
	m.replicas.mu.Lock()
	if m.replicas.byTP[r.tp] == r {
		delete(m.replicas.byTP, r.tp)
	}
	m.replicas.mu.Unlock()
	if err := r.part.Close(); err != nil {
		m.logger.Warn("closing deleted partition", "topic", r.tp.Topic, "partition", r.tp.Partition, "err", err)
	}
	if err := m.managerFor(r.tp).Delete(r.tp); err != nil {
		m.logger.Error("cannot delete partition log", "topic", r.tp.Topic, "partition", r.tp.Partition, "err", err)
		return false
	}
	return true
}

// managerFor picks the log directory of a partition: the one already
// holding it, else the one with the fewest partitions.
func (m *Manager) managerFor(tp log.TopicPartition) *log.Manager {
	best := m.logs[0]
	for _, lm := range m.logs {
		if _, ok := lm.Get(tp); ok {
			return lm
		}
	}
	for _, lm := range m.logs[1:] {
		if len(lm.Logs()) < len(best.Logs()) {
			best = lm
		}
	}
	return best
}

// replicaStats lists per-partition figures for the metrics scrape.
func (m *Manager) replicaStats() []replicaStat {
	m.replicas.mu.RLock()
	defer m.replicas.mu.RUnlock()
	out := make([]replicaStat, 0, len(m.replicas.byTP))
	for _, r := range m.replicas.byTP {
		out = append(out, replicaStat{r.tp, r.log.LogStartOffset(), r.log.LogEndOffset(), r.part.HighWatermark(), r.log.Size()})
	}
	return out
}

type replicaStat struct {
	tp                                    log.TopicPartition
	logStart, logEnd, highWatermark, size int64
}

// defaultSettings are the node-level defaults, used when configs do not parse.
func (m *Manager) defaultSettings() *topicSettings {
	s, _ := m.settingsFor(&metadata.Topic{}, &metadata.Image{})
	return s
}

// settingsFor resolves a topic's effective configs through the one
// resolver DescribeConfigs also uses (metadata.ConfigResolver): the topic's
// override, then the dynamic broker value of any synonym
// (log.retention.ms, log.retention.minutes, log.retention.hours, scaled),
// then the node's static value, then the default. What is applied to the
// logs is what DescribeConfigs reports.
func (m *Manager) settingsFor(t *metadata.Topic, im *metadata.Image) (*topicSettings, error) {
	r := metadata.NewConfigResolver(m.cfg, im)
	lc := log.DefaultConfig()
	lc.Durability = log.DurabilitySync
	if m.cfg.LogDurability == config.DurabilityPageCache {
		lc.Durability = log.DurabilityPageCache
	}
	s := &topicSettings{maxMessageBytes: m.cfg.MessageMaxBytes, minInsyncReplicas: 1}

	var errs []error
	i64 := func(name string, dst *int64) {
		v, ok := r.TopicValue(name, t.Configs)
		if !ok {
			return
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not an integer", name, v))
			return
		}
		*dst = n
	}
	i32 := func(name string, dst *int32) {
		n := int64(*dst)
		i64(name, &n)
		if n < math.MinInt32 || n > math.MaxInt32 {
			errs = append(errs, fmt.Errorf("%s: %d out of range", name, n))
			return
		}
		*dst = int32(n)
	}
	i64("segment.bytes", &lc.SegmentBytes)
	i64("segment.ms", &lc.SegmentMs)
	i32("segment.index.bytes", &lc.SegmentIndexBytes)
	i32("index.interval.bytes", &lc.IndexIntervalBytes)
	i64("retention.ms", &lc.RetentionMs)
	i64("retention.bytes", &lc.RetentionBytes)
	if v, ok := r.TopicValue("cleanup.policy", t.Configs); ok {
		lc.CleanupPolicy = v
	}
	i64("delete.retention.ms", &lc.DeleteRetentionMs)
	if v, ok := r.TopicValue("min.cleanable.dirty.ratio", t.Configs); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("min.cleanable.dirty.ratio: %q is not a number", v))
		} else {
			lc.MinCleanableDirtyRatio = f
		}
	}
	i64("min.compaction.lag.ms", &lc.MinCompactionLagMs)
	i64("max.compaction.lag.ms", &lc.MaxCompactionLagMs)
	i64("flush.messages", &lc.FlushMessages)
	i64("flush.ms", &lc.FlushMs)
	i32("max.message.bytes", &s.maxMessageBytes)
	i32("min.insync.replicas", &s.minInsyncReplicas)
	i64("message.timestamp.before.max.ms", &s.timestampBeforeMs)
	i64("message.timestamp.after.max.ms", &s.timestampAfterMs)
	if v, ok := r.TopicValue("message.timestamp.type", t.Configs); ok {
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
