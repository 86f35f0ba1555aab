package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestListGroups: every group with its protocol type, state and type (v5),
// filtered by state and by type. Without a group coordinator the answer is
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics, JoinGroup,
// SyncGroup, OffsetCommit.
func TestListGroups(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 1, nil)
	stableMember(t, env, "live", "t")
	if code := commitOffset(t, env, "offsets-only", "t", 0, 5); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	list := func(states, types []string) map[string]kmsg.ListGroupsResponseGroup {
		t.Helper()
		req := kmsg.NewPtrListGroupsRequest()
		req.SetVersion(5)
		req.StatesFilter, req.TypesFilter = states, types
		resp := serveReq(t, env, req).(*kmsg.ListGroupsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("list: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		out := map[string]kmsg.ListGroupsResponseGroup{}
		for _, g := range resp.Groups {
			out[g.Group] = g
		}
		return out
	}
	all := list(nil, nil)
	if g := all["live"]; len(all) != 2 || g.ProtocolType != "consumer" || g.GroupState != "Stable" || g.GroupType != "classic" {
		t.Fatalf("all groups: %+v", all)
	}
	if g := all["offsets-only"]; g.GroupState != "Empty" {
		t.Fatalf("a group with offsets only: %+v", g)
	}
	if got := list([]string{"Empty"}, nil); len(got) != 1 || got["offsets-only"].Group == "" {
		t.Fatalf("Empty groups: %+v", got)
	}
	if got := list(nil, []string{"consumer"}); len(got) != 0 {
		t.Fatalf("consumer-protocol groups: %+v", got)
	}

	env.replicas.CloseGroups()
	req := kmsg.NewPtrListGroupsRequest()
	req.SetVersion(5)
	if r := serveReq(t, env, req).(*kmsg.ListGroupsResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
