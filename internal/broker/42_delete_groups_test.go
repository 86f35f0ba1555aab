package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeleteGroups: an empty group is deleted with its committed offsets;
// a group with members gets NON_EMPTY_GROUP, an unknown one
// GROUP_ID_NOT_FOUND. Without a group coordinator each group gets
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: OffsetCommit,
// OffsetFetch, JoinGroup, SyncGroup, ListGroups.
func TestDeleteGroups(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 1, nil)
	stableMember(t, env, "live", "t")
	if code := commitOffset(t, env, "empty", "t", 0, 7); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	req := kmsg.NewPtrDeleteGroupsRequest()
	req.SetVersion(2)
	req.Groups = []string{"empty", "live", "nope"}
	resp := serveReq(t, env, req).(*kmsg.DeleteGroupsResponse)
	want := map[string]int16{"empty": 0, "live": kerr.NonEmptyGroup.Code, "nope": kerr.GroupIDNotFound.Code}
	if len(resp.Groups) != len(want) {
		t.Fatalf("%+v", resp.Groups)
	}
	for _, g := range resp.Groups {
		if g.ErrorCode != want[g.Group] {
			t.Errorf("%s: %v, want %v", g.Group, kerr.ErrorForCode(g.ErrorCode), kerr.ErrorForCode(want[g.Group]))
		}
	}
	if off := committedOffset(t, env, "empty", "t", 0); off != -1 {
		t.Fatalf("the deleted group's offset: %d", off)
	}
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.SetVersion(5)
	if groups := serveReq(t, env, lreq).(*kmsg.ListGroupsResponse).Groups; len(groups) != 1 || groups[0].Group != "live" {
		t.Fatalf("groups after the delete: %+v", groups)
	}

	env.replicas.CloseGroups()
	for _, g := range serveReq(t, env, req).(*kmsg.DeleteGroupsResponse).Groups {
		if g.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("without a coordinator: %s %v", g.Group, kerr.ErrorForCode(g.ErrorCode))
		}
	}
}
