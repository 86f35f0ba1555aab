package metadata

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func strp(s string) *string { return &s }

func TestCreateTopicValidation(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1, 2, 3)
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "exists.topic", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  CreateTopicRequest
		want *kerr.Error
	}{
		{"empty name", CreateTopicRequest{Name: "", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"dot", CreateTopicRequest{Name: ".", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"dotdot", CreateTopicRequest{Name: "..", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"bad char", CreateTopicRequest{Name: "a/b", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"too long", CreateTopicRequest{Name: strings.Repeat("x", 250), NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"collides", CreateTopicRequest{Name: "exists_topic", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"exists", CreateTopicRequest{Name: "exists.topic", NumPartitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists},
		{"zero partitions", CreateTopicRequest{Name: "t", NumPartitions: 0, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"negative partitions", CreateTopicRequest{Name: "t", NumPartitions: -2, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"zero rf", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 0}, kerr.InvalidReplicationFactor},
		{"rf above brokers", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 4}, kerr.InvalidReplicationFactor},
		{"unknown config", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"retention.msx": "1"}}, kerr.InvalidConfig},
		{"bad config value", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 1, Configs: map[string]string{"retention.ms": "soon"}}, kerr.InvalidConfig},
		{"assignment and count", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}}}, kerr.InvalidRequest},
		{"assignment gap", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 2: {2}}}, kerr.InvalidReplicaAssignment},
		{"assignment duplicate broker", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1, 1}}}, kerr.InvalidReplicaAssignment},
		{"assignment unknown broker", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {9}}}, kerr.InvalidReplicaAssignment},
		{"assignment uneven", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {1}, 1: {1, 2}}}, kerr.InvalidReplicaAssignment},
		{"assignment empty", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: map[int32][]int32{0: {}}}, kerr.InvalidReplicaAssignment},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.CreateTopic(ctx(t), c.req)
			wantCode(t, err, c.want)
			if code, msg := ErrorCode(err); code != c.want.Code || msg == "" {
				t.Fatalf("ErrorCode = %d %q", code, msg)
			}
		})
	}
	if n := len(s.Image().Topics); n != 1 {
		t.Fatalf("%d topics after failed creates, want 1", n)
	}
}

func TestCreateTopicDefaultsAssignmentsValidateOnly(t *testing.T) {
	s, err := Open(Config{NodeID: 1, Dir: t.TempDir(), Logger: quietLogger(), DefaultNumPartitions: 4, DefaultReplicationFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustRegister(t, s, 1, 2, 3)

	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "defaults", NumPartitions: -1, ReplicationFactor: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.Partitions) != 4 {
		t.Fatalf("%d partitions, want num.partitions=4", len(tp.Partitions))
	}
	leaders := map[int32]int{}
	for _, p := range tp.Partitions {
		if len(p.Replicas) != 2 || p.Replicas[0] == p.Replicas[1] || p.Leader != p.Replicas[0] || len(p.ISR) != 2 {
			t.Fatalf("partition %+v", p)
		}
		leaders[p.Leader]++
	}
	if len(leaders) != 3 {
		t.Fatalf("leaders %v not spread round robin over 3 brokers", leaders)
	}
	if tp.ID == (Uuid{}) || tp.ID[6]>>4 != 4 {
		t.Fatalf("topic id %x is not a v4 UUID", tp.ID)
	}

	tp, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "explicit", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {3, 1}, 1: {2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := tp.Partitions[0]; p.Leader != 3 || fmt.Sprint(p.Replicas) != "[3 1]" {
		t.Fatalf("explicit partition 0 = %+v", p)
	}

	v, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "dry", NumPartitions: 2, ReplicationFactor: 1, ValidateOnly: true})
	if err != nil || len(v.Partitions) != 2 {
		t.Fatalf("validate-only = %+v, %v", v, err)
	}
	if s.Image().Topics["dry"] != nil {
		t.Fatal("validate-only created the topic")
	}
}

func TestDeleteTopicByName(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1)
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "a", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.DeleteTopicByName(ctx(t), "nope"), kerr.UnknownTopicOrPartition)
	if err := s.DeleteTopicByName(ctx(t), "a"); err != nil {
		t.Fatal(err)
	}
	if s.Image().Topics["a"] != nil {
		t.Fatal("not deleted")
	}
	// The name is free again, with a new id.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "a", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestCreatePartitions(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1, 2)
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "grow", NumPartitions: 2, ReplicationFactor: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.CreatePartitions(ctx(t), "missing", 3, nil, false), kerr.UnknownTopicOrPartition)
	wantCode(t, s.CreatePartitions(ctx(t), "grow", 2, nil, false), kerr.InvalidPartitions)
	wantCode(t, s.CreatePartitions(ctx(t), "grow", 1, nil, false), kerr.InvalidPartitions)
	wantCode(t, s.CreatePartitions(ctx(t), "grow", 4, [][]int32{{1, 2}}, false), kerr.InvalidReplicaAssignment)
	wantCode(t, s.CreatePartitions(ctx(t), "grow", 3, [][]int32{{1}}, false), kerr.InvalidReplicaAssignment)
	wantCode(t, s.CreatePartitions(ctx(t), "grow", 3, [][]int32{{1, 7}}, false), kerr.InvalidReplicaAssignment)

	if err := s.CreatePartitions(ctx(t), "grow", 5, nil, true); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Image().Topics["grow"].Partitions); n != 2 {
		t.Fatalf("validate-only changed partitions to %d", n)
	}
	if err := s.CreatePartitions(ctx(t), "grow", 3, [][]int32{{2, 1}}, false); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePartitions(ctx(t), "grow", 6, nil, false); err != nil {
		t.Fatal(err)
	}
	got := s.Image().Topics["grow"]
	if len(got.Partitions) != 6 || got.Partitions[2].Leader != 2 || got.ID != tp.ID {
		t.Fatalf("after grow: %+v", got)
	}
	for i, p := range got.Partitions {
		if p.ID != int32(i) || len(p.Replicas) != 2 {
			t.Fatalf("partition %d = %+v", i, p)
		}
	}
	// The old image is untouched (copy-on-write).
	if len(tp.Partitions) != 2 {
		t.Fatalf("returned topic mutated: %d partitions", len(tp.Partitions))
	}
}

func TestSetTopicConfigs(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1)
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "c", NumPartitions: 1, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1000", "cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	configs := func() map[string]string { return s.Image().Topics["c"].Configs }

	wantCode(t, s.SetTopicConfigs(ctx(t), "nope", map[string]*string{"retention.ms": strp("1")}, false, false), kerr.UnknownTopicOrPartition)
	wantCode(t, s.SetTopicConfigs(ctx(t), "c", map[string]*string{"segment.bytes": strp("10")}, false, false), kerr.InvalidConfig)
	wantCode(t, s.SetTopicConfigs(ctx(t), "c", map[string]*string{"bogus": strp("10")}, false, false), kerr.InvalidConfig)
	if err := s.SetTopicConfigs(ctx(t), "c", map[string]*string{"retention.ms": strp("5")}, false, true); err != nil {
		t.Fatal(err)
	}
	if configs()["retention.ms"] != "1000" {
		t.Fatal("validate-only applied")
	}

	// Incremental: set one, delete one, keep the rest.
	if err := s.SetTopicConfigs(ctx(t), "c", map[string]*string{"max.message.bytes": strp("2048"), "cleanup.policy": nil}, false, false); err != nil {
		t.Fatal(err)
	}
	if c := configs(); len(c) != 2 || c["retention.ms"] != "1000" || c["max.message.bytes"] != "2048" {
		t.Fatalf("incremental configs = %v", c)
	}
	// Replace all.
	if err := s.SetTopicConfigs(ctx(t), "c", map[string]*string{"segment.ms": strp("60000")}, true, false); err != nil {
		t.Fatal(err)
	}
	if c := configs(); len(c) != 1 || c["segment.ms"] != "60000" {
		t.Fatalf("replaced configs = %v", c)
	}
}

func TestSetBrokerConfigs(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wantCode(t, s.SetBrokerConfigs(ctx(t), map[string]*string{"broker.id": strp("3")}, false, false), kerr.InvalidConfig)
	wantCode(t, s.SetBrokerConfigs(ctx(t), map[string]*string{"log.retention.ms": strp("-7")}, false, false), kerr.InvalidConfig)
	if err := s.SetBrokerConfigs(ctx(t), map[string]*string{"log.retention.ms": strp("3600000"), "message.max.bytes": strp("2000000")}, false, false); err != nil {
		t.Fatal(err)
	}
	if c := s.Image().BrokerConfigs; len(c) != 2 || c["log.retention.ms"] != "3600000" {
		t.Fatalf("broker configs = %v", c)
	}
	if err := s.SetBrokerConfigs(ctx(t), map[string]*string{"log.retention.ms": nil}, false, false); err != nil {
		t.Fatal(err)
	}
	if c := s.Image().BrokerConfigs; len(c) != 1 || c["message.max.bytes"] != "2000000" {
		t.Fatalf("broker configs = %v", c)
	}
}

func TestAllocateProducerIDs(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	first, err := s.AllocateProducerIDs(ctx(t), 1000)
	if err != nil || first != 0 {
		t.Fatalf("first block = %d, %v", first, err)
	}
	second, err := s.AllocateProducerIDs(ctx(t), 1000)
	if err != nil || second != 1000 {
		t.Fatalf("second block = %d, %v", second, err)
	}
	_, err = s.AllocateProducerIDs(ctx(t), 0)
	wantCode(t, err, kerr.InvalidRequest)
	s.Close()

	s = openTestStore(t, dir)
	defer s.Close()
	third, err := s.AllocateProducerIDs(ctx(t), 10)
	if err != nil || third != 2000 {
		t.Fatalf("block after restart = %d, %v", third, err)
	}
}

func TestRegisterBrokerAndFeatures(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	wantCode(t, s.RegisterBroker(ctx(t), Broker{ID: -1}), kerr.InvalidRequest)
	mustRegister(t, s, 1)
	if err := s.RegisterBroker(ctx(t), Broker{ID: 1, Host: "localhost", Port: 19092, Rack: "r1"}); err != nil {
		t.Fatal(err)
	}
	if b := s.Image().Brokers[1]; b.Host != "localhost" || b.Port != 19092 || b.Rack != "r1" {
		t.Fatalf("broker = %+v", b)
	}
	if err := s.SetFeatureLevel(ctx(t), "metadata.version", 27); err != nil {
		t.Fatal(err)
	}
	if s.Image().Features["metadata.version"] != 27 {
		t.Fatal("feature not set")
	}
	if err := s.SetFeatureLevel(ctx(t), "metadata.version", 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Image().Features["metadata.version"]; ok {
		t.Fatal("feature not removed")
	}
}

func TestChangePartition(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1, 2, 3)
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "ap", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ChangePartition(ctx(t), Uuid{1}, 0, NoLeaderChange, nil)
	wantCode(t, err, kerr.UnknownTopicID)
	_, err = s.ChangePartition(ctx(t), tp.ID, 1, NoLeaderChange, nil)
	wantCode(t, err, kerr.UnknownTopicOrPartition)
	_, err = s.ChangePartition(ctx(t), tp.ID, 0, 4, nil)
	wantCode(t, err, kerr.InvalidRequest)
	_, err = s.ChangePartition(ctx(t), tp.ID, 0, NoLeaderChange, []int32{1, 1})
	wantCode(t, err, kerr.InvalidRequest)
	_, err = s.ChangePartition(ctx(t), tp.ID, 0, NoLeaderChange, []int32{})
	wantCode(t, err, kerr.InvalidRequest)

	p, err := s.ChangePartition(ctx(t), tp.ID, 0, NoLeaderChange, []int32{1, 3})
	if err != nil || p.Leader != 1 || p.LeaderEpoch != 0 || fmt.Sprint(p.ISR) != "[1 3]" {
		t.Fatalf("shrink ISR = %+v, %v", p, err)
	}
	p, err = s.ChangePartition(ctx(t), tp.ID, 0, 3, []int32{3})
	if err != nil || p.Leader != 3 || p.LeaderEpoch != 1 || fmt.Sprint(p.ISR) != "[3]" {
		t.Fatalf("move leader = %+v, %v", p, err)
	}
	if got, _ := s.Image().Partition("ap", 0); got.Leader != 3 || got.LeaderEpoch != 1 {
		t.Fatalf("image partition = %+v", got)
	}
}

func TestWatchStartsAfterRegistration(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	first := make(chan *Image, 10)
	s.Watch(func(prev, next *Image) { first <- next })
	mustRegister(t, s, 1)
	registered := s.Image()
	second := make(chan *Image, 10)
	s.Watch(func(prev, next *Image) { second <- prev })
	mustRegister(t, s, 2)
	// The second watcher's first call starts from an image at or after the
	// one current when it registered.
	select {
	case prev := <-second:
		if prev.Epoch < registered.Epoch {
			t.Fatalf("second watcher saw a change from before it registered (epoch %d < %d)", prev.Epoch, registered.Epoch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second watcher not called")
	}
}
