package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLeaveGroup: a v3+ LeaveGroup answers each member it names: the
// group's member leaves (the group is Empty after), an unknown one gets
// UNKNOWN_MEMBER_ID; v0 names one member, with the code at the top.
// Without a group coordinator the answer is COORDINATOR_NOT_AVAILABLE.
// Other APIs it uses: CreateTopics, JoinGroup, SyncGroup, DescribeGroups.
func TestLeaveGroup(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 1, nil)
	member, _ := stableMember(t, env, "g", "t")

	req := kmsg.NewPtrLeaveGroupRequest()
	req.SetVersion(5)
	req.Group = "g"
	for _, id := range []string{member, "no-such-member"} {
		m := kmsg.NewLeaveGroupRequestMember()
		m.MemberID = id
		req.Members = append(req.Members, m)
	}
	resp := serveReq(t, env, req).(*kmsg.LeaveGroupResponse)
	if resp.ErrorCode != 0 || len(resp.Members) != 2 || resp.Members[0].MemberID != member || resp.Members[0].ErrorCode != 0 ||
		resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", resp)
	}
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.SetVersion(5)
	describe.Groups = []string{"g"}
	if d := serveReq(t, env, describe).(*kmsg.DescribeGroupsResponse).Groups[0]; d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after the leave: %s with %d members", d.State, len(d.Members))
	}

	v0 := kmsg.NewPtrLeaveGroupRequest()
	v0.SetVersion(0)
	v0.Group, v0.MemberID = "g", member // gone already
	if r := serveReq(t, env, v0).(*kmsg.LeaveGroupResponse); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("v0 leave of a member that left: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	env.replicas.CloseGroups()
	if r := serveReq(t, env, req).(*kmsg.LeaveGroupResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
