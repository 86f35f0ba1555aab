package partition

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// These tests run a leader and its followers in one process on the
// in-memory file system, moving records the way the replica fetchers and
// the Fetch handler do: Read with FromFollower on the leader, then
// FollowerFetched; ApplyFetched, WaitDurable and SetHighWatermark on the
// follower.

// replicate makes one fetch round of follower f (broker id) from leader l.
func replicate(t *testing.T, l, f *replica, id int32) FetchOutcome {
	t.Helper()
	offset, lastEpoch := f.p.FetchPosition()
	res, err := l.p.Read(ReadOptions{Offset: offset, MaxBytes: 1 << 20, MinOneBatch: true, CurrentLeaderEpoch: l.p.LeaderEpoch(), LastFetchedEpoch: lastEpoch, FromFollower: true})
	fetched := Fetched{HighWatermark: res.HighWatermark, LogStartOffset: res.LogStartOffset, DivergingEpoch: -1, DivergingEndOffset: -1}
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatal(err)
		}
		fetched.Err = pe.Code
	} else if res.Diverging {
		fetched.DivergingEpoch, fetched.DivergingEndOffset = res.DivergingEpoch.Epoch, res.DivergingEpoch.EndOffset
	} else {
		b, err := res.Records.AppendTo(nil)
		res.Records.Release()
		if err != nil {
			t.Fatal(err)
		}
		fetched.Records = b
		l.p.FollowerFetched(id, 1, offset, testNow)
		fetched.HighWatermark = l.p.HighWatermark()
	}
	outcome, err := f.p.ApplyFetched(fetched)
	if err != nil {
		t.Fatalf("follower %d: %v", id, err)
	}
	if outcome == FetchAppended {
		if err := f.l.WaitDurable(context.Background(), f.l.LogEndOffset()); err != nil {
			t.Fatal(err)
		}
		f.p.SetHighWatermark(min(fetched.HighWatermark, f.l.LogEndOffset()))
	}
	return outcome
}

// leaderWithRecords opens node 1 as the leader of epoch 0 with ISR {1, 2}
// holding n durable records taken with acks=1, and node 2 as its follower
// that has fetched nothing; both close with the test.
func leaderWithRecords(t *testing.T, mem vfs.FS, n int) (l, f *replica) {
	t.Helper()
	l = openReplica(t, mem, "n1", true, -1)
	f = openReplica(t, mem, "n2", true, 0)
	t.Cleanup(func() { l.close(t); f.close(t) })
	lead(t, l, 0, []int32{1, 2}, 1)
	if _, err := l.p.AppendAsLeaderAsync(batch(t, plain(n)), AppendOptions{RequiredAcks: 1}); err != nil {
		t.Fatal(err)
	}
	if err := l.l.WaitDurable(context.Background(), int64(n)); err != nil {
		t.Fatal(err)
	}
	return l, f
}

func lead(t *testing.T, r *replica, epoch int32, isr []int32, minISR int) {
	t.Helper()
	if err := r.p.BecomeLeader(epoch); err != nil {
		t.Fatal(err)
	}
	r.p.SetAssignment(Assignment{Self: 1, Replicas: []int32{1, 2, 3}, ISR: isr, MinInsyncReplicas: minISR}, testNow)
}

func TestAcksAllWaitsForTheISR(t *testing.T) {
	mem := vfs.NewMem()
	l := openReplica(t, mem, "n1", true, -1)
	f2 := openReplica(t, mem, "n2", true, 0)
	f3 := openReplica(t, mem, "n3", true, 0)
	defer l.close(t)
	defer f2.close(t)
	defer f3.close(t)
	lead(t, l, 0, []int32{1, 2, 3}, 2)

	res, err := l.p.AppendAsLeaderAsync(batch(t, plain(5)), AppendOptions{RequiredAcks: -1, MinInsyncReplicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.p.WaitAcked(ctx, res.LastOffset+1, res.LeaderEpoch, -1, 2); !errors.Is(err, kerr.RequestTimedOut) {
		t.Fatalf("acks=all before any follower fetched: %v, want REQUEST_TIMED_OUT", err)
	}
	// acks=1 needs only the leader's own durable log.
	if err := l.p.WaitAcked(context.Background(), res.LastOffset+1, res.LeaderEpoch, 1, 2); err != nil {
		t.Fatalf("acks=1: %v", err)
	}
	replicate(t, l, f2, 2)
	if hw := l.p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d after one of two ISR followers fetched, want 0", hw)
	}
	replicate(t, l, f3, 3)
	// The fetch after the records tells the leader the followers have them.
	replicate(t, l, f2, 2)
	replicate(t, l, f3, 3)
	if hw := l.p.HighWatermark(); hw != 5 {
		t.Fatalf("high watermark %d, want 5", hw)
	}
	if err := l.p.WaitAcked(context.Background(), res.LastOffset+1, res.LeaderEpoch, -1, 2); err != nil {
		t.Fatalf("acks=all once the ISR has the records: %v", err)
	}
	replicate(t, l, f2, 2)
	if hw := f2.p.HighWatermark(); hw != 5 {
		t.Fatalf("follower high watermark %d, want 5 (the leader's)", hw)
	}
}

func TestNotEnoughReplicas(t *testing.T) {
	mem := vfs.NewMem()
	l := openReplica(t, mem, "n1", true, -1)
	defer l.close(t)
	lead(t, l, 0, []int32{1}, 2)
	_, err := l.p.AppendAsLeaderAsync(batch(t, plain(1)), AppendOptions{RequiredAcks: -1, MinInsyncReplicas: 2})
	if !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all with ISR {1} under min.insync.replicas 2: %v, want NOT_ENOUGH_REPLICAS", err)
	}
	// acks=1 is taken, but not exposed while the ISR is below the minimum.
	res, err := l.p.AppendAsLeaderAsync(batch(t, plain(1)), AppendOptions{RequiredAcks: 1, MinInsyncReplicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.p.WaitAcked(context.Background(), res.LastOffset+1, res.LeaderEpoch, 1, 2); err != nil {
		t.Fatal(err)
	}
	if hw := l.p.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d with the ISR below min.insync.replicas, want 0 (strict min ISR)", hw)
	}
}

func TestNewLeaderDivergingFollowerTruncates(t *testing.T) {
	// KIP-101's second scenario: the old leader has records the new leader
	// never got; when it follows the new leader, the diverging epoch cuts
	// them off and it takes the new leader's records at those offsets.
	mem := vfs.NewMem()
	a := openReplica(t, mem, "n1", true, -1)
	b := openReplica(t, mem, "n2", true, 0)
	defer a.close(t)
	defer b.close(t)
	lead(t, a, 0, []int32{1, 2}, 1)
	if _, err := a.p.AppendAsLeaderAsync(batch(t, plain(3)), AppendOptions{RequiredAcks: -1}); err != nil {
		t.Fatal(err)
	}
	replicate(t, a, b, 2)
	replicate(t, a, b, 2)
	// Two more on the old leader only.
	if _, err := a.p.AppendAsLeaderAsync(batch(t, plain(2)), AppendOptions{RequiredAcks: 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.l.WaitDurable(context.Background(), 5); err != nil {
		t.Fatal(err)
	}
	// b becomes leader in epoch 1, a follows.
	if err := b.p.BecomeLeader(1); err != nil {
		t.Fatal(err)
	}
	b.p.SetAssignment(Assignment{Self: 2, Replicas: []int32{1, 2}, ISR: []int32{2}}, testNow)
	if err := a.p.BecomeFollower(1); err != nil {
		t.Fatal(err)
	}
	// Until the high watermark reaches the epoch start, latest is unknown.
	if _, err := b.p.OffsetForTimestamp(ListLatest, ReadUncommitted, -1); err != nil {
		t.Fatalf("latest at the new leader: %v", err)
	}
	if _, err := b.p.AppendAsLeaderAsync(batch(t, plain(4)), AppendOptions{RequiredAcks: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.l.WaitDurable(context.Background(), 7); err != nil {
		t.Fatal(err)
	}
	if got := replicate(t, b, a, 1); got != FetchTruncated {
		t.Fatalf("first fetch from the new leader: outcome %d, want a truncation", got)
	}
	if leo := a.l.LogEndOffset(); leo != 3 {
		t.Fatalf("old leader truncated to %d, want 3 (where epoch 0 ends on the new leader)", leo)
	}
	replicate(t, b, a, 1)
	if a.l.LogEndOffset() != b.l.LogEndOffset() {
		t.Fatalf("after catching up: follower ends at %d, leader at %d", a.l.LogEndOffset(), b.l.LogEndOffset())
	}
}

func TestOffsetNotAvailableUntilHighWatermarkReachesEpochStart(t *testing.T) {
	mem := vfs.NewMem()
	l, f := leaderWithRecords(t, mem, 4)
	// A new epoch starts at 4 while the high watermark is still 0.
	if err := l.p.BecomeFollower(1); err != nil {
		t.Fatal(err)
	}
	if err := l.p.BecomeLeader(2); err != nil {
		t.Fatal(err)
	}
	l.p.SetAssignment(Assignment{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, testNow)
	if _, err := l.p.OffsetForTimestamp(ListLatest, ReadUncommitted, -1); !errors.Is(err, kerr.OffsetNotAvailable) {
		t.Fatalf("latest with the high watermark below the epoch start: %v, want OFFSET_NOT_AVAILABLE", err)
	}
	replicate(t, l, f, 2)
	replicate(t, l, f, 2)
	got, err := l.p.OffsetForTimestamp(ListLatest, ReadUncommitted, -1)
	if err != nil || got.Offset != 4 {
		t.Fatalf("latest once the follower caught up: %+v %v, want 4", got, err)
	}
}

func TestPromotedFollowerWithAssignmentKeepsHighWatermark(t *testing.T) {
	// A follower holding fetched records above the high watermark becomes
	// leader: with followers in its assignment its high watermark waits for
	// their fetches, even when its log's durable offset moves meanwhile;
	// as the only replica its durable log is committed.
	mem := vfs.NewMem()
	l, f := leaderWithRecords(t, mem, 5)
	replicate(t, l, f, 2) // f holds 5 records, high watermark still 0
	if hw := f.p.HighWatermark(); hw != 0 {
		t.Fatalf("follower high watermark %d before the leader committed, want 0", hw)
	}
	if err := f.p.BecomeLeaderWith(1, Assignment{Self: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, testNow); err != nil {
		t.Fatal(err)
	}
	f.p.durableChanged() // a commit round
	if hw := f.p.HighWatermark(); hw != 0 {
		t.Fatalf("promoted follower moved its high watermark to %d before its ISR fetched, want 0", hw)
	}
	// An acks=all produce to a follower is NOT_LEADER_OR_FOLLOWER, whatever
	// the ISR.
	if _, err := l.p.AppendAsLeaderAsync(batch(t, plain(1)), AppendOptions{RequiredAcks: -1, MinInsyncReplicas: 3}); err == nil {
		t.Fatal("the old leader took an append")
	}
	if err := l.p.BecomeFollower(1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.p.AppendAsLeaderAsync(batch(t, plain(1)), AppendOptions{RequiredAcks: -1, MinInsyncReplicas: 3}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("acks=all produce to a follower: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}

	alone := openReplica(t, mem, "n3", true, -1)
	defer alone.close(t)
	if err := alone.p.BecomeLeaderWith(0, Assignment{Self: 3, Replicas: []int32{3}, ISR: []int32{3}}, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := alone.p.AppendAsLeaderAsync(batch(t, plain(2)), AppendOptions{RequiredAcks: -1}); err != nil {
		t.Fatal(err)
	}
	if err := alone.p.WaitAcked(context.Background(), 2, 0, -1, 1); err != nil {
		t.Fatalf("a single replica's acks=all: %v", err)
	}
}

func TestMovedSinceARead(t *testing.T) {
	// A parked fetch wakes for what its reader can read: a follower for
	// the log end, a consumer for the high watermark.
	mem := vfs.NewMem()
	l, _ := leaderWithRecords(t, mem, 2)
	follower, err := l.p.Read(ReadOptions{Offset: 2, MaxBytes: 1 << 20, FromFollower: true, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := l.p.Read(ReadOptions{Offset: 0, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	consumer.Records.Release()
	if l.p.Moved(follower, true) || l.p.Moved(consumer, false) {
		t.Fatal("moved before anything changed")
	}
	if _, err := l.p.AppendAsLeaderAsync(batch(t, plain(1)), AppendOptions{RequiredAcks: 1}); err != nil {
		t.Fatal(err)
	}
	if !l.p.Moved(follower, true) {
		t.Fatal("a follower's read did not see the new record at the log end")
	}
	if l.p.Moved(consumer, false) {
		t.Fatal("a consumer's read woke for a record above the high watermark")
	}
}
