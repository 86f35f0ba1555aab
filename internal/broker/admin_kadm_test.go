package broker

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAdminWithKadm drives the admin APIs of an in-process broker with
// franz-go's admin client, as a user's tooling would.
func TestAdminWithKadm(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := n.client(t)
	adm := kadm.NewClient(cl)

	// CreateTopics, with a config; a second create is refused.
	created, err := adm.CreateTopic(ctx, 3, -1, map[string]*string{"retention.ms": strPtr("3600000")}, "orders")
	if err != nil || created.Err != nil || created.ID == (kadm.TopicID{}) {
		t.Fatalf("create: %+v %v", created, err)
	}
	again, err := adm.CreateTopic(ctx, 3, -1, nil, "orders")
	if !errors.Is(err, kerr.TopicAlreadyExists) || !errors.Is(again.Err, kerr.TopicAlreadyExists) || again.ErrMessage == "" {
		t.Fatalf("create again: %+v %v", again, err)
	}
	bad, err := adm.CreateTopic(ctx, 1, -1, nil, "bad name!")
	if !errors.Is(err, kerr.InvalidTopicException) || !errors.Is(bad.Err, kerr.InvalidTopicException) {
		t.Fatalf("bad name: %+v %v", bad, err)
	}

	// An idempotent producer (franz-go's default) writes to it.
	prod := n.client(t, kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := 0; i < 20; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// DescribeProducers sees it, with its last sequence.
	producers, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"orders": {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	producers["orders"].Partitions.EachProducer(func(p kadm.DescribedProducer) {
		found = p.LastSequence == 19 && p.ProducerID >= 0
	})
	if !found {
		t.Fatalf("producers: %+v", producers)
	}

	// Configs: the topic's override and a default; an incremental change.
	rcs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		vals[c.Key] = c
	}
	if c := vals["retention.ms"]; c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("retention.ms %+v", c)
	}
	if c := vals["segment.bytes"]; c.MaybeValue() != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("segment.bytes %+v", c)
	}
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.ms", Value: strPtr("60000")}}, "orders")
	if err != nil || alt[0].Err != nil {
		t.Fatalf("alter: %+v %v", alt, err)
	}

	// CreatePartitions grows the topic; the new partitions exist here.
	cp, err := adm.CreatePartitions(ctx, 2, "orders")
	if err != nil || cp["orders"].Err != nil {
		t.Fatalf("create partitions: %+v %v", cp, err)
	}
	td, err := adm.ListTopics(ctx, "orders")
	if err != nil || len(td["orders"].Partitions) != 5 {
		t.Fatalf("list: %+v %v", td, err)
	}

	// DeleteRecords moves the low watermark.
	dr, err := adm.DeleteRecords(ctx, kadm.Offsets{"orders": {1: {At: 5}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := dr.Lookup("orders", 1); !ok || r.Err != nil || r.LowWatermark != 5 {
		t.Fatalf("delete records: %+v", dr)
	}
	starts, err := adm.ListStartOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("orders", 1); o.Offset != 5 {
		t.Fatalf("start offset after delete: %+v", o)
	}

	// OffsetForLeaderEpoch: epoch 0 ends at the log end.
	var ofle kadm.OffsetForLeaderEpochRequest
	ofle.Add("orders", 1, 0)
	eps, err := adm.OffsetForLeaderEpoch(ctx, ofle)
	if err != nil {
		t.Fatal(err)
	}
	if e := eps["orders"][1]; e.Err != nil || e.EndOffset != 20 || e.LeaderEpoch != 0 {
		t.Fatalf("offset for leader epoch: %+v", e)
	}

	// DescribeLogDirs lists the partitions with their sizes.
	dirs, err := adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		if p, ok := d.Topics["orders"][1]; ok {
			size = p.Size
		}
	})
	if size <= 0 {
		t.Fatalf("log dirs: %+v", dirs)
	}

	// DescribeCluster over the raw request.
	dc := kmsg.NewPtrDescribeClusterRequest()
	dcr, err := dc.RequestWith(ctx, cl)
	if err != nil || dcr.ErrorCode != 0 || len(dcr.Brokers) != 1 || dcr.ClusterID == "" {
		t.Fatalf("describe cluster: %+v %v", dcr, err)
	}

	// DeleteTopics: gone from the metadata and from this node.
	del, err := adm.DeleteTopics(ctx, "orders")
	if err != nil || del["orders"].Err != nil {
		t.Fatalf("delete: %+v %v", del, err)
	}
	if _, ok := n.b.replicas.Partition("orders", 1); ok {
		t.Fatal("partition still hosted after delete")
	}
}
