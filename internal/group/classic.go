package group

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the classic protocol: JoinGroup, SyncGroup, Heartbeat and
// LeaveGroup, as Kafka's GroupCoordinator runs them. Every method runs under
// the group's lock; responses that must wait (a JoinGroup until the
// rebalance completes, a follower's SyncGroup until the leader's
// assignment) are callbacks stored on the member and called, still under
// the lock, when the answer is known. Callbacks must not block.

func joinError(code int16, memberID string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.ErrorCode = code
	r.MemberID = memberID
	r.Generation = -1
	return r
}

// JoinGroup serves a JoinGroup request, waiting until the rebalance
// completes or ctx ends (then the connection is going away and the answer
// does not matter).
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, clientHost string) (*kmsg.JoinGroupResponse, error) {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	c.joinGroup(req, clientID, clientHost, func(r *kmsg.JoinGroupResponse) { ch <- r })
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Coordinator) joinGroup(req *kmsg.JoinGroupRequest, clientID, clientHost string, cb func(*kmsg.JoinGroupResponse)) {
	if code := c.preCheck(req.Group); code != 0 {
		cb(joinError(code, req.MemberID))
		return
	}
	if req.Group == "" {
		cb(joinError(kerr.InvalidGroupID.Code, req.MemberID))
		return
	}
	if req.SessionTimeoutMillis < c.cfg.GroupMinSessionTimeoutMs || req.SessionTimeoutMillis > c.cfg.GroupMaxSessionTimeoutMs {
		cb(joinError(kerr.InvalidSessionTimeout.Code, req.MemberID))
		return
	}
	rebalanceTimeout := req.RebalanceTimeoutMillis
	if req.Version == 0 || rebalanceTimeout <= 0 {
		rebalanceTimeout = req.SessionTimeoutMillis
	}
	g, code := c.lockLiveGroup(req.Group, req.MemberID == "")
	if code != 0 {
		cb(joinError(code, req.MemberID))
		return
	}
	if g == nil {
		cb(joinError(kerr.UnknownMemberID.Code, req.MemberID))
		return
	}
	defer g.mu.Unlock()
	if g.typ == TypeConsumer {
		if !g.isEmptyLocked() {
			// Kafka lets classic members join consumer groups; this
			// coordinator keeps the two protocols apart.
			cb(joinError(kerr.InconsistentGroupProtocol.Code, req.MemberID))
			return
		}
		g.typ, g.cg, g.protocolType = TypeClassic, nil, ""
	}
	if !g.supportsProtocolsLocked(req.ProtocolType, req.Protocols) {
		cb(joinError(kerr.InconsistentGroupProtocol.Code, req.MemberID))
		g.removeIfEmptyNewLocked()
		return
	}
	j := joinReq{
		memberID: req.MemberID, instanceID: req.InstanceID, clientID: clientID, clientHost: clientHost,
		sessionTimeoutMs: req.SessionTimeoutMillis, rebalanceTimeoutMs: rebalanceTimeout,
		protocolType: req.ProtocolType, protocols: req.Protocols,
		requireKnownMemberID: req.Version >= 4, version: req.Version, cb: cb,
	}
	if req.MemberID == "" {
		g.joinNewMemberLocked(j)
	} else {
		g.joinKnownMemberLocked(j)
	}
}

// removeIfEmptyNewLocked drops a group created by a join that failed before
// anything was added (so an invalid join leaves no trace).
func (g *group) removeIfEmptyNewLocked() {
	if g.state == StateEmpty && g.generation == 0 && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 && g.protocolType == "" {
		g.markDeadLocked()
		g.c.removeGroup(g) // lock order: a group's mu, then the coordinator's
	}
}

type joinReq struct {
	memberID             string
	instanceID           *string
	clientID, clientHost string
	sessionTimeoutMs     int32
	rebalanceTimeoutMs   int32
	protocolType         string
	protocols            []kmsg.JoinGroupRequestProtocol
	requireKnownMemberID bool
	version              int16
	cb                   func(*kmsg.JoinGroupResponse)
}

// acceptJoiningLocked applies group.max.size as Kafka does: while
// preparing a rebalance the members that have rejoined count, otherwise
// the members.
func (g *group) acceptJoiningLocked(memberID string) bool {
	max := int(g.c.cfg.GroupMaxSize)
	switch g.state {
	case StateEmpty, StateDead:
		return true
	case StatePreparingRebalance:
		if m, ok := g.members[memberID]; ok && m.awaitingJoin() {
			return true
		}
		return g.numAwaitingJoinLocked() < max
	default:
		_, ok := g.members[memberID]
		return ok || len(g.members) < max
	}
}

func (g *group) numAwaitingJoinLocked() int {
	n := 0
	for _, m := range g.members {
		if m.awaitingJoin() {
			n++
		}
	}
	return n
}

func (g *group) joinNewMemberLocked(j joinReq) {
	newID := newMemberID(j.clientID, j.instanceID)
	if j.instanceID != nil {
		g.joinNewStaticMemberLocked(j, newID)
		return
	}
	if len(g.members)+len(g.pending) >= int(g.c.cfg.GroupMaxSize) {
		j.cb(joinError(kerr.GroupMaxSizeReached.Code, ""))
		return
	}
	if j.requireKnownMemberID {
		// KIP-394: hand out the id; the member joins again with it.
		g.addPendingLocked(newID, j.sessionTimeoutMs)
		j.cb(joinError(kerr.MemberIDRequired.Code, newID))
		return
	}
	g.addMemberAndRebalanceLocked(j, newID)
}

func (g *group) addPendingLocked(id string, sessionTimeoutMs int32) {
	g.pending[id] = g.c.clock.AfterFunc(time.Duration(sessionTimeoutMs)*time.Millisecond, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if _, ok := g.pending[id]; !ok || g.state == StateDead {
			return
		}
		delete(g.pending, id)
		if g.state == StatePreparingRebalance {
			g.maybeCompleteJoinLocked()
		}
	})
}

func (g *group) joinNewStaticMemberLocked(j joinReq, newID string) {
	oldID, known := g.instances[*j.instanceID]
	if !known {
		if !g.acceptJoiningLocked(newID) {
			j.cb(joinError(kerr.GroupMaxSizeReached.Code, ""))
			return
		}
		g.addMemberAndRebalanceLocked(j, newID)
		return
	}
	// A static member restarted: it takes over its old identity, and the
	// old member id is fenced.
	old := g.members[oldID]
	if old == nil {
		delete(g.instances, *j.instanceID)
		g.addMemberAndRebalanceLocked(j, newID)
		return
	}
	if old.joinCb != nil {
		old.joinCb(joinError(kerr.FencedInstanceID.Code, oldID))
		old.joinCb = nil
	}
	if old.syncCb != nil {
		old.syncCb(&kmsg.SyncGroupResponse{ErrorCode: kerr.FencedInstanceID.Code})
		old.syncCb = nil
	}
	wasLeader := g.leader == oldID
	oldProtocols := old.protocols
	delete(g.members, oldID)
	old.id = newID
	g.members[newID] = old
	g.instances[*j.instanceID] = newID
	if wasLeader {
		g.leader = newID
	}
	old.clientID, old.clientHost = j.clientID, j.clientHost
	old.sessionTimeoutMs, old.rebalanceTimeoutMs = j.sessionTimeoutMs, j.rebalanceTimeoutMs
	old.protocols = j.protocols
	g.heartbeatLocked(old)

	switch g.state {
	case StateStable:
		if g.selectProtocolLocked() != g.protocol {
			g.maybePrepareRebalanceLocked()
			old.joinCb = j.cb
			return
		}
		// Same protocol: answer with the current generation and the old
		// leader's id, so a restarted leader does not reassign in a stable
		// group; SyncGroup hands back the member's assignment.
		if err := g.storeGroupLocked(); err != nil {
			old.protocols = oldProtocols
			j.cb(joinError(storageErrorCode(err), ""))
			return
		}
		r := g.joinResponseLocked(old, false, j.version)
		if wasLeader {
			r.LeaderID = oldID
		}
		j.cb(r)
	case StateCompletingRebalance:
		old.joinCb = j.cb
		g.prepareRebalanceLocked()
	default: // PreparingRebalance
		old.joinCb = j.cb
		g.maybeCompleteJoinLocked()
	}
}

func (g *group) joinKnownMemberLocked(j joinReq) {
	if t, ok := g.pending[j.memberID]; ok {
		t.Stop()
		delete(g.pending, j.memberID)
		if !g.acceptJoiningLocked(j.memberID) {
			j.cb(joinError(kerr.GroupMaxSizeReached.Code, j.memberID))
			if g.state == StatePreparingRebalance {
				g.maybeCompleteJoinLocked()
			}
			return
		}
		g.addMemberAndRebalanceLocked(j, j.memberID)
		return
	}
	m := g.members[j.memberID]
	if code := g.validateMemberLocked(j.memberID, j.instanceID); code != 0 {
		j.cb(joinError(code, j.memberID))
		return
	}
	if !g.acceptJoiningLocked(j.memberID) {
		j.cb(joinError(kerr.GroupMaxSizeReached.Code, j.memberID))
		return
	}
	switch g.state {
	case StatePreparingRebalance:
		g.updateMemberAndRebalanceLocked(m, j)
	case StateCompletingRebalance:
		if sameProtocols(m.protocols, j.protocols) {
			// The member missed the join response; send it again.
			j.cb(g.joinResponseLocked(m, g.leader == m.id, j.version))
			return
		}
		g.updateMemberAndRebalanceLocked(m, j)
	case StateStable:
		if g.leader == m.id || !sameProtocols(m.protocols, j.protocols) {
			// The leader rejoining means it wants a new assignment
			// (metadata changed); so does a member whose metadata changed.
			g.updateMemberAndRebalanceLocked(m, j)
			return
		}
		j.cb(g.joinResponseLocked(m, false, j.version))
	default:
		j.cb(joinError(kerr.UnknownMemberID.Code, j.memberID))
	}
}

// validateMemberLocked checks a (member id, instance id) pair against the
// group: FENCED_INSTANCE_ID when the instance belongs to another member
// id, UNKNOWN_MEMBER_ID when the member is not in the group.
func (g *group) validateMemberLocked(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		if cur, ok := g.instances[*instanceID]; ok && cur != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	m, ok := g.members[memberID]
	if !ok {
		return kerr.UnknownMemberID.Code
	}
	if instanceID != nil && (m.instanceID == nil || *m.instanceID != *instanceID) {
		return kerr.FencedInstanceID.Code
	}
	return 0
}

func (g *group) addMemberAndRebalanceLocked(j joinReq, id string) {
	m := &member{
		id: id, instanceID: j.instanceID, clientID: j.clientID, clientHost: j.clientHost,
		sessionTimeoutMs: j.sessionTimeoutMs, rebalanceTimeoutMs: j.rebalanceTimeoutMs,
		protocolType: j.protocolType, protocols: j.protocols, joinCb: j.cb, isNew: true,
	}
	if len(g.members) == 0 {
		g.protocolType = j.protocolType
	}
	g.members[id] = m
	if j.instanceID != nil {
		g.instances[*j.instanceID] = id
	}
	if g.state == StatePreparingRebalance && g.generation == 0 {
		g.newMemberAdd = true
	}
	g.heartbeatLocked(m)
	g.maybePrepareRebalanceLocked()
	if g.state == StatePreparingRebalance {
		g.maybeCompleteJoinLocked()
	}
}

func (g *group) updateMemberAndRebalanceLocked(m *member, j joinReq) {
	m.protocols = j.protocols
	m.sessionTimeoutMs, m.rebalanceTimeoutMs = j.sessionTimeoutMs, j.rebalanceTimeoutMs
	m.clientID, m.clientHost = j.clientID, j.clientHost
	if m.joinCb != nil {
		// A duplicate join replaces the waiting one, as in Kafka the
		// newest callback wins; the old request gets no answer it could use.
		m.joinCb(joinError(kerr.RebalanceInProgress.Code, m.id))
	}
	m.joinCb = j.cb
	g.maybePrepareRebalanceLocked()
	if g.state == StatePreparingRebalance {
		g.maybeCompleteJoinLocked()
	}
}

func (g *group) maybePrepareRebalanceLocked() {
	switch g.state {
	case StateStable, StateCompletingRebalance, StateEmpty:
		g.prepareRebalanceLocked()
	}
}

func (g *group) rebalanceTimeoutLocked() time.Duration {
	var max int32
	for _, m := range g.members {
		if m.rebalanceTimeoutMs > max {
			max = m.rebalanceTimeoutMs
		}
	}
	return time.Duration(max) * time.Millisecond
}

func (g *group) prepareRebalanceLocked() {
	if g.state == StateCompletingRebalance {
		// The assignment being computed is void: waiting syncs fail.
		for _, m := range g.members {
			m.assignment = nil
			if m.syncCb != nil {
				m.syncCb(&kmsg.SyncGroupResponse{ErrorCode: kerr.RebalanceInProgress.Code})
				m.syncCb = nil
			}
		}
	}
	g.stopRebalanceTimerLocked()
	timeout := g.rebalanceTimeoutLocked()
	if g.state == StateEmpty && g.c.cfg.GroupInitialRebalanceDelayMs > 0 {
		delay := time.Duration(g.c.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond
		if delay > timeout {
			delay = timeout
		}
		g.delayLeft = timeout - delay
		g.newMemberAdd = false
		g.transitionLocked(StatePreparingRebalance)
		g.scheduleInitialDelayLocked(delay)
		return
	}
	g.delayLeft = -1
	g.transitionLocked(StatePreparingRebalance)
	seq := g.timerSeq
	g.rebalTimer = g.c.clock.AfterFunc(timeout, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.timerSeq != seq || g.state != StatePreparingRebalance {
			return
		}
		g.completeJoinLocked()
	})
	g.maybeCompleteJoinLocked()
}

// scheduleInitialDelayLocked runs Kafka's InitialDelayedJoin: the first
// rebalance of an empty group waits group.initial.rebalance.delay.ms, and
// again while members keep arriving, up to the rebalance timeout.
func (g *group) scheduleInitialDelayLocked(delay time.Duration) {
	seq := g.timerSeq
	g.rebalTimer = g.c.clock.AfterFunc(delay, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.timerSeq != seq || g.state != StatePreparingRebalance {
			return
		}
		if g.newMemberAdd && g.delayLeft > 0 {
			g.newMemberAdd = false
			next := time.Duration(g.c.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond
			if next > g.delayLeft {
				next = g.delayLeft
			}
			g.delayLeft -= next
			g.timerSeq++
			g.scheduleInitialDelayLocked(next)
			return
		}
		g.completeJoinLocked()
	})
}

func (g *group) stopRebalanceTimerLocked() {
	g.timerSeq++
	if g.rebalTimer != nil {
		g.rebalTimer.Stop()
		g.rebalTimer = nil
	}
}

// maybeCompleteJoinLocked completes the join phase early once every known
// member has rejoined and no KIP-394 member is still expected. The initial
// delay never completes early.
func (g *group) maybeCompleteJoinLocked() {
	if g.state != StatePreparingRebalance || g.delayLeft >= 0 {
		return
	}
	if len(g.pending) == 0 && g.numAwaitingJoinLocked() == len(g.members) {
		g.completeJoinLocked()
	}
}

// completeJoinLocked ends the join phase: members that did not rejoin are
// dropped (static ones stay until their session expires), a new generation
// starts and every waiting member gets its JoinGroup answer, the leader
// with the members' metadata.
func (g *group) completeJoinLocked() {
	g.delayLeft = -1
	for id, m := range g.members {
		if !m.awaitingJoin() && m.instanceID == nil {
			g.removeMemberLocked(id)
		}
	}
	if len(g.members) > 0 && g.numAwaitingJoinLocked() == 0 {
		// Only static members that have not rejoined remain: wait for
		// them (or their session timeouts) another rebalance timeout.
		g.stopRebalanceTimerLocked()
		seq := g.timerSeq
		g.rebalTimer = g.c.clock.AfterFunc(g.rebalanceTimeoutLocked(), func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.timerSeq == seq && g.state == StatePreparingRebalance {
				g.completeJoinLocked()
			}
		})
		return
	}
	if m, ok := g.members[g.leader]; !ok || !m.awaitingJoin() {
		g.leader = ""
		for _, m := range g.sortedMembersLocked() {
			if m.awaitingJoin() {
				g.leader = m.id
				break
			}
		}
	}
	g.stopRebalanceTimerLocked()
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
		g.subscribed = nil
		g.transitionLocked(StateEmpty)
		if err := g.storeGroupLocked(); err != nil {
			g.c.logger.Warn("store empty group", "group", g.id, "err", err)
		}
		return
	}
	g.protocol = g.selectProtocolLocked()
	g.updateSubscribedLocked()
	g.transitionLocked(StateCompletingRebalance)
	for _, m := range g.members {
		m.synced = false
		m.assignment = nil
		if m.joinCb == nil {
			continue
		}
		r := g.joinResponseLocked(m, m.id == g.leader, 9)
		m.joinCb(r)
		m.joinCb = nil
		m.isNew = false
		g.heartbeatLocked(m)
	}
	g.schedulePendingSyncLocked()
}

// schedulePendingSyncLocked removes members that have not sent SyncGroup
// within the rebalance timeout after the join phase, so one lost member
// cannot stall the group (Kafka 3.2+).
func (g *group) schedulePendingSyncLocked() {
	seq := g.timerSeq
	gen := g.generation
	g.rebalTimer = g.c.clock.AfterFunc(g.rebalanceTimeoutLocked(), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.timerSeq != seq || g.generation != gen {
			return
		}
		if g.state != StateCompletingRebalance && g.state != StateStable {
			return
		}
		removed := false
		for id, m := range g.members {
			if !m.synced {
				g.removeMemberLocked(id)
				removed = true
			}
		}
		if removed {
			g.afterMemberRemovedLocked()
		}
	})
}

func (g *group) sortedMembersLocked() []*member {
	out := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	sortMembers(out)
	return out
}

// joinResponseLocked is the JoinGroup answer for the current generation;
// the leader also gets every member's metadata for the chosen protocol.
func (g *group) joinResponseLocked(m *member, leader bool, _ int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.Generation = g.generation
	r.ProtocolType = strPtr(g.protocolType)
	r.Protocol = strPtr(g.protocol)
	r.LeaderID = g.leader
	r.MemberID = m.id
	if leader {
		for _, o := range g.sortedMembersLocked() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			jm.InstanceID = o.instanceID
			jm.ProtocolMetadata = o.metadataFor(g.protocol)
			r.Members = append(r.Members, jm)
		}
	}
	return r
}

// heartbeatLocked pushes the member's session deadline out by its session
// timeout, arming its expiry timer if needed.
func (g *group) heartbeatLocked(m *member) {
	g.c.armSession(&g.mu, &m.deadline, &m.timer, time.Duration(m.sessionTimeoutMs)*time.Millisecond, func() bool {
		cur, ok := g.members[m.id]
		if !ok || cur != m || g.state == StateDead {
			return false // gone: stop
		}
		return true
	}, func() {
		if m.awaitingJoin() || m.awaitingSync() {
			// Members waiting for a rebalance are alive by definition.
			g.heartbeatLocked(m)
			return
		}
		g.c.logger.Info("member session expired", "group", g.id, "member", m.id)
		g.removeMemberLocked(m.id)
		g.afterMemberRemovedLocked()
	})
}

// armSession implements one session deadline with a single timer: a
// heartbeat only moves the deadline; when the timer fires before it, it is
// re-armed for the rest. alive says whether the owner still exists (called
// under mu); expire runs under mu once the deadline has passed.
func (c *Coordinator) armSession(mu interface {
	Lock()
	Unlock()
}, deadline *time.Time, timer *Timer, d time.Duration, alive func() bool, expire func()) {
	*deadline = c.clock.Now().Add(d)
	if *timer != nil {
		return
	}
	var fire func()
	fire = func() {
		mu.Lock()
		defer mu.Unlock()
		if !alive() {
			return
		}
		if left := deadline.Sub(c.clock.Now()); left > 0 {
			*timer = c.clock.AfterFunc(left, fire)
			return
		}
		*timer = nil
		expire()
	}
	*timer = c.clock.AfterFunc(d, fire)
}

// removeMemberLocked takes a member out of the group without deciding
// what happens next (see afterMemberRemovedLocked).
func (g *group) removeMemberLocked(id string) {
	m, ok := g.members[id]
	if !ok {
		return
	}
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	if m.joinCb != nil {
		m.joinCb(joinError(kerr.UnknownMemberID.Code, id))
		m.joinCb = nil
	}
	if m.syncCb != nil {
		m.syncCb(&kmsg.SyncGroupResponse{ErrorCode: kerr.UnknownMemberID.Code})
		m.syncCb = nil
	}
	delete(g.members, id)
	if m.instanceID != nil && g.instances[*m.instanceID] == id {
		delete(g.instances, *m.instanceID)
	}
	if g.leader == id {
		g.leader = ""
	}
}

// afterMemberRemovedLocked: a member left or expired; the group rebalances.
func (g *group) afterMemberRemovedLocked() {
	switch g.state {
	case StateStable, StateCompletingRebalance:
		g.maybePrepareRebalanceLocked()
	case StatePreparingRebalance:
		g.maybeCompleteJoinLocked()
	}
}

// SyncGroup serves a SyncGroup request, waiting for the leader's
// assignment when the member is a follower.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, error) {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	c.syncGroup(req, func(r *kmsg.SyncGroupResponse) { ch <- r })
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Coordinator) syncGroup(req *kmsg.SyncGroupRequest, cb func(*kmsg.SyncGroupResponse)) {
	fail := func(code int16) { cb(&kmsg.SyncGroupResponse{Version: req.Version, ErrorCode: code}) }
	if code := c.preCheck(req.Group); code != 0 {
		fail(code)
		return
	}
	g, code := c.lockLiveGroup(req.Group, false)
	if code != 0 {
		fail(code)
		return
	}
	if g == nil {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	defer g.mu.Unlock()
	if g.typ == TypeConsumer {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if code := g.validateMemberLocked(req.MemberID, req.InstanceID); code != 0 {
		fail(code)
		return
	}
	if req.Generation != g.generation {
		fail(kerr.IllegalGeneration.Code)
		return
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) || (req.Protocol != nil && *req.Protocol != g.protocol) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StateEmpty:
		fail(kerr.UnknownMemberID.Code)
	case StatePreparingRebalance:
		fail(kerr.RebalanceInProgress.Code)
	case StateCompletingRebalance:
		m.synced = true
		m.syncCb = cb
		g.heartbeatLocked(m)
		if m.id != g.leader {
			return
		}
		assignments := make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			assignments[a.MemberID] = a.MemberAssignment
		}
		for id, o := range g.members {
			o.assignment = assignments[id]
			if o.assignment == nil {
				o.assignment = []byte{}
			}
		}
		if err := g.storeGroupLocked(); err != nil {
			code := storageErrorCode(err)
			for _, o := range g.members {
				o.assignment = nil
				if o.syncCb != nil {
					o.syncCb(&kmsg.SyncGroupResponse{ErrorCode: code})
					o.syncCb = nil
				}
			}
			g.prepareRebalanceLocked()
			return
		}
		for _, o := range g.members {
			if o.syncCb != nil {
				o.syncCb(g.syncResponseLocked(o))
				o.syncCb = nil
			}
		}
		g.transitionLocked(StateStable)
	case StateStable:
		m.synced = true
		g.heartbeatLocked(m)
		cb(g.syncResponseLocked(m))
	default:
		fail(kerr.CoordinatorNotAvailable.Code)
	}
}

func (g *group) syncResponseLocked(m *member) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ProtocolType = strPtr(g.protocolType)
	r.Protocol = strPtr(g.protocol)
	r.MemberAssignment = m.assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

// Heartbeat serves a Heartbeat request.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	r := req.ResponseKind().(*kmsg.HeartbeatResponse)
	r.ErrorCode = c.heartbeat(req)
	return r
}

func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if code := c.preCheck(req.Group); code != 0 {
		return code
	}
	g, code := c.lockLiveGroup(req.Group, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	defer g.mu.Unlock()
	if g.typ == TypeConsumer {
		return kerr.UnknownMemberID.Code
	}
	if code := g.validateMemberLocked(req.MemberID, req.InstanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.members[req.MemberID]
	switch g.state {
	case StateEmpty:
		return kerr.UnknownMemberID.Code
	case StateCompletingRebalance, StateStable:
		g.heartbeatLocked(m)
		return 0
	case StatePreparingRebalance:
		g.heartbeatLocked(m)
		return kerr.RebalanceInProgress.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// LeaveGroup serves a LeaveGroup request: v0-v2 name one member, v3+ a
// batch of members by member id and/or group instance id.
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	results := make([]kmsg.LeaveGroupResponseMember, len(leaving))
	for i, l := range leaving {
		results[i] = kmsg.LeaveGroupResponseMember{MemberID: l.MemberID, InstanceID: l.InstanceID}
	}
	top := c.leaveGroup(req.Group, leaving, results)
	resp.ErrorCode = top
	if req.Version >= 3 {
		if top == 0 {
			resp.Members = results
		}
	} else if top == 0 && len(results) > 0 {
		resp.ErrorCode = results[0].ErrorCode
	}
	return resp
}

func (c *Coordinator) leaveGroup(groupID string, leaving []kmsg.LeaveGroupRequestMember, results []kmsg.LeaveGroupResponseMember) int16 {
	if code := c.preCheck(groupID); code != 0 {
		return code
	}
	g, code := c.lockLiveGroup(groupID, false)
	if code != 0 {
		return code
	}
	if g == nil {
		for i := range results {
			results[i].ErrorCode = kerr.UnknownMemberID.Code
		}
		return 0
	}
	defer g.mu.Unlock()
	if g.typ == TypeConsumer {
		for i := range results {
			results[i].ErrorCode = kerr.UnknownMemberID.Code
		}
		return 0
	}
	removed := false
	for i, l := range leaving {
		id := l.MemberID
		if l.InstanceID != nil {
			cur, ok := g.instances[*l.InstanceID]
			switch {
			case !ok:
				results[i].ErrorCode = kerr.UnknownMemberID.Code
				continue
			case id != "" && cur != id:
				results[i].ErrorCode = kerr.FencedInstanceID.Code
				continue
			}
			id = cur
		} else if t, ok := g.pending[id]; ok {
			t.Stop()
			delete(g.pending, id)
			removed = true
			continue
		}
		if _, ok := g.members[id]; !ok {
			results[i].ErrorCode = kerr.UnknownMemberID.Code
			continue
		}
		g.removeMemberLocked(id)
		removed = true
	}
	if removed {
		g.afterMemberRemovedLocked()
	}
	return 0
}
