package partition

import (
	"slices"
	"time"
)

// This file holds the leader's view of its followers and of the in-sync
// replicas (ISR), as Kafka's Partition does it (updateFollowerFetchState,
// maybeExpandIsr, maybeShrinkIsr, maybeIncrementLeaderHW, with KIP-497's
// AlterPartition as the only way the ISR changes):
//
//   - Each follower's log end offset is what it last asked for in a Fetch
//     carrying the leader's epoch (it has everything below, and with
//     DurabilitySync has fsynced it: the fetcher waits for its log to be
//     durable before it fetches again).
//   - A follower is caught up at a fetch that asks for the leader's log end
//     offset, or for at least the offset the leader had at the follower's
//     previous fetch (then it was caught up at that previous fetch). One
//     not caught up for replica.lag.time.max.ms leaves the ISR; one whose
//     log end offset reaches the high watermark and the start of the
//     current leader epoch joins it (KAFKA-7128: a follower that only holds
//     the previous epoch's records is not in sync).
//   - The leader never changes the ISR itself: it proposes the new ISR to
//     the controller (AlterPartition, with the partition epoch as a
//     compare-and-set, one proposal at a time) and adopts what the
//     controller commits. Until then it counts a proposed addition at once
//     and a proposed removal only once committed: the "maximal ISR", so
//     the high watermark never counts on fewer replicas than the
//     controller might elect from.
//   - The high watermark is the smallest log end offset over the maximal
//     ISR (the leader's own counts with what its log made durable). It does
//     not advance while the ISR is smaller than min.insync.replicas
//     (Kafka's strict min ISR, KIP-966), so a record acknowledged with
//     acks=1 is not exposed to consumers until enough replicas hold it.
//
// replicationState holds these rules without locks or I/O: the Partition
// wraps it (under repMu) and the replica manager sends its proposals.

// ISRMember is an in-sync replica as AlterPartition names it: its broker
// id and the broker epoch it fetched with (KIP-903: the controller refuses
// a member whose registration is newer, a broker that restarted and may
// have lost its log).
type ISRMember struct {
	ID          int32
	BrokerEpoch int64 // -1 for the leader itself: the sender fills its own
}

// ISRChange is a proposal of a new ISR for AlterPartition, made in a
// leader epoch and based on a partition epoch.
type ISRChange struct {
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []ISRMember
}

// IDs lists the proposal's member ids.
func (c *ISRChange) IDs() []int32 {
	ids := make([]int32, len(c.ISR))
	for i, m := range c.ISR {
		ids[i] = m.ID
	}
	return ids
}

// Assignment is a partition's replica placement as the metadata image has
// it, for its leader.
type Assignment struct {
	Self           int32   // this broker
	Replicas       []int32 // every replica, leader included
	ISR            []int32 // the committed in-sync replicas
	PartitionEpoch int32
	// MinInsyncReplicas is the topic's min.insync.replicas (0 means 1).
	MinInsyncReplicas int
	// Eligible reports whether a broker may join the ISR with the broker
	// epoch it fetched with: registered with that epoch, unfenced and not
	// shutting down (KIP-841, KIP-903). nil means every broker is.
	Eligible func(id int32, brokerEpoch int64) bool
}

// followerState is the leader's knowledge of one follower.
type followerState struct {
	brokerEpoch        int64
	logEndOffset       int64 // -1 until its first fetch in this leader term
	lastCaughtUp       time.Time
	lastFetch          time.Time
	lastFetchLeaderEnd int64 // the leader's log end offset at that fetch
}

// replicationState is a leader's replication bookkeeping for one
// partition.
type replicationState struct {
	a         Assignment
	followers map[int32]*followerState
	// inflight is the AlterPartition proposal awaiting an answer, nil if
	// none.
	inflight *ISRChange
}

// reset starts a leader term: every follower's log end offset unknown,
// the ISR members counted as caught up now (they have time to fetch
// before they are judged), as Kafka's makeLeader does.
func (s *replicationState) reset(a Assignment, now time.Time) {
	s.a = a
	s.inflight = nil
	s.followers = map[int32]*followerState{}
	for _, id := range a.Replicas {
		if id == a.Self {
			continue
		}
		f := &followerState{brokerEpoch: -1, logEndOffset: -1, lastFetchLeaderEnd: -1}
		if slices.Contains(a.ISR, id) {
			f.lastCaughtUp = now
		}
		s.followers[id] = f
	}
}

// assign adopts a newer assignment within the same leader term (an ISR the
// controller committed, a replica added or removed). A proposal the image
// has overtaken (its partition epoch is older than the image's) is no
// longer awaited.
func (s *replicationState) assign(a Assignment, now time.Time) {
	old := s.followers
	s.a = a
	s.followers = map[int32]*followerState{}
	for _, id := range a.Replicas {
		if id == a.Self {
			continue
		}
		f := old[id]
		if f == nil {
			f = &followerState{brokerEpoch: -1, logEndOffset: -1, lastFetchLeaderEnd: -1, lastCaughtUp: now}
		}
		s.followers[id] = f
	}
	if s.inflight != nil && s.inflight.PartitionEpoch < a.PartitionEpoch {
		s.inflight = nil
	}
}

// replicated reports whether the partition has followers at all.
func (s *replicationState) replicated() bool { return len(s.a.Replicas) > 1 }

// maximalISR is the committed ISR plus the members a pending proposal
// adds.
func (s *replicationState) maximalISR() []int32 {
	isr := s.a.ISR
	if s.inflight == nil {
		return isr
	}
	out := slices.Clone(isr)
	for _, m := range s.inflight.ISR {
		if !slices.Contains(out, m.ID) {
			out = append(out, m.ID)
		}
	}
	return out
}

// minISR is the effective min.insync.replicas.
func (s *replicationState) minISR() int { return max(1, s.a.MinInsyncReplicas) }

// followerFetched records a follower's fetch at fetchOffset, made when the
// leader's log ended at leaderEnd: its log end offset and whether it is
// caught up. It returns a proposal to add it to the ISR when it qualifies
// (see maybeExpand), else nil.
func (s *replicationState) followerFetched(id int32, brokerEpoch, fetchOffset, leaderEnd, hw, epochStart int64, leaderEpoch int32, now time.Time) *ISRChange {
	f := s.followers[id]
	if f == nil {
		return nil // not a replica of this partition
	}
	switch {
	case fetchOffset >= leaderEnd:
		f.lastCaughtUp = now
	case fetchOffset >= f.lastFetchLeaderEnd && !f.lastFetch.IsZero():
		f.lastCaughtUp = f.lastFetch
	}
	f.lastFetch, f.lastFetchLeaderEnd = now, leaderEnd
	f.logEndOffset, f.brokerEpoch = fetchOffset, brokerEpoch
	return s.maybeExpand(id, hw, epochStart, leaderEpoch)
}

// maybeExpand proposes adding follower id to the ISR when no proposal is
// pending, it is not in the maximal ISR, it is eligible, and its log end
// offset is at or past both the high watermark and the start of the
// current leader epoch.
func (s *replicationState) maybeExpand(id int32, hw, epochStart int64, leaderEpoch int32) *ISRChange {
	f := s.followers[id]
	if s.inflight != nil || f == nil || slices.Contains(s.a.ISR, id) {
		return nil
	}
	if f.logEndOffset < hw || f.logEndOffset < epochStart {
		return nil
	}
	if s.a.Eligible != nil && !s.a.Eligible(id, f.brokerEpoch) {
		return nil
	}
	return s.propose(append(slices.Clone(s.a.ISR), id), leaderEpoch)
}

// maybeShrink proposes removing the ISR followers not caught up within
// maxLag, when no proposal is pending.
func (s *replicationState) maybeShrink(now time.Time, maxLag time.Duration, leaderEpoch int32) *ISRChange {
	if s.inflight != nil {
		return nil
	}
	var keep []int32
	removed := false
	for _, id := range s.a.ISR {
		if f := s.followers[id]; f != nil && now.Sub(f.lastCaughtUp) > maxLag {
			removed = true
			continue
		}
		keep = append(keep, id)
	}
	if !removed {
		return nil
	}
	return s.propose(keep, leaderEpoch)
}

// propose records a pending proposal of isr.
func (s *replicationState) propose(isr []int32, leaderEpoch int32) *ISRChange {
	c := &ISRChange{LeaderEpoch: leaderEpoch, PartitionEpoch: s.a.PartitionEpoch}
	for _, id := range isr {
		m := ISRMember{ID: id, BrokerEpoch: -1}
		if f := s.followers[id]; f != nil {
			m.BrokerEpoch = f.brokerEpoch
		}
		c.ISR = append(c.ISR, m)
	}
	s.inflight = c
	return c
}

// complete ends proposal c: with ok, the controller committed isr at
// partitionEpoch; otherwise it refused it (or did not answer), and a later
// fetch or shrink check proposes again. An answer to a proposal no longer
// pending changes nothing.
func (s *replicationState) complete(c *ISRChange, isr []int32, partitionEpoch int32, ok bool) {
	if s.inflight != c {
		return
	}
	s.inflight = nil
	if ok && partitionEpoch > s.a.PartitionEpoch {
		s.a.ISR, s.a.PartitionEpoch = slices.Clone(isr), partitionEpoch
	}
}

// highWatermark is the high watermark the replicas allow: the smallest log
// end offset over the maximal ISR, the leader's being leaderDurable; ok is
// false while it may not advance (a member's log end offset is unknown, or
// the ISR is smaller than min.insync.replicas).
func (s *replicationState) highWatermark(leaderDurable int64) (hw int64, ok bool) {
	isr := s.maximalISR()
	if len(isr) < s.minISR() && len(s.a.Replicas) >= s.minISR() {
		return 0, false
	}
	hw = leaderDurable
	for _, id := range isr {
		if id == s.a.Self {
			continue
		}
		f := s.followers[id]
		if f == nil || f.logEndOffset < 0 {
			return 0, false
		}
		hw = min(hw, f.logEndOffset)
	}
	return hw, true
}
