package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeGroups: a Stable classic group with its protocol and its
// member, with the client id and host of the member's connection, its
// metadata and assignment; an unknown group is Dead with
// GROUP_ID_NOT_FOUND (v6). Without a group coordinator each group gets
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics, JoinGroup,
// SyncGroup.
func TestDescribeGroups(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 1, nil)
	member, _ := stableMember(t, env, "g", "t")

	req := kmsg.NewPtrDescribeGroupsRequest()
	req.SetVersion(6)
	req.Groups = []string{"g", "nope"}
	resp := serveReq(t, env, req).(*kmsg.DescribeGroupsResponse)
	if len(resp.Groups) != 2 {
		t.Fatalf("%d groups", len(resp.Groups))
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 || g.Group != "g" || g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" || len(g.Members) != 1 {
		t.Fatalf("group: %+v", g)
	}
	m := g.Members[0]
	if m.MemberID != member || m.ClientID != "test-client" || m.ClientHost != "/127.0.0.1" {
		t.Fatalf("member %s, client %q at %q", m.MemberID, m.ClientID, m.ClientHost)
	}
	var assignment kmsg.ConsumerMemberAssignment
	if err := assignment.ReadFrom(m.MemberAssignment); err != nil || len(assignment.Topics) != 1 || assignment.Topics[0].Topic != "t" {
		t.Fatalf("assignment %+v %v", assignment, err)
	}
	var meta kmsg.ConsumerMemberMetadata
	if err := meta.ReadFrom(m.ProtocolMetadata); err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata %+v %v", meta, err)
	}
	if u := resp.Groups[1]; u.Group != "nope" || u.State != "Dead" || u.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("unknown group: %+v", u)
	}

	env.replicas.CloseGroups()
	for _, g := range serveReq(t, env, req).(*kmsg.DescribeGroupsResponse).Groups {
		if g.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("without a coordinator: %s %v", g.Group, kerr.ErrorForCode(g.ErrorCode))
		}
	}
}
