package broker

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
	"net"
	"sort"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupSlot holds the broker's group coordinator, created on first use.
type groupSlot struct {
	mu     sync.Mutex // held while creating, loading and closing
	c      *group.Coordinator
	store  *offsetsStorage // set with c
	closed bool
}

// Groups returns the broker's group coordinator, creating and loading it
// on first use. An error means the coordinator cannot serve yet (bad group
// config, __consumer_offsets unreadable) or no longer (the broker is
// closing); handlers answer COORDINATOR_NOT_AVAILABLE and clients retry.
func (b *Broker) Groups() (*group.Coordinator, error) {
	if b.dataPlane == nil || b.meta == nil {
		return nil, errors.New("broker has no data plane")
	}
	slot := &b.groups
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.closed {
		return nil, errors.New("broker is closing")
	}
	if slot.c != nil {
		return slot.c, nil
	}
	cfg, err := group.ConfigFromProps(b.cfg.NodeID, b.cfg.Props)
	if err != nil {
		return nil, err
	}
	store := newOffsetsStorage(b, cfg)
	c, err := group.New(group.Options{
		Config:  cfg,
		Storage: store,
		Topics:  imageTopics{b},
		Logger:  b.logger.With("component", "group-coordinator"),
	})
	if err != nil {
		return nil, err
	}
	c.SetPendingOffsets(b.TxnOffsetsPending)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Load(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("load group coordinator: %w", err)
	}
	slot.c, slot.store = c, store
	return c, nil
}

// CloseGroups stops the broker's group coordinator (timers, waiting joins);
// later group requests are answered COORDINATOR_NOT_AVAILABLE. Close calls
// it first.
func (b *Broker) CloseGroups() {
	if b.dataPlane == nil {
		return
	}
	slot := &b.groups
	slot.mu.Lock()
	defer slot.mu.Unlock()
	slot.closed = true
	if slot.c != nil {
		slot.c.Close()
		slot.c = nil
	}
}

// groupsOrCode is the handlers' way in: the coordinator, or the error code
// to answer with.
func (b *Broker) groupsOrCode(rc *RequestContext) (*group.Coordinator, int16) {
	c, err := b.Groups()
	if err != nil {
		if rc != nil && rc.Logger != nil {
			rc.Logger.Warn("group coordinator unavailable", "err", err)
		}
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return c, 0
}

// clientHost is the client's address as Kafka reports it ("/1.2.3.4").
func clientHost(rc *RequestContext) string {
	host := rc.ClientAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "/" + host
}

// imageTopics answers the coordinator's topic questions from the current
// metadata image (lock-free reads).
type imageTopics struct{ b *Broker }

func (t imageTopics) Topic(name string) (group.TopicInfo, bool) {
	tt := t.b.meta.Image().Topics[name]
	if tt == nil {
		return group.TopicInfo{}, false
	}
	return group.TopicInfo{ID: tt.ID, Partitions: int32(len(tt.Partitions))}, true
}

func (t imageTopics) TopicByID(id [16]byte) (string, bool) {
	tt := t.b.meta.Image().TopicsByID[id]
	if tt == nil {
		return "", false
	}
	return tt.Name, true
}

func (t imageTopics) TopicNames() []string {
	im := t.b.meta.Image()
	out := make([]string, 0, len(im.Topics))
	for n := range im.Topics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// offsetsStore is the storage of the loaded group coordinator, or nil.
func (b *Broker) offsetsStore() *offsetsStorage {
	b.groups.mu.Lock()
	defer b.groups.mu.Unlock()
	return b.groups.store
}

// offsetsStorage is group.Storage over __consumer_offsets (its Replay, in
// txn_offsets.go, resolves transactional offsets by their markers).
type offsetsStorage struct {
	recordStorage[group.Record]
}

func newOffsetsStorage(b *Broker, cfg group.Config) *offsetsStorage {
	return &offsetsStorage{recordStorage[group.Record]{
		topic: internalTopic{b: b, name: group.OffsetsTopic, partitions: cfg.OffsetsTopicNumPartitions,
			segmentBytes: cfg.OffsetsTopicSegmentBytes, compression: "producer"},
		kv: func(r group.Record) ([]byte, []byte) { return r.Key, r.Value },
		mk: func(k, v []byte) group.Record { return group.Record{Key: k, Value: v} },
	}}
}
