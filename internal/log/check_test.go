package log

import (
	"fmt"

	"github.com/samsa-streaming/samsa/internal/record"
)

// segmentBatches reads every batch header of a segment file.
func segmentBatches(l *Log, s *segment) ([]record.Header, []int64, error) {
	f, err := l.m.files.acquire(s)
	if err != nil {
		return nil, nil, err
	}
	defer l.m.files.release(s)
	size := s.size.Load()
	hr := newHeaderReader(f)
	defer hr.done()
	var hs []record.Header
	var pos []int64
	for p := int64(0); p < size; {
		h, err := hr.at(p, size)
		if err != nil {
			return nil, nil, fmt.Errorf("segment %d at %d: %v", s.base, p, err)
		}
		hs = append(hs, h)
		pos = append(pos, p)
		p += h.Size()
	}
	return hs, pos, nil
}

// checkLogConsistent checks that a log's in-memory state agrees with its
// records: segments ordered and their batches increasing inside them; the
// log end offset after the last batch (or the last segment's base); every
// offset index entry naming a batch start with that batch's last offset;
// every time index entry naming the first batch that reached its
// timestamp, timestamps increasing; each segment's largest timestamp; and
// the leader-epoch cache: each batch's epoch is the cache's epoch at its
// base offset, no two entries start at the same offset, and an entry whose
// range holds no batch can only be the last, at the log end offset.
func checkLogConsistent(l *Log) error { return checkLogConsistentEpochs(l, true) }

// checkLogConsistentEpochs is checkLogConsistent, without the epoch cache
// unless epochs.
func checkLogConsistentEpochs(l *Log, epochs bool) error {
	cfg := l.cfg.Load()
	segs := l.segments()
	var all []record.Header
	prevNext := int64(-1)
	for i, s := range segs {
		if i > 0 && s.base <= segs[i-1].base {
			return fmt.Errorf("segment %d after segment %d", s.base, segs[i-1].base)
		}
		if err := s.ensureLoaded(l.m.files, cfg); err != nil {
			return err
		}
		hs, pos, err := segmentBatches(l, s)
		if err != nil {
			return err
		}
		next := s.base
		maxTs, maxTsOff := int64(-1), s.base
		for j, h := range hs {
			if h.BaseOffset < s.base || h.BaseOffset < prevNext {
				return fmt.Errorf("segment %d: batch at %d (position %d) does not follow %d", s.base, h.BaseOffset, pos[j], prevNext)
			}
			if i+1 < len(segs) && h.LastOffset() >= segs[i+1].base {
				return fmt.Errorf("segment %d: batch [%d, %d] reaches the next segment %d", s.base, h.BaseOffset, h.LastOffset(), segs[i+1].base)
			}
			prevNext = h.NextOffset()
			next = h.NextOffset()
			if h.MaxTimestamp > maxTs {
				maxTs, maxTsOff = h.MaxTimestamp, h.LastOffset()
			}
		}
		prevNext = max(prevNext, s.base)
		if got := s.next.Load(); got != next {
			return fmt.Errorf("segment %d: next offset %d, batches end at %d", s.base, got, next)
		}
		if p := s.maxTs.Load(); p == nil || p.ts != maxTs || (maxTs >= 0 && p.offset != maxTsOff) {
			return fmt.Errorf("segment %d: largest timestamp %+v, batches say (%d, %d)", s.base, p, maxTs, maxTsOff)
		}
		byPos := map[int64]record.Header{}
		for j, h := range hs {
			byPos[pos[j]] = h
		}
		entries := s.offIdx.entries()
		for e := 0; e < len(entries)/offsetIndexEntrySize; e++ {
			rel, p := offsetEntryAt(entries, e)
			h, ok := byPos[int64(p)]
			if !ok || h.LastOffset() != s.base+int64(rel) {
				return fmt.Errorf("segment %d: offset index entry %d (+%d at %d) names no batch ending there", s.base, e, rel, p)
			}
		}
		tentries := s.timeIdx.entries()
		prevTs := int64(-1 << 62)
		for e := 0; e < len(tentries)/timeIndexEntrySize; e++ {
			ts, rel := timeEntryAt(tentries, e)
			if ts <= prevTs {
				return fmt.Errorf("segment %d: time index entry %d (%d) not after %d", s.base, e, ts, prevTs)
			}
			prevTs = ts
			found := false
			running := int64(-1)
			for _, h := range hs {
				if h.MaxTimestamp > running {
					running = h.MaxTimestamp
					if running == ts && h.LastOffset() == s.base+int64(rel) {
						found = true
					}
				}
			}
			if !found {
				return fmt.Errorf("segment %d: time index entry %d (%d at +%d) names no batch first reaching it", s.base, e, ts, rel)
			}
		}
		all = append(all, hs...)
	}
	leo := l.LogEndOffset()
	want := segs[len(segs)-1].next.Load()
	if leo != want {
		return fmt.Errorf("log end offset %d, last segment ends at %d", leo, want)
	}
	if !epochs {
		return nil
	}
	return checkEpochs(l.LeaderEpochs(), all, l.LogStartOffset(), leo)
}

// checkEpochs checks a leader-epoch cache against the batches of a log
// (see checkLogConsistent); batches wholly below the log start offset lso
// are not checked (the cache moved its first entry up to lso).
func checkEpochs(entries []EpochEntry, batches []record.Header, lso, leo int64) error {
	epochAt := func(off int64) int32 {
		e := int32(-1)
		for _, en := range entries {
			if en.StartOffset <= off {
				e = en.Epoch
			}
		}
		return e
	}
	for i, en := range entries {
		if i > 0 && (en.StartOffset <= entries[i-1].StartOffset || en.Epoch <= entries[i-1].Epoch) {
			return fmt.Errorf("epoch entries %v: entry %d does not follow", entries, i)
		}
		if en.StartOffset > leo {
			return fmt.Errorf("epoch entries %v: entry %d past the log end %d", entries, i, leo)
		}
		end := leo
		if i+1 < len(entries) {
			end = entries[i+1].StartOffset
		}
		holds := false
		for _, h := range batches {
			if h.LastOffset() >= en.StartOffset && h.BaseOffset < end {
				holds = true
			}
		}
		if !holds && !(i == len(entries)-1 && en.StartOffset == leo) {
			return fmt.Errorf("epoch entries %v: entry %d holds no batch", entries, i)
		}
	}
	for _, h := range batches {
		if h.PartitionLeaderEpoch < 0 || h.LastOffset() < lso {
			continue
		}
		if got := epochAt(h.BaseOffset); got != h.PartitionLeaderEpoch && epochAt(h.LastOffset()) != h.PartitionLeaderEpoch {
			return fmt.Errorf("batch [%d, %d] of epoch %d, but the cache %v says %d", h.BaseOffset, h.LastOffset(), h.PartitionLeaderEpoch, entries, got)
		}
	}
	return nil
}
