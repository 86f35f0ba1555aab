package replica

// Wiring of the group coordinator (internal/group) into the broker: one
// coordinator per Broker, created on the first group request, whose storage
// is the internal topic __consumer_offsets (created through the metadata
// store on first write, appended to with acks=all semantics through the
// partition's AppendAsLeader and replayed from the partition logs when the
// coordinator loads), and whose topic view is the metadata image.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
)

// groupSlot holds the broker's group coordinator, created on first use.
type groupSlot struct {
	mu     sync.Mutex // held while creating, loading and closing
	c      *group.Coordinator
	store  *offsetsStorage // set with c
	closed bool
	// loaded is c once loaded, for readers that must not wait behind a
	// load (the metrics scrape).
	loaded atomic.Pointer[group.Coordinator]
}

// Groups returns the broker's group coordinator, creating and loading it
// on first use. An error means the coordinator cannot serve yet (bad group
// config, __consumer_offsets unreadable) or no longer (the broker is
// closing); handlers answer COORDINATOR_NOT_AVAILABLE and clients retry.
func (m *Manager) Groups() (*group.Coordinator, error) {
	slot := &m.groups
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.closed {
		return nil, errors.New("broker is closing")
	}
	if slot.c != nil {
		return slot.c, nil
	}
	cfg, err := group.ConfigFromProps(m.cfg.NodeID, m.cfg.Props)
	if err != nil {
		return nil, err
	}
	store := newOffsetsStorage(m, cfg)
	c, err := group.New(group.Options{
		Config:  cfg,
		Storage: store,
		Topics:  imageTopics{m},
		Logger:  m.logger.With("component", "group-coordinator"),
	})
	if err != nil {
		return nil, err
	}
	c.SetPendingOffsets(m.TxnOffsetsPending)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Load(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("load group coordinator: %w", err)
	}
	slot.c, slot.store = c, store
	slot.loaded.Store(c)
	return c, nil
}

// CloseGroups stops the broker's group coordinator (timers, waiting joins);
// later group requests are answered COORDINATOR_NOT_AVAILABLE. Close calls
// it first.
func (m *Manager) CloseGroups() {
	slot := &m.groups
	slot.mu.Lock()
	defer slot.mu.Unlock()
	slot.closed = true
	slot.loaded.Store(nil)
	if slot.c != nil {
		slot.c.Close()
		slot.c = nil
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

// offsetsStore is the storage of the loaded group coordinator, or nil.
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
			segmentBytes: cfg.OffsetsTopicSegmentBytes, compression: "producer"},
		kv: func(r group.Record) ([]byte, []byte) { return r.Key, r.Value },
		mk: func(k, v []byte) group.Record { return group.Record{Key: k, Value: v} },
	}}
}
