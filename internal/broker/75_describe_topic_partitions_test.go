package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeTopicPartitionsPaging(t *testing.T) {
	env := newAdminEnv(t, nil)
	createTopic(t, env, "a", 3, nil)
	createTopic(t, env, "b", 2, nil)
	createTopic(t, env, "c", 1, nil)

	type seen struct {
		topic string
		p     int32
	}
	var all []seen
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = 2
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("no end to the pages")
		}
		resp := describeTopicPartitions(env, req)
		for _, rt := range resp.Topics {
			if rt.ErrorCode != 0 || rt.TopicID == ([16]byte{}) || rt.AuthorizedOperations != topicAuthorizedOps {
				t.Fatalf("topic %+v", rt)
			}
			for _, p := range rt.Partitions {
				if p.LeaderID != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
					t.Fatalf("partition %+v", p)
				}
				all = append(all, seen{*rt.Topic, p.Partition})
			}
		}
		if resp.NextCursor == nil {
			break
		}
		req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	want := []seen{{"a", 0}, {"a", 1}, {"a", 2}, {"b", 0}, {"b", 1}, {"c", 0}}
	if len(all) != len(want) {
		t.Fatalf("pages gave %v, want %v", all, want)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Fatalf("pages gave %v, want %v", all, want)
		}
	}

	req = kmsg.NewPtrDescribeTopicPartitionsRequest()
	for _, n := range []string{"c", "nope", "a"} {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = n
		req.Topics = append(req.Topics, rt)
	}
	resp := describeTopicPartitions(env, req)
	if len(resp.Topics) != 3 || *resp.Topics[0].Topic != "a" || *resp.Topics[1].Topic != "c" ||
		resp.Topics[2].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.NextCursor != nil {
		t.Fatalf("named topics: %+v", resp.Topics)
	}
	req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: "b"}
	if resp := describeTopicPartitions(env, req); resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("cursor outside the requested topics: %+v", resp.Topics)
	}
}
