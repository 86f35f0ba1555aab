package replica

// Wiring of the group coordinator (internal/group) into the broker: one
// coordinator per node, created when the node opens, whose storage is the
// internal topic __consumer_offsets (created through the metadata store on
// first write or by FindCoordinator, appended to with acks=all semantics
// through the partition's AppendAsLeader, and replayed from the partition
// logs when the coordinator loads a partition), whose topic view is the
// metadata image, and whose partitions follow this node's leadership of
// __consumer_offsets (coordinators.go).

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/group"
)

// groupSlot holds the node's group coordinator.
type groupSlot struct {
	mu     sync.Mutex
	c      *group.Coordinator
	store  *offsetsStorage // set with c
	tasks  *partitionTasks // its loads and unloads; set with c
	closed bool
	// loaded is c until it closes, for readers that must not wait on mu
	// (the metrics scrape).
	loaded atomic.Pointer[group.Coordinator]
}

// Groups returns the node's group coordinator. An error means it no longer
// serves (the node is closing); handlers answer COORDINATOR_NOT_AVAILABLE
// and clients retry. The coordinator answers NOT_COORDINATOR for groups of
// the __consumer_offsets partitions this node does not lead.
func (m *Manager) Groups() (*group.Coordinator, error) {
	slot := &m.groups
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.closed || slot.c == nil {
		return nil, errors.New("broker is closing")
	}
	return slot.c, nil
}

// newGroups creates the group coordinator; its partitions load once
// startCoordinators runs.
func (m *Manager) newGroups() error {
	cfg, err := group.ConfigFromProps(m.cfg.NodeID, m.cfg.Props)
	if err != nil {
		return err
	}
	store := newOffsetsStorage(m, cfg)
	c, err := group.New(group.Options{
		Config:  cfg,
		Storage: store,
		Topics:  imageTopics{m},
		Logger:  m.logger.With("component", "group-coordinator"),
		NumPartitions: func() int32 {
			return m.internalPartitionCount(group.OffsetsTopic, cfg.OffsetsTopicNumPartitions)
		},
	})
	if err != nil {
		return err
	}
	c.SetPendingOffsets(m.TxnOffsetsPending)
	slot := &m.groups
	slot.mu.Lock()
	defer slot.mu.Unlock()
	slot.c, slot.store = c, store
	slot.tasks = newPartitionTasks(group.OffsetsTopic, m.cfg.NodeID, m.logger.With("component", "group-coordinator"),
		m.loadOffsetsPartition(c), m.unloadOffsetsPartition(c))
	slot.loaded.Store(c)
	return nil
}

// loadOffsetsPartition loads a __consumer_offsets partition into the group
// coordinator. It holds the partition's transactional-offsets lock, so
// that a transaction marker written to the partition meanwhile waits for
// the replay (which makes the offsets of transactions without a marker
// pending) and then applies them.
func (m *Manager) loadOffsetsPartition(c *group.Coordinator) func(context.Context, int32, int32) error {
	return func(ctx context.Context, p, epoch int32) error {
		unlock := m.txnOffsets().LockPartition(p)
		defer unlock()
		return c.LoadPartition(ctx, p, epoch)
	}
}

// unloadOffsetsPartition unloads a __consumer_offsets partition from the
// group coordinator and forgets the pending transactional offsets of its
// groups, as Kafka's removeGroupsForPartition does.
func (m *Manager) unloadOffsetsPartition(c *group.Coordinator) func(int32, int32) {
	return func(p, epoch int32) {
		unlock := m.txnOffsets().LockPartition(p)
		defer unlock()
		if c.UnloadPartition(p, epoch) {
			m.txnOffsets().Drop(func(g string) bool { return c.PartitionFor(g) == p })
		}
	}
}

// CloseGroups stops the node's group coordinator (its loads, timers and
// waiting joins); later group requests are answered
// COORDINATOR_NOT_AVAILABLE. Close calls it after CloseTxns.
func (m *Manager) CloseGroups() {
	slot := &m.groups
	slot.mu.Lock()
	c, tasks, was := slot.c, slot.tasks, slot.closed
	slot.closed = true
	slot.loaded.Store(nil)
	slot.mu.Unlock()
	if c != nil && !was {
		tasks.stop()
		c.Close()
	}
}

// imageTopics answers the coordinator's topic questions from the current
// metadata image (lock-free reads).
type imageTopics struct{ m *Manager }

func (t imageTopics) Topic(name string) (group.TopicInfo, bool) {
	tt := t.m.meta.Image().Topics[name]
	if tt == nil {
		return group.TopicInfo{}, false
	}
	return group.TopicInfo{ID: tt.ID, Partitions: int32(len(tt.Partitions))}, true
}

func (t imageTopics) TopicByID(id [16]byte) (string, bool) {
	tt := t.m.meta.Image().TopicsByID[id]
	if tt == nil {
		return "", false
	}
	return tt.Name, true
}

func (t imageTopics) TopicNames() []string {
	im := t.m.meta.Image()
	out := make([]string, 0, len(im.Topics))
	for n := range im.Topics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// offsetsStore is the storage of the group coordinator, or nil.
func (m *Manager) offsetsStore() *offsetsStorage {
	m.groups.mu.Lock()
	defer m.groups.mu.Unlock()
	return m.groups.store
}

// offsetsStorage is group.Storage over __consumer_offsets (its Replay, in
// txn_offsets.go, resolves transactional offsets by their markers).
type offsetsStorage struct {
	recordStorage[group.Record]
}

func newOffsetsStorage(m *Manager, cfg group.Config) *offsetsStorage {
	return &offsetsStorage{recordStorage[group.Record]{
		topic: internalTopic{m: m, name: group.OffsetsTopic, partitions: cfg.OffsetsTopicNumPartitions,
			segmentBytes: cfg.OffsetsTopicSegmentBytes, compression: "producer",
			replicationFactor: cfg.OffsetsTopicReplicationFactor},
		kv: func(r group.Record) ([]byte, []byte) { return r.Key, r.Value },
		mk: func(k, v []byte) group.Record { return group.Record{Key: k, Value: v} },
	}}
}
