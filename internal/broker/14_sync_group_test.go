package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSyncGroup: the leader's SyncGroup carries the assignment and gets
// its own share back, and the group is Stable; a wrong generation gets
// ILLEGAL_GENERATION, another protocol name (v5)
// INCONSISTENT_GROUP_PROTOCOL. Without a group coordinator the answer is
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics, JoinGroup,
// DescribeGroups.
func TestSyncGroup(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	first := serveReq(t, env, joinGroupReq("g", "", "t")).(*kmsg.JoinGroupResponse)
	join := serveReq(t, env, joinGroupReq("g", first.MemberID, "t")).(*kmsg.JoinGroupResponse)
	if join.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(join.ErrorCode))
	}
	member, gen := join.MemberID, join.Generation

	wrongGen := syncGroupReq("g", member, gen+1, true, "t")
	if r := serveReq(t, env, wrongGen).(*kmsg.SyncGroupResponse); r.ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("wrong generation: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	otherProtocol := syncGroupReq("g", member, gen, true, "t")
	otherProtocol.Protocol = strPtr("roundrobin")
	if r := serveReq(t, env, otherProtocol).(*kmsg.SyncGroupResponse); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("another protocol: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	sync := serveReq(t, env, syncGroupReq("g", member, gen, true, "t")).(*kmsg.SyncGroupResponse)
	if sync.ErrorCode != 0 || strOr(sync.ProtocolType) != "consumer" || strOr(sync.Protocol) != "range" {
		t.Fatalf("sync: %+v", sync)
	}
	var assignment kmsg.ConsumerMemberAssignment
	if err := assignment.ReadFrom(sync.MemberAssignment); err != nil || len(assignment.Topics) != 1 ||
		assignment.Topics[0].Topic != "t" || len(assignment.Topics[0].Partitions) != 1 || assignment.Topics[0].Partitions[0] != 0 {
		t.Fatalf("assignment %+v %v", assignment, err)
	}
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.SetVersion(5)
	describe.Groups = []string{"g"}
	if d := serveReq(t, env, describe).(*kmsg.DescribeGroupsResponse).Groups[0]; d.State != "Stable" {
		t.Fatalf("after the sync the group is %s", d.State)
	}

	env.replicas.CloseGroups()
	if r := serveReq(t, env, syncGroupReq("g", member, gen, false)).(*kmsg.SyncGroupResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
