package metadata

import (
	"fmt"
	"slices"
	"testing"
)

// TestElectLeader: elections only from the ISR, current leader first, then
// replica order (in the spirit of Kafka's PartitionChangeBuilderTest).
func TestElectLeader(t *testing.T) {
	p := Partition{Leader: 2, Replicas: []int32{2, 1, 3, 4}, ISR: []int32{2, 1, 3, 4}}
	usable := func(ids ...int32) func(int32) bool {
		return func(r int32) bool { return slices.Contains(ids, r) }
	}
	cases := []struct {
		name   string
		isr    []int32
		usable func(int32) bool
		want   int32
	}{
		{"current leader stays", []int32{2, 1, 3}, usable(1, 2, 3), 2},
		{"current leader stays though not first in the ISR", []int32{3, 1, 2}, usable(1, 2, 3), 2},
		{"leader unusable: first in replica order", []int32{2, 3, 1}, usable(1, 3), 1},
		{"leader out of the ISR: first usable in replica order", []int32{3, 4}, usable(1, 2, 3, 4), 3},
		{"skips unusable ISR members", []int32{1, 3, 4}, usable(4), 4},
		{"no unclean election", []int32{2}, usable(1, 3, 4), -1},
		{"empty ISR elects nobody", nil, usable(1, 2, 3, 4), -1},
	}
	for _, c := range cases {
		if got := electLeader(p, c.isr, c.usable); got != c.want {
			t.Errorf("%s: elected %d, want %d", c.name, got, c.want)
		}
	}
	noLeader := p
	noLeader.Leader = -1
	if got := electLeader(noLeader, []int32{4, 3}, usable(3, 4)); got != 3 {
		t.Errorf("leaderless: elected %d, want 3 (replica order)", got)
	}
}

// TestChangeISR: the record of an ISR change with its election.
func TestChangeISR(t *testing.T) {
	id := Uuid{1}
	p := Partition{ID: 4, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}}
	all := func(int32) bool { return true }
	not := func(b int32) func(int32) bool { return func(r int32) bool { return r != b } }
	cases := []struct {
		name       string
		p          Partition
		isr        []int32
		acceptable func(int32) bool
		want       string // "<nil>" or leader/ISR
	}{
		{"nothing changes", p, []int32{1, 2, 3}, all, "<nil>"},
		{"follower leaves", p, []int32{1, 2}, not(3), "leader -2 ISR [1 2]"},
		{"leader leaves", p, []int32{2, 3}, not(1), "leader 2 ISR [2 3]"},
		{"last member leaves: ISR kept, no leader", Partition{ID: 4, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1}}, nil, not(1), "leader -1 ISR []"},
		{"ISR order alone is a change", p, []int32{3, 2, 1}, all, "leader -2 ISR [3 2 1]"},
		{"leaderless gets one", Partition{ID: 4, Leader: -1, Replicas: []int32{1, 2}, ISR: []int32{2}}, []int32{2}, all, "leader 2 ISR []"},
	}
	for _, c := range cases {
		rec := changeISR(id, c.p, c.isr, c.acceptable)
		got := "<nil>"
		if rec != nil {
			got = fmt.Sprintf("leader %d ISR %v", rec.Leader, rec.ISR)
			if rec.TopicID != id || rec.PartitionID != 4 {
				t.Errorf("%s: record names %x-%d", c.name, rec.TopicID, rec.PartitionID)
			}
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// liveBrokers registers brokers 1..n with incarnations and unfences them,
// returning their epochs by id.
func liveBrokers(t *testing.T, s *Store, n int32) map[int32]int64 {
	t.Helper()
	epochs := map[int32]int64{}
	for id := int32(1); id <= n; id++ {
		_, epochs[id] = registerIncarnation(t, s, id, "")
		if err := s.UnfenceBroker(ctx(t), id, epochs[id]); err != nil {
			t.Fatal(err)
		}
	}
	return epochs
}

// storeWithTopic opens a store with brokers 1..n live and a topic "t" of
// the given replica assignment; Close runs at the end of the test.
func storeWithTopic(t *testing.T, n int32, assignments map[int32][]int32) (*Store, map[int32]int64, *Topic) {
	t.Helper()
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	epochs := liveBrokers(t, s, n)
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: assignments})
	if err != nil {
		t.Fatal(err)
	}
	return s, epochs, tp
}

// partitionState renders what the election tests check of a partition.
func partitionState(p Partition) string {
	return fmt.Sprintf("leader %d ISR %v leader epoch %d partition epoch %d", p.Leader, p.ISR, p.LeaderEpoch, p.PartitionEpoch)
}

// TestFencingKeepsISRs runs the controller's ISR rules over a store (in
// the spirit of Kafka's ReplicationControlManagerTest): a fenced follower
// leaves the ISR without a leader epoch bump, a fenced leader is replaced
// from the ISR, the last ISR member stays in it leaderless, nothing is
// elected from outside the ISR, and unfencing the last member gives its
// leadership back.
func TestFencingKeepsISRs(t *testing.T) {
	s, epochs, _ := storeWithTopic(t, 3, map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}})
	check := func(step string, want ...string) {
		t.Helper()
		for i, p := range s.Image().Topics["t"].Partitions {
			if got := partitionState(p); got != want[i] {
				t.Fatalf("%s: partition %d: %s, want %s", step, i, got, want[i])
			}
		}
	}
	check("created",
		"leader 1 ISR [1 2 3] leader epoch 0 partition epoch 0",
		"leader 2 ISR [2 3 1] leader epoch 0 partition epoch 0",
		"leader 3 ISR [3 1 2] leader epoch 0 partition epoch 0")

	if err := s.FenceBroker(ctx(t), 3, epochs[3]); err != nil {
		t.Fatal(err)
	}
	check("broker 3 fenced",
		"leader 1 ISR [1 2] leader epoch 0 partition epoch 1",
		"leader 2 ISR [2 1] leader epoch 0 partition epoch 1",
		"leader 1 ISR [1 2] leader epoch 1 partition epoch 1")

	if err := s.FenceBroker(ctx(t), 1, epochs[1]); err != nil {
		t.Fatal(err)
	}
	check("broker 1 fenced",
		"leader 2 ISR [2] leader epoch 1 partition epoch 2",
		"leader 2 ISR [2] leader epoch 0 partition epoch 2",
		"leader 2 ISR [2] leader epoch 2 partition epoch 2")

	if err := s.FenceBroker(ctx(t), 2, epochs[2]); err != nil {
		t.Fatal(err)
	}
	check("broker 2, the last ISR member, fenced",
		"leader -1 ISR [2] leader epoch 2 partition epoch 3",
		"leader -1 ISR [2] leader epoch 1 partition epoch 3",
		"leader -1 ISR [2] leader epoch 3 partition epoch 3")

	// Replicas outside the ISR are not elected, however alive.
	for _, id := range []int32{1, 3} {
		if err := s.UnfenceBroker(ctx(t), id, epochs[id]); err != nil {
			t.Fatal(err)
		}
	}
	check("brokers 1 and 3 unfenced",
		"leader -1 ISR [2] leader epoch 2 partition epoch 3",
		"leader -1 ISR [2] leader epoch 1 partition epoch 3",
		"leader -1 ISR [2] leader epoch 3 partition epoch 3")

	if err := s.UnfenceBroker(ctx(t), 2, epochs[2]); err != nil {
		t.Fatal(err)
	}
	check("broker 2 unfenced",
		"leader 2 ISR [2] leader epoch 3 partition epoch 4",
		"leader 2 ISR [2] leader epoch 2 partition epoch 4",
		"leader 2 ISR [2] leader epoch 4 partition epoch 4")

	// Fencing again what is fenced or not in any ISR changes nothing.
	before := s.Image().Topics["t"]
	if err := s.FenceBroker(ctx(t), 3, epochs[3]); err != nil {
		t.Fatal(err)
	}
	if after := s.Image().Topics["t"]; after != before {
		t.Fatal("fencing a broker in no ISR changed the topic")
	}
}

// TestControlledShutdownLeavesISRs: a broker shutting down leaves the ISRs
// and its leaderships move within them (KIP-841); as the last member of an
// ISR it stays, and the partition waits leaderless.
func TestControlledShutdownLeavesISRs(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	epochs := liveBrokers(t, s, 3)
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}, 1: {3, 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "u", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1}}}); err != nil {
		t.Fatal(err)
	}
	done, err := s.BeginControlledShutdown(ctx(t), 1, epochs[1])
	if err != nil || !done {
		t.Fatalf("controlled shutdown: done %v, %v", done, err)
	}
	want := []string{
		"leader 2 ISR [2] leader epoch 1 partition epoch 1",
		"leader 3 ISR [3] leader epoch 0 partition epoch 1",
		"leader -1 ISR [1] leader epoch 1 partition epoch 1",
	}
	im := s.Image()
	for i, p := range append(slices.Clone(im.Topics["t"].Partitions), im.Topics["u"].Partitions...) {
		if got := partitionState(p); got != want[i] {
			t.Fatalf("partition %d: %s, want %s", i, got, want[i])
		}
	}
	// Asked again (the next heartbeat), it is done and nothing changes.
	epoch := s.Image().Epoch
	if done, err := s.BeginControlledShutdown(ctx(t), 1, epochs[1]); err != nil || !done || s.Image().Epoch != epoch {
		t.Fatalf("second ask: done %v, %v, image epoch %d → %d", done, err, epoch, s.Image().Epoch)
	}
}

// TestNewIncarnationLeavesISRs: a broker registering again (a restart,
// maybe on an empty disk) fences its old epoch out of the ISRs at once.
func TestNewIncarnationLeavesISRs(t *testing.T) {
	s, _, _ := storeWithTopic(t, 2, map[int32][]int32{0: {2, 1}})
	registerIncarnation(t, s, 2, "")
	p, _ := s.Image().Partition("t", 0)
	if got, want := partitionState(p), "leader 1 ISR [1] leader epoch 1 partition epoch 1"; got != want {
		t.Fatalf("after broker 2 registered again: %s, want %s", got, want)
	}
}
