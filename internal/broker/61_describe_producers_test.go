package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeProducersAndLogDirs: DescribeProducers lists an idempotent
// producer with its last sequence and timestamp, and an unknown
// partition's error. It also covers DescribeLogDirs
// (35_describe_log_dirs.go). Other APIs it uses: CreateTopics.
func TestDescribeProducersAndLogDirs(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 2, nil)
	parts := withPartitions(t, env, "t")
	p1 := parts[topicPartition{Topic: "t", Partition: 1}]
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
