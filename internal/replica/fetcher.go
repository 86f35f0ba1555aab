package replica

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// This file is the follower's side of replication, Kafka's
// ReplicaFetcherThread: one fetcher per leader broker this node follows
// partitions of, each sending Fetch requests as a replica (ReplicaState
// with this broker's id and epoch, KIP-903) for all of its partitions at
// once, over the inter-broker client's fetch connection. What a follower
// does with each partition's answer (append, truncate, start over, hold
// off) is Partition.ApplyFetched.
//
// Before the next fetch, which tells the leader how far this log has come,
// the fetcher waits until what it appended is durable under the log's
// policy: with DurabilitySync a leader counts a follower only for records
// the follower has fsynced, so acks=all means fsynced on every in-sync
// replica. Then each partition adopts the leader's high watermark, capped
// by its own log end offset.

// fetchTarget is one partition a fetcher replicates.
type fetchTarget struct {
	r           *Replica
	leaderEpoch int32
	// retryAt, when set, holds the partition out of fetches until then
	// (after an error the image has to resolve, or a failed truncation).
	retryAt time.Time
}

// fetcher replicates the partitions this node follows from one leader.
type fetcher struct {
	m      *Manager
	source int32

	mu      sync.Mutex
	targets map[log.TopicPartition]*fetchTarget
	wake    chan struct{} // signalled when targets change

	cancel context.CancelFunc
	done   chan struct{}
}

// fetchers holds the node's fetchers by leader broker id.
type fetchers struct {
	mu     sync.Mutex
	byID   map[int32]*fetcher
	closed bool
}

// follow makes r fetched from leader in leaderEpoch, moving it from
// another fetcher if it had one.
func (m *Manager) follow(r *Replica, leader, leaderEpoch int32) {
	fs := &m.fetchers
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return
	}
	for id, f := range fs.byID {
		if id != leader {
			f.remove(r.tp)
		}
	}
	f := fs.byID[leader]
	if f == nil {
		f = m.startFetcher(leader)
		if fs.byID == nil {
			fs.byID = map[int32]*fetcher{}
		}
		fs.byID[leader] = f
	}
	f.add(&fetchTarget{r: r, leaderEpoch: leaderEpoch})
}

// unfollow stops fetching r.
func (m *Manager) unfollow(tp log.TopicPartition) {
	fs := &m.fetchers
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.byID {
		f.remove(tp)
	}
}

// stopFetchers ends every fetcher and waits for them.
func (m *Manager) stopFetchers() {
	fs := &m.fetchers
	fs.mu.Lock()
	fs.closed = true
	all := fs.byID
	fs.byID = nil
	fs.mu.Unlock()
	for _, f := range all {
		f.cancel()
	}
	for _, f := range all {
		<-f.done
	}
}

func (m *Manager) startFetcher(source int32) *fetcher {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{m: m, source: source, targets: map[log.TopicPartition]*fetchTarget{}, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	go f.run(ctx)
	return f
}

func (f *fetcher) add(t *fetchTarget) {
	f.mu.Lock()
	cur := f.targets[t.r.tp]
	if cur == nil || cur.r != t.r || cur.leaderEpoch != t.leaderEpoch {
		f.targets[t.r.tp] = t
	}
	f.mu.Unlock()
	f.signal()
}

func (f *fetcher) remove(tp log.TopicPartition) {
	f.mu.Lock()
	_, ok := f.targets[tp]
	delete(f.targets, tp)
	f.mu.Unlock()
	if ok {
		f.signal()
	}
}

func (f *fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// current reports whether t is still what the fetcher replicates for its
// partition (the image may have moved it meanwhile).
func (f *fetcher) current(t *fetchTarget) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.targets[t.r.tp] == t
}

// due returns the targets to fetch now, and when the next held-out one is
// due (zero if none).
func (f *fetcher) due(now time.Time) ([]*fetchTarget, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fetchTarget
	var next time.Time
	for _, t := range f.targets {
		if t.retryAt.After(now) {
			if next.IsZero() || t.retryAt.Before(next) {
				next = t.retryAt
			}
			continue
		}
		out = append(out, t)
	}
	return out, next
}

// holdOff keeps t out of fetches for d.
func (f *fetcher) holdOff(t *fetchTarget, d time.Duration) {
	f.mu.Lock()
	t.retryAt = time.Now().Add(d)
	f.mu.Unlock()
}

func (f *fetcher) run(ctx context.Context) {
	defer close(f.done)
	cfg := f.m.cfg
	backoff := time.Duration(cfg.ReplicaFetchBackoffMs) * time.Millisecond
	for ctx.Err() == nil {
		targets, next := f.due(time.Now())
		if len(targets) == 0 {
			f.idle(ctx, next)
			continue
		}
		if err := f.fetchOnce(ctx, cfg, targets); err != nil && ctx.Err() == nil {
			f.m.logger.Debug("replica fetch failed", "leader", f.source, "err", err)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
		}
	}
}

// idle waits until the targets change, the first held-out one is due
// (next; zero if none), or ctx ends.
func (f *fetcher) idle(ctx context.Context, next time.Time) {
	var due <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(time.Until(next))
		defer t.Stop()
		due = t.C
	}
	select {
	case <-f.wake:
	case <-due:
	case <-ctx.Done():
	}
}

// fetchOnce sends one Fetch for targets and applies its answer.
func (f *fetcher) fetchOnce(ctx context.Context, cfg *config.Config, targets []*fetchTarget) error {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = cfg.NodeID
	req.ReplicaState.ID = cfg.NodeID
	req.ReplicaState.Epoch = f.m.life.epoch.Load()
	req.MaxWaitMillis = int32(cfg.ReplicaFetchWaitMaxMs)
	req.MinBytes = 1
	req.MaxBytes = cfg.ReplicaFetchResponseMaxBytes
	req.SessionEpoch = -1 // a full fetch every time, without a session
	byTopic := map[[16]byte]int{}
	byKey := map[partitionKey]*fetchTarget{}
	for _, t := range targets {
		i, ok := byTopic[t.r.topicID]
		if !ok {
			i = len(req.Topics)
			byTopic[t.r.topicID] = i
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = t.r.tp.Topic, t.r.topicID
			req.Topics = append(req.Topics, rt)
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = t.r.tp.Partition
		p.CurrentLeaderEpoch = t.leaderEpoch
		p.FetchOffset, p.LastFetchedEpoch = t.r.part.FetchPosition()
		p.LogStartOffset = t.r.log.LogStartOffset()
		p.PartitionMaxBytes = cfg.ReplicaFetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		byKey[partitionKey{t.r.topicID, t.r.tp.Partition}] = t
	}
	// The wait at the leader plus a margin bounds the request; a closing
	// node cancels it.
	rctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.ReplicaFetchWaitMaxMs)*time.Millisecond+30*time.Second)
	defer cancel()
	kr, err := f.m.peers.Request(rctx, f.source, req)
	if err != nil {
		return err
	}
	resp := kr.(*kmsg.FetchResponse)
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode)
	}
	var appended []*fetchTarget
	var highWatermarks []int64
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			t := byKey[partitionKey{rt.TopicID, rp.Partition}]
			if t == nil || !f.current(t) {
				continue
			}
			if f.apply(t, &rp) {
				appended = append(appended, t)
				highWatermarks = append(highWatermarks, rp.HighWatermark)
			}
		}
	}
	// One group commit covers every partition the response appended to;
	// the next fetch reports these log end offsets to the leader.
	for i, t := range appended {
		leo := t.r.log.LogEndOffset()
		if err := t.r.log.WaitDurable(ctx, leo); err != nil {
			if errors.Is(err, log.ErrTruncated) {
				continue
			}
			return err
		}
		t.r.part.SetHighWatermark(min(highWatermarks[i], leo))
	}
	return nil
}

// partitionKey names a partition by topic id.
type partitionKey struct {
	topicID   [16]byte
	partition int32
}

// apply applies one partition's part of a fetch response; it reports
// whether the partition then adopts the leader's high watermark.
func (f *fetcher) apply(t *fetchTarget, rp *kmsg.FetchResponseTopicPartition) bool {
	fetched := partition.Fetched{
		HighWatermark:      rp.HighWatermark,
		LogStartOffset:     rp.LogStartOffset,
		DivergingEpoch:     rp.DivergingEpoch.Epoch,
		DivergingEndOffset: rp.DivergingEpoch.EndOffset,
		Records:            rp.RecordBatches,
	}
	if rp.ErrorCode != 0 {
		fetched.Err, _ = kerr.ErrorForCode(rp.ErrorCode).(*kerr.Error)
		if fetched.Err == nil {
			fetched.Err = kerr.UnknownServerError
		}
	}
	outcome, err := t.r.part.ApplyFetched(fetched)
	switch outcome {
	case partition.FetchAppended:
		return true
	case partition.FetchRetrySoon:
		f.holdOff(t, 50*time.Millisecond)
	case partition.FetchHoldOff:
		if err != nil {
			f.m.logger.Error("replica fetch failed", "topic", t.r.tp.Topic, "partition", t.r.tp.Partition, "leader", f.source, "err", err)
		} else {
			f.m.logger.Debug("replica fetch refused", "topic", t.r.tp.Topic, "partition", t.r.tp.Partition, "leader", f.source, "err", fetched.Err)
		}
		f.holdOff(t, time.Duration(f.m.cfg.ReplicaFetchBackoffMs)*time.Millisecond)
	}
	return false
}
