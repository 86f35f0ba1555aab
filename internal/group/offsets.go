package group

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is committed offsets: OffsetCommit, OffsetFetch, OffsetDelete
// and their expiry.

// OffsetCommit serves an OffsetCommit request (v0 to v9). Offsets are
// written to __consumer_offsets before they are acknowledged.
func (c *Coordinator) OffsetCommit(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		rt.Topic = t.Topic
		rt.TopicID = t.TopicID
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rt.Partitions[j] = kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition}
		}
	}
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
	}
	if code := c.preCheck(req.Group); code != 0 {
		setAll(code)
		return resp
	}
	if req.Group == "" {
		setAll(kerr.InvalidGroupID.Code)
		return resp
	}
	generation, memberID := req.Generation, req.MemberID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	now := c.clock.Now().UnixMilli()
	expire := int64(-1)
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis >= 0 {
		expire = now + req.RetentionTimeMillis
	}

	// Per-partition checks that need no group.
	type pending struct {
		ti, pi int
		topic  string
		part   int32
		entry  offsetEntry
	}
	var toWrite []pending
	for i, t := range req.Topics {
		info, topicOK := c.topics.Topic(t.Topic)
		for j, p := range t.Partitions {
			rp := &resp.Topics[i].Partitions[j]
			switch {
			case !topicOK || p.Partition < 0 || p.Partition >= info.Partitions:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				continue
			case p.Metadata != nil && len(*p.Metadata) > int(c.cfg.OffsetMetadataMaxBytes):
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			e := offsetEntry{offset: p.Offset, leaderEpoch: -1, commitTimestamp: now, expireTimestamp: expire}
			if req.Version >= 6 {
				e.leaderEpoch = p.LeaderEpoch
			}
			if p.Metadata != nil {
				e.metadata = *p.Metadata
			}
			if req.Version == 1 && p.Timestamp != -1 {
				e.commitTimestamp = p.Timestamp
			}
			toWrite = append(toWrite, pending{ti: i, pi: j, topic: t.Topic, part: p.Partition, entry: e})
		}
	}

	g, code := c.lockLiveGroup(req.Group, generation < 0)
	if code != 0 {
		setAll(code)
		return resp
	}
	if g == nil {
		setAll(kerr.IllegalGeneration.Code)
		return resp
	}
	defer g.mu.Unlock()
	if code := g.validateOffsetCommitLocked(generation, memberID, req.InstanceID, req.Version); code != 0 {
		setAll(code)
		g.removeIfEmptyNewLocked()
		return resp
	}
	if len(toWrite) == 0 {
		g.removeIfEmptyNewLocked()
		return resp
	}
	recs := make([]Record, len(toWrite))
	for i, w := range toWrite {
		recs[i] = Record{Key: offsetCommitKey(g.id, w.topic, w.part), Value: offsetCommitValue(w.entry)}
	}
	if err := g.appendLocked(recs); err != nil {
		c.logger.Warn("offset commit write failed", "group", g.id, "err", err)
		setAll(storageErrorCode(err))
		g.removeIfEmptyNewLocked()
		return resp
	}
	for _, w := range toWrite {
		g.putOffsetLocked(w.topic, w.part, w.entry)
	}
	return resp
}

func (g *group) putOffsetLocked(topic string, part int32, e offsetEntry) {
	ps := g.offsets[topic]
	if ps == nil {
		ps = map[int32]offsetEntry{}
		g.offsets[topic] = ps
	}
	ps[part] = e
}

func (g *group) deleteOffsetLocked(topic string, part int32) {
	if ps := g.offsets[topic]; ps != nil {
		delete(ps, part)
		if len(ps) == 0 {
			delete(g.offsets, topic)
		}
	}
}

// validateOffsetCommitLocked applies Kafka's member and generation checks.
// A commit without a generation (-1) and member is an "admin" or simple
// consumer commit, allowed only while the group has no members.
func (g *group) validateOffsetCommitLocked(generation int32, memberID string, instanceID *string, version int16) int16 {
	if g.typ == TypeConsumer {
		return g.cg.validateOffsetCommit(g, generation, memberID, version)
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if code := g.validateMemberLocked(memberID, instanceID); code != 0 {
			return code
		}
		if generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
		if g.state == StateCompletingRebalance {
			// The member knows the new generation from its JoinGroup
			// answer but has no assignment yet.
			return kerr.RebalanceInProgress.Code
		}
		g.heartbeatLocked(g.members[memberID])
		return 0
	}
	if len(g.members) > 0 {
		return kerr.UnknownMemberID.Code
	}
	return 0
}

// OffsetFetch serves an OffsetFetch request: one group up to v7, a batch
// of groups from v8. With require_stable (v7+), partitions with offsets
// pending in an open transaction answer UNSTABLE_OFFSET_COMMIT (see
// SetPendingOffsets).
func (c *Coordinator) OffsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var topics []offsetFetchTopic
			if rg.Topics != nil {
				topics = make([]offsetFetchTopic, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, offsetFetchTopic{t.Topic, t.Partitions})
				}
			}
			code, res := c.fetchOffsets(rg.Group, rg.Topics == nil, topics, rg.MemberID, rg.MemberEpoch, req.RequireStable)
			og := kmsg.NewOffsetFetchResponseGroup()
			og.Group = rg.Group
			og.ErrorCode = code
			for _, t := range res {
				ot := kmsg.NewOffsetFetchResponseGroupTopic()
				ot.Topic = t.topic
				for _, p := range t.parts {
					op := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					op.Partition, op.Offset, op.LeaderEpoch, op.Metadata, op.ErrorCode = p.partition, p.offset, p.leaderEpoch, strPtr(p.metadata), p.code
					ot.Partitions = append(ot.Partitions, op)
				}
				og.Topics = append(og.Topics, ot)
			}
			resp.Groups = append(resp.Groups, og)
		}
		return resp
	}
	var topics []offsetFetchTopic
	for _, t := range req.Topics {
		topics = append(topics, offsetFetchTopic{t.Topic, t.Partitions})
	}
	all := req.Topics == nil && req.Version >= 2
	code, res := c.fetchOffsets(req.Group, all, topics, nil, -1, req.Version >= 7 && req.RequireStable)
	if req.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, t := range res {
		ot := kmsg.NewOffsetFetchResponseTopic()
		ot.Topic = t.topic
		for _, p := range t.parts {
			op := kmsg.NewOffsetFetchResponseTopicPartition()
			op.Partition, op.Offset, op.LeaderEpoch, op.Metadata, op.ErrorCode = p.partition, p.offset, p.leaderEpoch, strPtr(p.metadata), p.code
			if req.Version < 2 && code != 0 {
				op.ErrorCode = code // v0-v1 have no group-level error code
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

type offsetFetchTopic struct {
	topic string
	parts []int32
}

type fetchedPartition struct {
	partition   int32
	offset      int64
	leaderEpoch int32
	metadata    string
	code        int16
}

type fetchedTopic struct {
	topic string
	parts []fetchedPartition
}

func (c *Coordinator) fetchOffsets(groupID string, all bool, topics []offsetFetchTopic, memberID *string, memberEpoch int32, requireStable bool) (int16, []fetchedTopic) {
	var pending PendingOffsetsFunc
	if requireStable {
		pending = c.pendingOffsets()
	}
	unstable := func(topic string, p int32) int16 {
		if pending != nil && pending(groupID, topic, p) {
			return kerr.UnstableOffsetCommit.Code
		}
		return 0
	}
	unknown := func() []fetchedTopic {
		out := make([]fetchedTopic, 0, len(topics))
		for _, t := range topics {
			ft := fetchedTopic{topic: t.topic}
			for _, p := range t.parts {
				ft.parts = append(ft.parts, fetchedPartition{partition: p, offset: -1, leaderEpoch: -1, code: unstable(t.topic, p)})
			}
			out = append(out, ft)
		}
		return out
	}
	if code := c.preCheck(groupID); code != 0 {
		return code, unknown()
	}
	g, code := c.lockLiveGroup(groupID, false)
	if code != 0 {
		return code, nil
	}
	if g == nil {
		if memberID != nil && *memberID != "" {
			return kerr.UnknownMemberID.Code, nil
		}
		return 0, unknown()
	}
	defer g.mu.Unlock()
	if memberID != nil && g.typ == TypeConsumer {
		if code := g.cg.validateOffsetFetch(*memberID, memberEpoch); code != 0 {
			return code, nil
		}
	}
	if all {
		names := make([]string, 0, len(g.offsets))
		for t := range g.offsets {
			names = append(names, t)
		}
		sort.Strings(names)
		out := make([]fetchedTopic, 0, len(names))
		for _, t := range names {
			ps := g.offsets[t]
			ft := fetchedTopic{topic: t}
			ids := make([]int32, 0, len(ps))
			for p := range ps {
				ids = append(ids, p)
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			for _, p := range ids {
				e := ps[p]
				ft.parts = append(ft.parts, fetchedPartition{partition: p, offset: e.offset, leaderEpoch: e.leaderEpoch, metadata: e.metadata, code: unstable(t, p)})
			}
			out = append(out, ft)
		}
		return 0, out
	}
	out := make([]fetchedTopic, 0, len(topics))
	for _, t := range topics {
		ft := fetchedTopic{topic: t.topic}
		for _, p := range t.parts {
			fp := fetchedPartition{partition: p, offset: -1, leaderEpoch: -1, code: unstable(t.topic, p)}
			if e, ok := g.offsets[t.topic][p]; ok {
				fp.offset, fp.leaderEpoch, fp.metadata = e.offset, e.leaderEpoch, e.metadata
			}
			ft.parts = append(ft.parts, fp)
		}
		out = append(out, ft)
	}
	return 0, out
}

// OffsetDelete serves an OffsetDelete request: offsets of topics the group
// is not subscribed to are deleted (tombstones written).
func (c *Coordinator) OffsetDelete(req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	if code := c.preCheck(req.Group); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	g, code := c.lockLiveGroup(req.Group, false)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	if g == nil {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	}
	defer g.mu.Unlock()
	var subscribed func(string) bool
	switch {
	case g.typ == TypeConsumer:
		subs := g.cg.subscribedTopicsLocked(g)
		subscribed = func(t string) bool { return subs[t] }
	case len(g.members) == 0:
		subscribed = func(string) bool { return false }
	case g.protocolType == "consumer" && g.subscribed != nil:
		subscribed = func(t string) bool { return g.subscribed[t] }
	default:
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp
	}
	var recs []Record
	type del struct {
		topic string
		part  int32
	}
	var dels []del
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		info, ok := c.topics.Topic(t.Topic)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			switch {
			case !ok || p.Partition < 0 || p.Partition >= info.Partitions:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case subscribed(t.Topic):
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			default:
				if _, has := g.offsets[t.Topic][p.Partition]; has {
					recs = append(recs, Record{Key: offsetCommitKey(g.id, t.Topic, p.Partition)})
					dels = append(dels, del{t.Topic, p.Partition})
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if err := g.appendLocked(recs); err != nil {
		resp.ErrorCode = storageErrorCode(err)
		resp.Topics = nil
		return resp
	}
	for _, d := range dels {
		g.deleteOffsetLocked(d.topic, d.part)
	}
	return resp
}

// expireOffsets deletes offsets past their retention, Kafka's rules:
// while a group is empty its offsets expire offsets.retention.minutes
// after it became empty (or, for groups that never had members, after
// their commit); a stable consumer-protocol group loses offsets of topics
// it no longer subscribes to. Groups left empty and offset-less are
// removed.
func (c *Coordinator) expireOffsets() {
	now := c.clock.Now()
	retention := time.Duration(c.cfg.OffsetsRetentionMinutes) * time.Minute
	for _, g := range c.snapshotGroups() {
		g.mu.Lock()
		if g.state == StateDead {
			g.mu.Unlock()
			continue
		}
		var recs []Record
		type del struct {
			topic string
			part  int32
		}
		var dels []del
		for t, ps := range g.offsets {
			for p, e := range ps {
				if g.offsetExpiredLocked(t, e, now, retention) {
					recs = append(recs, Record{Key: offsetCommitKey(g.id, t, p)})
					dels = append(dels, del{t, p})
				}
			}
		}
		remove := false
		if len(dels) == g.numOffsetsLocked() && g.isEmptyLocked() && len(g.pending) == 0 && (g.typ == TypeConsumer || g.state == StateEmpty) {
			remove = true
			if g.typ == TypeClassic && (g.generation > 0 || g.protocolType != "") {
				recs = append(recs, Record{Key: groupMetadataKey(g.id)})
			}
		}
		if err := g.appendLocked(recs); err != nil {
			c.logger.Warn("offset expiry write failed", "group", g.id, "err", err)
			g.mu.Unlock()
			continue
		}
		for _, d := range dels {
			g.deleteOffsetLocked(d.topic, d.part)
		}
		if remove {
			g.markDeadLocked()
		}
		g.mu.Unlock()
		if remove {
			c.removeGroup(g)
		}
	}
}

func (g *group) numOffsetsLocked() int {
	n := 0
	for _, ps := range g.offsets {
		n += len(ps)
	}
	return n
}

func (g *group) offsetExpiredLocked(topic string, e offsetEntry, now time.Time, retention time.Duration) bool {
	nowMs := now.UnixMilli()
	expired := func(base int64) bool {
		if e.expireTimestamp >= 0 {
			return nowMs >= e.expireTimestamp
		}
		return nowMs-base >= retention.Milliseconds()
	}
	switch {
	case g.typ == TypeConsumer:
		if g.isEmptyLocked() {
			return expired(g.stateTime.UnixMilli())
		}
		return !g.cg.subscribedTopicsLocked(g)[topic] && expired(e.commitTimestamp)
	case g.protocolType == "":
		return expired(e.commitTimestamp) // a simple consumer's offsets
	case g.state == StateEmpty:
		return expired(g.stateTime.UnixMilli())
	case g.state == StateStable && g.protocolType == "consumer" && g.subscribed != nil:
		return !g.subscribed[topic] && expired(e.commitTimestamp)
	}
	return false
}

// scheduleExpiry runs expireOffsets every offsets.retention.check.interval.ms.
func (c *Coordinator) scheduleExpiry() {
	c.expiryMu.Lock()
	defer c.expiryMu.Unlock()
	if c.closed.Load() {
		return
	}
	c.expiryT = c.clock.AfterFunc(time.Duration(c.cfg.OffsetsRetentionCheckIntervalMs)*time.Millisecond, func() {
		c.expireOffsets()
		c.scheduleExpiry()
	})
}

// GroupOffset is one committed offset of a group.
type GroupOffset struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
}

// CommittedOffsets lists the committed offsets of every group of the
// partitions loaded, in no particular order: the node's metrics compute
// consumer lag from them. It takes each group's lock in turn, briefly.
func (c *Coordinator) CommittedOffsets() []GroupOffset {
	var out []GroupOffset
	for _, g := range c.snapshotGroups() {
		g.mu.Lock()
		if g.state != StateDead {
			for t, ps := range g.offsets {
				for p, e := range ps {
					out = append(out, GroupOffset{Group: g.id, Topic: t, Partition: p, Offset: e.offset})
				}
			}
		}
		g.mu.Unlock()
	}
	return out
}
