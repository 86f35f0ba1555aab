package partition

import (
	"math/rand"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestPromotedFollowerKeepsHighWatermark: a follower holding fetched
// records above its high watermark keeps that high watermark when it
// becomes leader. The records are not committed (an ISR member may lack
// them, and a later leader overwrite them): exposing them would let a
// consumer read records that disappear. Found by the replication
// simulator (internal/replication/sim, testdata/leader-hw-jump.txt).
func TestPromotedFollowerKeepsHighWatermark(t *testing.T) {
	mem := vfs.NewMem()
	leader := openReplica(t, mem, "leader", false, 0)
	follower := openReplica(t, mem, "follower", true, 0)
	defer leader.close(t)
	defer follower.close(t)
	// The leader waits for its follower: its high watermark stays 0.
	leader.p.SetAssignment(Assignment{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, testNow)
	if _, err := leader.p.AppendAsLeaderAsync(batch(t, plain(3)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	fetch(t, rand.New(rand.NewSource(1)), leader, follower)
	if hw := follower.p.HighWatermark(); hw != 0 {
		t.Fatalf("follower high watermark %d, want 0", hw)
	}
	if err := follower.p.BecomeLeaderWith(1, Assignment{Self: 2, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, testNow); err != nil {
		t.Fatal(err)
	}
	if hw := follower.p.HighWatermark(); hw != 0 {
		t.Fatalf("after BecomeLeaderWith the high watermark is %d, want 0: the fetched records are not committed", hw)
	}
}
