package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDeleteRecords(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "t", 2, nil)
	createRemoteTopic(t, env, "remote") // in the metadata, hosted by another broker
	parts := withPartitions(t, env, "t")
	p0 := parts[topicPartition{Topic: "t", Partition: 0}]
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
