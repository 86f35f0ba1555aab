package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// withPartitions waits until the node hosts every partition of the named
// topics (created in the metadata first) and returns them.
func withPartitions(t *testing.T, env *Broker, topics ...string) map[log.TopicPartition]*partition.Partition {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.replicas.AwaitImage(ctx, env.meta.Image().Epoch); err != nil {
		t.Fatal(err)
	}
	parts := map[log.TopicPartition]*partition.Partition{}
	im := env.meta.Image()
	for _, name := range topics {
		for _, mp := range im.Topic(name).Partitions {
			p, ok := env.replicas.Partition(name, mp.ID)
			if !ok {
				t.Fatalf("%s-%d is not hosted", name, mp.ID)
			}
			parts[log.TopicPartition{Topic: name, Partition: mp.ID}] = p
		}
	}
	return parts
}

func produce(t *testing.T, p *partition.Partition, pid int64, seq int32, n int) {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence, spec.BaseTimestamp = pid, 0, seq, 1000
	if pid < 0 {
		spec.ProducerEpoch, spec.BaseSequence = -1, -1
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i].Value = []byte("v")
	}
	b, err := record.EncodeBatch(spec, recs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendAsLeader(b, partition.AppendOptions{RequiredAcks: -1}); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteRecords(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 2, nil)
	createRemoteTopic(t, env, "remote") // in the metadata, hosted by another broker
	parts := withPartitions(t, env, "t")
	p0 := parts[log.TopicPartition{Topic: "t", Partition: 0}]
	produce(t, p0, -1, 0, 10)

	req := kmsg.NewPtrDeleteRecordsRequest()
	req.Version = 2
	var add func(topic string, idx int32, offset int64)
	add = func(topic string, idx int32, offset int64) {
		for i := range req.Topics {
			if req.Topics[i].Topic == topic {
				rp := kmsg.NewDeleteRecordsRequestTopicPartition()
				rp.Partition, rp.Offset = idx, offset
				req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
				return
			}
		}
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = topic
		req.Topics = append(req.Topics, rt)
		add(topic, idx, offset)
	}
	add("t", 0, 4)
	add("t", 1, 5)
	add("t", 7, 0)
	add("nope", 0, 0)
	add("remote", 0, 0)
	resp := deleteRecords(env, req)
	got := resp.Topics[0].Partitions
	if got[0].ErrorCode != 0 || got[0].LowWatermark != 4 || p0.LogStartOffset() != 4 {
		t.Fatalf("delete before 4: %+v (log start %d)", got[0], p0.LogStartOffset())
	}
	if got[1].ErrorCode != kerr.OffsetOutOfRange.Code || got[1].LowWatermark != -1 {
		t.Fatalf("beyond the high watermark: %+v", got[1])
	}
	if got[2].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown: %+v %+v", got[2], resp.Topics[1])
	}
	if resp.Topics[2].Partitions[0].ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("not hosted: %+v", resp.Topics[2])
	}

	req = kmsg.NewPtrDeleteRecordsRequest()
	add("t", 0, -1)
	if resp := deleteRecords(env, req); resp.Topics[0].Partitions[0].LowWatermark != 10 {
		t.Fatalf("delete up to the high watermark: %+v", resp.Topics[0].Partitions[0])
	}
}

func TestOffsetForLeaderEpoch(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 1, nil)
	parts := withPartitions(t, env, "t")
	p := parts[log.TopicPartition{Topic: "t", Partition: 0}]
	produce(t, p, -1, 0, 5)
	p.SetLeaderEpoch(2)
	produce(t, p, -1, 0, 3)

	ask := func(version int16, current, epoch int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version, req.ReplicaID = version, -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, current, epoch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return offsetForLeaderEpoch(env, req).Topics[0].Partitions[0]
	}
	if r := ask(4, 2, 0); r.ErrorCode != 0 || r.LeaderEpoch != 0 || r.EndOffset != 5 {
		t.Fatalf("epoch 0: %+v", r)
	}
	if r := ask(4, 2, 1); r.ErrorCode != 0 || r.LeaderEpoch != 0 || r.EndOffset != 5 {
		t.Fatalf("epoch 1 (never used): %+v", r)
	}
	if r := ask(4, 2, 2); r.ErrorCode != 0 || r.LeaderEpoch != 2 || r.EndOffset != 8 {
		t.Fatalf("current epoch: %+v", r)
	}
	if r := ask(4, 1, 0); r.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("stale current epoch: %+v", r)
	}
	if r := ask(4, 3, 0); r.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("future current epoch: %+v", r)
	}
	if r := ask(1, 0, 2); r.ErrorCode != 0 || r.EndOffset != 8 {
		t.Fatalf("v1 ignores the current epoch: %+v", r)
	}
}

func TestDescribeProducersAndLogDirs(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 2, nil)
	parts := withPartitions(t, env, "t")
	p1 := parts[log.TopicPartition{Topic: "t", Partition: 1}]
	produce(t, p1, 42, 0, 3)
	produce(t, p1, 42, 3, 2)

	req := kmsg.NewPtrDescribeProducersRequest()
	rt := kmsg.NewDescribeProducersRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{0, 1, 9}
	req.Topics = append(req.Topics, rt)
	resp := describeProducers(env, req)
	ps := resp.Topics[0].Partitions
	if len(ps[0].ActiveProducers) != 0 || ps[0].ErrorCode != 0 {
		t.Fatalf("partition 0: %+v", ps[0])
	}
	if len(ps[1].ActiveProducers) != 1 {
		t.Fatalf("partition 1: %+v", ps[1])
	}
	ap := ps[1].ActiveProducers[0]
	if ap.ProducerID != 42 || ap.ProducerEpoch != 0 || ap.LastSequence != 4 || ap.LastTimestamp != 1000 || ap.CoordinatorEpoch != -1 || ap.CurrentTxnStartOffset != -1 {
		t.Fatalf("producer %+v", ap)
	}
	if ps[2].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition 9: %+v", ps[2])
	}

	dreq := kmsg.NewPtrDescribeLogDirsRequest()
	dreq.Version = 4
	dresp := describeLogDirs(env, dreq)
	if len(dresp.Dirs) != 1 || len(dresp.Dirs[0].Topics) != 1 || len(dresp.Dirs[0].Topics[0].Partitions) != 2 {
		t.Fatalf("all: %+v", dresp.Dirs)
	}
	d := dresp.Dirs[0]
	if d.Topics[0].Partitions[1].Size <= 0 || d.TotalBytes <= 0 || d.UsableBytes < 0 {
		t.Fatalf("sizes: %+v", d)
	}
	dt := kmsg.NewDescribeLogDirsRequestTopic()
	dt.Topic, dt.Partitions = "t", []int32{1}
	dreq.Topics = append(dreq.Topics, dt)
	if dresp := describeLogDirs(env, dreq); len(dresp.Dirs[0].Topics[0].Partitions) != 1 || dresp.Dirs[0].Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("filtered: %+v", dresp.Dirs)
	}
}

// createRemoteTopic creates a one-partition topic whose only replica is on
// broker 2, registered for the purpose: known here, not hosted here.
func createRemoteTopic(t *testing.T, env *Broker, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.replicas.Metadata().RegisterBroker(ctx, metadata.Broker{ID: 2, Host: "127.0.0.2", Port: 9092}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.meta.CreateTopic(ctx, metadata.CreateTopicRequest{Name: name, NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {2}}}); err != nil {
		t.Fatal(err)
	}
}
