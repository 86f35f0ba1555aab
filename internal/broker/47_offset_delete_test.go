package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetDelete: an empty group's committed offset is deleted; a live
// group keeps the offsets of the topics it subscribes to
// (GROUP_SUBSCRIBED_TO_TOPIC) and loses the others; an unknown partition
// gets UNKNOWN_TOPIC_OR_PARTITION and an unknown group
// GROUP_ID_NOT_FOUND. Without a group coordinator the answer is
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: OffsetCommit,
// OffsetFetch, JoinGroup, SyncGroup.
func TestOffsetDelete(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 1, nil)
	createTopic(t, env, "u", 1, nil)
	for _, c := range []struct {
		group, topic string
	}{{"empty", "t"}, {"live", "t"}, {"live", "u"}} {
		if code := commitOffset(t, env, c.group, c.topic, 0, 3); code != 0 {
			t.Fatalf("commit %s %s: %v", c.group, c.topic, kerr.ErrorForCode(code))
		}
	}
	stableMember(t, env, "live", "t") // subscribes to t only
	del := func(group string, topics ...string) *kmsg.OffsetDeleteResponse {
		t.Helper()
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.SetVersion(0)
		req.Group = group
		for _, topic := range topics {
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = topic
			for _, p := range []int32{0, 5} {
				rp := kmsg.NewOffsetDeleteRequestTopicPartition()
				rp.Partition = p
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		return serveReq(t, env, req).(*kmsg.OffsetDeleteResponse)
	}

	resp := del("empty", "t")
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 || resp.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("empty group: %+v", resp)
	}
	if off := committedOffset(t, env, "empty", "t", 0); off != -1 {
		t.Fatalf("deleted offset still there: %d", off)
	}

	resp = del("live", "t", "u")
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code || resp.Topics[1].Partitions[0].ErrorCode != 0 {
		t.Fatalf("live group: %+v", resp)
	}
	if t0, u0 := committedOffset(t, env, "live", "t", 0), committedOffset(t, env, "live", "u", 0); t0 != 3 || u0 != -1 {
		t.Fatalf("live group's offsets after the delete: t %d, u %d", t0, u0)
	}

	if r := del("nope", "t"); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("unknown group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	env.replicas.CloseGroups()
	if r := del("empty", "t"); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
