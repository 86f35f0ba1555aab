package group

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the KIP-848 consumer group protocol: members send
// ConsumerGroupHeartbeat with their subscription and the partitions they
// own; the coordinator computes a target assignment per group epoch with a
// server-side assignor and moves each member towards its target one step
// at a time: partitions to give up are revoked first (the member keeps the
// rest and keeps consuming them), and a partition is handed to its new
// owner only once its old owner has confirmed the revocation. Member state
// lives in memory; committed offsets are persisted like any group's.

type cmState int8

const (
	cmStable     cmState = iota // owns its target (or all of it that is free)
	cmUnrevoked                 // must give up partitions before moving on
	cmUnreleased                // waits for partitions other members still own
)

type cmember struct {
	id                   string
	instanceID, rackID   *string
	clientID, clientHost string
	epoch, prevEpoch     int32
	state                cmState
	rebalanceTimeoutMs   int32
	topicNames           []string
	regex                string
	re                   *regexp.Regexp
	serverAssignor       string

	assigned tpSet // partitions the member may consume
	revoking tpSet // partitions it must give up
	owned    tpSet // what it last reported owning; nil: never reported
	lastSent tpSet // assignment last sent; nil: never

	deadline    time.Time
	timer       Timer
	revokeTimer Timer
	revokeSeq   uint64
}

type consumerGroup struct {
	epoch           int32
	assignmentEpoch int32
	assignorName    string
	members         map[string]*cmember
	instances       map[string]string
	target          map[string]tpSet
	fingerprint     string
}

func newConsumerGroup() *consumerGroup {
	return &consumerGroup{members: map[string]*cmember{}, instances: map[string]string{}, target: map[string]tpSet{}}
}

func (cg *consumerGroup) stopTimers() {
	for _, m := range cg.members {
		if m.timer != nil {
			m.timer.Stop()
		}
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
		}
		m.revokeSeq++
	}
}

func (cg *consumerGroup) stateLocked() State {
	if len(cg.members) == 0 {
		return StateEmpty
	}
	if cg.assignmentEpoch < cg.epoch {
		return StateAssigning
	}
	for _, m := range cg.members {
		if m.epoch != cg.assignmentEpoch || m.state != cmStable {
			return StateReconciling
		}
	}
	return StateStable
}

func cgError(r *kmsg.ConsumerGroupHeartbeatResponse, code int16, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
	r.ErrorCode = code
	if msg == "" {
		msg = kerr.ErrorForCode(code).Error()
	}
	r.ErrorMessage = &msg
	return r
}

// ConsumerGroupHeartbeat serves a ConsumerGroupHeartbeat request (v0, v1).
func (c *Coordinator) ConsumerGroupHeartbeat(req *kmsg.ConsumerGroupHeartbeatRequest, clientID, clientHost string) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
	resp.HeartbeatIntervalMillis = c.cfg.GroupConsumerHeartbeatIntervalMs
	if code := c.preCheck(req.Group); code != 0 {
		return cgError(resp, code, "")
	}
	switch {
	case req.Group == "":
		return cgError(resp, kerr.InvalidRequest.Code, "GroupId can't be empty.")
	case req.Version >= 1 && req.MemberID == "":
		return cgError(resp, kerr.InvalidRequest.Code, "MemberId can't be empty.")
	case req.MemberEpoch < -2:
		return cgError(resp, kerr.InvalidRequest.Code, fmt.Sprintf("MemberEpoch %d is invalid.", req.MemberEpoch))
	case req.MemberEpoch == -2 && req.InstanceID == nil:
		return cgError(resp, kerr.InvalidRequest.Code, "InstanceId can't be null when leaving a group with epoch -2.")
	case req.MemberEpoch == 0 && req.RebalanceTimeoutMillis == -1:
		return cgError(resp, kerr.InvalidRequest.Code, "RebalanceTimeoutMs must be provided in first request.")
	case req.MemberEpoch == 0 && req.SubscribedTopicNames == nil && req.SubscribedTopicRegex == nil:
		return cgError(resp, kerr.InvalidRequest.Code, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
	case req.MemberEpoch == 0 && len(req.Topics) > 0:
		return cgError(resp, kerr.InvalidRequest.Code, "TopicPartitions must be empty when (re-)joining.")
	case req.ServerAssignor != nil && *req.ServerAssignor != "" && !c.hasAssignor(*req.ServerAssignor):
		return cgError(resp, kerr.UnsupportedAssignor.Code, fmt.Sprintf("ServerAssignor %s is not supported. Supported assignors: %s.", *req.ServerAssignor, strings.Join(c.cfg.GroupConsumerAssignors, ", ")))
	}
	var re *regexp.Regexp
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + *req.SubscribedTopicRegex + ")$"); err != nil {
			return cgError(resp, kerr.InvalidRegularExpression.Code, fmt.Sprintf("SubscribedTopicRegex %q is not a valid RE2 regular expression: %v", *req.SubscribedTopicRegex, err))
		}
	}
	g, code := c.lockLiveGroup(req.Group, req.MemberEpoch == 0)
	if code != 0 {
		return cgError(resp, code, "")
	}
	if g == nil {
		return cgError(resp, kerr.UnknownMemberID.Code, "")
	}
	defer g.mu.Unlock()
	if g.typ == TypeClassic {
		if len(g.members) > 0 || len(g.pending) > 0 {
			return cgError(resp, kerr.GroupIDNotFound.Code, "Group "+g.id+" is not a consumer group.")
		}
		if req.MemberEpoch != 0 {
			return cgError(resp, kerr.UnknownMemberID.Code, "")
		}
		g.stopRebalanceTimerLocked()
		g.typ = TypeConsumer
		g.cg = newConsumerGroup()
		g.protocolType = "consumer"
		g.transitionLocked(StateEmpty)
	}
	return g.cg.heartbeat(g, req, re, clientID, clientHost, resp)
}

func (c *Coordinator) hasAssignor(name string) bool {
	for _, a := range c.cfg.GroupConsumerAssignors {
		if a == name {
			return true
		}
	}
	return false
}

func (cg *consumerGroup) heartbeat(g *group, req *kmsg.ConsumerGroupHeartbeatRequest, re *regexp.Regexp, clientID, clientHost string, resp *kmsg.ConsumerGroupHeartbeatResponse) *kmsg.ConsumerGroupHeartbeatResponse {
	bump := false
	var m *cmember
	switch {
	case req.MemberEpoch == 0:
		id := req.MemberID
		if id == "" {
			id = newUUID() // v0: the coordinator names the member
		}
		if req.InstanceID != nil {
			if oldID, ok := cg.instances[*req.InstanceID]; ok && oldID != id {
				old := cg.members[oldID]
				if old != nil && old.epoch != -2 {
					return cgError(resp, kerr.UnreleasedInstanceID.Code, fmt.Sprintf("Static member %s with instance id %s is not released yet.", oldID, *req.InstanceID))
				}
				if old != nil {
					// A static member back within its session: it takes
					// its old place, assignment and epoch.
					delete(cg.members, oldID)
					old.id = id
					old.epoch = old.prevEpoch
					old.owned, old.lastSent = nil, nil
					cg.members[id] = old
					cg.target[id] = cg.target[oldID]
					delete(cg.target, oldID)
					cg.instances[*req.InstanceID] = id
					m = old
				}
			}
		}
		if m == nil {
			if existing := cg.members[id]; existing != nil {
				// The member rejoins (it lost its epoch): it starts over.
				existing.assigned, existing.revoking, existing.owned, existing.lastSent = tpSet{}, tpSet{}, nil, nil
				existing.epoch, existing.prevEpoch, existing.state = 0, 0, cmStable
				existing.revokeSeq++
				m = existing
				bump = true
			} else {
				if len(cg.members) >= int(g.c.cfg.GroupConsumerMaxSize) {
					return cgError(resp, kerr.GroupMaxSizeReached.Code, "")
				}
				m = &cmember{id: id, assigned: tpSet{}, revoking: tpSet{}}
				cg.members[id] = m
				if req.InstanceID != nil {
					cg.instances[*req.InstanceID] = id
				}
				bump = true
			}
		}
	case req.MemberEpoch < 0:
		m = cg.members[req.MemberID]
		if m == nil {
			return cgError(resp, kerr.UnknownMemberID.Code, "")
		}
		resp.MemberID = &m.id
		if req.MemberEpoch == -2 && m.instanceID != nil {
			// A static member leaving for a restart keeps its partitions
			// until it comes back or its session expires.
			if m.epoch >= 0 {
				m.prevEpoch = m.epoch
			}
			m.epoch = -2
			m.revokeSeq++
			g.c.armConsumerSession(g, m)
			resp.MemberEpoch = -2
			return resp
		}
		cg.removeMember(g, m)
		resp.MemberEpoch = -1
		return resp
	default:
		m = cg.members[req.MemberID]
		if m == nil {
			return cgError(resp, kerr.UnknownMemberID.Code, "")
		}
		if req.MemberEpoch != m.epoch {
			owned := topicsToSet(req.Topics)
			if !(req.MemberEpoch == m.prevEpoch && req.Topics != nil && subset(owned, m.assigned)) {
				return cgError(resp, kerr.FencedMemberEpoch.Code, fmt.Sprintf("The consumer group member has an invalid epoch %d; the current epoch is %d.", req.MemberEpoch, m.epoch))
			}
		}
	}

	// Update what the request carries (nil fields mean unchanged).
	m.clientID, m.clientHost = clientID, clientHost
	if req.InstanceID != nil {
		m.instanceID = req.InstanceID
	}
	if req.RackID != nil {
		m.rackID = req.RackID
	}
	if req.RebalanceTimeoutMillis > 0 {
		m.rebalanceTimeoutMs = req.RebalanceTimeoutMillis
	}
	if req.SubscribedTopicNames != nil {
		names := append([]string(nil), req.SubscribedTopicNames...)
		sort.Strings(names)
		if strings.Join(names, "\x00") != strings.Join(m.topicNames, "\x00") || (m.topicNames == nil) != (names == nil) {
			m.topicNames = names
			bump = true
		}
	}
	if req.SubscribedTopicRegex != nil && *req.SubscribedTopicRegex != m.regex {
		m.regex, m.re = *req.SubscribedTopicRegex, re
		bump = true
	}
	if req.ServerAssignor != nil && *req.ServerAssignor != m.serverAssignor {
		m.serverAssignor = *req.ServerAssignor
		bump = true
	}
	if req.Topics != nil {
		m.owned = topicsToSet(req.Topics)
	}
	if fp := cg.computeFingerprint(g); fp != cg.fingerprint {
		cg.fingerprint = fp
		bump = true
	}
	if bump {
		cg.epoch++
	}
	if cg.epoch > cg.assignmentEpoch {
		cg.computeTarget(g)
	}
	prevEpoch, prevAssigned := m.epoch, m.assigned.clone()
	cg.reconcile(g, m)
	g.c.armConsumerSession(g, m)

	resp.MemberID = &m.id
	resp.MemberEpoch = m.epoch
	full := req.RebalanceTimeoutMillis != -1 && (req.SubscribedTopicNames != nil || req.SubscribedTopicRegex != nil) && req.Topics != nil
	if full || req.MemberEpoch == 0 || m.lastSent == nil || !m.assigned.equal(m.lastSent) || prevEpoch != m.epoch || !prevAssigned.equal(m.assigned) {
		resp.Assignment = assignmentOf(m.assigned)
		m.lastSent = m.assigned.clone()
	}
	return resp
}

func topicsToSet(ts []kmsg.ConsumerGroupHeartbeatRequestTopic) tpSet {
	s := tpSet{}
	for _, t := range ts {
		for _, p := range t.Partitions {
			s[tp{t.TopicID, p}] = struct{}{}
		}
	}
	return s
}

func subset(a, b tpSet) bool {
	for k := range a {
		if !b.has(k) {
			return false
		}
	}
	return true
}

func assignmentOf(s tpSet) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	a.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
	for _, x := range s.sorted() {
		n := len(a.Topics)
		if n == 0 || a.Topics[n-1].TopicID != x.id {
			t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			t.TopicID = x.id
			a.Topics = append(a.Topics, t)
			n++
		}
		a.Topics[n-1].Partitions = append(a.Topics[n-1].Partitions, x.p)
	}
	return &a
}

// resolveLocked returns the topics a member subscribes to, by name.
func (cg *consumerGroup) resolve(g *group, m *cmember, names []string) map[string]TopicInfo {
	out := map[string]TopicInfo{}
	for _, n := range m.topicNames {
		if info, ok := g.c.topics.Topic(n); ok {
			out[n] = info
		}
	}
	if m.re != nil {
		for _, n := range names {
			if strings.HasPrefix(n, "__") {
				continue // internal topics are never matched
			}
			if m.re.MatchString(n) {
				if info, ok := g.c.topics.Topic(n); ok {
					out[n] = info
				}
			}
		}
	}
	return out
}

func (cg *consumerGroup) allTopicNames(g *group) []string {
	for _, m := range cg.members {
		if m.re != nil {
			return g.c.topics.TopicNames()
		}
	}
	return nil
}

// computeFingerprint summarises the subscribed topics' metadata; a change
// (new partitions, a topic created or deleted, a regex matching more)
// means a new group epoch.
func (cg *consumerGroup) computeFingerprint(g *group) string {
	names := cg.allTopicNames(g)
	union := map[string]TopicInfo{}
	for _, m := range cg.members {
		for n, info := range cg.resolve(g, m, names) {
			union[n] = info
		}
	}
	keys := make([]string, 0, len(union))
	for n := range union {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, n := range keys {
		info := union[n]
		fmt.Fprintf(&b, "%s:%x:%d;", n, info.ID, info.Partitions)
	}
	return b.String()
}

// subscribedTopicsLocked is the union of the members' resolved topics.
func (cg *consumerGroup) subscribedTopicsLocked(g *group) map[string]bool {
	names := cg.allTopicNames(g)
	out := map[string]bool{}
	for _, m := range cg.members {
		for n := range cg.resolve(g, m, names) {
			out[n] = true
		}
	}
	return out
}

// computeTarget runs the assignor for the current group epoch.
func (cg *consumerGroup) computeTarget(g *group) {
	names := cg.allTopicNames(g)
	topicSet := map[string]TopicInfo{}
	ids := make([]string, 0, len(cg.members))
	for id := range cg.members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	members := make([]assignMember, 0, len(ids))
	votes := map[string]int{}
	for _, id := range ids {
		m := cg.members[id]
		am := assignMember{id: id, topics: map[[16]byte]bool{}, current: cg.target[id]}
		for n, info := range cg.resolve(g, m, names) {
			topicSet[n] = info
			am.topics[info.ID] = true
		}
		if am.current == nil {
			am.current = tpSet{}
		}
		members = append(members, am)
		if m.serverAssignor != "" {
			votes[m.serverAssignor]++
		}
	}
	name := g.c.cfg.GroupConsumerAssignors[0]
	best := 0
	for _, a := range g.c.cfg.GroupConsumerAssignors {
		if votes[a] > best {
			name, best = a, votes[a]
		}
	}
	topicNames := make([]string, 0, len(topicSet))
	for n := range topicSet {
		topicNames = append(topicNames, n)
	}
	sort.Strings(topicNames)
	topics := make([]assignTopic, 0, len(topicNames))
	for _, n := range topicNames {
		topics = append(topics, assignTopic{id: topicSet[n].ID, name: n, partitions: topicSet[n].Partitions})
	}
	cg.target = newAssignor(name).assign(members, topics)
	cg.assignorName = name
	cg.assignmentEpoch = cg.epoch
}

// ownedByOther: does another member still hold the partition?
func (cg *consumerGroup) ownedByOther(m *cmember, x tp) bool {
	for _, o := range cg.members {
		if o != m && (o.assigned.has(x) || o.revoking.has(x)) {
			return true
		}
	}
	return false
}

// reconcile moves a member one step towards its target assignment.
func (cg *consumerGroup) reconcile(g *group, m *cmember) {
	if m.epoch < 0 {
		return
	}
	target := cg.target[m.id]
	if target == nil {
		target = tpSet{}
	}
	if m.state == cmUnrevoked {
		if m.owned == nil {
			return
		}
		for x := range m.revoking {
			if m.owned.has(x) {
				return // still revoking
			}
		}
		m.revoking = tpSet{}
		m.state = cmStable
		m.revokeSeq++
		if m.revokeTimer != nil {
			m.revokeTimer.Stop()
			m.revokeTimer = nil
		}
	}
	if m.state == cmStable && m.epoch == cg.assignmentEpoch {
		return
	}
	revoke := tpSet{}
	for x := range m.assigned {
		if !target.has(x) {
			revoke[x] = struct{}{}
		}
	}
	if len(revoke) > 0 {
		keep := tpSet{}
		for x := range m.assigned {
			if target.has(x) {
				keep[x] = struct{}{}
			}
		}
		m.assigned, m.revoking, m.state = keep, revoke, cmUnrevoked
		cg.armRevocation(g, m)
		return
	}
	unreleased := false
	for x := range target {
		if m.assigned.has(x) {
			continue
		}
		if cg.ownedByOther(m, x) {
			unreleased = true
			continue
		}
		m.assigned[x] = struct{}{}
	}
	if m.epoch != cg.assignmentEpoch {
		m.prevEpoch, m.epoch = m.epoch, cg.assignmentEpoch
	}
	if unreleased {
		m.state = cmUnreleased
	} else {
		m.state = cmStable
	}
}

// armRevocation fences a member that does not revoke within its
// rebalance timeout.
func (cg *consumerGroup) armRevocation(g *group, m *cmember) {
	m.revokeSeq++
	seq := m.revokeSeq
	d := time.Duration(m.rebalanceTimeoutMs) * time.Millisecond
	if d <= 0 {
		d = time.Duration(g.c.cfg.GroupConsumerSessionTimeoutMs) * time.Millisecond
	}
	m.revokeTimer = g.c.clock.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.cg != cg || cg.members[m.id] != m || m.revokeSeq != seq || m.state != cmUnrevoked {
			return
		}
		g.c.logger.Info("member did not revoke within its rebalance timeout", "group", g.id, "member", m.id)
		cg.removeMember(g, m)
	})
}

func (c *Coordinator) armConsumerSession(g *group, m *cmember) {
	cg := g.cg
	c.armSession(&g.mu, &m.deadline, &m.timer, time.Duration(c.cfg.GroupConsumerSessionTimeoutMs)*time.Millisecond, func() bool {
		return g.cg == cg && cg.members[m.id] == m && g.state != StateDead
	}, func() {
		c.logger.Info("member session expired", "group", g.id, "member", m.id)
		cg.removeMember(g, m)
	})
}

// removeMember drops a member; its partitions become free and the group
// epoch moves on so a new target is computed on the next heartbeat.
func (cg *consumerGroup) removeMember(g *group, m *cmember) {
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
	if m.revokeTimer != nil {
		m.revokeTimer.Stop()
		m.revokeTimer = nil
	}
	m.revokeSeq++
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != nil && cg.instances[*m.instanceID] == m.id {
		delete(cg.instances, *m.instanceID)
	}
	cg.epoch++
	if len(cg.members) == 0 {
		g.transitionLocked(StateEmpty)
	}
}

// validateOffsetCommit: a member commits with its current epoch (or the
// previous one while it moves on, as Kafka 4.3 allows); an epoch-less
// commit is allowed only when the group has no members.
func (cg *consumerGroup) validateOffsetCommit(g *group, epoch int32, memberID string, version int16) int16 {
	if epoch < 0 && memberID == "" {
		if len(cg.members) == 0 {
			return 0
		}
		return kerr.UnknownMemberID.Code
	}
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if version < 9 {
		return kerr.UnsupportedVersion.Code
	}
	switch {
	case epoch == m.epoch, epoch == m.prevEpoch && m.prevEpoch > 0:
		return 0
	case epoch > m.epoch:
		return kerr.FencedMemberEpoch.Code
	}
	return kerr.StaleMemberEpoch.Code
}

func (cg *consumerGroup) validateOffsetFetch(memberID string, epoch int32) int16 {
	if memberID == "" && epoch < 0 {
		return 0
	}
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if epoch != m.epoch && !(epoch == m.prevEpoch && m.prevEpoch > 0) {
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// ConsumerGroupDescribe serves a ConsumerGroupDescribe request (v0, v1).
func (c *Coordinator) ConsumerGroupDescribe(req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group = id
		dg.AuthorizedOperations = -2147483648
		if code := c.preCheck(id); code != 0 {
			dg.ErrorCode = code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		g, code := c.lockLiveGroup(id, false)
		if code != 0 {
			dg.ErrorCode = code
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		if g == nil || g.typ != TypeConsumer {
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			msg := "Group " + id + " not found."
			if g != nil {
				msg = "Group " + id + " is not a consumer group."
				g.mu.Unlock()
			}
			dg.ErrorMessage = &msg
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		cg := g.cg
		dg.State = cg.stateLocked().String()
		dg.Epoch = cg.epoch
		dg.AssignmentEpoch = cg.assignmentEpoch
		dg.AssignorName = cg.assignorName
		if dg.AssignorName == "" {
			dg.AssignorName = c.cfg.GroupConsumerAssignors[0]
		}
		ids := make([]string, 0, len(cg.members))
		for mid := range cg.members {
			ids = append(ids, mid)
		}
		sort.Strings(ids)
		for _, mid := range ids {
			m := cg.members[mid]
			dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
			dm.MemberID = m.id
			dm.InstanceID = m.instanceID
			dm.RackID = m.rackID
			dm.MemberEpoch = m.epoch
			dm.ClientID = m.clientID
			dm.ClientHost = m.clientHost
			dm.SubscribedTopics = append([]string{}, m.topicNames...)
			if m.regex != "" {
				dm.SubscribedTopicRegex = strPtr(m.regex)
			}
			dm.Assignment = c.describeAssignment(m.assigned)
			dm.TargetAssignment = c.describeAssignment(cg.target[m.id])
			dm.MemberType = 1 // consumer protocol
			dg.Members = append(dg.Members, dm)
		}
		g.mu.Unlock()
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) describeAssignment(s tpSet) kmsg.Assignment {
	a := kmsg.NewAssignment()
	for _, x := range s.sorted() {
		n := len(a.TopicPartitions)
		if n == 0 || a.TopicPartitions[n-1].TopicID != x.id {
			t := kmsg.NewAssignmentTopicPartition()
			t.TopicID = x.id
			t.Topic, _ = c.topics.TopicByID(x.id)
			a.TopicPartitions = append(a.TopicPartitions, t)
			n++
		}
		a.TopicPartitions[n-1].Partitions = append(a.TopicPartitions[n-1].Partitions, x.p)
	}
	return a
}
