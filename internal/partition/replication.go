package partition

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is the leader's side of replication on the Partition: the
// assignment from the metadata image, the followers' fetches, the ISR
// proposals (isr.go holds their rules) and the high watermark they move,
// and the waits of a produce for acks=1 and acks=all.

// SetAssignment gives a leader its replicas, committed ISR and partition
// epoch from the metadata image (call it after BecomeLeader, and again
// whenever the image changes them). In a new leader term the followers'
// states start over, unknown; in the same term they are kept. With
// followers the high watermark moves only as the ISR's log end offsets do
// (isr.go); a leader without followers keeps the durable offset as its high
// watermark. A follower ignores it.
func (p *Partition) SetAssignment(a Assignment, now time.Time) {
	t := p.term.Load()
	if !t.leader {
		return
	}
	p.repMu.Lock()
	if p.repTerm != t {
		p.rep.reset(a, now)
		p.repTerm = t
	} else {
		p.rep.assign(a, now)
	}
	replicated := p.rep.replicated()
	p.repMu.Unlock()
	p.replicated.Store(replicated)
	p.durableChanged()
}

// FollowerFetched records that follower id, registered with brokerEpoch,
// fetched at fetchOffset in the current leader epoch (the fetch handler
// checked the epoch): its log end offset, whether it is caught up, and the
// high watermark that follows. It returns a proposal to add the follower
// to the ISR, for the replica manager to send as AlterPartition, or nil.
func (p *Partition) FollowerFetched(id int32, brokerEpoch, fetchOffset int64, now time.Time) *ISRChange {
	t := p.term.Load()
	if !t.leader {
		return nil
	}
	p.repMu.Lock()
	var c *ISRChange
	if p.repTerm == t {
		c = p.rep.followerFetched(id, brokerEpoch, fetchOffset, p.store.LogEndOffset(), p.HighWatermark(), p.epochStartOffset.Load(), t.epoch, now)
	}
	p.repMu.Unlock()
	p.updateLeaderHighWatermark()
	return c
}

// MaybeShrinkISR proposes removing the in-sync followers that have not
// caught up within maxLag (replica.lag.time.max.ms), or returns nil.
func (p *Partition) MaybeShrinkISR(now time.Time, maxLag time.Duration) *ISRChange {
	t := p.term.Load()
	if !t.leader {
		return nil
	}
	p.repMu.Lock()
	defer p.repMu.Unlock()
	if p.repTerm != t {
		return nil
	}
	return p.rep.maybeShrink(now, maxLag, t.epoch)
}

// CompleteISRChange ends proposal c with the controller's answer: ok with
// the ISR and partition epoch it committed, or not ok (refused, or no
// answer). The high watermark is computed again.
func (p *Partition) CompleteISRChange(c *ISRChange, isr []int32, partitionEpoch int32, ok bool) {
	p.repMu.Lock()
	p.rep.complete(c, isr, partitionEpoch, ok)
	p.repMu.Unlock()
	p.updateLeaderHighWatermark()
}

// InSyncReplicas is the leader's maximal ISR (the committed one plus a
// pending addition); nil for a follower or a leader without followers.
func (p *Partition) InSyncReplicas() []int32 {
	if !p.replicated.Load() {
		return nil
	}
	p.repMu.Lock()
	defer p.repMu.Unlock()
	return slices.Clone(p.rep.maximalISR())
}

// isrSize is the number of in-sync replicas acks=all counts on.
func (p *Partition) isrSize() int {
	if !p.replicated.Load() {
		return 1
	}
	p.repMu.Lock()
	defer p.repMu.Unlock()
	return len(p.rep.maximalISR())
}

// updateLeaderHighWatermark advances a replicated leader's high watermark
// to what its ISR allows.
func (p *Partition) updateLeaderHighWatermark() {
	t := p.term.Load()
	if !t.leader || !p.replicated.Load() {
		return
	}
	p.repMu.Lock()
	if p.repTerm != t {
		// A new term whose assignment has not come yet: the followers'
		// states are the previous term's.
		p.repMu.Unlock()
		return
	}
	hw, ok := p.rep.highWatermark(p.store.DurableOffset())
	p.repMu.Unlock()
	if ok {
		p.advanceHighWatermark(hw)
	}
}

// WaitAcked waits until a produce of the records below end, appended in
// leader epoch epoch, may be acknowledged with acks (1 or -1): for acks=1
// until this replica's log made them durable (its own durability policy),
// for acks=all until the high watermark passes them, and then
// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR has shrunk below
// minInsyncReplicas meanwhile (Kafka's checkEnoughReplicasReachOffset).
// Errors as WaitHighWatermarkInEpoch.
func (p *Partition) WaitAcked(ctx context.Context, end int64, epoch int32, acks int16, minInsyncReplicas int32) error {
	if acks != -1 && p.replicated.Load() {
		return p.waitLocalDurable(ctx, end, epoch)
	}
	if err := p.WaitHighWatermarkInEpoch(ctx, end, epoch); err != nil {
		return err
	}
	if acks == -1 {
		if n := p.isrSize(); n < int(minInsyncReplicas) {
			return newError(kerr.NotEnoughReplicasAfterAppend, nil, "the in-sync replicas (%d) fell below min.insync.replicas (%d) after the append", n, minInsyncReplicas)
		}
	}
	return nil
}

// waitLocalDurable waits until this replica's durable offset reaches end
// in the leader term of epoch (acks=1 on a replicated partition).
func (p *Partition) waitLocalDurable(ctx context.Context, end int64, epoch int32) error {
	t := p.term.Load()
	if !t.leader || t.epoch != epoch {
		return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is %s in leader epoch %d, not leader in %d", p.cfg.Topic, p.cfg.Partition, t.role(), t.epoch, epoch)
	}
	for {
		ch := p.HighWatermarkNotify() // durableChanged signals it too
		select {
		case <-t.ended:
			return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d left leader epoch %d before offset %d was durable", p.cfg.Topic, p.cfg.Partition, t.epoch, end)
		default:
		}
		if p.store.DurableOffset() >= end {
			return nil
		}
		if err := p.store.DurabilityErr(); err != nil {
			return storageError(err, "wait for the local append")
		}
		select {
		case <-ch:
		case <-t.ended:
		case <-ctx.Done():
			return newError(kerr.RequestTimedOut, ctx.Err(), "offset %d was not durable in time", end)
		}
	}
}
