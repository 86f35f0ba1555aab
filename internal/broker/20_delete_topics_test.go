package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDeleteTopics(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	createTopic(t, env, "a", 1, nil)
	createTopic(t, env, "b", 1, nil)
	idB := env.meta.Image().Topic("b").ID

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = 5, 5000
	req.TopicNames = []string{"a", "nope"}
	resp := deleteTopics(ctx, env, req)
	if resp.Topics[0].ErrorCode != 0 || resp.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.Topics[1].ErrorMessage == nil {
		t.Fatalf("by name: %+v", resp.Topics)
	}
	if env.meta.Image().Topic("a") != nil {
		t.Fatal("a still exists")
	}

	req = kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = 6, 5000
	byID := kmsg.NewDeleteTopicsRequestTopic()
	byID.TopicID = idB
	unknownID := kmsg.NewDeleteTopicsRequestTopic()
	unknownID.TopicID = [16]byte{9, 9}
	both := kmsg.NewDeleteTopicsRequestTopic()
	both.Topic, both.TopicID = strPtr("x"), [16]byte{7}
	req.Topics = []kmsg.DeleteTopicsRequestTopic{byID, unknownID, both}
	resp = deleteTopics(ctx, env, req)
	if resp.Topics[0].ErrorCode != 0 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "b" {
		t.Fatalf("by id: %+v", resp.Topics[0])
	}
	if resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code || resp.Topics[2].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("errors: %+v", resp.Topics[1:])
	}
	if env.meta.Image().Topic("b") != nil {
		t.Fatal("b still exists")
	}
}
