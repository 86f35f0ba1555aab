package group

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// simMember is a KIP-848 client: it owns what the coordinator last
// assigned it and reports that on every heartbeat.
type simMember struct {
	id       string
	epoch    int32
	owned    tpSet
	topics   []string
	regex    *string
	instance *string
	assignor string
	stuck    bool // never applies assignments (never revokes)
}

func (h *harness) cgHeartbeat(group string, m *simMember) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group = group
	req.MemberID = m.id
	req.MemberEpoch = m.epoch
	req.InstanceID = m.instance
	req.RebalanceTimeoutMillis = 30000
	req.SubscribedTopicNames = m.topics
	req.SubscribedTopicRegex = m.regex
	if m.assignor != "" {
		req.ServerAssignor = &m.assignor
	}
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	for _, x := range m.owned.sorted() {
		req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: x.id, Partitions: []int32{x.p}})
	}
	resp := h.c.ConsumerGroupHeartbeat(req, "client", "/127.0.0.1")
	if resp.ErrorCode != 0 {
		return resp
	}
	m.epoch = resp.MemberEpoch
	if resp.Assignment != nil && !m.stuck {
		m.owned = tpSet{}
		for _, t := range resp.Assignment.Topics {
			for _, p := range t.Partitions {
				m.owned[tp{t.TopicID, p}] = struct{}{}
			}
		}
	}
	return resp
}

// checkDisjoint fails if two members own one partition.
func checkDisjoint(t *testing.T, ms []*simMember) {
	t.Helper()
	seen := map[tp]string{}
	for _, m := range ms {
		for x := range m.owned {
			if o, ok := seen[x]; ok {
				t.Fatalf("partition %d of %x owned by %s and %s", x.p, x.id[:2], o, m.id)
			}
			seen[x] = m.id
		}
	}
}

// converge heartbeats every member round-robin until the group is stable,
// checking ownership after every heartbeat. It returns the rounds taken.
func (h *harness) converge(group string, ms []*simMember) int {
	h.t.Helper()
	for round := 1; round <= 20; round++ {
		for _, m := range ms {
			if r := h.cgHeartbeat(group, m); r.ErrorCode != 0 {
				h.t.Fatalf("heartbeat %s: %s", m.id, errName(r.ErrorCode))
			}
			checkDisjoint(h.t, ms)
		}
		if h.state(group) == StateStable {
			return round
		}
	}
	h.t.Fatalf("group did not converge; state %v", h.state(group))
	return 0
}

func ownedCounts(ms []*simMember) []int {
	var out []int
	for _, m := range ms {
		out = append(out, len(m.owned))
	}
	return out
}

func TestConsumerGroupJoinRebalanceLeave(t *testing.T) {
	h := newHarness(t, nil)
	var ms []*simMember
	for i := 0; i < 3; i++ {
		ms = append(ms, &simMember{id: fmt.Sprintf("m%d", i), topics: []string{"t"}, owned: tpSet{}})
		h.converge("g", ms)
	}
	for _, n := range ownedCounts(ms) {
		if n != 4 {
			t.Fatalf("owned %v, want 4 each", ownedCounts(ms))
		}
	}
	total := 0
	for _, m := range ms {
		total += len(m.owned)
	}
	if total != 12 {
		t.Fatalf("%d partitions owned, want 12", total)
	}

	// Stickiness: a fourth member takes partitions only from others'
	// surplus; nobody loses a partition it keeps.
	before := map[string]tpSet{}
	for _, m := range ms {
		before[m.id] = m.owned.clone()
	}
	ms = append(ms, &simMember{id: "m3", topics: []string{"t"}, owned: tpSet{}})
	h.converge("g", ms)
	moved := 0
	for _, m := range ms[:3] {
		if !subset(m.owned, before[m.id]) {
			t.Fatalf("%s gained partitions when a member joined", m.id)
		}
		moved += len(before[m.id]) - len(m.owned)
	}
	if moved != 3 || len(ms[3].owned) != 3 {
		t.Fatalf("moved %d partitions, newcomer owns %d; want 3 and 3", moved, len(ms[3].owned))
	}

	// A leave frees the member's partitions for the others.
	leaver := ms[0]
	leaver.epoch = -1
	r := h.cgHeartbeat("g", leaver)
	if r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %s epoch %d", errName(r.ErrorCode), r.MemberEpoch)
	}
	ms = ms[1:]
	h.converge("g", ms)
	if c := ownedCounts(ms); c[0]+c[1]+c[2] != 12 {
		t.Fatalf("owned after leave %v", c)
	}

	// Describe shows the members, epochs and assignments.
	d := h.c.ConsumerGroupDescribe(&kmsg.ConsumerGroupDescribeRequest{Version: 1, Groups: []string{"g", "nope"}})
	g := d.Groups[0]
	if g.ErrorCode != 0 || g.State != "Stable" || len(g.Members) != 3 || g.AssignorName != "uniform" {
		t.Fatalf("describe %+v", g)
	}
	if g.Members[0].Assignment.TopicPartitions[0].Topic != "t" {
		t.Fatalf("describe assignment %+v", g.Members[0].Assignment)
	}
	wantCode(t, "describe unknown", d.Groups[1].ErrorCode, kerr.GroupIDNotFound.Code)
	l := h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5, TypesFilter: []string{"consumer"}})
	if len(l.Groups) != 1 || l.Groups[0].GroupType != "consumer" || l.Groups[0].GroupState != "Stable" {
		t.Fatalf("list consumer groups %+v", l.Groups)
	}
}

func TestConsumerGroupRevocationWaitsForOwner(t *testing.T) {
	h := newHarness(t, nil)
	a := &simMember{id: "a", topics: []string{"t"}, owned: tpSet{}}
	h.converge("g", []*simMember{a})
	if len(a.owned) != 12 {
		t.Fatalf("a owns %d", len(a.owned))
	}
	b := &simMember{id: "b", topics: []string{"t"}, owned: tpSet{}}
	r := h.cgHeartbeat("g", b)
	if len(b.owned) != 0 || r.MemberEpoch != 2 {
		t.Fatalf("b got %d partitions at epoch %d before a revoked", len(b.owned), r.MemberEpoch)
	}
	// a is told to keep 6: it still reports 12 owned until it revokes.
	stale := a.owned.clone()
	r = h.cgHeartbeat("g", a)
	if len(a.owned) != 6 || r.MemberEpoch != 1 {
		t.Fatalf("a keeps %d at epoch %d, want 6 at its old epoch 1", len(a.owned), r.MemberEpoch)
	}
	// Had a not revoked yet, b still gets nothing.
	kept := a.owned
	a.owned = stale
	h.cgHeartbeat("g", a)
	h.cgHeartbeat("g", b)
	if len(b.owned) != 0 {
		t.Fatal("b got partitions a has not revoked")
	}
	a.owned = kept
	h.cgHeartbeat("g", a)
	if a.epoch != 2 {
		t.Fatalf("a epoch %d after revoking", a.epoch)
	}
	h.cgHeartbeat("g", b)
	if len(b.owned) != 6 {
		t.Fatalf("b owns %d after a revoked", len(b.owned))
	}
	checkDisjoint(t, []*simMember{a, b})
}

func TestConsumerGroupFencingAndTimeouts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.GroupConsumerSessionTimeoutMs = 10000; c.GroupConsumerHeartbeatIntervalMs = 1000 })
	a := &simMember{id: "a", topics: []string{"t"}, owned: tpSet{}}
	b := &simMember{id: "b", topics: []string{"t"}, owned: tpSet{}}
	h.converge("g", []*simMember{a, b})

	wrong := &simMember{id: "a", epoch: a.epoch + 5, topics: []string{"t"}, owned: tpSet{}}
	wantCode(t, "future epoch", h.cgHeartbeat("g", wrong).ErrorCode, kerr.FencedMemberEpoch.Code)
	ghost := &simMember{id: "ghost", epoch: 3, topics: []string{"t"}, owned: tpSet{}}
	wantCode(t, "unknown member", h.cgHeartbeat("g", ghost).ErrorCode, kerr.UnknownMemberID.Code)

	// b stops heartbeating: after the session timeout a takes everything.
	for i := 0; i < 3; i++ {
		h.clock.Advance(4 * time.Second)
		h.cgHeartbeat("g", a)
	}
	h.converge("g", []*simMember{a})
	if len(a.owned) != 12 {
		t.Fatalf("a owns %d after b expired", len(a.owned))
	}
	wantCode(t, "expired member", h.cgHeartbeat("g", b).ErrorCode, kerr.UnknownMemberID.Code)

	// A member that never revokes is fenced after its rebalance timeout.
	c := &simMember{id: "c", topics: []string{"t"}, owned: tpSet{}}
	h.cgHeartbeat("g", c)
	a.stuck = true // a never gives anything up
	h.cgHeartbeat("g", a)
	for i := 0; i < 8; i++ {
		h.clock.Advance(4 * time.Second)
		h.cgHeartbeat("g", c)
		if i < 7 {
			h.cgHeartbeat("g", a)
		}
	}
	wantCode(t, "member that did not revoke", h.cgHeartbeat("g", a).ErrorCode, kerr.UnknownMemberID.Code)
	h.converge("g", []*simMember{c})
	if len(c.owned) != 12 {
		t.Fatalf("c owns %d", len(c.owned))
	}
}

func TestConsumerGroupStaticMember(t *testing.T) {
	h := newHarness(t, nil)
	inst := "pod-1"
	a := &simMember{id: "a1", topics: []string{"t"}, owned: tpSet{}, instance: &inst}
	b := &simMember{id: "b", topics: []string{"t"}, owned: tpSet{}}
	h.converge("g", []*simMember{a, b})
	epoch := a.epoch
	owned := a.owned.clone()

	// Temporary leave (-2) keeps the partitions reserved.
	a.epoch = -2
	if r := h.cgHeartbeat("g", a); r.ErrorCode != 0 || r.MemberEpoch != -2 {
		t.Fatalf("static leave %s %d", errName(r.ErrorCode), r.MemberEpoch)
	}
	h.cgHeartbeat("g", b)
	if len(b.owned) != 6 {
		t.Fatalf("b took the leaving static member's partitions: owns %d", len(b.owned))
	}
	// Another process with the same instance id while the first is
	// active is refused; the restarted one gets its place back.
	a2 := &simMember{id: "a2", topics: []string{"t"}, owned: tpSet{}, instance: &inst}
	r := h.cgHeartbeat("g", a2)
	wantCode(t, "rejoin", r.ErrorCode, 0)
	if a2.epoch != epoch || !a2.owned.equal(owned) {
		t.Fatalf("restarted static member: epoch %d (want %d), %d partitions", a2.epoch, epoch, len(a2.owned))
	}
	a3 := &simMember{id: "a3", topics: []string{"t"}, owned: tpSet{}, instance: &inst}
	wantCode(t, "duplicate instance", h.cgHeartbeat("g", a3).ErrorCode, kerr.UnreleasedInstanceID.Code)
}

func TestConsumerGroupRegexAndNewTopics(t *testing.T) {
	h := newHarness(t, nil)
	re := "orders-.*"
	h.topics.add("orders-eu", 2)
	m := &simMember{id: "m", regex: &re, owned: tpSet{}}
	h.converge("g", []*simMember{m})
	if len(m.owned) != 2 {
		t.Fatalf("regex owns %d, want 2", len(m.owned))
	}
	h.topics.add("orders-us", 3)
	h.topics.add("xorders-us", 3) // the regex must match the whole name
	h.converge("g", []*simMember{m})
	if len(m.owned) != 5 {
		t.Fatalf("after a new matching topic owns %d, want 5", len(m.owned))
	}
	bad := "orders-("
	b := &simMember{id: "b", regex: &bad, owned: tpSet{}}
	wantCode(t, "bad regex", h.cgHeartbeat("g", b).ErrorCode, kerr.InvalidRegularExpression.Code)
	u := &simMember{id: "u", topics: []string{"t"}, owned: tpSet{}, assignor: "sticky"}
	wantCode(t, "unknown assignor", h.cgHeartbeat("g", u).ErrorCode, kerr.UnsupportedAssignor.Code)
}

func TestConsumerGroupOffsetsAndCoexistence(t *testing.T) {
	h := newHarness(t, nil)
	m := &simMember{id: "m", topics: []string{"t"}, owned: tpSet{}}
	h.converge("cg", []*simMember{m})
	wantCode(t, "commit with epoch", h.commit("cg", "m", m.epoch, "t", map[int32]int64{0: 7})[0], 0)
	wantCode(t, "commit with a future epoch", h.commit("cg", "m", m.epoch+1, "t", map[int32]int64{0: 7})[0], kerr.FencedMemberEpoch.Code)
	wantCode(t, "commit by a non-member", h.commit("cg", "", -1, "t", map[int32]int64{0: 7})[0], kerr.UnknownMemberID.Code)

	// A classic join on a consumer group with members is refused, and a
	// heartbeat on a classic group with members too.
	wantCode(t, "classic join", h.join("cg", "").get(t).ErrorCode, kerr.InconsistentGroupProtocol.Code)
	h.stableGroup("classic", 1)
	x := &simMember{id: "x", topics: []string{"t"}, owned: tpSet{}}
	wantCode(t, "848 on classic", h.cgHeartbeat("classic", x).ErrorCode, kerr.GroupIDNotFound.Code)

	// Offsets survive a restart; the member state does not and the
	// member rejoins.
	h.restart()
	if got := h.fetch("cg", "t", 0); got[0] != 7 {
		t.Fatalf("offsets after restart %v", got)
	}
	wantCode(t, "member after restart", h.cgHeartbeat("cg", m).ErrorCode, kerr.UnknownMemberID.Code)
	m.epoch, m.owned = 0, tpSet{}
	h.converge("cg", []*simMember{m})
	if len(m.owned) != 12 {
		t.Fatalf("owned after rejoin %d", len(m.owned))
	}
}

func TestAssignors(t *testing.T) {
	t1 := [16]byte{1}
	t2 := [16]byte{2}
	topics := []assignTopic{{id: t1, name: "a", partitions: 5}, {id: t2, name: "b", partitions: 3}}
	both := map[[16]byte]bool{t1: true, t2: true}
	onlyA := map[[16]byte]bool{t1: true}
	for _, tc := range []struct {
		name    string
		a       assignor
		members []assignMember
		want    map[string]int
	}{
		{"uniform homogeneous", uniformAssignor{}, []assignMember{{id: "x", topics: both}, {id: "y", topics: both}, {id: "z", topics: both}}, map[string]int{"x": 3, "y": 3, "z": 2}},
		{"uniform heterogeneous", uniformAssignor{}, []assignMember{{id: "x", topics: onlyA}, {id: "y", topics: both}}, map[string]int{"x": 4, "y": 4}},
		{"uniform sticky", uniformAssignor{}, []assignMember{{id: "x", topics: both, current: tpSet{{t1, 0}: {}, {t1, 1}: {}, {t1, 2}: {}, {t1, 3}: {}, {t1, 4}: {}, {t2, 0}: {}, {t2, 1}: {}, {t2, 2}: {}}}, {id: "y", topics: both}}, map[string]int{"x": 4, "y": 4}},
		{"range", rangeAssignor{}, []assignMember{{id: "x", topics: both}, {id: "y", topics: both}}, map[string]int{"x": 5, "y": 3}},
		{"nobody subscribed", uniformAssignor{}, []assignMember{{id: "x", topics: map[[16]byte]bool{}}}, map[string]int{"x": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.members {
				if tc.members[i].current == nil {
					tc.members[i].current = tpSet{}
				}
			}
			out := tc.a.assign(tc.members, topics)
			seen := tpSet{}
			for id, want := range tc.want {
				if len(out[id]) != want {
					t.Fatalf("%s got %d partitions, want %d (%v)", id, len(out[id]), want, out)
				}
				for x := range out[id] {
					if seen.has(x) {
						t.Fatalf("partition %v assigned twice", x)
					}
					seen[x] = struct{}{}
				}
			}
			if tc.name == "uniform sticky" {
				if !subset(out["x"], tc.members[0].current) {
					t.Fatal("x lost partitions it could keep")
				}
			}
		})
	}
}
