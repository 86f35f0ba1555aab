package broker

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func ctReq(version int16, validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.ValidateOnly, req.Topics, req.TimeoutMillis = version, validateOnly, topics, 5000
	return req
}

func ctTopic(name string, n int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, n, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = configs[i]
		if configs[i+1] != "<null>" {
			c.Value = strPtr(configs[i+1])
		}
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

func TestCreateTopics(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()

	resp := createTopics(ctx, env, ctReq(7, false, ctTopic("orders", 3, -1, "retention.ms", "1000")))
	got := resp.Topics[0]
	if got.ErrorCode != 0 || got.NumPartitions != 3 || got.ReplicationFactor != 1 || got.TopicID == ([16]byte{}) {
		t.Fatalf("create: %+v", got)
	}
	sources := map[string]int8{}
	for _, c := range got.Configs {
		sources[c.Name] = c.Source
		if c.Name == "retention.ms" && (c.Value == nil || *c.Value != "1000") {
			t.Fatalf("retention.ms = %v", c.Value)
		}
	}
	if sources["retention.ms"] != int8(kmsg.ConfigSourceDynamicTopicConfig) || sources["segment.bytes"] != int8(kmsg.ConfigSourceDefaultConfig) {
		t.Fatalf("config sources %v", sources)
	}
	if top := env.meta.Image().Topic("orders"); top == nil || len(top.Partitions) != 3 || top.ID != got.TopicID {
		t.Fatalf("image topic %+v", top)
	}

	assigned := ctTopic("assigned", -1, -1)
	for p := int32(0); p < 2; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, []int32{1}
		assigned.ReplicaAssignment = append(assigned.ReplicaAssignment, a)
	}

	for _, tc := range []struct {
		name    string
		req     *kmsg.CreateTopicsRequest
		want    []*kerr.Error
		created bool
	}{
		{"exists", ctReq(7, false, ctTopic("orders", 1, 1)), []*kerr.Error{kerr.TopicAlreadyExists}, true},
		{"bad name", ctReq(7, false, ctTopic("bad/name", 1, 1)), []*kerr.Error{kerr.InvalidTopicException}, false},
		{"zero partitions", ctReq(7, false, ctTopic("zero", 0, 1)), []*kerr.Error{kerr.InvalidPartitions}, false},
		{"replication factor", ctReq(7, false, ctTopic("rf3", 1, 3)), []*kerr.Error{kerr.InvalidReplicationFactor}, false},
		{"bad config value", ctReq(7, false, ctTopic("badcfg", 1, 1, "retention.ms", "soon")), []*kerr.Error{kerr.InvalidConfig}, false},
		{"unknown config", ctReq(7, false, ctTopic("unkcfg", 1, 1, "no.such.config", "1")), []*kerr.Error{kerr.InvalidConfig}, false},
		{"null config", ctReq(7, false, ctTopic("nullcfg", 1, 1, "retention.ms", "<null>")), []*kerr.Error{kerr.InvalidConfig}, false},
		{"validate only", ctReq(7, true, ctTopic("dry", 2, 1)), []*kerr.Error{nil}, false},
		{"duplicate in request", ctReq(7, false, ctTopic("dup", 1, 1), ctTopic("dup", 1, 1)), []*kerr.Error{kerr.InvalidRequest}, false},
		{"explicit assignment", ctReq(7, false, assigned), []*kerr.Error{nil}, true},
		{"defaults", ctReq(4, false, ctTopic("defaults", -1, -1)), []*kerr.Error{nil}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := createTopics(ctx, env, tc.req)
			if len(resp.Topics) != len(tc.want) {
				t.Fatalf("%d topics in response, want %d", len(resp.Topics), len(tc.want))
			}
			for i, want := range tc.want {
				rt := resp.Topics[i]
				if got := kerr.ErrorForCode(rt.ErrorCode); got != error(want) && !(want == nil && got == nil) {
					t.Fatalf("topic %s: error %v, want %v", rt.Topic, got, want)
				}
				if want != nil && rt.ErrorMessage == nil {
					t.Fatalf("topic %s: no error message", rt.Topic)
				}
				if exists := env.meta.Image().Topic(rt.Topic) != nil; exists != tc.created {
					t.Fatalf("topic %s exists = %v, want %v", rt.Topic, exists, tc.created)
				}
			}
		})
	}
	if top := env.meta.Image().Topic("assigned"); len(top.Partitions) != 2 {
		t.Fatalf("assigned: %+v", top)
	}
	if top := env.meta.Image().Topic("defaults"); len(top.Partitions) != 1 {
		t.Fatalf("num.partitions default: %+v", top)
	}
	// v0 has no error messages.
	resp = createTopics(ctx, env, ctReq(0, false, ctTopic("orders", 1, 1)))
	if resp.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code || resp.Topics[0].ErrorMessage != nil {
		t.Fatalf("v0: %+v", resp.Topics[0])
	}
}

// samsa.max.partitions.per.request counts every topic of a request: two
// topics that fit alone are refused together, and nothing is created.
//
// Other APIs it uses: CreatePartitions (the same limit).
func TestCreateRequestPartitionLimit(t *testing.T) {
	env := newAdminEnv(t, map[string]string{"samsa.max.partitions.per.request": "10"})
	ctx := context.Background()
	resp := createTopics(ctx, env, ctReq(7, false, ctTopic("a", 6, -1), ctTopic("b", 5, -1)))
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.PolicyViolation.Code || rt.ErrorMessage == nil || !strings.Contains(*rt.ErrorMessage, "11 partitions in one request, more than samsa.max.partitions.per.request (10)") {
			t.Fatalf("topic %s: code %d message %v", rt.Topic, rt.ErrorCode, rt.ErrorMessage)
		}
	}
	if len(env.meta.Image().Topics) != 0 {
		t.Fatalf("a refused request created topics: %v", env.meta.Image().TopicNames())
	}
	resp = createTopics(ctx, env, ctReq(7, false, ctTopic("a", 6, -1), ctTopic("b", 4, -1)))
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("topic %s at the limit: code %d", rt.Topic, rt.ErrorCode)
		}
	}
	cp := kmsg.NewPtrCreatePartitionsRequest()
	for _, name := range []string{"a", "b"} {
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic, t.Count = name, 12
		cp.Topics = append(cp.Topics, t)
	}
	for _, rt := range createPartitions(ctx, env, cp).Topics {
		if rt.ErrorCode != kerr.PolicyViolation.Code {
			t.Fatalf("grow %s by 14 in all: code %d", rt.Topic, rt.ErrorCode)
		}
	}
}

// TestAdminWithKadm drives the admin APIs of an in-process broker with
// franz-go's admin client, as a user's tooling would.
//
// It mainly proves CreateTopics. Other APIs it uses: Produce,
// DescribeProducers, DescribeConfigs, IncrementalAlterConfigs,
// CreatePartitions, Metadata, DeleteRecords, ListOffsets,
// OffsetForLeaderEpoch, DescribeLogDirs, DescribeCluster, DeleteTopics.
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
