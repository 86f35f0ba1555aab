package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestJoinGroup: a new member first gets MEMBER_ID_REQUIRED with its id
// (v4+), then joins with it as the leader of generation 1, seeing its own
// protocol metadata; a session timeout outside the group settings gets
// INVALID_SESSION_TIMEOUT, and an unknown member id UNKNOWN_MEMBER_ID.
// Without a group coordinator the answer is COORDINATOR_NOT_AVAILABLE.
// Other APIs it uses: CreateTopics.
func TestJoinGroup(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)

	first := serveReq(t, env, joinGroupReq("g", "", "t")).(*kmsg.JoinGroupResponse)
	if first.ErrorCode != kerr.MemberIDRequired.Code || first.MemberID == "" || first.Generation != -1 {
		t.Fatalf("first join: %v, member %q, generation %d", kerr.ErrorForCode(first.ErrorCode), first.MemberID, first.Generation)
	}
	join := serveReq(t, env, joinGroupReq("g", first.MemberID, "t")).(*kmsg.JoinGroupResponse)
	if join.ErrorCode != 0 || join.Generation != 1 || join.MemberID != first.MemberID || join.LeaderID != join.MemberID ||
		strOr(join.ProtocolType) != "consumer" || strOr(join.Protocol) != "range" {
		t.Fatalf("join: %+v", join)
	}
	if len(join.Members) != 1 || join.Members[0].MemberID != join.MemberID {
		t.Fatalf("the leader's members: %+v", join.Members)
	}
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(join.Members[0].ProtocolMetadata); err != nil || len(meta.Topics) != 1 || meta.Topics[0] != "t" {
		t.Fatalf("the member's metadata: %+v %v", meta, err)
	}

	short := joinGroupReq("g2", "", "t")
	short.SessionTimeoutMillis = 10 // below group.min.session.timeout.ms
	if r := serveReq(t, env, short).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Fatalf("short session timeout: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := serveReq(t, env, joinGroupReq("g", "no-such-member", "t")).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	env.replicas.CloseGroups()
	r := serveReq(t, env, joinGroupReq("g", join.MemberID, "t")).(*kmsg.JoinGroupResponse)
	if r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.Generation != -1 || r.MemberID != join.MemberID {
		t.Fatalf("without a coordinator: %v, generation %d, member %q", kerr.ErrorForCode(r.ErrorCode), r.Generation, r.MemberID)
	}
}
