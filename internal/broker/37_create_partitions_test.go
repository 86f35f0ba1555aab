package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestCreatePartitions(t *testing.T) {
	env := newAdminEnv(t, nil)
	ctx := context.Background()
	createTopic(t, env, "grow", 2, nil)
	grow := func(validateOnly bool, topics ...kmsg.CreatePartitionsRequestTopic) *kmsg.CreatePartitionsResponse {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.Version, req.TimeoutMillis, req.ValidateOnly, req.Topics = 3, 5000, validateOnly, topics
		return createPartitions(ctx, env, req)
	}
	topic := func(name string, count int32) kmsg.CreatePartitionsRequestTopic {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = name, count
		return rt
	}
	resp := grow(false, topic("grow", 4), topic("nope", 2), topic("twice", 2), topic("twice", 3))
	want := []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.InvalidRequest.Code}
	if len(resp.Topics) != len(want) {
		t.Fatalf("%+v", resp.Topics)
	}
	for i, w := range want {
		if resp.Topics[i].ErrorCode != w {
			t.Fatalf("topic %d: %+v, want code %d", i, resp.Topics[i], w)
		}
	}
	if n := len(env.meta.Image().Topic("grow").Partitions); n != 4 {
		t.Fatalf("partitions %d, want 4", n)
	}
	if resp := grow(false, topic("grow", 3)); resp.Topics[0].ErrorCode != kerr.InvalidPartitions.Code || resp.Topics[0].ErrorMessage == nil {
		t.Fatalf("shrink: %+v", resp.Topics[0])
	}
	if resp := grow(true, topic("grow", 6)); resp.Topics[0].ErrorCode != 0 || len(env.meta.Image().Topic("grow").Partitions) != 4 {
		t.Fatalf("validate only: %+v", resp.Topics[0])
	}
}
