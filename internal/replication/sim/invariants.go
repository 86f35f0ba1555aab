package sim

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
)

// model is what the invariants remember across steps.
type model struct {
	// ackedAll: batches acknowledged with acks=all, by base offset, as the
	// leader held them when it acknowledged.
	ackedAll map[int64][]byte
	// leaderOf: the node seen leading each epoch.
	leaderOf map[int32]int32
	// leaderHW: the highest high watermark seen of each node leading an
	// epoch.
	leaderHW map[[2]int32]int64
	// seen: what consumers read, by base offset, and the base of the
	// batch holding each offset read.
	seen     map[int64][]byte
	seenBase map[int64]int64
}

func (m *model) init() {
	m.ackedAll = map[int64][]byte{}
	m.leaderOf = map[int32]int32{}
	m.leaderHW = map[[2]int32]int64{}
	m.seen = map[int64][]byte{}
	m.seenBase = map[int64]int64{}
}

// violate records a broken invariant.
func (s *Sim) violate(format string, args ...any) {
	msg := fmt.Sprintf("seed %d step %d t=%d: ", s.opts.Seed, s.step, s.now) + fmt.Sprintf(format, args...)
	s.Violations = append(s.Violations, msg)
	s.tracef("VIOLATION %s", msg)
	s.printf("VIOLATION %s\n", fmt.Sprintf(format, args...))
}

// batch is one batch of a log.
type batch struct {
	base, last int64
	b          []byte
}

// logBatches reads a node's whole log.
func (n *node) logBatches() ([]batch, error) {
	var out []batch
	for off := n.l.LogStartOffset(); off < n.l.LogEndOffset(); {
		rr, err := n.l.Read(off, log.ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			return nil, fmt.Errorf("n%d: read at %d: %w", n.id, off, err)
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			break
		}
		for it := record.Batches(b); it.Next(); {
			h := it.Header()
			out = append(out, batch{base: h.BaseOffset, last: h.LastOffset(), b: it.Batch()})
		}
		off = rr.NextOffset
	}
	return out, nil
}

func find(bs []batch, base int64) []byte {
	i := sort.Search(len(bs), func(i int) bool { return bs[i].base >= base })
	if i < len(bs) && bs[i].base == base {
		return bs[i].b
	}
	return nil
}

// acked records a produce's acknowledgement; one with acks=all must stay
// in the log at its offsets for good.
func (s *Sim) acked(n *node, pr *produce) {
	s.tracef("produce %s acknowledged (acks=%s) at %d-%d", pr.value, acksName(pr.acks), pr.base, pr.end-1)
	s.printf("produce %s acknowledged (acks=%s)\n", pr.value, acksName(pr.acks))
	if pr.acks != -1 {
		s.Stats.AckedOne++
		return
	}
	s.Stats.AckedAll++
	bs, err := n.logBatches()
	if err != nil {
		s.violate("%v", err)
		return
	}
	b := find(bs, pr.base)
	if b == nil {
		s.violate("n%d acknowledged %s at %d but holds no batch there", n.id, pr.value, pr.base)
		return
	}
	s.model.ackedAll[pr.base] = b
}

// Check verifies every invariant on the current state.
func (s *Sim) Check() {
	logs := map[int32][]batch{}
	for _, n := range s.nodes {
		if !n.up {
			continue
		}
		bs, err := n.logBatches()
		if err != nil {
			s.violate("%v", err)
			return
		}
		logs[n.id] = bs
	}
	s.checkLeaders()
	s.checkAcked(logs)
	s.checkCommittedPrefixes(logs)
}

// checkLeaders: (4) at most one leader per epoch; (2) a leader's high
// watermark never goes back within its epoch.
func (s *Sim) checkLeaders() {
	for _, n := range s.nodes {
		if !n.up || !n.p.IsLeader() {
			continue
		}
		e := n.p.LeaderEpoch()
		if other, ok := s.model.leaderOf[e]; ok && other != n.id {
			s.violate("two leaders in epoch %d: n%d and n%d", e, other, n.id)
		}
		s.model.leaderOf[e] = n.id
		k := [2]int32{n.id, e}
		hw := n.p.HighWatermark()
		s.Stats.MaxHW = max(s.Stats.MaxHW, hw)
		if prev, ok := s.model.leaderHW[k]; ok && hw < prev {
			s.violate("the high watermark of n%d, leader in epoch %d, went back from %d to %d", n.id, e, prev, hw)
		}
		if prev := s.model.leaderHW[k]; hw > prev {
			s.model.leaderHW[k] = hw
		}
	}
}

// checkAcked: (1) the leader of the controller's current epoch, once it
// leads, holds every batch acknowledged with acks=all, as acknowledged.
func (s *Sim) checkAcked(logs map[int32][]batch) {
	c := s.ctrl
	if c.leader < 0 {
		return
	}
	n := s.node(c.leader)
	if !n.up || !n.p.IsLeader() || n.p.LeaderEpoch() != c.leaderEpoch {
		return
	}
	bases := make([]int64, 0, len(s.model.ackedAll))
	for b := range s.model.ackedAll {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	for _, base := range bases {
		if got := find(logs[n.id], base); !bytes.Equal(got, s.model.ackedAll[base]) {
			s.violate("the leader n%d (epoch %d) lost the batch acknowledged with acks=all at %d (log end %d)", n.id, c.leaderEpoch, base, n.p.LogEndOffset())
			return
		}
	}
}

// checkCommittedPrefixes: (5) below the smaller high watermark of two
// replicas, the batches both hold are the same bytes.
func (s *Sim) checkCommittedPrefixes(logs map[int32][]batch) {
	for _, a := range s.nodes {
		for _, b := range s.nodes {
			if a.id >= b.id || !a.up || !b.up {
				continue
			}
			hw := min(a.p.HighWatermark(), b.p.HighWatermark())
			la, lb := logs[a.id], logs[b.id]
			for _, x := range la {
				if x.last >= hw {
					break
				}
				if x.base < b.p.LogStartOffset() {
					continue
				}
				if y := find(lb, x.base); !bytes.Equal(x.b, y) {
					s.violate("below the high watermark %d, n%d and n%d differ at offset %d", hw, a.id, b.id, x.base)
					return
				}
			}
		}
	}
}

// Consume reads node id's log as a consumer does (up to its high
// watermark, from any replica) and checks (6): what was read at an offset
// is what any read there returned before.
func (s *Sim) Consume(id int32) (string, error) {
	n := s.node(id)
	if !n.up {
		return "", fmt.Errorf("n%d is down", id)
	}
	read, first := 0, int64(-1)
	for off := n.p.LogStartOffset(); ; {
		res, err := n.p.Read(partition.ReadOptions{Offset: off, MaxBytes: 1 << 20, MinOneBatch: true, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
		if err != nil {
			code, _ := partition.KafkaError(err)
			return fmt.Sprintf("read at %d: %s", off, code.Message), nil
		}
		b, err := res.Records.AppendTo(nil)
		next := res.Records.NextOffset()
		res.Records.Release()
		if err != nil {
			return "", err
		}
		if len(b) == 0 {
			break
		}
		for it := record.Batches(b); it.Next(); {
			h := it.Header()
			if first < 0 {
				first = h.BaseOffset
			}
			read += int(h.LastOffsetDelta) + 1
			s.sawBatch(n, h, it.Batch())
		}
		off = next
	}
	return fmt.Sprintf("n%d: read %d records below the high watermark %d", id, read, n.p.HighWatermark()), nil
}

func (s *Sim) sawBatch(n *node, h record.Header, b []byte) {
	m := &s.model
	if prev, ok := m.seen[h.BaseOffset]; ok {
		if !bytes.Equal(prev, b) {
			s.violate("a consumer of n%d read another batch at offset %d than was read there before", n.id, h.BaseOffset)
		}
		return
	}
	for o := h.BaseOffset; o <= h.LastOffset(); o++ {
		if base, ok := m.seenBase[o]; ok && base != h.BaseOffset {
			s.violate("a consumer of n%d read offset %d in a batch at %d; before, it was in a batch at %d", n.id, o, h.BaseOffset, base)
			return
		}
	}
	m.seen[h.BaseOffset] = bytes.Clone(b)
	for o := h.BaseOffset; o <= h.LastOffset(); o++ {
		m.seenBase[o] = h.BaseOffset
	}
}
