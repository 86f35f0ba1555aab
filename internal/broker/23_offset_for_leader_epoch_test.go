package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestOffsetForLeaderEpoch(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 1, nil)
	parts := withPartitions(t, env, "t")
	p := parts[topicPartition{Topic: "t", Partition: 0}]
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
