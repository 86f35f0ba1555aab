package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// stableGroup forms a group of n members through the initial delay and a
// leader sync, returning member ids in join order and the generation.
func (h *harness) stableGroup(group string, n int, opts ...joinOpt) ([]string, int32) {
	h.t.Helper()
	var ids []string
	var ws []*waiter[*kmsg.JoinGroupResponse]
	for i := 0; i < n; i++ {
		id, w := h.joinNew(group, opts...)
		ids = append(ids, id)
		ws = append(ws, w)
	}
	h.clock.Advance(2 * time.Duration(h.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond) // the delay restarts once for joins during it
	var leader string
	var gen int32
	for _, w := range ws {
		r := w.get(h.t)
		wantCode(h.t, "join", r.ErrorCode, 0)
		leader, gen = r.LeaderID, r.Generation
	}
	assign := map[string]string{}
	for _, id := range ids {
		assign[id] = "a-" + id
	}
	var syncs []*waiter[*kmsg.SyncGroupResponse]
	for _, id := range ids {
		if id != leader {
			syncs = append(syncs, h.sync(group, id, gen, nil))
		}
	}
	syncs = append(syncs, h.sync(group, leader, gen, assign))
	for _, s := range syncs {
		wantCode(h.t, "sync", s.get(h.t).ErrorCode, 0)
	}
	if st := h.state(group); st != StateStable {
		h.t.Fatalf("state %v, want Stable", st)
	}
	return ids, gen
}

func TestJoinRequiresMemberID(t *testing.T) {
	h := newHarness(t, nil)
	first := h.join("g", "").get(t)
	wantCode(t, "first join", first.ErrorCode, kerr.MemberIDRequired.Code)
	if first.MemberID == "" || first.MemberID[:7] != "client-" {
		t.Fatalf("member id %q: want client-<uuid>", first.MemberID)
	}
	w := h.join("g", first.MemberID)
	if !w.pending() {
		t.Fatal("join answered before the initial rebalance delay")
	}
	h.clock.Advance(2999 * time.Millisecond)
	if !w.pending() {
		t.Fatal("join answered before the initial rebalance delay ended")
	}
	h.clock.Advance(time.Millisecond)
	r := w.get(t)
	wantCode(t, "join", r.ErrorCode, 0)
	if r.Generation != 1 || r.LeaderID != first.MemberID || len(r.Members) != 1 || *r.Protocol != "range" {
		t.Fatalf("join response %+v", r)
	}

	// Before v4 the member is added directly.
	old := h.join("g2", "", withVersion(3))
	h.clock.Advance(6 * time.Second)
	if r := old.get(t); r.ErrorCode != 0 || r.MemberID == "" {
		t.Fatalf("v3 join: %s %q", errName(r.ErrorCode), r.MemberID)
	}
}

func TestJoinValidation(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.GroupMaxSize = 2 })
	for _, tc := range []struct {
		name  string
		group string
		opts  []joinOpt
		want  int16
	}{
		{"empty group id", "", nil, kerr.InvalidGroupID.Code},
		{"session too short", "g", []joinOpt{withSession(5999)}, kerr.InvalidSessionTimeout.Code},
		{"session too long", "g", []joinOpt{withSession(1800001)}, kerr.InvalidSessionTimeout.Code},
		{"no protocols", "g", []joinOpt{withProtocols()}, kerr.InconsistentGroupProtocol.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, "join", h.join(tc.group, "", tc.opts...).get(t).ErrorCode, tc.want)
		})
	}
	if h.c.getGroup("g") != nil || h.c.getGroup("") != nil {
		t.Fatal("an invalid join left a group behind")
	}
	wantCode(t, "unknown member", h.join("nope", "m-1").get(t).ErrorCode, kerr.UnknownMemberID.Code)

	// group.max.size: a third member is refused.
	h.stableGroup("full", 2)
	wantCode(t, "third member", h.join("full", "").get(t).ErrorCode, kerr.GroupMaxSizeReached.Code)

	// A member with another protocol type cannot join.
	r := h.join("full", "", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "connect" }).get(t)
	wantCode(t, "protocol type", r.ErrorCode, kerr.InconsistentGroupProtocol.Code)
}

func TestProtocolSelection(t *testing.T) {
	h := newHarness(t, nil)
	_, w1 := h.joinNew("g", withProtocols("range", "roundrobin"))
	_, w2 := h.joinNew("g", withProtocols("cooperative-sticky", "roundrobin"))
	_, w3 := h.joinNew("g", withProtocols("roundrobin", "range"))
	h.clock.Advance(6 * time.Second)
	for _, w := range []*waiter[*kmsg.JoinGroupResponse]{w1, w2, w3} {
		r := w.get(t)
		wantCode(t, "join", r.ErrorCode, 0)
		if *r.Protocol != "roundrobin" {
			t.Fatalf("protocol %q, want the only one all members support", *r.Protocol)
		}
	}
	r := h.join("g", "", withProtocols("sticky")).get(t)
	wantCode(t, "join without a common protocol", r.ErrorCode, kerr.InconsistentGroupProtocol.Code)
}

func TestSyncAndHeartbeat(t *testing.T) {
	h := newHarness(t, nil)
	a, wa := h.joinNew("g")
	b, wb := h.joinNew("g")
	h.clock.Advance(6 * time.Second)
	ra, rb := wa.get(t), wb.get(t)
	if ra.LeaderID != rb.LeaderID || ra.Generation != 1 {
		t.Fatalf("leaders %q %q gen %d", ra.LeaderID, rb.LeaderID, ra.Generation)
	}
	leader, follower := a, b
	if ra.LeaderID == b {
		leader, follower = b, a
	}
	lr := ra
	if leader == b {
		lr = rb
	}
	if len(lr.Members) != 2 {
		t.Fatalf("leader got %d members", len(lr.Members))
	}
	wantCode(t, "heartbeat while completing", h.heartbeat("g", follower, 1), 0)
	wantCode(t, "commit while completing", h.commit("g", follower, 1, "t", map[int32]int64{0: 1})[0], kerr.RebalanceInProgress.Code)

	fs := h.sync("g", follower, 1, nil)
	if !fs.pending() {
		t.Fatal("follower sync answered before the leader's")
	}
	wantCode(t, "sync wrong generation", h.sync("g", leader, 7, nil).get(t).ErrorCode, kerr.IllegalGeneration.Code)
	ls := h.sync("g", leader, 1, map[string]string{leader: "L", follower: "F"})
	if got := string(ls.get(t).MemberAssignment); got != "L" {
		t.Fatalf("leader assignment %q", got)
	}
	if got := string(fs.get(t).MemberAssignment); got != "F" {
		t.Fatalf("follower assignment %q", got)
	}
	if h.state("g") != StateStable {
		t.Fatalf("state %v", h.state("g"))
	}
	// A late sync in Stable gets the member's assignment.
	if got := string(h.sync("g", follower, 1, nil).get(t).MemberAssignment); got != "F" {
		t.Fatalf("late sync %q", got)
	}
	for _, tc := range []struct {
		member string
		gen    int32
		want   int16
	}{
		{leader, 1, 0},
		{follower, 2, kerr.IllegalGeneration.Code},
		{"stranger", 1, kerr.UnknownMemberID.Code},
	} {
		wantCode(t, "heartbeat "+tc.member, h.heartbeat("g", tc.member, tc.gen), tc.want)
	}
	wantCode(t, "heartbeat unknown group", h.heartbeat("nope", "x", 1), kerr.UnknownMemberID.Code)
}

func TestRebalanceOnJoinAndRebalanceTimeout(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	c, wc := h.joinNew("g")
	if h.state("g") != StatePreparingRebalance {
		t.Fatalf("state %v after a new member", h.state("g"))
	}
	wantCode(t, "heartbeat during rebalance", h.heartbeat("g", ids[0], gen), kerr.RebalanceInProgress.Code)
	// The first member rejoins; the second never does.
	w0 := h.join("g", ids[0])
	// ids[1] keeps heartbeating (so its session lives) but never rejoins.
	for i := 0; i < 3; i++ {
		h.clock.Advance(6 * time.Second)
		wantCode(t, "missing member heartbeats", h.heartbeat("g", ids[1], gen), kerr.RebalanceInProgress.Code)
	}
	if !w0.pending() || !wc.pending() {
		t.Fatal("join completed before the rebalance timeout while a member is missing")
	}
	h.clock.Advance(2 * time.Second)
	r0, rc := w0.get(t), wc.get(t)
	if r0.Generation != gen+1 || rc.Generation != gen+1 {
		t.Fatalf("generations %d %d", r0.Generation, rc.Generation)
	}
	leader := r0
	if rc.LeaderID == c {
		leader = rc
	}
	if len(leader.Members) != 2 {
		t.Fatalf("leader sees %d members, want the 2 that rejoined", len(leader.Members))
	}
	wantCode(t, "dropped member", h.heartbeat("g", ids[1], gen+1), kerr.UnknownMemberID.Code)
}

func TestAllRejoinedCompletesEarly(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 3)
	w := []*waiter[*kmsg.JoinGroupResponse]{}
	for i, id := range ids {
		w = append(w, h.join("g", id, withProtocols("range", "roundrobin")))
		if i < 2 && !w[i].pending() {
			t.Fatal("join completed before everyone rejoined")
		}
	}
	for _, x := range w {
		if r := x.get(t); r.Generation != gen+1 {
			t.Fatalf("generation %d", r.Generation)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 2)
	for i := 0; i < 2; i++ {
		h.clock.Advance(4 * time.Second)
		wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), 0)
	}
	// ids[1] has not heartbeaten for 12 s: its 10 s session expired.
	h.clock.Advance(4 * time.Second)
	wantCode(t, "heartbeat after the expiry", h.heartbeat("g", ids[0], gen), kerr.RebalanceInProgress.Code)
	if h.state("g") != StatePreparingRebalance {
		t.Fatalf("state %v after a session expiry", h.state("g"))
	}
	wantCode(t, "expired member", h.heartbeat("g", ids[1], gen), kerr.UnknownMemberID.Code)
	r := h.join("g", ids[0]).get(t)
	if r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("gen %d members %d", r.Generation, len(r.Members))
	}
	// The last member leaving empties the group.
	resp := h.c.LeaveGroup(&kmsg.LeaveGroupRequest{Version: 1, Group: "g", MemberID: ids[0]})
	wantCode(t, "leave", resp.ErrorCode, 0)
	h.clock.Advance(0)
	if h.state("g") != StateEmpty {
		t.Fatalf("state %v after the last member left", h.state("g"))
	}
}

func TestPendingMemberExpires(t *testing.T) {
	h := newHarness(t, nil)
	ids, gen := h.stableGroup("g", 1)
	r := h.join("g", "").get(t)
	wantCode(t, "join", r.ErrorCode, kerr.MemberIDRequired.Code)
	// The pending member never rejoins; the group is not disturbed and
	// the id is forgotten after the session timeout.
	h.clock.Advance(5 * time.Second)
	wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), 0)
	h.clock.Advance(6 * time.Second)
	wantCode(t, "late rejoin", h.join("g", r.MemberID).get(t).ErrorCode, kerr.UnknownMemberID.Code)
}

func TestLeaveGroupBatch(t *testing.T) {
	h := newHarness(t, nil)
	var ids []string
	var ws []*waiter[*kmsg.JoinGroupResponse]
	for _, inst := range []string{"i1", "i2"} {
		w := h.join("g", "", withInstance(inst))
		ws = append(ws, w)
	}
	id3, w3 := h.joinNew("g")
	ws = append(ws, w3)
	h.clock.Advance(6 * time.Second)
	for _, w := range ws {
		r := w.get(t)
		wantCode(t, "join", r.ErrorCode, 0)
		ids = append(ids, r.MemberID)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version = 5
	req.Group = "g"
	i1, i2, i9 := "i1", "i2", "i9"
	req.Members = []kmsg.LeaveGroupRequestMember{
		{InstanceID: &i1},                    // by instance id only
		{MemberID: "wrong", InstanceID: &i2}, // instance owned by another member id
		{InstanceID: &i9},                    // unknown instance
		{MemberID: id3},                      // dynamic member
		{MemberID: "ghost"},
	}
	resp := h.c.LeaveGroup(req)
	wantCode(t, "leave", resp.ErrorCode, 0)
	want := []int16{0, kerr.FencedInstanceID.Code, kerr.UnknownMemberID.Code, 0, kerr.UnknownMemberID.Code}
	for i, m := range resp.Members {
		wantCode(t, "leave member "+m.MemberID, m.ErrorCode, want[i])
	}
	g := h.c.getGroup("g")
	g.mu.Lock()
	n := len(g.members)
	g.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d members left, want 1 (i2)", n)
	}
	resp = h.c.LeaveGroup(&kmsg.LeaveGroupRequest{Version: 5, Group: "nope", Members: []kmsg.LeaveGroupRequestMember{{MemberID: "x"}}})
	wantCode(t, "unknown group", resp.Members[0].ErrorCode, kerr.UnknownMemberID.Code)
}

func TestStaticMemberRestartKeepsGeneration(t *testing.T) {
	h := newHarness(t, nil)
	var ws []*waiter[*kmsg.JoinGroupResponse]
	for _, inst := range []string{"i1", "i2"} {
		ws = append(ws, h.join("g", "", withInstance(inst)))
	}
	h.clock.Advance(6 * time.Second)
	r1, r2 := ws[0].get(t), ws[1].get(t)
	gen := r1.Generation
	leader, follower := r1, r2
	if r2.LeaderID == r2.MemberID {
		leader, follower = r2, r1
	}
	ls := h.sync("g", leader.MemberID, gen, map[string]string{leader.MemberID: "L", follower.MemberID: "F"})
	wantCode(t, "leader sync", ls.get(t).ErrorCode, 0)
	wantCode(t, "follower sync", h.sync("g", follower.MemberID, gen, nil).get(t).ErrorCode, 0)

	// The follower restarts: it joins with no member id and its instance id.
	inst := "i1"
	if follower == r2 {
		inst = "i2"
	}
	re := h.join("g", "", withInstance(inst)).get(t)
	wantCode(t, "static rejoin", re.ErrorCode, 0)
	if re.Generation != gen || re.MemberID == follower.MemberID || re.LeaderID != leader.MemberID {
		t.Fatalf("rejoin gen %d (want %d) member %q leader %q", re.Generation, gen, re.MemberID, re.LeaderID)
	}
	if h.state("g") != StateStable {
		t.Fatalf("state %v: a static rejoin must not rebalance", h.state("g"))
	}
	sr := h.sync("g", re.MemberID, gen, nil).get(t)
	if string(sr.MemberAssignment) != "F" {
		t.Fatalf("assignment after restart %q, want the old one", sr.MemberAssignment)
	}
	// The old incarnation is fenced.
	wantCode(t, "old member heartbeat", h.heartbeat("g", follower.MemberID, gen, inst), kerr.FencedInstanceID.Code)
	wantCode(t, "new member heartbeat", h.heartbeat("g", re.MemberID, gen, inst), 0)
	wantCode(t, "leader heartbeat without its instance id", h.heartbeat("g", leader.MemberID, gen), 0)
}

func TestStaticMemberNotRejoiningIsKeptUntilSessionExpiry(t *testing.T) {
	h := newHarness(t, nil)
	ws := []*waiter[*kmsg.JoinGroupResponse]{h.join("g", "", withInstance("s"))}
	dyn, wd := h.joinNew("g")
	ws = append(ws, wd)
	h.clock.Advance(6 * time.Second)
	rs := ws[0].get(t)
	gen := ws[1].get(t).Generation
	assign := map[string]string{rs.MemberID: "S", dyn: "D"}
	leader := rs.LeaderID
	if leader == dyn {
		h.sync("g", rs.MemberID, gen, nil)
	} else {
		h.sync("g", dyn, gen, nil)
	}
	h.sync("g", leader, gen, assign).get(t)
	// The dynamic member rejoins (metadata changed) and the static one is
	// silent: after the rebalance timeout the group completes with the
	// static member still in it.
	wj := h.join("g", dyn, withProtocols("range", "roundrobin"))
	for i := 0; i < 4; i++ {
		h.clock.Advance(5 * time.Second)
		if i < 3 {
			h.heartbeat("g", rs.MemberID, gen, "s")
		}
	}
	r := wj.get(t)
	wantCode(t, "join", r.ErrorCode, 0)
	if r.Generation != gen+1 {
		t.Fatalf("gen %d", r.Generation)
	}
	if r.LeaderID == dyn && len(r.Members) != 2 {
		t.Fatalf("leader sees %d members, want the silent static member too", len(r.Members))
	}
}
