package metadata

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// electOne runs an election of one partition of topic "t" and returns its
// result.
func electOne(t *testing.T, s *Store, typ ElectionType, partition int32) ElectLeadersPartitionResult {
	t.Helper()
	res, err := s.ElectLeaders(ctx(t), ElectLeadersRequest{Type: typ, Topics: []ElectLeadersTopic{{Topic: "t", Partitions: []int32{partition}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Topic != "t" || len(res[0].Partitions) != 1 || res[0].Partitions[0].Partition != partition {
		t.Fatalf("results %+v for one partition", res)
	}
	return res[0].Partitions[0]
}

func resultCode(r ElectLeadersPartitionResult) string {
	if r.Err == nil {
		return "NONE"
	}
	return r.Err.Code.Message
}

// TestElectLeadersCases: every answer of a preferred and an unclean
// election, per partition (in the spirit of Kafka's
// ReplicationControlManagerTest), and the state each leaves. Brokers 1-3
// are live, 4 is fenced, 5 is shutting down, 6 was unregistered.
func TestElectLeadersCases(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	liveBrokers(t, s, 3)
	registerIncarnation(t, s, 4, "")
	_, epoch5 := registerIncarnation(t, s, 5, "")
	if err := s.UnfenceBroker(ctx(t), 5, epoch5); err != nil {
		t.Fatal(err)
	}
	registerIncarnation(t, s, 6, "")
	assignments := map[int32][]int32{}
	type step struct {
		typ    ElectionType
		code   string
		leader int32 // after the election
	}
	cases := []struct {
		name     string
		replicas []int32
		leader   int32
		isr      []int32
		steps    []step
	}{
		{"preferred leads", []int32{1, 2, 3}, 1, []int32{1, 2, 3},
			[]step{{ElectPreferred, "ELECTION_NOT_NEEDED", 1}}},
		{"preferred in the ISR and live", []int32{1, 2, 3}, 2, []int32{1, 2, 3},
			[]step{{ElectPreferred, "NONE", 1}, {ElectPreferred, "ELECTION_NOT_NEEDED", 1}}},
		{"preferred outside the ISR", []int32{1, 2, 3}, 2, []int32{2, 3},
			[]step{{ElectPreferred, "PREFERRED_LEADER_NOT_AVAILABLE", 2}}},
		{"preferred fenced", []int32{4, 2, 3}, 2, []int32{4, 2, 3},
			[]step{{ElectPreferred, "PREFERRED_LEADER_NOT_AVAILABLE", 2}}},
		{"preferred shutting down", []int32{5, 2, 3}, 2, []int32{5, 2, 3},
			[]step{{ElectPreferred, "PREFERRED_LEADER_NOT_AVAILABLE", 2}}},
		{"preferred unregistered", []int32{6, 2, 3}, 2, []int32{6, 2, 3},
			[]step{{ElectPreferred, "PREFERRED_LEADER_NOT_AVAILABLE", 2}}},
		{"leaderless, preferred fenced, another in-sync replica live", []int32{4, 2, 3}, -1, []int32{4, 3},
			[]step{{ElectPreferred, "NONE", 3}}},
		{"leaderless, no in-sync replica live", []int32{4, 2, 3}, -1, []int32{4},
			[]step{{ElectPreferred, "PREFERRED_LEADER_NOT_AVAILABLE", -1}, {ElectUnclean, "ELIGIBLE_LEADERS_NOT_AVAILABLE", -1}}},
		{"unclean with the preferred leading", []int32{1, 2, 3}, 1, []int32{1, 2, 3},
			[]step{{ElectUnclean, "ELECTION_NOT_NEEDED", 1}}},
		{"unclean with another leader", []int32{1, 2, 3}, 2, []int32{2, 3},
			[]step{{ElectUnclean, "ELECTION_NOT_NEEDED", 2}}},
		{"unclean, leaderless, an in-sync replica live", []int32{4, 2, 3}, -1, []int32{4, 3},
			[]step{{ElectUnclean, "NONE", 3}, {ElectUnclean, "ELECTION_NOT_NEEDED", 3}}},
	}
	for i, c := range cases {
		assignments[int32(i)] = c.replicas
	}
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: assignments})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginControlledShutdown(ctx(t), 5, epoch5); err != nil {
		t.Fatal(err)
	}
	if err := s.UnregisterBroker(ctx(t), 6); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if _, err := s.ChangePartition(ctx(t), tp.ID, int32(i), c.leader, c.isr); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	for i, c := range cases {
		for _, st := range c.steps {
			before, _ := s.Image().Partition("t", int32(i))
			res := electOne(t, s, st.typ, int32(i))
			after, _ := s.Image().Partition("t", int32(i))
			if got := resultCode(res); got != st.code {
				t.Errorf("%s: type %d answered %s (%v), want %s", c.name, st.typ, got, res.Err, st.code)
			}
			if res.Err != nil && res.Err.Message == "" {
				t.Errorf("%s: %s without a message", c.name, resultCode(res))
			}
			if after.Leader != st.leader {
				t.Errorf("%s: leader %d after the election, want %d", c.name, after.Leader, st.leader)
			}
			wantEpochs := fmt.Sprint(before.LeaderEpoch, before.PartitionEpoch)
			if before.Leader != after.Leader {
				wantEpochs = fmt.Sprint(before.LeaderEpoch+1, before.PartitionEpoch+1)
			}
			if got := fmt.Sprint(after.LeaderEpoch, after.PartitionEpoch); got != wantEpochs {
				t.Errorf("%s: leader and partition epochs %s → %s, want %s", c.name, fmt.Sprint(before.LeaderEpoch, before.PartitionEpoch), got, wantEpochs)
			}
			if fmt.Sprint(after.ISR) != fmt.Sprint(before.ISR) {
				t.Errorf("%s: ISR %v → %v: an election keeps the ISR", c.name, before.ISR, after.ISR)
			}
		}
	}
}

// TestElectLeadersRequestShapes: unknown topics and partitions, a
// partition named twice, every partition (nil topics), an empty request
// and an unknown election type.
func TestElectLeadersRequestShapes(t *testing.T) {
	s, _, tp := storeWithTopic(t, 3, map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}})
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "u", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{0, 1} {
		if _, err := s.ChangePartition(ctx(t), tp.ID, p, 3, nil); err != nil {
			t.Fatal(err)
		}
	}
	render := func(res []ElectLeadersTopicResult) string {
		out := ""
		for _, tr := range res {
			out += tr.Topic + ":"
			for _, p := range tr.Partitions {
				out += fmt.Sprintf(" %d=%s", p.Partition, resultCode(p))
				if p.Err != nil && p.Err.Code == kerr.UnknownTopicOrPartition {
					out += "(" + p.Err.Message + ")"
				}
			}
			out += ";"
		}
		return out
	}
	res, err := s.ElectLeaders(ctx(t), ElectLeadersRequest{Type: ElectPreferred, Topics: []ElectLeadersTopic{
		{Topic: "t", Partitions: []int32{0, 0, 5, -1}},
		{Topic: "nope", Partitions: []int32{0}},
		{Topic: "u", Partitions: []int32{}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "t: 0=NONE 0=ELECTION_NOT_NEEDED 5=UNKNOWN_TOPIC_OR_PARTITION(No such partition as t-5) -1=UNKNOWN_TOPIC_OR_PARTITION(No such partition as t--1);" +
		"nope: 0=UNKNOWN_TOPIC_OR_PARTITION(No such topic as nope);u:;"
	if got := render(res); got != want {
		t.Fatalf("named partitions:\n got %s\nwant %s", got, want)
	}

	// Every partition: those that need no election are left out, every
	// topic is listed.
	res, err = s.ElectLeaders(ctx(t), ElectLeadersRequest{Type: ElectPreferred})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := render(res), "t: 1=NONE;u:;"; got != want {
		t.Fatalf("every partition: %s, want %s", got, want)
	}
	if got := leaders(s.Image(), "t"); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("leaders %v after electing every preferred leader", got)
	}

	epoch := s.Image().Epoch
	if res, err := s.ElectLeaders(ctx(t), ElectLeadersRequest{Type: ElectPreferred, Topics: []ElectLeadersTopic{}}); err != nil || len(res) != 0 {
		t.Fatalf("empty request: %+v, %v", res, err)
	}
	if _, err := s.ElectLeaders(ctx(t), ElectLeadersRequest{Type: 2}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("election type 2: %v", err)
	}
	if s.Image().Epoch != epoch {
		t.Fatal("a request that elects nobody wrote to the metadata log")
	}
}

// TestBalanceLeaders: a broker fenced and back is not led to again until
// it is in the ISR; then a round gives it back its preferred partitions,
// as many as the bound allows, and only while its imbalance is above the
// percentage.
func TestBalanceLeaders(t *testing.T) {
	assignments := map[int32][]int32{}
	for p := int32(0); p < 6; p++ {
		r := []int32{1, 2, 3}
		k := int(p) % 3
		assignments[p] = append(r[k:], r[:k]...) // broker 1 prefers 0 and 3
	}
	s, epochs, tp := storeWithTopic(t, 3, assignments)
	if moved, more, err := s.BalanceLeaders(ctx(t), 10, 100); err != nil || moved != 0 || more {
		t.Fatalf("balanced cluster: moved %d, more %v, %v", moved, more, err)
	}
	if err := s.FenceBroker(ctx(t), 1, epochs[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.UnfenceBroker(ctx(t), 1, epochs[1]); err != nil {
		t.Fatal(err)
	}
	if got := leaders(s.Image(), "t"); fmt.Sprint(got) != "[2 2 3 2 2 3]" {
		t.Fatalf("leaders after broker 1 came back: %v", got)
	}
	// Out of the ISR, broker 1 cannot lead: nothing moves.
	if moved, more, err := s.BalanceLeaders(ctx(t), 10, 100); err != nil || moved != 0 || more {
		t.Fatalf("preferred replica out of the ISR: moved %d, more %v, %v", moved, more, err)
	}
	// The leaders take broker 1 back into their ISRs.
	for _, p := range []int32{0, 3} {
		cur, _ := s.Image().Partition("t", p)
		res, err := s.AlterPartition(ctx(t), AlterPartitionRequest{BrokerID: 2, BrokerEpoch: epochs[2], Topics: []AlterPartitionTopic{{
			TopicID: tp.ID, Partitions: []AlterPartitionItem{{Partition: p, LeaderEpoch: cur.LeaderEpoch, PartitionEpoch: cur.PartitionEpoch,
				NewISR: members(epochs, append(slices.Clone(cur.ISR), 1)...)}}}}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("ISR expansion of partition %d: %+v, %v", p, res, err)
		}
	}
	// 2 of broker 1's 2 partitions are elsewhere: 100% > 60%.
	if moved, more, err := s.BalanceLeaders(ctx(t), 60, 1); err != nil || moved != 1 || !more {
		t.Fatalf("bounded round: moved %d, more %v, %v", moved, more, err)
	}
	// 1 of 2 is elsewhere now: 50% is not above 60%.
	if moved, more, err := s.BalanceLeaders(ctx(t), 60, 1); err != nil || moved != 0 || more {
		t.Fatalf("imbalance under the percentage: moved %d, more %v, %v", moved, more, err)
	}
	if moved, more, err := s.BalanceLeaders(ctx(t), 10, 1); err != nil || moved != 1 || more {
		t.Fatalf("imbalance above 10%%: moved %d, more %v, %v", moved, more, err)
	}
	if got := leaders(s.Image(), "t"); fmt.Sprint(got) != "[1 2 3 1 2 3]" {
		t.Fatalf("leaders after balancing: %v", got)
	}
	p0, _ := s.Image().Partition("t", 0)
	if got, want := partitionState(p0), "leader 1 ISR [2 3 1] leader epoch 2 partition epoch 3"; got != want {
		t.Fatalf("partition 0: %s, want %s", got, want)
	}
}
