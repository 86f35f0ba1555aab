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
	"strconv"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupSlot holds the broker's group coordinator, created on first use.
type groupSlot struct {
	mu     sync.Mutex // held while creating, loading and closing
	c      *group.Coordinator
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
	c, err := group.New(group.Options{
		Config:  cfg,
		Storage: &offsetsStorage{b: b, partitions: cfg.OffsetsTopicNumPartitions, segmentBytes: cfg.OffsetsTopicSegmentBytes},
		Topics:  imageTopics{b},
		Logger:  b.logger.With("component", "group-coordinator"),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Load(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("load group coordinator: %w", err)
	}
	slot.c = c
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

// offsetsStorage is group.Storage over __consumer_offsets.
type offsetsStorage struct {
	b            *Broker
	partitions   int32
	segmentBytes int64
	createMu     sync.Mutex
}

func (s *offsetsStorage) tp(p int32) log.TopicPartition {
	return log.TopicPartition{Topic: group.OffsetsTopic, Partition: p}
}

// ensureTopic creates __consumer_offsets (compacted) if the image lacks it
// and waits until this node has its partitions.
func (s *offsetsStorage) ensureTopic(ctx context.Context) error {
	if s.b.meta.Image().Topics[group.OffsetsTopic] != nil {
		return nil
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if s.b.meta.Image().Topics[group.OffsetsTopic] != nil {
		return nil
	}
	rf := int16(len(s.b.meta.Image().Brokers))
	if rf > 3 {
		rf = 3 // offsets.topic.replication.factor
	}
	if rf < 1 {
		rf = 1
	}
	_, err := s.b.meta.CreateTopic(ctx, metadata.CreateTopicRequest{
		Name:              group.OffsetsTopic,
		NumPartitions:     s.partitions,
		ReplicationFactor: rf,
		Configs: map[string]string{
			"cleanup.policy":   "compact",
			"compression.type": "producer",
			"segment.bytes":    strconv.FormatInt(s.segmentBytes, 10),
		},
	})
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", group.OffsetsTopic, err)
	}
	return s.b.AwaitImage(ctx, s.b.meta.Image().Epoch)
}

// Append writes the records as one batch and waits until the high
// watermark covers it (acks=all).
func (s *offsetsStorage) Append(ctx context.Context, p int32, recs []group.Record) error {
	if err := s.ensureTopic(ctx); err != nil {
		return err
	}
	rep := s.b.replica(s.tp(p))
	if rep == nil {
		return kerr.NotLeaderForPartition
	}
	spec := record.DefaultBatchSpec()
	spec.BaseTimestamp = time.Now().UnixMilli()
	bld := record.NewBuilder(spec)
	for _, r := range recs {
		if err := bld.Append(record.Record{Key: r.Key, Value: r.Value}); err != nil {
			return err
		}
	}
	batch, err := bld.Build(nil)
	if err != nil {
		return err
	}
	s.b.replicas.mu.RLock()
	settings := rep.settings
	s.b.replicas.mu.RUnlock()
	res, err := rep.part.AppendAsLeader(batch, partition.AppendOptions{
		RequiredAcks:      -1,
		MinInsyncReplicas: settings.minInsyncReplicas,
		TimestampType:     partition.CreateTime,
	})
	if err != nil {
		code, msg := partition.KafkaError(err)
		if code == nil {
			code = kerr.UnknownServerError
		}
		return fmt.Errorf("append to %s-%d: %s: %w", group.OffsetsTopic, p, msg, code)
	}
	for rep.part.HighWatermark() <= res.LastOffset {
		ch := rep.part.HighWatermarkNotify()
		if rep.part.HighWatermark() > res.LastOffset {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("await high watermark of %s-%d: %w", group.OffsetsTopic, p, kerr.RequestTimedOut)
		}
	}
	return nil
}

// Replay reads the partition's log from its start to its end.
func (s *offsetsStorage) Replay(ctx context.Context, p int32, fn func(group.Record) error) error {
	tp := s.tp(p)
	m := s.b.LogManager(tp)
	if m == nil {
		return nil
	}
	l, ok := m.Get(tp)
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
			if !h.IsControl() {
				from := off
				err := record.DecodeRecords(h, it.Batch(), func(r *record.Record) error {
					if r.Offset(h) < from {
						return nil
					}
					return fn(group.Record{Key: r.Key, Value: r.Value})
				})
				if err != nil {
					return fmt.Errorf("replay %s batch at %d: %w", tp, h.BaseOffset, err)
				}
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
