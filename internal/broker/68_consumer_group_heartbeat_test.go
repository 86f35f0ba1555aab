package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConsumerGroupHeartbeat: a member joins a consumer-protocol group
// (KIP-848) at epoch 0 and gets epoch 1 with every partition of its
// subscription, heartbeats at that epoch and leaves at epoch -1; a wrong
// epoch gets FENCED_MEMBER_EPOCH, an unknown server assignor
// UNSUPPORTED_ASSIGNOR, a v1 request without a member id INVALID_REQUEST.
// Without a group coordinator the answer is COORDINATOR_NOT_AVAILABLE.
// Other APIs it uses: CreateTopics.
func TestConsumerGroupHeartbeat(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	topicID := env.meta.Image().Topic("t").ID
	heartbeat := func(req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
		t.Helper()
		return serveReq(t, env, req).(*kmsg.ConsumerGroupHeartbeatResponse)
	}

	join := heartbeat(consumerHeartbeatReq("cg", "m1", 0, "t"))
	if join.ErrorCode != 0 || strOr(join.MemberID) != "m1" || join.MemberEpoch != 1 || join.HeartbeatIntervalMillis <= 0 || join.Assignment == nil {
		t.Fatalf("join: %+v", join)
	}
	if a := join.Assignment.Topics; len(a) != 1 || a[0].TopicID != topicID || len(a[0].Partitions) != 2 {
		t.Fatalf("assignment %+v", a)
	}
	if r := heartbeat(consumerHeartbeatReq("cg", "m1", 1)); r.ErrorCode != 0 || r.MemberEpoch != 1 {
		t.Fatalf("heartbeat: %+v", r)
	}
	if r := heartbeat(consumerHeartbeatReq("cg", "m1", 5)); r.ErrorCode != kerr.FencedMemberEpoch.Code || r.ErrorMessage == nil {
		t.Fatalf("wrong epoch: %+v", r)
	}
	badAssignor := consumerHeartbeatReq("cg", "m2", 0, "t")
	badAssignor.ServerAssignor = strPtr("sticky-but-not-here")
	if r := heartbeat(badAssignor); r.ErrorCode != kerr.UnsupportedAssignor.Code {
		t.Fatalf("unknown assignor: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := heartbeat(consumerHeartbeatReq("cg", "", 0, "t")); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("v1 without a member id: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := heartbeat(consumerHeartbeatReq("cg", "m1", -1)); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	if r := heartbeat(consumerHeartbeatReq("cg", "m1", 1)); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after leaving: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	env.replicas.CloseGroups()
	if r := heartbeat(consumerHeartbeatReq("cg", "m1", 0, "t")); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
