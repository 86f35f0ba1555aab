package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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
