package group

import "sync"

// TopicOffsets are one group's offsets by topic and partition.
type TopicOffsets = map[string]map[int32]CommittedOffset

// PendingTxnOffsets holds the transactional offsets written to
// __consumer_offsets whose transaction marker is not written yet, by group
// and producer id: TxnOffsetCommit adds them once their records are in the
// log, the commit marker takes them into the coordinator's offsets, the
// abort marker drops them, and OffsetFetch with require_stable asks
// PendingFor. It also keeps one lock per __consumer_offsets partition
// (LockPartition), held from a TxnOffsetCommit's append until its offsets
// are pending and from a marker's append until its offsets are applied, so
// that a marker never misses offsets already in the log. All methods are
// safe for concurrent use.
type PendingTxnOffsets struct {
	mu     sync.Mutex
	m      map[pendingKey]TopicOffsets
	partMu map[int32]*sync.Mutex // per __consumer_offsets partition
}

type pendingKey struct {
	group string
	pid   int64
}

// NewPendingTxnOffsets returns an empty set.
func NewPendingTxnOffsets() *PendingTxnOffsets {
	return &PendingTxnOffsets{m: map[pendingKey]TopicOffsets{}, partMu: map[int32]*sync.Mutex{}}
}

// LockPartition locks an offsets partition and returns its unlock.
func (p *PendingTxnOffsets) LockPartition(part int32) func() {
	p.mu.Lock()
	mu := p.partMu[part]
	if mu == nil {
		mu = &sync.Mutex{}
		p.partMu[part] = mu
	}
	p.mu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// Add records offsets of a producer's open transaction (later ones for a
// partition win, as they do in the log).
func (p *PendingTxnOffsets) Add(groupID string, pid int64, offsets TopicOffsets) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pendingKey{groupID, pid}
	t := p.m[k]
	if t == nil {
		t = TopicOffsets{}
		p.m[k] = t
	}
	for topic, ps := range offsets {
		if t[topic] == nil {
			t[topic] = map[int32]CommittedOffset{}
		}
		for part, o := range ps {
			t[topic][part] = o
		}
	}
}

// Take removes and returns the producer's pending offsets of the groups
// that match, by group.
func (p *PendingTxnOffsets) Take(pid int64, match func(group string) bool) map[string]TopicOffsets {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]TopicOffsets{}
	for k, t := range p.m {
		if k.pid == pid && match(k.group) {
			out[k.group] = t
			delete(p.m, k)
		}
	}
	return out
}

// Drop forgets the pending offsets of the groups that match, of every
// producer: those of a partition whose groups were unloaded (the
// partition's next load finds them again in the log).
func (p *PendingTxnOffsets) Drop(match func(group string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.m {
		if match(k.group) {
			delete(p.m, k)
		}
	}
}

// PendingFor reports whether a group has transactional offsets waiting for
// a partition (OffsetFetch with require_stable answers
// UNSTABLE_OFFSET_COMMIT for it).
func (p *PendingTxnOffsets) PendingFor(g, topic string, part int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, t := range p.m {
		if k.group == g {
			if _, ok := t[topic][part]; ok {
				return true
			}
		}
	}
	return false
}
