package metadata

import (
	"errors"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func registerIncarnation(t *testing.T, s *Store, id int32, rack string) (BrokerRegistration, int64) {
	t.Helper()
	reg := BrokerRegistration{ID: id, IncarnationID: newUUID(), DirectoryID: newUUID(), Host: "127.0.0.1", Port: 9000 + id, Rack: rack}
	epoch, err := s.RegisterBrokerIncarnation(ctx(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, epoch
}

func leaders(im *Image, topic string) []int32 {
	var out []int32
	for _, p := range im.Topics[topic].Partitions {
		out = append(out, p.Leader)
	}
	return out
}

func TestBrokerLifecycleMovesLeadership(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	var epochs [4]int64
	var regs [4]BrokerRegistration
	for id := int32(1); id <= 3; id++ {
		regs[id], epochs[id] = registerIncarnation(t, s, id, "")
		br := s.Image().Brokers[id]
		if !br.Fenced || br.Epoch != epochs[id] || br.Epoch <= 0 {
			t.Fatalf("new registration %+v, epoch %d: want fenced with its epoch", br, epochs[id])
		}
	}
	// Nothing goes to fenced brokers.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "t", NumPartitions: 3, ReplicationFactor: 1}); !errors.Is(err, kerr.InvalidReplicationFactor) {
		t.Fatalf("create with every broker fenced: %v, want INVALID_REPLICATION_FACTOR", err)
	}
	for id := int32(1); id <= 3; id++ {
		if err := s.UnfenceBroker(ctx(t), id, epochs[id]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "t", NumPartitions: 6, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	count := map[int32]int{}
	for _, l := range leaders(s.Image(), "t") {
		count[l]++
	}
	if count[1] != 2 || count[2] != 2 || count[3] != 2 {
		t.Fatalf("leaders %v: want 6 partitions spread 2 per broker", leaders(s.Image(), "t"))
	}
	led := len(LedBy(s.Image(), 2))

	// Fencing broker 2 leaves its one-replica partitions leaderless, with
	// a new leader epoch; a stale epoch is refused.
	if err := s.FenceBroker(ctx(t), 2, epochs[2]-1); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("fence with a stale epoch: %v", err)
	}
	if err := s.FenceBroker(ctx(t), 2, epochs[2]); err != nil {
		t.Fatal(err)
	}
	im := s.Image()
	if !im.Brokers[2].Fenced || len(LedBy(im, 2)) != 0 || len(LedBy(im, -1)) != led {
		t.Fatalf("after fencing 2: leaders %v", leaders(im, "t"))
	}
	for _, p := range im.Topics["t"].Partitions {
		if p.Leader == -1 && p.LeaderEpoch != 1 {
			t.Fatalf("partition %d: leader epoch %d after losing its leader, want 1", p.ID, p.LeaderEpoch)
		}
	}
	// Unfencing gives them back, one more epoch later.
	if err := s.UnfenceBroker(ctx(t), 2, epochs[2]); err != nil {
		t.Fatal(err)
	}
	im = s.Image()
	if len(LedBy(im, 2)) != led || len(LedBy(im, -1)) != 0 {
		t.Fatalf("after unfencing 2: leaders %v", leaders(im, "t"))
	}

	// A restart registers a new incarnation: the old epoch is fenced at
	// once and its leaderships move away in the same batch; the retried
	// registration of the same incarnation gets the same epoch.
	reg := BrokerRegistration{ID: 3, IncarnationID: newUUID(), DirectoryID: regs[3].DirectoryID, Host: "127.0.0.1", Port: 9003}
	e1, err := s.RegisterBrokerIncarnation(ctx(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := s.RegisterBrokerIncarnation(ctx(t), reg)
	if err != nil || e2 != e1 || e1 <= epochs[3] {
		t.Fatalf("re-registration epochs %d, %d (old %d), %v", e1, e2, epochs[3], err)
	}
	if im := s.Image(); !im.Brokers[3].Fenced || len(LedBy(im, 3)) != 0 {
		t.Fatalf("after re-registration: %+v, leaders %v", im.Brokers[3], leaders(im, "t"))
	}
	if err := s.UnfenceBroker(ctx(t), 3, epochs[3]); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("unfence the old incarnation: %v", err)
	}
	if err := s.UnfenceBroker(ctx(t), 3, e1); err != nil {
		t.Fatal(err)
	}

	// Controlled shutdown moves leadership away and says when done.
	done, err := s.BeginControlledShutdown(ctx(t), 1, epochs[1])
	if err != nil || !done {
		t.Fatalf("controlled shutdown: done %v, %v", done, err)
	}
	im = s.Image()
	if !im.Brokers[1].InControlledShutdown || len(LedBy(im, 1)) != 0 {
		t.Fatalf("after controlled shutdown: %+v, leaders %v", im.Brokers[1], leaders(im, "t"))
	}
	// A broker in controlled shutdown gets no new replicas.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "u", NumPartitions: 4, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	for _, p := range s.Image().Topics["u"].Partitions {
		if p.Replicas[0] == 1 {
			t.Fatalf("partition %d placed on broker 1, which is shutting down", p.ID)
		}
	}

	// A restart keeps every registration exactly.
	want := s.Image().Brokers
	dir := s.cfg.Dir
	s.Close()
	s2 := openTestStore(t, dir)
	defer s2.Close()
	for id, br := range want {
		if got := s2.Image().Brokers[id]; got != br {
			t.Fatalf("broker %d after restart: %+v, want %+v", id, got, br)
		}
	}
	if err := s2.UnregisterBroker(ctx(t), 2); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("unregister a live broker: %v", err)
	}
	if err := s2.FenceBroker(ctx(t), 2, epochs[2]); err != nil {
		t.Fatal(err)
	}
	if err := s2.UnregisterBroker(ctx(t), 2); err != nil {
		t.Fatal(err)
	}
	if _, ok := s2.Image().Brokers[2]; ok {
		t.Fatal("broker 2 still registered")
	}
}

func TestPlacementAlternatesRacks(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	racks := map[int32]string{1: "a", 2: "a", 3: "b", 4: "b", 5: "c"}
	for id := int32(1); id <= 5; id++ {
		_, epoch := registerIncarnation(t, s, id, racks[id])
		if err := s.UnfenceBroker(ctx(t), id, epoch); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := placementOrder(s.Image()), []int32{1, 3, 5, 2, 4}; !slices.Equal(got, want) {
		t.Fatalf("placement order %v, want %v", got, want)
	}
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "r", NumPartitions: 10, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tp.Partitions {
		seen := map[string]bool{}
		for _, b := range p.Replicas {
			seen[racks[b]] = true
		}
		if len(seen) < 2 {
			t.Fatalf("partition %d replicas %v all on one rack", p.ID, p.Replicas)
		}
	}
}

func TestRegisterBrokerV0RecordsStillDecode(t *testing.T) {
	// A version-0 RegisterBroker body, as written before broker
	// lifecycles: id, host, port, rack.
	v0 := (&RegisterBrokerRecord{BrokerID: 7, Host: "h", Port: 1, Rack: "r"})
	body := v0.appendBody(nil)
	body = body[:len(body)-16-16-8-1-1] // strip the version-1 fields
	batch := []byte{batchFormatVersion, 1, byte(TypeRegisterBroker), 0, byte(len(body))}
	batch = append(batch, body...)
	recs, err := DecodeRecords(batch)
	if err != nil {
		t.Fatal(err)
	}
	got := recs[0].(*RegisterBrokerRecord)
	if got.BrokerID != 7 || got.Host != "h" || got.Rack != "r" || got.Fenced || got.Epoch != 0 {
		t.Fatalf("decoded %+v", got)
	}
}

// TestCreateTopicRetryWithItsID: a create retried with the id its first
// try chose (a forwarded request whose answer was lost) succeeds with the
// topic that try created; another request for the name is still
// TOPIC_ALREADY_EXISTS.
func TestCreateTopicRetryWithItsID(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1)
	id := NewUUID()
	first, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "once", NumPartitions: 2, ReplicationFactor: 1, TopicID: id})
	if err != nil || first.ID != id {
		t.Fatalf("first try: %v, id %x, want %x", err, first.ID, id)
	}
	again, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "once", NumPartitions: 2, ReplicationFactor: 1, TopicID: id})
	if err != nil || again.ID != id || len(s.Image().Topics) != 1 {
		t.Fatalf("retry: %v, %+v", err, again)
	}
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "once", NumPartitions: 2, ReplicationFactor: 1, TopicID: NewUUID()}); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("another request for the name: %v", err)
	}
	// An id already taken by another topic is not reused.
	other, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "other", NumPartitions: 1, ReplicationFactor: 1, TopicID: id})
	if err != nil || other.ID == id {
		t.Fatalf("other topic with a taken id: %v, id %x", err, other.ID)
	}
}
