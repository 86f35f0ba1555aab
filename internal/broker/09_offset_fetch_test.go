package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetFetch: committed offsets by partition (-1 where none is), all
// of a group's with null topics, and a batch of groups (v8+) where an
// unknown group has no offsets; a v9 request naming a member of a group
// that does not exist gets UNKNOWN_MEMBER_ID. Without a group coordinator
// the answer is COORDINATOR_NOT_AVAILABLE, for the request (v7) or each
// group (v8+). Other APIs it uses: CreateTopics, OffsetCommit.
func TestOffsetFetch(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	createTopic(t, env, "u", 1, nil)
	for _, c := range []struct {
		topic  string
		offset int64
	}{{"t", 5}, {"u", 9}} {
		if code := commitOffset(t, env, "g", c.topic, 0, c.offset); code != 0 {
			t.Fatalf("commit %s: %v", c.topic, kerr.ErrorForCode(code))
		}
	}

	v7 := kmsg.NewPtrOffsetFetchRequest()
	v7.SetVersion(7)
	v7.Group = "g"
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{0, 1}
	v7.Topics = append(v7.Topics, rt)
	resp := serveReq(t, env, v7).(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("v7: %+v", resp)
	}
	if p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]; p0.Offset != 5 || p0.ErrorCode != 0 || p1.Offset != -1 || p1.ErrorCode != 0 {
		t.Fatalf("v7 partitions: %+v", resp.Topics[0].Partitions)
	}
	all := kmsg.NewPtrOffsetFetchRequest()
	all.SetVersion(7)
	all.Group = "g" // null topics: every committed offset
	resp = serveReq(t, env, all).(*kmsg.OffsetFetchResponse)
	if len(resp.Topics) != 2 || resp.Topics[0].Topic != "t" || resp.Topics[1].Topic != "u" || resp.Topics[1].Partitions[0].Offset != 9 {
		t.Fatalf("every offset: %+v", resp.Topics)
	}

	v8 := kmsg.NewPtrOffsetFetchRequest()
	v8.SetVersion(8)
	for _, g := range []string{"g", "unknown"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.Partitions = "u", []int32{0}
		rg.Topics = append(rg.Topics, gt)
		v8.Groups = append(v8.Groups, rg)
	}
	groups := serveReq(t, env, v8).(*kmsg.OffsetFetchResponse).Groups
	if len(groups) != 2 || groups[0].ErrorCode != 0 || groups[0].Topics[0].Partitions[0].Offset != 9 ||
		groups[1].ErrorCode != 0 || groups[1].Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("v8: %+v", groups)
	}

	v9 := kmsg.NewPtrOffsetFetchRequest()
	v9.SetVersion(9)
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group, rg.MemberID, rg.MemberEpoch = "no-such-group", strPtr("member"), 3
	v9.Groups = append(v9.Groups, rg)
	if g := serveReq(t, env, v9).(*kmsg.OffsetFetchResponse).Groups[0]; g.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("a member of no group: %v", kerr.ErrorForCode(g.ErrorCode))
	}

	env.replicas.CloseGroups()
	if r := serveReq(t, env, v7).(*kmsg.OffsetFetchResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("v7 without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	v1 := kmsg.NewPtrOffsetFetchRequest()
	v1.SetVersion(1)
	v1.Group = "g"
	v1t := kmsg.NewOffsetFetchRequestTopic()
	v1t.Topic, v1t.Partitions = "t", []int32{0, 1}
	v1.Topics = append(v1.Topics, v1t)
	r1 := serveReq(t, env, v1).(*kmsg.OffsetFetchResponse)
	if len(r1.Topics) != 1 || len(r1.Topics[0].Partitions) != 2 {
		t.Fatalf("v1 without a coordinator echoes nothing: %+v", r1.Topics)
	}
	for _, p := range r1.Topics[0].Partitions {
		if p.ErrorCode != kerr.CoordinatorNotAvailable.Code || p.Offset != -1 {
			t.Fatalf("v1 without a coordinator: partition %+v", p)
		}
	}
	for _, g := range serveReq(t, env, v8).(*kmsg.OffsetFetchResponse).Groups {
		if g.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("v8 without a coordinator: %s %v", g.Group, kerr.ErrorForCode(g.ErrorCode))
		}
	}
}
