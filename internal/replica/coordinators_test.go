package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// openCoordinatorNode opens a node on an in-memory file system with
// small internal topics.
func openCoordinatorNode(t *testing.T) *Manager {
	t.Helper()
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": "/data", "samsa.admin.listener": "",
		"offsets.topic.num.partitions": "3", "transaction.state.log.num.partitions": "2",
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(cfg, Options{Logger: slog.New(slog.DiscardHandler), FS: vfs.NewMem(), AdvertisedAddr: "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// awaitLoaded waits until loaded() lists want.
func awaitLoaded(t *testing.T, what string, loaded func() []int32, want []int32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Equal(loaded(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: loaded partitions %v, want %v", what, loaded(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitGroupPartitions creates __consumer_offsets (as FindCoordinator
// does) and waits until the group coordinator serves all its partitions.
func awaitGroupPartitions(t *testing.T, m *Manager) *group.Coordinator {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, ok, err := m.CoordinatorPartition(ctx, 0, "g"); !ok || err != nil {
		t.Fatalf("no __consumer_offsets: %v", err)
	}
	gc, err := m.Groups()
	if err != nil {
		t.Fatal(err)
	}
	var all []int32
	for p := range gc.Config().OffsetsTopicNumPartitions {
		all = append(all, p)
	}
	awaitLoaded(t, "group coordinator", gc.LoadedPartitions, all)
	return gc
}

// groupsIn returns a group id of each __consumer_offsets partition.
func groupsIn(partitions int32) []string {
	ids := make([]string, partitions)
	for i, found := 0, int32(0); found < partitions; i++ {
		id := fmt.Sprintf("group-%d", i)
		if p := group.PartitionFor(id, partitions); ids[p] == "" {
			ids[p] = id
			found++
		}
	}
	return ids
}

// TestCoordinatorsFollowLeadership: when the image takes the leadership
// of a __consumer_offsets partition away from the node (no leader) the
// groups of that partition get NOT_COORDINATOR, the others are still
// served; when it gives it back, in a new leader epoch, they come back
// with their committed offsets. The same for a __transaction_state
// partition, whose leader epoch becomes the coordinator epoch of its
// transactional ids.
func TestCoordinatorsFollowLeadership(t *testing.T) {
	m := openCoordinatorNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: "orders", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	gc := awaitGroupPartitions(t, m)
	ids := groupsIn(3)
	commit := func(id string, offset int64) int16 {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version, req.Group, req.Generation = 8, id, -1
		req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: offset}}}}
		return gc.OffsetCommit(req).Topics[0].Partitions[0].ErrorCode
	}
	fetch := func(id string) (int16, int64) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 8
		req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: id, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "orders", Partitions: []int32{0}}}}}
		g := gc.OffsetFetch(req).Groups[0]
		if g.ErrorCode != 0 {
			return g.ErrorCode, -1
		}
		return 0, g.Topics[0].Partitions[0].Offset
	}
	for i, id := range ids {
		if code := commit(id, int64(10+i)); code != 0 {
			t.Fatalf("commit %s: %v", id, kerr.ErrorForCode(code))
		}
	}

	offsetsID := m.Metadata().Image().Topics[group.OffsetsTopic].ID
	const moved = 1 // the partition whose leadership moves
	alter := func(topicID metadata.Uuid, p, leader int32) metadata.Partition {
		t.Helper()
		mp, err := m.Metadata().ChangePartition(ctx, topicID, p, leader, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
			t.Fatal(err)
		}
		return mp
	}
	alter(offsetsID, moved, -1)
	awaitLoaded(t, "after the leader left", gc.LoadedPartitions, []int32{0, 2})
	for p, id := range ids {
		code, off := fetch(id)
		switch {
		case p == moved && code != kerr.NotCoordinator.Code:
			t.Fatalf("fetch of %s, in the partition without a leader: %v", id, kerr.ErrorForCode(code))
		case p != moved && (code != 0 || off != int64(10+p)):
			t.Fatalf("fetch of %s: %v, offset %d", id, kerr.ErrorForCode(code), off)
		}
	}
	if code := commit(ids[moved], 99); code != kerr.NotCoordinator.Code {
		t.Fatalf("commit to the partition without a leader: %v", kerr.ErrorForCode(code))
	}

	back := alter(offsetsID, moved, m.cfg.NodeID)
	if back.LeaderEpoch != 2 {
		t.Fatalf("leader epoch %d after two leader changes", back.LeaderEpoch)
	}
	awaitLoaded(t, "after the leader came back", gc.LoadedPartitions, []int32{0, 1, 2})
	if code, off := fetch(ids[moved]); code != 0 || off != int64(10+moved) {
		t.Fatalf("fetch of %s after the leader came back: %v, offset %d", ids[moved], kerr.ErrorForCode(code), off)
	}
	if code := commit(ids[moved], 99); code != 0 {
		t.Fatalf("commit after the leader came back: %v", kerr.ErrorForCode(code))
	}

	// Leadership going back and forth quickly ends where the image ends.
	for range 3 {
		alter(offsetsID, moved, -1)
		alter(offsetsID, moved, m.cfg.NodeID)
	}
	awaitLoaded(t, "after flapping", gc.LoadedPartitions, []int32{0, 1, 2})
	if code, off := fetch(ids[moved]); code != 0 || off != 99 {
		t.Fatalf("fetch of %s after flapping: %v, offset %d", ids[moved], kerr.ErrorForCode(code), off)
	}

	// Transactions: the coordinator epoch is the partition's leader epoch.
	tc, err := m.Txns()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.CoordinatorPartition(ctx, 1, "tx"); !ok || err != nil {
		t.Fatalf("no __transaction_state: %v", err)
	}
	awaitLoaded(t, "transaction coordinator", tc.LoadedPartitions, []int32{0, 1})
	initPID := func() *kmsg.InitProducerIDResponse {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version, req.TransactionalID, req.TransactionTimeoutMillis = 4, kmsg.StringPtr("tx"), 60000
		return tc.InitProducerID(ctx, req)
	}
	first := initPID()
	if first.ErrorCode != 0 {
		t.Fatalf("init: %v", kerr.ErrorForCode(first.ErrorCode))
	}
	stateID := m.Metadata().Image().Topics[txn.StateTopic].ID
	tp := txn.PartitionFor("tx", 2)
	alter(stateID, tp, -1)
	awaitLoaded(t, "transactions after the leader left", tc.LoadedPartitions, slices.DeleteFunc([]int32{0, 1}, func(p int32) bool { return p == tp }))
	if r := initPID(); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("init without the partition: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if e := tc.CoordinatorEpoch("tx"); e != -1 {
		t.Fatalf("coordinator epoch %d of an unloaded partition", e)
	}
	back = alter(stateID, tp, m.cfg.NodeID)
	awaitLoaded(t, "transactions after the leader came back", tc.LoadedPartitions, []int32{0, 1})
	if e := tc.CoordinatorEpoch("tx"); e != back.LeaderEpoch || e != 2 {
		t.Fatalf("coordinator epoch %d, want the leader epoch %d", e, back.LeaderEpoch)
	}
	if r := initPID(); r.ErrorCode != 0 || r.ProducerID != first.ProducerID || r.ProducerEpoch != first.ProducerEpoch+1 {
		t.Fatalf("init after the leader came back: %v, %d/%d (first %d/%d)", kerr.ErrorForCode(r.ErrorCode), r.ProducerID, r.ProducerEpoch, first.ProducerID, first.ProducerEpoch)
	}
}

// TestCoordinatorPartitionLeader: the partition coordinating a key is the
// image's, leader included, and the topic is created on the first ask.
func TestCoordinatorPartitionLeader(t *testing.T) {
	m := openCoordinatorNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.Metadata().Image().Topics[txn.StateTopic] != nil {
		t.Fatal("__transaction_state exists before any ask")
	}
	p, ok, err := m.CoordinatorPartition(ctx, 1, "my-txn")
	if !ok || err != nil || p.ID != txn.PartitionFor("my-txn", 2) || p.Leader != m.cfg.NodeID {
		t.Fatalf("partition %+v, ok %v, err %v", p, ok, err)
	}
	if _, ok, err := m.CoordinatorPartition(ctx, 2, "share"); ok || err == nil {
		t.Fatal("coordinator type 2 answered")
	}
}

// TestCoordinatorsMapKeysByTheTopicsPartitionCount: when an internal
// topic exists with another partition count than this node's
// offsets.topic.num.partitions / transaction.state.log.num.partitions (it
// was created by a node configured otherwise), FindCoordinator's partition
// and both coordinators map keys over the topic's count, as Kafka reads it
// from the metadata, so every node agrees on a key's coordinator.
func TestCoordinatorsMapKeysByTheTopicsPartitionCount(t *testing.T) {
	m := openCoordinatorNode(t) // configured with 3 and 2 partitions
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const offsetsN, stateN = 5, 4
	for name, n := range map[string]int32{group.OffsetsTopic: offsetsN, txn.StateTopic: stateN} {
		if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: name, NumPartitions: n, ReplicationFactor: 1,
			Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	gc, err := m.Groups()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := m.Txns()
	if err != nil {
		t.Fatal(err)
	}
	awaitLoaded(t, "group coordinator", gc.LoadedPartitions, []int32{0, 1, 2, 3, 4})
	awaitLoaded(t, "transaction coordinator", tc.LoadedPartitions, []int32{0, 1, 2, 3})
	for i := range 200 {
		key := fmt.Sprintf("key-%d", i)
		p, ok, err := m.CoordinatorPartition(ctx, 0, key)
		if want := group.PartitionFor(key, offsetsN); !ok || err != nil || p.ID != want || gc.PartitionFor(key) != want {
			t.Fatalf("group %s: FindCoordinator's partition %d (ok %v, err %v), the coordinator's %d, want %d", key, p.ID, ok, err, gc.PartitionFor(key), want)
		}
		p, ok, err = m.CoordinatorPartition(ctx, 1, key)
		if want := txn.PartitionFor(key, stateN); !ok || err != nil || p.ID != want || tc.PartitionFor(key) != want {
			t.Fatalf("transactional id %s: FindCoordinator's partition %d (ok %v, err %v), the coordinator's %d, want %d", key, p.ID, ok, err, tc.PartitionFor(key), want)
		}
	}
	// A group and a transactional id of the partitions past the configured
	// counts are served.
	var g, id string
	for i := 0; g == "" || id == ""; i++ {
		key := fmt.Sprintf("k%d", i)
		if g == "" && group.PartitionFor(key, offsetsN) == offsetsN-1 {
			g = key
		}
		if id == "" && txn.PartitionFor(key, stateN) == stateN-1 {
			id = key
		}
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: g}}
	if code := gc.OffsetFetch(req).Groups[0].ErrorCode; code != 0 {
		t.Fatalf("offset fetch of %s: %v", g, kerr.ErrorForCode(code))
	}
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version, init.TransactionalID, init.TransactionTimeoutMillis = 4, kmsg.StringPtr(id), 60000
	r := tc.InitProducerID(ctx, init)
	if r.ErrorCode != 0 {
		t.Fatalf("init of %s: %v", id, kerr.ErrorForCode(r.ErrorCode))
	}
	// AddOffsetsToTxn adds the group's partition over the topic's count.
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.Version, add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = 3, id, r.ProducerID, r.ProducerEpoch, g
	if code := tc.AddOffsetsToTxn(ctx, add).ErrorCode; code != 0 {
		t.Fatalf("add offsets of %s: %v", g, kerr.ErrorForCode(code))
	}
	md, _ := tc.Transaction(id)
	if want := (txn.TopicPartition{Topic: group.OffsetsTopic, Partition: offsetsN - 1}); len(md.Partitions) != 1 || md.Partitions[0] != want {
		t.Fatalf("transaction partitions %v, want %v", md.Partitions, want)
	}
}
