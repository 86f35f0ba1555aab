package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupConsumeCommitAndReplay consumes as a group, commits and reads
// the committed offsets back, also from a new broker over the same
// directory (the replay of __consumer_offsets). Other APIs it uses:
// CreateTopics, Produce, FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
// Fetch, DescribeGroups, LeaveGroup, OffsetFetch, ListGroups, Metadata.
func TestGroupConsumeCommitAndReplay(t *testing.T) {
	dir := t.TempDir()
	props := map[string]string{"offsets.topic.num.partitions": "5"}
	addr, stop := startNodeIn(t, dir, props)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "events"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: "events", Key: []byte{byte(i)}, Value: []byte("v")}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.SessionTimeout(6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < n {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	described, err := adm.DescribeGroups(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if d := described["g1"]; d.State != "Stable" || len(d.Members) != 1 {
		t.Fatalf("described %+v", d)
	}
	consumer.Close() // leaves the group
	offsets, err := adm.FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("committed offsets sum to %d, want %d", total, n)
	}
	cl.Close()
	stop()

	// A new broker over the same directory replays __consumer_offsets.
	addr, _ = startNodeIn(t, dir, props)
	cl2, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	adm2 := kadm.NewClient(cl2)
	offsets, err = adm2.FetchOffsets(ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	total = 0
	offsets.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("after restart committed offsets sum to %d, want %d", total, n)
	}
	listed, err := adm2.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := listed["g1"]; !ok {
		t.Fatalf("g1 not listed after restart: %v", listed)
	}
	topics, err := adm2.ListTopicsWithInternal(ctx, group.OffsetsTopic)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := topics[group.OffsetsTopic]; !ok || len(d.Partitions) != 5 || !d.IsInternal {
		t.Fatalf("%s: %+v", group.OffsetsTopic, d)
	}
}

// TestOffsetCommit: a commit is answered per partition once it is stored,
// and OffsetFetch reads it back; an unknown partition gets
// UNKNOWN_TOPIC_OR_PARTITION, metadata longer than
// offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE, a member's commit
// with a stale generation ILLEGAL_GENERATION and one of an unknown member
// UNKNOWN_MEMBER_ID. Without a group coordinator every partition gets
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics,
// OffsetFetch, JoinGroup, SyncGroup.
func TestOffsetCommit(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	commit := func(group, member string, generation int32, partition int32, metadata string) int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.SetVersion(8)
		req.Group, req.MemberID, req.Generation = group, member, generation
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = partition, 42, -1, &metadata
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := serveReq(t, env, req).(*kmsg.OffsetCommitResponse)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := commit("g", "", -1, 1, "note"); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if off := committedOffset(t, env, "g", "t", 1); off != 42 {
		t.Fatalf("committed offset %d, want 42", off)
	}
	if code := commit("g", "", -1, 9, ""); code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown partition: %v", kerr.ErrorForCode(code))
	}
	if code := commit("g", "", -1, 0, strings.Repeat("m", 4097)); code != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("metadata too large: %v", kerr.ErrorForCode(code))
	}
	member, gen := stableMember(t, env, "members", "t")
	if code := commit("members", member, gen, 0, ""); code != 0 {
		t.Fatalf("the member's commit: %v", kerr.ErrorForCode(code))
	}
	if code := commit("members", member, gen-1, 0, ""); code != kerr.IllegalGeneration.Code {
		t.Fatalf("stale generation: %v", kerr.ErrorForCode(code))
	}
	if code := commit("members", "no-such-member", gen, 0, ""); code != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member: %v", kerr.ErrorForCode(code))
	}

	env.replicas.CloseGroups()
	if code := commit("g", "", -1, 1, ""); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(code))
	}
}
