package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestHeartbeat: a Stable member's heartbeat is answered without error; a
// stale generation gets ILLEGAL_GENERATION, an unknown member
// UNKNOWN_MEMBER_ID, and once another member joins the member is told
// REBALANCE_IN_PROGRESS. Without a group coordinator the answer is
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics, JoinGroup,
// SyncGroup.
func TestHeartbeat(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	member, gen := stableMember(t, env, "g", "t")
	heartbeat := func(memberID string, generation int32) int16 {
		t.Helper()
		req := kmsg.NewPtrHeartbeatRequest()
		req.SetVersion(4)
		req.Group, req.MemberID, req.Generation = "g", memberID, generation
		return serveReq(t, env, req).(*kmsg.HeartbeatResponse).ErrorCode
	}
	if code := heartbeat(member, gen); code != 0 {
		t.Fatalf("heartbeat: %v", kerr.ErrorForCode(code))
	}
	if code := heartbeat(member, gen-1); code != kerr.IllegalGeneration.Code {
		t.Fatalf("stale generation: %v", kerr.ErrorForCode(code))
	}
	if code := heartbeat("no-such-member", gen); code != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member: %v", kerr.ErrorForCode(code))
	}

	// A second member's join starts a rebalance (its JoinGroup waits for
	// the first member to rejoin; the first member learns it from its
	// heartbeat).
	first := serveReq(t, env, joinGroupReq("g", "", "t")).(*kmsg.JoinGroupResponse)
	if first.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("second member's first join: %v", kerr.ErrorForCode(first.ErrorCode))
	}
	done := make(chan kmsg.Response, 1)
	go func() {
		// The coordinator answers this join when the rebalance completes
		// (here: when the first member rejoins below).
		rc := &RequestContext{ClientID: "second", ClientAddr: "127.0.0.1:40001", Logger: quiet()}
		resp, _ := handleJoinGroup(t.Context(), env, rc, joinGroupReq("g", first.MemberID, "t"))
		done <- resp
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code := heartbeat(member, gen)
		if code == kerr.RebalanceInProgress.Code {
			break
		}
		if code != 0 || time.Now().After(deadline) {
			t.Fatalf("heartbeat while the second member joins: %v", kerr.ErrorForCode(code))
		}
	}
	rejoin := serveReq(t, env, joinGroupReq("g", member, "t")).(*kmsg.JoinGroupResponse)
	second, _ := (<-done).(*kmsg.JoinGroupResponse)
	if rejoin.ErrorCode != 0 || rejoin.Generation != gen+1 || second == nil || second.ErrorCode != 0 || second.Generation != gen+1 {
		t.Fatalf("rejoin: %+v; second member: %+v", rejoin, second)
	}

	env.replicas.CloseGroups()
	if code := heartbeat(member, gen); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(code))
	}
}
