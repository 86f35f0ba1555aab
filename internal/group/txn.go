package group

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is what the transaction coordinator needs from the group
// coordinator: TxnOffsetCommit's member check when the offsets are sent,
// applying the offsets when the transaction commits (the marker), and
// require_stable for offsets still pending in an open transaction.

// CommittedOffset is one offset a transaction commits for a group.
type CommittedOffset struct {
	Offset      int64
	LeaderEpoch int32 // -1 if unknown
	Metadata    string
}

// ValidateTxnOffsetCommit applies Kafka's checks to a TxnOffsetCommit when
// it arrives: a request naming a member (or generation, or instance) must
// match the group's current member and generation; one naming none (the
// pre-KIP-447 form) is accepted whatever the group's state. The answer is
// a Kafka error code (0: accepted).
func (c *Coordinator) ValidateTxnOffsetCommit(groupID, memberID string, instanceID *string, generation int32) int16 {
	if code := c.preCheck(groupID); code != 0 {
		return code
	}
	if groupID == "" {
		return kerr.InvalidGroupID.Code
	}
	if generation < 0 && memberID == "" && instanceID == nil {
		return 0
	}
	g, code := c.lockLiveGroup(groupID, false)
	if code != 0 {
		return code
	}
	if g == nil {
		return kerr.IllegalGeneration.Code
	}
	defer g.mu.Unlock()
	if g.typ == TypeConsumer {
		m := g.cg.members[memberID]
		switch {
		case m == nil:
			return kerr.UnknownMemberID.Code
		case generation == m.epoch, generation == m.prevEpoch && m.prevEpoch > 0:
			return 0
		case generation > m.epoch:
			return kerr.FencedMemberEpoch.Code
		}
		return kerr.StaleMemberEpoch.Code
	}
	if code := g.validateMemberLocked(memberID, instanceID); code != 0 {
		return code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0
}

// CommitTransactionalOffsets applies a committed transaction's offsets to a
// group, as Kafka does when the commit marker reaches __consumer_offsets:
// without member or generation checks (they were made when the offsets were
// sent), creating the group (Empty) if it does not exist. It writes the
// offsets to storage and answers a Kafka error code.
func (c *Coordinator) CommitTransactionalOffsets(groupID string, offsets map[string]map[int32]CommittedOffset) int16 {
	g, code := c.lockTransactionalGroup(groupID)
	if code != 0 {
		return code
	}
	defer g.mu.Unlock()
	now := c.clock.Now().UnixMilli()
	type put struct {
		topic string
		part  int32
		e     offsetEntry
	}
	var recs []Record
	var puts []put
	for topic, ps := range offsets {
		for p, o := range ps {
			e := offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTimestamp: now, expireTimestamp: -1}
			recs = append(recs, Record{Key: offsetCommitKey(groupID, topic, p), Value: offsetCommitValue(e)})
			puts = append(puts, put{topic, p, e})
		}
	}
	if err := g.appendLocked(recs); err != nil {
		c.logger.Warn("transactional offset commit write failed", "group", groupID, "err", err)
		g.removeIfEmptyNewLocked()
		return storageErrorCode(err)
	}
	for _, x := range puts {
		g.putOffsetLocked(x.topic, x.part, x.e)
	}
	g.removeIfEmptyNewLocked()
	return 0
}

// PendingOffsetsFunc reports whether a group has a transactional offset for
// a partition that is neither committed nor aborted yet.
type PendingOffsetsFunc func(group, topic string, partition int32) bool

// SetPendingOffsets installs the transaction coordinator's view of pending
// transactional offsets: OffsetFetch with require_stable (v7+) answers
// UNSTABLE_OFFSET_COMMIT for those partitions, so consumers wait for the
// transaction to finish. Call it before serving; nil removes the check.
func (c *Coordinator) SetPendingOffsets(fn PendingOffsetsFunc) {
	c.pendingMu.Lock()
	c.pendingFn = fn
	c.pendingMu.Unlock()
}

func (c *Coordinator) pendingOffsets() PendingOffsetsFunc {
	c.pendingMu.Lock()
	defer c.pendingMu.Unlock()
	return c.pendingFn
}

// TxnOffsetRecords are the __consumer_offsets records of a TxnOffsetCommit,
// with the group's partition: Kafka writes them into that partition as one
// transactional batch of the producer, and the transaction's marker there
// commits or aborts them (a replay resolves them by the markers it finds).
// The caller appends them; CompleteTransactionalOffsets applies them at the
// commit marker.
func (c *Coordinator) TxnOffsetRecords(groupID string, offsets map[string]map[int32]CommittedOffset) (partition int32, recs []Record) {
	now := c.clock.Now().UnixMilli()
	for topic, ps := range offsets {
		for p, o := range ps {
			e := offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTimestamp: now, expireTimestamp: -1}
			recs = append(recs, Record{Key: offsetCommitKey(groupID, topic, p), Value: offsetCommitValue(e)})
		}
	}
	return c.PartitionFor(groupID), recs
}

// DecodeOffsetRecord decodes an offset commit record of __consumer_offsets
// (as TxnOffsetRecords writes them); ok is false for any other record, a
// tombstone included.
func DecodeOffsetRecord(r Record) (groupID, topic string, partition int32, o CommittedOffset, ok bool) {
	d, err := decodeRecord(r)
	if err != nil || d.offsetKey == nil || d.offset == nil {
		return "", "", 0, CommittedOffset{}, false
	}
	o = CommittedOffset{Offset: d.offset.Offset, LeaderEpoch: -1, Metadata: d.offset.Metadata}
	if d.offset.Version >= 3 {
		o.LeaderEpoch = d.offset.LeaderEpoch
	}
	return d.offsetKey.Group, d.offsetKey.Topic, d.offsetKey.Partition, o, true
}

// CompleteTransactionalOffsets applies a committed transaction's offsets
// whose records (TxnOffsetRecords) and commit marker are already durable in
// __consumer_offsets: as CommitTransactionalOffsets, without member checks
// and creating the group if needed, but writing nothing. A replay of the
// partition applies the same records at the marker.
func (c *Coordinator) CompleteTransactionalOffsets(groupID string, offsets map[string]map[int32]CommittedOffset) int16 {
	g, code := c.lockTransactionalGroup(groupID)
	if code != 0 {
		return code
	}
	defer g.mu.Unlock()
	now := c.clock.Now().UnixMilli()
	for topic, ps := range offsets {
		for p, o := range ps {
			g.putOffsetLocked(topic, p, offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, commitTimestamp: now, expireTimestamp: -1})
		}
	}
	g.removeIfEmptyNewLocked()
	return 0
}

// lockTransactionalGroup returns the group committed offsets of a
// transaction apply to, locked and created if needed, or the error code.
func (c *Coordinator) lockTransactionalGroup(groupID string) (*group, int16) {
	if code := c.preCheck(groupID); code != 0 {
		return nil, code
	}
	if groupID == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	return c.lockLiveGroup(groupID, true)
}
