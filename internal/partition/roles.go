package partition

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file holds the partition's roles and its high watermark: the leader
// and follower terms, Kafka's Partition.makeLeader and makeFollower
// (BecomeLeader, BecomeFollower), the high watermark's rules and the
// waiters bound to the term they registered in.

// term is a span of the partition's life in one role and leader epoch.
// Every role change or new epoch starts a new term and closes the old
// one's ended channel, which fails the high-watermark waiters registered
// in it: records acknowledged in a term must have been committed in it,
// and after it a truncation may have removed them (design F11, Kafka's
// purgatory completing produces with NOT_LEADER_OR_FOLLOWER when the
// leader changes).
type term struct {
	epoch  int32
	leader bool
	ended  chan struct{}
}

func (t *term) role() string {
	if t.leader {
		return "leader"
	}
	return "follower"
}

// notLeader is the error of a leader operation outside a leader term.
func (p *Partition) notLeader(t *term) error {
	return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is a follower in leader epoch %d", p.cfg.Topic, p.cfg.Partition, t.epoch)
}

// IsLeader reports whether the partition is in a leader term.
func (p *Partition) IsLeader() bool { return p.term.Load().leader }

// EpochStartOffset is the log end offset when the partition last became
// leader (BecomeLeader): the first offset of its current leader epoch, as
// Kafka's Partition.leaderEpochStartOffsetOpt (a follower joins the in-sync
// replicas only once its log end offset reaches it; ListOffsets latest
// answers OFFSET_NOT_AVAILABLE while the high watermark is below it). -1
// for a follower, and for a leader opened by New without BecomeLeader.
func (p *Partition) EpochStartOffset() int64 { return p.epochStartOffset.Load() }

// startTermLocked ends the current term and starts one in epoch and role,
// waking every high-watermark waiter and watcher (so the old term's
// waiters fail, and fetches see the change). Called under appendMu.
func (p *Partition) startTermLocked(epoch int32, leader bool) {
	p.startTermLockedWith(epoch, leader, nil)
}

// startTermLockedWith is startTermLocked calling before, if set, with the
// new term before it is published.
func (p *Partition) startTermLockedWith(epoch int32, leader bool, before func(*term)) {
	old := p.term.Load()
	nt := &term{epoch: epoch, leader: leader, ended: make(chan struct{})}
	if before != nil {
		before(nt)
	}
	p.term.Store(nt)
	close(old.ended)
	p.verification = nil
	p.hwChanged()
}

// SetLeaderEpoch records a new leader epoch from the metadata image, in
// the current role. Epochs never go back; a smaller or equal value is
// ignored. A new epoch is a new term: waiters of the old one fail with
// NOT_LEADER_OR_FOLLOWER. It does not write the leader-epoch cache (that
// is BecomeLeader's).
func (p *Partition) SetLeaderEpoch(epoch int32) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if t := p.term.Load(); epoch > t.epoch {
		p.startTermLocked(epoch, t.leader)
	}
}

// BecomeLeader makes the partition the leader of epoch, as Kafka's
// Partition.makeLeader: before anything is appended in the epoch, (epoch,
// log end offset) goes into the leader-epoch cache (KAFKA-7415), and that
// offset becomes the epoch start offset. The high watermark is kept (it
// never goes back within the leader's epochs); without followers (SetAssignment)
// it follows the durable offset again.
// Waiters of the previous term fail. Being leader of epoch already is a
// no-op.
//
// Errors: FENCED_LEADER_EPOCH for an epoch older than the current one, or
// equal to it in a follower term (an epoch has one leader, and this
// replica followed another in it); NOT_LEADER_OR_FOLLOWER when closed;
// KAFKA_STORAGE_ERROR when the epoch cache cannot be written (the
// partition then stays as it was).
func (p *Partition) BecomeLeader(epoch int32) error {
	return p.becomeLeader(epoch, nil, time.Time{})
}

// BecomeLeaderWith is BecomeLeader and SetAssignment in one step, as the
// replica manager makes a replica leader: the new term starts with its
// replicas and ISR in place, so no durable-offset change in between
// counts the partition as a leader alone and moves its high watermark
// over records its ISR may not hold. A leader alone (one replica) then
// has its durable offset as high watermark; a replicated one waits for
// its in-sync followers' fetches.
func (p *Partition) BecomeLeaderWith(epoch int32, a Assignment, now time.Time) error {
	return p.becomeLeader(epoch, &a, now)
}

func (p *Partition) becomeLeader(epoch int32, a *Assignment, now time.Time) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	t := p.term.Load()
	switch {
	case t.leader && epoch == t.epoch:
		return nil
	case epoch <= t.epoch:
		return newError(kerr.FencedLeaderEpoch, nil, "cannot become leader in epoch %d: the partition is %s in epoch %d", epoch, t.role(), t.epoch)
	}
	start, err := p.store.BeginLeaderEpoch(epoch)
	if err != nil {
		return storageError(err, "record the leader epoch")
	}
	p.epochStartOffset.Store(start)
	if a == nil {
		// Without an assignment the partition is what it was told last:
		// a leader alone commits its durable log at once; one told it has
		// followers (in an earlier term) waits for SetAssignment. A
		// replica manager uses BecomeLeaderWith, which leaves no moment in
		// which a promoted follower counts as alone.
		p.startTermLocked(epoch, true)
		p.durableChanged()
	} else {
		p.startTermLockedWith(epoch, true, func(nt *term) {
			p.repMu.Lock()
			p.rep.reset(*a, now)
			p.repTerm = nt
			replicated := p.rep.replicated()
			p.repMu.Unlock()
			p.replicated.Store(replicated)
		})
		p.durableChanged()
	}

	p.logger.Debug("became leader", "epoch", epoch, "epoch_start_offset", start, "high_watermark", p.HighWatermark())
	return nil
}

// BecomeFollower makes the partition a follower in epoch, as Kafka's
// Partition.makeFollower: it stops taking leader appends and transaction
// markers (NOT_LEADER_OR_FOLLOWER), every high-watermark waiter of the
// previous term fails with NOT_LEADER_OR_FOLLOWER (before any truncation
// can remove their records), and from now on its log grows through
// AppendAsFollower and is cut by TruncateTo. The high watermark is kept
// until SetHighWatermark or a truncation moves it. Being a follower in
// epoch already is a no-op.
//
// Errors: FENCED_LEADER_EPOCH for an epoch older than the current one;
// NOT_LEADER_OR_FOLLOWER when closed.
func (p *Partition) BecomeFollower(epoch int32) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	t := p.term.Load()
	switch {
	case !t.leader && epoch == t.epoch:
		return nil
	case epoch < t.epoch:
		return newError(kerr.FencedLeaderEpoch, nil, "cannot follow in epoch %d: the partition is %s in epoch %d", epoch, t.role(), t.epoch)
	}
	p.epochStartOffset.Store(-1)
	p.startTermLocked(epoch, false)
	p.logger.Debug("became follower", "epoch", epoch, "high_watermark", p.HighWatermark())
	return nil
}

// SetHighWatermark moves the high watermark up to hw and returns it: for a
// leader with followers in sync, the minimum log end offset over the
// in-sync replicas (Kafka's maybeIncrementLeaderHW); for a follower, the
// leader's high watermark capped by its own log end offset. It never goes
// back (a lower hw is ignored; only a follower's truncation lowers it)
// and never passes the log's durable offset, so no consumer reads here
// what a crash of this node could take back.
func (p *Partition) SetHighWatermark(hw int64) int64 {
	return p.advanceHighWatermark(min(hw, p.store.DurableOffset()))
}

// advanceHighWatermark moves the high watermark up to hw, records it for
// the log's checkpoint and wakes waiters if it moved; it returns the high
// watermark.
func (p *Partition) advanceHighWatermark(hw int64) int64 {
	for {
		cur := p.highWatermark.Load()
		if hw <= cur {
			return cur
		}
		if p.highWatermark.CompareAndSwap(cur, hw) {
			p.store.SetHighWatermark(hw)
			p.hwChanged()
			return hw
		}
	}
}

// HighWatermark is the offset below which records are committed (readable
// by consumers, acknowledged to producers). For a leader whose in-sync
// replicas are itself alone it is the log's durable offset: with
// DurabilitySync it moves only when the group committer has fsynced the
// records, so no consumer ever reads what a crash could take back; with
// DurabilityPageCache it follows the log end offset as soon as an append is
// written. With followers (SetAssignment) it is the smallest log end
// offset over the in-sync replicas (isr.go); for a follower, what
// SetHighWatermark set.
func (p *Partition) HighWatermark() int64 { return p.highWatermark.Load() }

// HighWatermarkNotify returns a channel closed the next time the high
// watermark advances or the partition changes role or epoch (for acks=all
// waiters and fetches bounded by it).
func (p *Partition) HighWatermarkNotify() <-chan struct{} {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	if p.hwNotify == nil {
		p.hwNotify = make(chan struct{})
	}
	return p.hwNotify
}

// WatchHighWatermark makes the partition signal ch, without blocking (ch
// should have a buffer of one), each time its high watermark advances, it
// changes role or epoch, or its log fails or closes, until
// UnwatchHighWatermark. One channel can watch many partitions at once: a
// long-polling fetch waits on a single channel for whichever of its
// partitions gets records first.
func (p *Partition) WatchHighWatermark(ch chan<- struct{}) {
	p.hwMu.Lock()
	p.hwWatchers = append(p.hwWatchers, ch)
	p.hwMu.Unlock()
}

// UnwatchHighWatermark undoes one WatchHighWatermark(ch).
func (p *Partition) UnwatchHighWatermark(ch chan<- struct{}) {
	p.hwMu.Lock()
	defer p.hwMu.Unlock()
	for i, w := range p.hwWatchers {
		if w == ch {
			last := len(p.hwWatchers) - 1
			p.hwWatchers[i] = p.hwWatchers[last]
			p.hwWatchers[last] = nil
			p.hwWatchers = p.hwWatchers[:last]
			return
		}
	}
}

// hwChanged wakes the high watermark's waiters and watchers.
func (p *Partition) hwChanged() {
	p.hwMu.Lock()
	if p.hwNotify != nil {
		close(p.hwNotify)
		p.hwNotify = nil
	}
	for _, w := range p.hwWatchers {
		select {
		case w <- struct{}{}:
		default: // already signalled
		}
	}
	p.hwMu.Unlock()
}

// durableChanged is the log's durable listener: a leader whose in-sync
// replicas are itself alone has the durable offset as its high watermark.
// It also wakes the high-watermark waiters when the log failed or closed,
// so they see it.
func (p *Partition) durableChanged() {
	if p.term.Load().leader {
		if p.replicated.Load() {
			p.updateLeaderHighWatermark()
		} else {
			p.advanceHighWatermark(p.store.DurableOffset())
		}
	}
	p.hwChanged()
}

// WaitHighWatermark is WaitHighWatermarkInEpoch in the current leader
// epoch: a producer that appended with AppendAsLeaderAsync should pass
// the result's LeaderEpoch to WaitHighWatermarkInEpoch instead, so that a
// term that ended between its append and its wait is noticed.
func (p *Partition) WaitHighWatermark(ctx context.Context, end int64) error {
	return p.WaitHighWatermarkInEpoch(ctx, end, p.term.Load().epoch)
}

// WaitHighWatermarkInEpoch waits until the high watermark reaches end
// (every record below end is committed), as a produce with acks waits for
// its last offset + 1, in the leader term of epoch. It returns nil then,
// or an *Error: NOT_LEADER_OR_FOLLOWER when the partition is not the
// leader in epoch when the wait begins, or leaves that term before the
// high watermark reached end (never success afterwards: a new term's high
// watermark may pass end over other records), or when the log closed;
// KAFKA_STORAGE_ERROR when the log failed (the records may be lost);
// REQUEST_TIMED_OUT when ctx ends first.
func (p *Partition) WaitHighWatermarkInEpoch(ctx context.Context, end int64, epoch int32) error {
	t := p.term.Load()
	if !t.leader || t.epoch != epoch {
		return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is %s in leader epoch %d, not leader in %d", p.cfg.Topic, p.cfg.Partition, t.role(), t.epoch, epoch)
	}
	for {
		ch := p.HighWatermarkNotify()
		// The high watermark is read before the term is checked: a value
		// a later term produced comes after this term ended.
		hw := p.highWatermark.Load()
		select {
		case <-t.ended:
			cur := p.term.Load()
			return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d left leader epoch %d (now %s in %d) before the high watermark reached %d", p.cfg.Topic, p.cfg.Partition, t.epoch, cur.role(), cur.epoch, end)
		default:
		}
		if hw >= end {
			return nil
		}
		if err := p.store.DurabilityErr(); err != nil {
			return storageError(err, "wait for the high watermark")
		}
		select {
		case <-ch:
		case <-t.ended:
		case <-ctx.Done():
			return newError(kerr.RequestTimedOut, ctx.Err(), "high watermark %d did not reach %d in time", p.highWatermark.Load(), end)
		}
	}
}
