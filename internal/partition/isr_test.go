package partition

import (
	"slices"
	"testing"
	"time"
)

// These tests drive the leader's ISR and high-watermark rules (isr.go)
// without a log: each step is a follower fetch, a shrink check or an
// answer of the controller, as Kafka's PartitionTest does for
// updateFollowerFetchState, maybeExpandIsr and maybeShrinkIsr.

var t0 = time.Unix(1_700_000_000, 0)

func newState(isr []int32, minISR int) *replicationState {
	s := &replicationState{}
	s.reset(Assignment{Self: 1, Replicas: []int32{1, 2, 3}, ISR: isr, PartitionEpoch: 4, MinInsyncReplicas: minISR}, t0)
	return s
}

func TestHighWatermarkIsTheSmallestISRLogEnd(t *testing.T) {
	s := newState([]int32{1, 2, 3}, 1)
	if _, ok := s.highWatermark(100); ok {
		t.Fatal("the high watermark moved before every ISR follower fetched in the leader's term")
	}
	s.followerFetched(2, 7, 80, 100, 0, 0, 5, t0)
	if _, ok := s.highWatermark(100); ok {
		t.Fatal("the high watermark moved while follower 3's log end is unknown")
	}
	s.followerFetched(3, 7, 60, 100, 0, 0, 5, t0)
	if hw, ok := s.highWatermark(100); !ok || hw != 60 {
		t.Fatalf("high watermark %d (ok %v), want 60: the smallest log end offset over the ISR", hw, ok)
	}
	if hw, _ := s.highWatermark(50); hw != 50 {
		t.Fatalf("high watermark %d, want the leader's durable offset 50 when it is the smallest", hw)
	}
}

func TestOutOfSyncFollowerDoesNotHoldTheHighWatermark(t *testing.T) {
	s := newState([]int32{1, 2}, 1)
	s.followerFetched(2, 7, 90, 100, 0, 0, 5, t0)
	s.followerFetched(3, 7, 10, 100, 90, 0, 5, t0) // below the high watermark: not added
	if hw, _ := s.highWatermark(100); hw != 90 {
		t.Fatalf("high watermark %d, want 90: follower 3 is not in the ISR", hw)
	}
}

func TestStrictMinISR(t *testing.T) {
	s := newState([]int32{1}, 2)
	if _, ok := s.highWatermark(100); ok {
		t.Fatal("the high watermark advanced with one in-sync replica under min.insync.replicas 2")
	}
	// An unsatisfiable setting (more than the replicas) does not stall it.
	s = &replicationState{}
	s.reset(Assignment{Self: 1, Replicas: []int32{1}, ISR: []int32{1}, MinInsyncReplicas: 2}, t0)
	if hw, ok := s.highWatermark(100); !ok || hw != 100 {
		t.Fatalf("a single replica with min.insync.replicas 2: high watermark %d ok %v, want 100", hw, ok)
	}
}

func TestExpandNeedsHighWatermarkAndEpochStart(t *testing.T) {
	s := newState([]int32{1, 2}, 1)
	s.followerFetched(2, 7, 100, 100, 70, 70, 5, t0)
	// KAFKA-7128: caught up to the high watermark, but not to the start of
	// the leader's epoch.
	if c := s.followerFetched(3, 9, 50, 100, 50, 70, 5, t0); c != nil {
		t.Fatalf("proposed %v for a follower below the epoch start offset", c.IDs())
	}
	if c := s.followerFetched(3, 9, 60, 100, 70, 50, 5, t0); c != nil {
		t.Fatalf("proposed %v for a follower below the high watermark", c.IDs())
	}
	c := s.followerFetched(3, 9, 70, 100, 70, 70, 5, t0)
	if c == nil || !slices.Equal(c.IDs(), []int32{1, 2, 3}) || c.PartitionEpoch != 4 || c.LeaderEpoch != 5 {
		t.Fatalf("proposal %+v, want ISR 1,2,3 on partition epoch 4 in leader epoch 5", c)
	}
	if c.ISR[2].BrokerEpoch != 9 {
		t.Fatalf("follower 3 proposed with broker epoch %d, want the one it fetched with (9)", c.ISR[2].BrokerEpoch)
	}
	// The addition counts at once (maximal ISR): follower 3 now holds the
	// high watermark back too.
	if hw, _ := s.highWatermark(100); hw != 70 {
		t.Fatalf("high watermark %d with the addition pending, want 70", hw)
	}
	if c2 := s.followerFetched(3, 9, 80, 100, 70, 70, 5, t0); c2 != nil {
		t.Fatal("a second proposal while one is pending")
	}
	s.complete(c, []int32{1, 2, 3}, 5, true)
	if !slices.Equal(s.a.ISR, []int32{1, 2, 3}) || s.a.PartitionEpoch != 5 || s.inflight != nil {
		t.Fatalf("after the answer: ISR %v partition epoch %d pending %v", s.a.ISR, s.a.PartitionEpoch, s.inflight)
	}
}

func TestIneligibleFollowerIsNotProposed(t *testing.T) {
	s := &replicationState{}
	s.reset(Assignment{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{1}, PartitionEpoch: 1,
		Eligible: func(id int32, epoch int64) bool { return epoch == 12 }}, t0)
	// KAFKA-14139: a broker that restarted fetches with a new broker epoch
	// the image does not have yet.
	if c := s.followerFetched(2, 11, 100, 100, 100, 0, 3, t0); c != nil {
		t.Fatal("proposed a follower whose broker epoch is not the registered one")
	}
	if c := s.followerFetched(2, 12, 100, 100, 100, 0, 3, t0); c == nil {
		t.Fatal("no proposal for an eligible caught-up follower")
	}
}

func TestShrinkRemovesOnlyLaggingFollowers(t *testing.T) {
	s := newState([]int32{1, 2, 3}, 1)
	lag := 30 * time.Second
	s.followerFetched(2, 7, 100, 100, 0, 0, 5, t0.Add(20*time.Second)) // caught up at 20 s
	s.followerFetched(3, 7, 50, 100, 0, 0, 5, t0.Add(20*time.Second))  // behind since the term began
	if c := s.maybeShrink(t0.Add(29*time.Second), lag, 5); c != nil {
		t.Fatalf("shrink %v before replica.lag.time.max.ms", c.IDs())
	}
	c := s.maybeShrink(t0.Add(31*time.Second), lag, 5)
	if c == nil || !slices.Equal(c.IDs(), []int32{1, 2}) {
		t.Fatalf("shrink proposal %+v, want ISR 1,2", c)
	}
	// A removal counts only once committed.
	if isr := s.maximalISR(); !slices.Equal(isr, []int32{1, 2, 3}) {
		t.Fatalf("maximal ISR %v with the removal pending, want 1,2,3", isr)
	}
	s.complete(c, nil, 0, false) // refused
	if s.inflight != nil || !slices.Equal(s.a.ISR, []int32{1, 2, 3}) {
		t.Fatal("a refused proposal changed the ISR or stayed pending")
	}
}

func TestCaughtUpAtThePreviousFetch(t *testing.T) {
	s := newState([]int32{1, 2}, 1)
	// At 10 s the follower asks for 100 while the leader ends at 120: not
	// caught up now. At 20 s it asks for 120, what the leader had at 10 s:
	// it was caught up at 10 s (Kafka's lastFetchLeaderLogEndOffset rule).
	s.followerFetched(2, 7, 100, 120, 0, 0, 5, t0.Add(10*time.Second))
	s.followerFetched(2, 7, 120, 150, 0, 0, 5, t0.Add(20*time.Second))
	if got := s.followers[2].lastCaughtUp; !got.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("last caught up %v, want the previous fetch's time", got.Sub(t0))
	}
}

func TestAnswerForAnOvertakenProposalIsIgnored(t *testing.T) {
	s := newState([]int32{1, 2}, 1)
	c := s.followerFetched(3, 7, 100, 100, 100, 0, 5, t0)
	if c == nil {
		t.Fatal("no proposal")
	}
	// The image brings a newer partition epoch first (the controller
	// committed this or another change): the proposal is no longer awaited.
	s.assign(Assignment{Self: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, PartitionEpoch: 6}, t0)
	if s.inflight != nil {
		t.Fatal("a proposal older than the image is still pending")
	}
	s.complete(c, []int32{1, 2, 3}, 5, true)
	if s.a.PartitionEpoch != 6 {
		t.Fatalf("a late answer moved the partition epoch back to %d", s.a.PartitionEpoch)
	}
}
