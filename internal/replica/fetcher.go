package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
)

// This file is the follower's side of replication, Kafka's
// ReplicaFetcherThread: one fetcher per leader broker this node follows
// partitions of, each sending Fetch requests as a replica (ReplicaState
// with this broker's id and epoch, KIP-903) for all of its partitions at
// once, over the inter-broker client's fetch connection.
//
// Per partition, a response
//
//   - with a diverging epoch (Fetch v12+, KIP-320): truncates the log to
//     where it stops agreeing with the leader's, the smaller of the
//     leader's end of that epoch and this log's, then fetches again;
//   - with records: appends them as the leader wrote them
//     (Partition.AppendAsFollower), a torn last batch left for the next
//     fetch;
//   - with OFFSET_OUT_OF_RANGE: starts the log over at the leader's log
//     start offset when it fell below it, else truncates to the leader's
//     high watermark (which both logs hold) and fetches again;
//   - with NOT_LEADER_OR_FOLLOWER, FENCED or UNKNOWN_LEADER_EPOCH, an
//     unknown topic: waits for the metadata image to say more.
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
			var timer <-chan time.Time
			if !next.IsZero() {
				t := time.NewTimer(time.Until(next))
				defer t.Stop()
				timer = t.C
			}
			select {
			case <-f.wake:
			case <-timer:
			case <-ctx.Done():
			}
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
	byKey := map[fetchKey]*fetchTarget{}
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
		p.FetchOffset = t.r.log.LogEndOffset()
		p.LastFetchedEpoch = -1
		if e, ok := t.r.log.LatestEpoch(); ok {
			p.LastFetchedEpoch = e
		}
		p.LogStartOffset = t.r.log.LogStartOffset()
		p.PartitionMaxBytes = cfg.ReplicaFetchMaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		byKey[fetchKey{t.r.topicID, t.r.tp.Partition}] = t
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
			id := rt.TopicID
			t := byKey[fetchKey{id, rp.Partition}]
			if t == nil {
				for k, v := range byKey { // a response by name (before v13)
					if v.r.tp.Topic == rt.Topic && k.partition == rp.Partition {
						t = v
					}
				}
			}
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

// fetchKey names a partition by topic id.
type fetchKey struct {
	topicID   [16]byte
	partition int32
}

// apply applies one partition's part of a fetch response; it reports
// whether the partition took records or a high watermark to adopt.
func (f *fetcher) apply(t *fetchTarget, rp *kmsg.FetchResponseTopicPartition) bool {
	part := t.r.part
	logger := f.m.logger.With("topic", t.r.tp.Topic, "partition", t.r.tp.Partition, "leader", f.source)
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		f.outOfRange(t, rp, logger)
		return false
	case errors.Is(err, kerr.UnknownLeaderEpoch):
		// The leader has not applied the image that made it leader yet.
		f.holdOff(t, 50*time.Millisecond)
		return false
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, an unknown topic, a
		// storage error: the image will move the partition, or the leader
		// recovers; fetch it again later.
		logger.Debug("replica fetch refused", "err", err)
		f.holdOff(t, time.Duration(f.m.cfg.ReplicaFetchBackoffMs)*time.Millisecond)
		return false
	}
	if rp.DivergingEpoch.EndOffset >= 0 && rp.DivergingEpoch.Epoch >= 0 {
		f.truncateDiverging(t, rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset, logger)
		return false
	}
	batches := wholeBatches(rp.RecordBatches)
	if len(batches) == 0 {
		return true // the high watermark may have moved
	}
	_, err := part.AppendAsFollower(batches)
	var unexpected *log.UnexpectedOffsetError
	switch {
	case err == nil:
		return true
	case errors.As(err, &unexpected) && t.r.log.LogStartOffset() == t.r.log.LogEndOffset():
		// An empty log whose first batch straddles its start: start it at
		// the batch, as the leader has it.
		if err := part.TruncateFullyAndStartAt(unexpected.BaseOffset); err != nil {
			logger.Error("cannot restart the follower log", "offset", unexpected.BaseOffset, "err", err)
			f.holdOff(t, time.Second)
			return false
		}
		if _, err := part.AppendAsFollower(batches); err != nil {
			logger.Error("cannot append the leader's records", "err", err)
			f.holdOff(t, time.Second)
			return false
		}
		return true
	default:
		logger.Error("cannot append the leader's records", "err", err)
		f.holdOff(t, time.Second)
		return false
	}
}

// truncateDiverging cuts the log where it stops agreeing with the
// leader's: the leader's log ends epoch at leaderEnd; this log's largest
// epoch at or below it ends at localEnd. Below the smaller of the two both
// logs hold the same records (the leader-epoch rule of KIP-101/KIP-279).
func (f *fetcher) truncateDiverging(t *fetchTarget, epoch int32, leaderEnd int64, logger interface {
	Error(string, ...any)
	Info(string, ...any)
}) {
	part := t.r.part
	target := leaderEnd
	if localEpoch, localEnd := part.EndOffsetForEpoch(epoch); localEpoch == epoch && localEnd >= 0 {
		target = min(target, localEnd)
	}
	target = min(target, part.LogEndOffset())
	f.truncate(t, target, "the log diverged from the leader's", logger)
}

// outOfRange handles OFFSET_OUT_OF_RANGE: a log end below the leader's log
// start starts over there; otherwise the leader no longer has this log's
// end (or its last epoch), and the log is cut to the leader's high
// watermark, below which both logs agree.
func (f *fetcher) outOfRange(t *fetchTarget, rp *kmsg.FetchResponseTopicPartition, logger interface {
	Error(string, ...any)
	Info(string, ...any)
}) {
	part := t.r.part
	leo := part.LogEndOffset()
	if rp.LogStartOffset >= 0 && leo < rp.LogStartOffset {
		if err := part.TruncateFullyAndStartAt(rp.LogStartOffset); err != nil {
			logger.Error("cannot restart the follower log at the leader's log start", "offset", rp.LogStartOffset, "err", err)
			f.holdOff(t, time.Second)
			return
		}
		logger.Info("follower log restarted at the leader's log start offset", "offset", rp.LogStartOffset)
		return
	}
	if rp.HighWatermark >= 0 && rp.HighWatermark < leo {
		f.truncate(t, rp.HighWatermark, "the leader does not have this log's end", logger)
		return
	}
	f.holdOff(t, time.Duration(f.m.cfg.ReplicaFetchBackoffMs)*time.Millisecond)
}

// truncate cuts the follower's log to offset. A truncation below the high
// watermark this replica exposed would take back records consumers may
// have read; it is logged as the error it is (the leader-epoch rules make
// it impossible without an unclean election).
func (f *fetcher) truncate(t *fetchTarget, offset int64, why string, logger interface {
	Error(string, ...any)
	Info(string, ...any)
}) {
	part := t.r.part
	if offset >= part.LogEndOffset() {
		// Nothing to remove (an epoch entry at the log end may go).
		if err := part.TruncateTo(offset); err != nil {
			logger.Error("cannot truncate the follower log", "offset", offset, "err", err)
			f.holdOff(t, time.Second)
		}
		return
	}
	if hw := part.HighWatermark(); offset < hw {
		logger.Error("truncating below the high watermark", "offset", offset, "high_watermark", hw, "why", why)
		f.m.metrics.TruncatedBelowHighWatermark()
	}
	leo := part.LogEndOffset()
	if err := part.TruncateTo(offset); err != nil {
		logger.Error("cannot truncate the follower log", "offset", offset, "err", err)
		f.holdOff(t, time.Second)
		return
	}
	logger.Info("truncated the follower log", "from", leo, "to", offset, "why", why)
}

// wholeBatches returns the prefix of b made of whole batches: a fetch
// response may end inside a batch (Kafka's leaders cut at the byte limit).
// The batches themselves are checked by the append.
func wholeBatches(b []byte) []byte {
	n := 0
	for rest := b; len(rest) >= record.LogOverhead; rest = b[n:] {
		length := int64(int32(binary.BigEndian.Uint32(rest[record.BatchLengthOffset:])))
		size := record.LogOverhead + length
		if length <= 0 || size > int64(len(rest)) {
			break
		}
		n += int(size)
	}
	return b[:n]
}
