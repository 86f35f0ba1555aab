package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConsumerGroupDescribe: a consumer-protocol group (KIP-848) with its
// state, epochs, assignor and member (client id and host of its
// connection, subscription, current and target assignment, topics named);
// a classic group and an unknown one get GROUP_ID_NOT_FOUND. Without a
// group coordinator each group gets COORDINATOR_NOT_AVAILABLE. Other APIs
// it uses: CreateTopics, ConsumerGroupHeartbeat, JoinGroup, SyncGroup.
func TestConsumerGroupDescribe(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	if r := serveReq(t, env, consumerHeartbeatReq("cg", "m1", 0, "t")).(*kmsg.ConsumerGroupHeartbeatResponse); r.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	stableMember(t, env, "classic", "t")

	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.SetVersion(1)
	req.Groups = []string{"cg", "classic", "nope"}
	resp := serveReq(t, env, req).(*kmsg.ConsumerGroupDescribeResponse)
	if len(resp.Groups) != 3 {
		t.Fatalf("%d groups", len(resp.Groups))
	}
	g := resp.Groups[0]
	if g.ErrorCode != 0 || g.Group != "cg" || g.State != "Stable" || g.Epoch != 1 || g.AssignmentEpoch != 1 || g.AssignorName != "uniform" || len(g.Members) != 1 {
		t.Fatalf("group: %+v", g)
	}
	m := g.Members[0]
	if m.MemberID != "m1" || m.MemberEpoch != 1 || m.ClientID != "test-client" || m.ClientHost != "/127.0.0.1" ||
		len(m.SubscribedTopics) != 1 || m.SubscribedTopics[0] != "t" {
		t.Fatalf("member %+v", m)
	}
	for what, a := range map[string]kmsg.Assignment{"current": m.Assignment, "target": m.TargetAssignment} {
		if len(a.TopicPartitions) != 1 || a.TopicPartitions[0].Topic != "t" || len(a.TopicPartitions[0].Partitions) != 2 {
			t.Fatalf("%s assignment %+v", what, a)
		}
	}
	for _, u := range resp.Groups[1:] {
		if u.ErrorCode != kerr.GroupIDNotFound.Code {
			t.Fatalf("%s: %v", u.Group, kerr.ErrorForCode(u.ErrorCode))
		}
	}

	env.replicas.CloseGroups()
	for _, g := range serveReq(t, env, req).(*kmsg.ConsumerGroupDescribeResponse).Groups {
		if g.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("without a coordinator: %s %v", g.Group, kerr.ErrorForCode(g.ErrorCode))
		}
	}
}
