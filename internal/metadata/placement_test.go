package metadata

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// rackImage is an image of usable brokers on the given racks (by id).
func rackImage(racks map[int32]string) *Image {
	im := emptyImage("c", 1)
	for id, r := range racks {
		im.Brokers[id] = Broker{ID: id, Rack: r}
	}
	return im
}

// TestStripedPlacement checks the placement's promises: distinct replicas
// on as many racks as possible, leaders even over the brokers, replicas
// even where the racks are, whatever the random starts.
func TestStripedPlacement(t *testing.T) {
	cases := []struct {
		name          string
		racks         map[int32]string
		n             int32
		rf            int
		leadersEach   int // every broker leads this many
		replicasEvery int // every broker holds about this many replicas (0: not checked)
		slack         int // by this many at most
	}{
		{"no racks", map[int32]string{1: "", 2: "", 3: "", 4: "", 5: ""}, 20, 3, 4, 12, 0},
		{"replicas on every broker", map[int32]string{1: "", 2: "", 3: ""}, 9, 3, 3, 9, 0},
		{"three even racks", map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}, 60, 3, 10, 30, 0},
		{"two racks, rf 3", map[int32]string{1: "a", 2: "a", 3: "b", 4: "b"}, 40, 3, 10, 30, 1},
		// The rack goal comes first: broker 1 holds a replica of each.
		{"uneven racks", map[int32]string{1: "a", 2: "b", 3: "b", 4: "b"}, 40, 3, 10, 0, 0},
		{"rf 1", map[int32]string{1: "a", 2: "b", 3: "c"}, 6, 1, 2, 2, 0},
	}
	for _, c := range cases {
		im := rackImage(c.racks)
		racks := map[string]bool{}
		for _, r := range c.racks {
			racks[r] = true
		}
		for start := 0; start < 3; start++ {
			intn := func(n int) int { return (start * 7) % n }
			parts, err := placePartitions(im, 5, c.n, c.rf, intn)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			leads, holds := map[int32]int{}, map[int32]int{}
			for i, p := range parts {
				if p.ID != 5+int32(i) || p.Leader != p.Replicas[0] || !slices.Equal(p.ISR, p.Replicas) || len(p.Replicas) != c.rf {
					t.Fatalf("%s: partition %+v", c.name, p)
				}
				on := map[string]bool{}
				for j, b := range p.Replicas {
					if slices.Contains(p.Replicas[:j], b) {
						t.Fatalf("%s: partition %d replicas %v repeat a broker", c.name, p.ID, p.Replicas)
					}
					on[c.racks[b]] = true
					holds[b]++
				}
				if want := min(c.rf, len(racks)); len(on) != want {
					t.Fatalf("%s: partition %d replicas %v on %d racks, want %d", c.name, p.ID, p.Replicas, len(on), want)
				}
				leads[p.Leader]++
			}
			for id := range c.racks {
				if leads[id] != c.leadersEach || (c.replicasEvery > 0 && (holds[id] < c.replicasEvery-c.slack || holds[id] > c.replicasEvery+c.slack)) {
					t.Fatalf("%s (start %d): broker %d leads %d and holds %d (leaders %v, replicas %v); want %d and %d",
						c.name, start, id, leads[id], holds[id], leads, holds, c.leadersEach, c.replicasEvery)
				}
			}
		}
	}
}

// TestStripedPlacementVariesFollowers: the partitions one broker leads do
// not all have the same followers, so its leaderships scatter when it
// fails.
func TestStripedPlacementVariesFollowers(t *testing.T) {
	im := rackImage(map[int32]string{1: "", 2: "", 3: "", 4: "", 5: ""})
	parts, err := placePartitions(im, 0, 25, 3, func(int) int { return 0 })
	if err != nil {
		t.Fatal(err)
	}
	seconds := map[int32]map[int32]bool{}
	for _, p := range parts {
		if seconds[p.Leader] == nil {
			seconds[p.Leader] = map[int32]bool{}
		}
		seconds[p.Leader][p.Replicas[1]] = true
	}
	for leader, s := range seconds {
		if len(s) < 2 {
			t.Fatalf("broker %d's partitions all have %v second", leader, s)
		}
	}
}

// TestPlacementRefusals: too few usable brokers, in Kafka's words.
func TestPlacementRefusals(t *testing.T) {
	im := rackImage(map[int32]string{1: "", 2: ""})
	im.Brokers[3] = Broker{ID: 3, Fenced: true}
	im.Brokers[4] = Broker{ID: 4, InControlledShutdown: true}
	_, err := placePartitions(im, 0, 1, 3, func(int) int { return 0 })
	wantCode(t, err, kerr.InvalidReplicationFactor)
	if _, msg := ErrorCode(err); msg != "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered." {
		t.Fatalf("message %q", msg)
	}
	_, err = placePartitions(rackImage(nil), 0, 1, 1, func(int) int { return 0 })
	wantCode(t, err, kerr.InvalidReplicationFactor)
}

// TestReplicatedTopics: with no replication-factor cap, topics and added
// partitions get rf distinct replicas across racks, all in the ISR; an
// explicit assignment's fenced replicas start outside the ISR.
func TestReplicatedTopics(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
	epochs := map[int32]int64{}
	for id := int32(1); id <= 6; id++ {
		_, epochs[id] = registerIncarnation(t, s, id, racks[id])
		if err := s.UnfenceBroker(ctx(t), id, epochs[id]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "r", NumPartitions: 6, ReplicationFactor: 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePartitions(ctx(t), "r", 12, nil, false); err != nil {
		t.Fatal(err)
	}
	leads := map[int32]int{}
	for _, p := range s.Image().Topics["r"].Partitions {
		on := map[string]bool{}
		for _, b := range p.Replicas {
			on[racks[b]] = true
		}
		if len(p.Replicas) != 3 || len(on) != 3 || !slices.Equal(p.ISR, p.Replicas) || p.Leader != p.Replicas[0] || p.PartitionEpoch != 0 {
			t.Fatalf("partition %+v", p)
		}
		leads[p.Leader]++
	}
	for id, n := range leads {
		if n != 2 {
			t.Fatalf("broker %d leads %d partitions of 12 over 6 brokers: %v", id, n, leads)
		}
	}
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "big", NumPartitions: 1, ReplicationFactor: 7}); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("rf 7 over 6 brokers: %v", err)
	}

	if err := s.FenceBroker(ctx(t), 2, epochs[2]); err != nil {
		t.Fatal(err)
	}
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "m", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {2, 1, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := tp.Partitions[0]; fmt.Sprint(p.Replicas, p.ISR, p.Leader) != "[2 1 3] [1 3] 1" {
		t.Fatalf("assignment with a fenced first replica: %+v", p)
	}
	_, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "f", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {2}}})
	wantCode(t, err, kerr.InvalidReplicaAssignment)
	err = s.CreatePartitions(ctx(t), "m", 2, [][]int32{{2, 3, 3}}, false)
	wantCode(t, err, kerr.InvalidReplicaAssignment)
	if err := s.CreatePartitions(ctx(t), "m", 2, [][]int32{{3, 2, 4}}, false); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Image().Partition("m", 1); fmt.Sprint(p.Replicas, p.ISR, p.Leader) != "[3 2 4] [3 4] 3" {
		t.Fatalf("added partition with a fenced replica: %+v", p)
	}
}
