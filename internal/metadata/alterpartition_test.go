package metadata

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func members(epochs map[int32]int64, ids ...int32) []ISRMember {
	out := make([]ISRMember, 0, len(ids))
	for _, id := range ids {
		e, ok := epochs[id]
		if !ok {
			e = -1
		}
		out = append(out, ISRMember{BrokerID: id, BrokerEpoch: e})
	}
	return out
}

// alterOne sends one partition's AlterPartition from broker 1.
func alterOne(t *testing.T, s *Store, epoch int64, topicID Uuid, item AlterPartitionItem) (AlterPartitionResult, error) {
	t.Helper()
	res, err := s.AlterPartition(ctx(t), AlterPartitionRequest{BrokerID: 1, BrokerEpoch: epoch,
		Topics: []AlterPartitionTopic{{TopicID: topicID, Partitions: []AlterPartitionItem{item}}}})
	if err != nil {
		return AlterPartitionResult{}, err
	}
	if len(res) != 1 || res[0].TopicID != topicID || res[0].Partition.ID != item.Partition {
		t.Fatalf("results %+v for one partition", res)
	}
	return res[0], nil
}

// TestAlterPartitionValidation: every refusal of Kafka's controller, in
// its order, and what is accepted (in the spirit of Kafka's
// ReplicationControlManagerTest).
func TestAlterPartitionValidation(t *testing.T) {
	s, epochs, tp := storeWithTopic(t, 5, map[int32][]int32{0: {1, 2, 3, 4}, 1: {2, 1, 3, 4}, 2: {1, 2, 3, 4}})
	id := tp.ID
	// Partition 2 gets leader epoch 2, partition epoch 2.
	for _, l := range []int32{2, 1} {
		if _, err := s.ChangePartition(ctx(t), id, 2, l, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Broker 3 fenced and broker 4 shutting down: both leave the ISRs.
	if err := s.FenceBroker(ctx(t), 3, epochs[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginControlledShutdown(ctx(t), 4, epochs[4]); err != nil {
		t.Fatal(err)
	}
	p0, _ := s.Image().Partition("t", 0)
	if got, want := partitionState(p0), "leader 1 ISR [1 2] leader epoch 0 partition epoch 2"; got != want {
		t.Fatalf("set-up: %s, want %s", got, want)
	}

	// The sender's own epoch is checked first, for the whole request.
	if _, err := alterOne(t, s, epochs[1]-1, id, AlterPartitionItem{Partition: 0, PartitionEpoch: 2, NewISR: members(epochs, 1)}); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("stale sender epoch: %v", err)
	}
	if _, err := s.AlterPartition(ctx(t), AlterPartitionRequest{BrokerID: 9, BrokerEpoch: 1}); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("unregistered sender: %v", err)
	}

	ok := AlterPartitionItem{Partition: 0, LeaderEpoch: 0, PartitionEpoch: 2, NewISR: members(epochs, 1)}
	with := func(f func(*AlterPartitionItem)) AlterPartitionItem {
		it := ok
		f(&it)
		return it
	}
	cases := []struct {
		name  string
		topic Uuid
		item  AlterPartitionItem
		want  *kerr.Error
	}{
		{"unknown topic id", Uuid{9}, ok, kerr.UnknownTopicID},
		{"zero topic id", Uuid{}, ok, kerr.UnknownTopicID},
		{"unknown partition", id, with(func(it *AlterPartitionItem) { it.Partition = 7 }), kerr.UnknownTopicOrPartition},
		{"negative partition", id, with(func(it *AlterPartitionItem) { it.Partition = -1 }), kerr.UnknownTopicOrPartition},
		{"newer leader epoch", id, with(func(it *AlterPartitionItem) { it.LeaderEpoch = 1 }), kerr.NotController},
		{"newer partition epoch", id, with(func(it *AlterPartitionItem) { it.PartitionEpoch = 3 }), kerr.NotController},
		{"older leader epoch", id, AlterPartitionItem{Partition: 2, LeaderEpoch: 1, PartitionEpoch: 2, NewISR: members(epochs, 1)}, kerr.FencedLeaderEpoch},
		{"sender not the leader", id, AlterPartitionItem{Partition: 1, PartitionEpoch: 2, NewISR: members(epochs, 1, 2)}, kerr.InvalidRequest},
		{"older partition epoch", id, with(func(it *AlterPartitionItem) { it.PartitionEpoch = 1 }), kerr.InvalidUpdateVersion},
		{"empty ISR", id, with(func(it *AlterPartitionItem) { it.NewISR = nil }), kerr.InvalidRequest},
		{"ISR without the leader", id, with(func(it *AlterPartitionItem) { it.NewISR = members(epochs, 2) }), kerr.InvalidRequest},
		{"ISR naming a non-replica", id, with(func(it *AlterPartitionItem) { it.NewISR = members(epochs, 1, 5) }), kerr.InvalidRequest},
		{"ISR naming a broker twice", id, with(func(it *AlterPartitionItem) { it.NewISR = members(epochs, 1, 2, 2) }), kerr.InvalidRequest},
		{"fenced member", id, with(func(it *AlterPartitionItem) { it.NewISR = members(epochs, 1, 2, 3) }), kerr.IneligibleReplica},
		{"member in controlled shutdown", id, with(func(it *AlterPartitionItem) { it.NewISR = members(epochs, 1, 2, 4) }), kerr.IneligibleReplica},
		{"member with another broker epoch", id, with(func(it *AlterPartitionItem) {
			it.NewISR = []ISRMember{{1, epochs[1]}, {2, epochs[2] + 1}}
		}), kerr.IneligibleReplica},
	}
	before := s.Image().Epoch
	for _, c := range cases {
		res, err := alterOne(t, s, epochs[1], c.topic, c.item)
		if err != nil || res.Err != c.want {
			t.Errorf("%s: %v, %v; want %s", c.name, res.Err, err, c.want.Message)
		}
	}
	if s.Image().Epoch != before {
		t.Fatal("refused requests changed the metadata")
	}

	// The current ISR again: the current state, no record.
	res, err := alterOne(t, s, epochs[1], id, with(func(it *AlterPartitionItem) { it.NewISR = members(epochs, 1, 2) }))
	if err != nil || res.Err != nil || partitionState(res.Partition) != partitionState(p0) || s.Image().Epoch != before {
		t.Fatalf("unchanged ISR: %+v, %v", res, err)
	}
	// A shrink bumps the partition epoch only (KAFKA-15021); the answer is
	// the committed state.
	res, err = alterOne(t, s, epochs[1], id, ok)
	if want := "leader 1 ISR [1] leader epoch 0 partition epoch 3"; err != nil || res.Err != nil || partitionState(res.Partition) != want {
		t.Fatalf("shrink: %+v, %v; want %s", res, err, want)
	}
	if p, _ := s.Image().Partition("t", 0); partitionState(p) != partitionState(res.Partition) {
		t.Fatalf("image %s, answer %s", partitionState(p), partitionState(res.Partition))
	}
	// The same request again is now one partition epoch behind.
	if res, err := alterOne(t, s, epochs[1], id, ok); err != nil || res.Err != kerr.InvalidUpdateVersion {
		t.Fatalf("replayed shrink: %v, %v", res.Err, err)
	}
	// An expansion; members without a broker epoch (AlterPartition v2)
	// are not checked against one.
	res, err = alterOne(t, s, epochs[1], id, AlterPartitionItem{Partition: 0, PartitionEpoch: 3, NewISR: []ISRMember{{1, -1}, {2, -1}}})
	if want := "leader 1 ISR [1 2] leader epoch 0 partition epoch 4"; err != nil || res.Err != nil || partitionState(res.Partition) != want {
		t.Fatalf("expand: %+v, %v; want %s", res, err, want)
	}
}

// TestAlterPartitionRestartedBroker is KAFKA-14139: broker 3 restarts
// (maybe on an empty disk) and is unfenced with a new epoch; the leader's
// request to add it, based on fetches of its previous incarnation, is
// refused; one naming the new epoch is taken.
func TestAlterPartitionRestartedBroker(t *testing.T) {
	s, epochs, tp := storeWithTopic(t, 3, map[int32][]int32{0: {1, 2, 3}})
	old := epochs[3]
	_, epochs[3] = registerIncarnation(t, s, 3, "")
	if err := s.UnfenceBroker(ctx(t), 3, epochs[3]); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Image().Partition("t", 0)
	if got, want := partitionState(p), "leader 1 ISR [1 2] leader epoch 0 partition epoch 1"; got != want {
		t.Fatalf("after broker 3 restarted: %s, want %s", got, want)
	}
	item := AlterPartitionItem{Partition: 0, PartitionEpoch: 1, NewISR: []ISRMember{{1, epochs[1]}, {2, epochs[2]}, {3, old}}}
	if res, err := alterOne(t, s, epochs[1], tp.ID, item); err != nil || res.Err != kerr.IneligibleReplica {
		t.Fatalf("add with the previous incarnation's epoch: %v, %v", res.Err, err)
	}
	item.NewISR[2].BrokerEpoch = epochs[3]
	res, err := alterOne(t, s, epochs[1], tp.ID, item)
	if want := "leader 1 ISR [1 2 3] leader epoch 0 partition epoch 2"; err != nil || res.Err != nil || partitionState(res.Partition) != want {
		t.Fatalf("add with its epoch: %+v, %v; want %s", res, err, want)
	}
}

// TestAlterPartitionBatch: one request's valid changes commit together,
// its refused ones are answered each with its error, in request order.
func TestAlterPartitionBatch(t *testing.T) {
	s, epochs, a := storeWithTopic(t, 2, map[int32][]int32{0: {1, 2}, 1: {1, 2}})
	before := s.Image().Epoch
	res, err := s.AlterPartition(ctx(t), AlterPartitionRequest{BrokerID: 1, BrokerEpoch: epochs[1], Topics: []AlterPartitionTopic{
		{TopicID: a.ID, Partitions: []AlterPartitionItem{
			{Partition: 1, NewISR: members(epochs, 1)},
			{Partition: 0, PartitionEpoch: 5, NewISR: members(epochs, 1)},
			{Partition: 0, NewISR: members(epochs, 1)},
			// The same partition again: checked after the one before.
			{Partition: 0, NewISR: members(epochs, 1, 2)},
		}},
		{TopicID: Uuid{3}, Partitions: []AlterPartitionItem{{Partition: 0}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id    int32
		err   *kerr.Error
		state string
	}{
		{1, nil, "leader 1 ISR [1] leader epoch 0 partition epoch 1"},
		{0, kerr.NotController, ""},
		{0, nil, "leader 1 ISR [1] leader epoch 0 partition epoch 1"},
		{0, kerr.InvalidUpdateVersion, ""},
		{0, kerr.UnknownTopicID, ""},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for i, w := range want {
		r := res[i]
		if r.Partition.ID != w.id || r.Err != w.err || (w.err == nil && partitionState(r.Partition) != w.state) {
			t.Errorf("result %d: %+v, want partition %d %v %s", i, r, w.id, w.err, w.state)
		}
	}
	if s.Image().Epoch != before+1 {
		t.Fatalf("image epoch %d → %d: want one batch", before, s.Image().Epoch)
	}
}
