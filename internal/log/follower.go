package log

import (
	"fmt"
	"math"

	"github.com/samsa-streaming/samsa/internal/record"
)

// AppendAsFollower appends batches exactly as the leader wrote them, for a
// replica fetching from its partition's leader (Kafka's
// UnifiedLog.appendAsFollower): base offsets, partition leader epochs,
// timestamps and producer fields are kept, nothing is stamped. batches are
// whole, concatenated magic-2 batches (a fetcher drops a partial batch at
// the end of a fetch response first); they are not modified and not
// retained.
//
// Before anything is written every batch is checked as the log would hold
// it (record.ValidateStored: framing, magic, CRC32C, header rules, the
// records of uncompressed batches), and its offsets: the first batch may
// not start below the log end offset, and each batch must start after the
// previous one's last offset. Gaps are accepted, as Kafka's follower
// accepts them: a compacted leader's log has them where the cleaner
// removed whole batches. A refusal is an ErrInvalidBatch error or an
// *UnexpectedOffsetError naming the offsets, and nothing is appended.
//
// The append goes through the same path as a leader's: indexes updated,
// the leader-epoch cache given an entry for every epoch the batches start
// (Kafka's assign rules, see BeginLeaderEpoch), readers woken, and with
// DurabilitySync the group committer fsyncs the data before the durable
// offset passes it (wait with WaitDurable(ctx, LastOffset+1)). The roll
// decision is taken before every batch, not once per call, so however a
// fetcher groups the leader's batches the segments come out as the
// leader's, whose appends are one batch each: a batch larger than
// segment.bytes gets a segment of its own instead of being refused (the
// leader accepted it, perhaps before segment.bytes changed). It works on
// whole batches: no allocation per record.
//
// Errors: as above; ErrClosed; ErrStorage-wrapped errors for I/O failures,
// after which the log refuses appends until reopened (the batches before
// the failed write may be in the log).
func (l *Log) AppendAsFollower(batches []byte) (AppendResult, error) {
	first, last, maxTs, err := checkFollowerInput(l.tp, batches)
	if err != nil {
		return AppendResult{}, err
	}
	cfg := l.cfg.Load()

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	leo := l.leo.Load()
	if first.BaseOffset < leo {
		l.mu.Unlock()
		return AppendResult{}, &UnexpectedOffsetError{Partition: l.tp, LogEndOffset: leo,
			BaseOffset: first.BaseOffset, LastOffset: first.LastOffset(), After: leo}
	}
	nowMs := l.m.nowMs()
	flushNow := false
	for pos := 0; pos < len(batches); {
		h, _ := record.ParseHeader(batches[pos:])
		seg, err := l.maybeRollLocked(h.Size(), h.LastOffset(), nowMs, cfg)
		if err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
		// The run: this batch and every following one that would not roll
		// the segment either.
		sim := newIndexSim(seg.x)
		sim.add(h)
		size := seg.size.Load() + h.Size()
		end, next, n := pos+int(h.Size()), h.NextOffset(), int64(h.LastOffsetDelta)+1
		for end < len(batches) {
			hh, _ := record.ParseHeader(batches[end:])
			if size+hh.Size() > cfg.SegmentBytes || sim.full(seg) || hh.LastOffset()-seg.base > math.MaxInt32 {
				break
			}
			sim.add(hh)
			size += hh.Size()
			end += int(hh.Size())
			next = hh.NextOffset()
			n += int64(hh.LastOffsetDelta) + 1
		}
		if err := l.writeRunLocked(seg, batches[pos:end], h.BaseOffset, next, nowMs, cfg); err != nil {
			l.mu.Unlock()
			return AppendResult{}, err
		}
		l.leo.Store(next) // publishes the run to readers
		for p := pos; p < end; {
			bh, _ := record.ParseHeader(batches[p:])
			if err := l.epochs.assign(bh.PartitionLeaderEpoch, bh.BaseOffset); err != nil {
				l.m.logger.Warn("write leader-epoch-checkpoint", "partition", l.tp.String(), "err", err)
			}
			p += int(bh.Size())
		}
		if l.appendedLocked(seg, next, n, nowMs, cfg) {
			flushNow = true
		}
		pos = end
	}
	gen := l.truncGen.Load()
	res := AppendResult{BaseOffset: first.BaseOffset, LastOffset: last, LogStartOffset: l.lso.Load(), MaxTimestamp: maxTs, gen: gen}
	l.mu.Unlock()
	l.wakeReaders()

	if cfg.Durability == DurabilityPageCache {
		l.advanceDurableAt(gen, last+1)
		if flushNow {
			if err := l.Flush(); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// checkFollowerInput validates a follower's input batch by batch and
// returns the first batch's header, the last offset and the largest
// timestamp.
func checkFollowerInput(tp TopicPartition, batches []byte) (first record.Header, last, maxTs int64, err error) {
	if len(batches) == 0 {
		return first, 0, 0, fmt.Errorf("%w: no batches", ErrInvalidBatch)
	}
	maxTs = -1
	n := 0
	var next int64
	it := record.Batches(batches)
	for it.Next() {
		h, verr := record.ValidateStored(it.Batch())
		if verr != nil {
			return first, 0, 0, fmt.Errorf("%w: batch %d at byte %d: %v", ErrInvalidBatch, n, it.Offset(), verr)
		}
		if n == 0 {
			first = h
		} else if h.BaseOffset < next {
			return first, 0, 0, &UnexpectedOffsetError{Partition: tp, LogEndOffset: -1, Batch: n,
				BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(), After: next}
		}
		next = h.NextOffset()
		maxTs = max(maxTs, h.MaxTimestamp)
		n++
	}
	if ierr := it.Err(); ierr != nil {
		return first, 0, 0, fmt.Errorf("%w: %v", ErrInvalidBatch, ierr)
	}
	return first, next - 1, maxTs, nil
}

// indexSim counts the index entries the indexer would add for further
// batches, so a follower append can tell, batch by batch, when an index
// fills up and the segment must roll, without adding the entries before
// the batches are written. It follows indexer.add exactly.
type indexSim struct {
	offN, timeN       int
	bytesSince        int64
	maxTs, lastTimeTs int64
	hasTime           bool
	interval          int64
}

func newIndexSim(x *indexer) indexSim {
	s := indexSim{offN: x.off.len(), timeN: x.time.len(), bytesSince: x.bytesSince, maxTs: x.maxTs, interval: x.interval}
	s.lastTimeTs, _, s.hasTime = lastTimeEntry(x.time.entries())
	return s
}

func (s *indexSim) add(h record.Header) {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs = h.MaxTimestamp
	}
	if s.bytesSince > s.interval {
		s.offN++
		if s.maxTs >= 0 && (!s.hasTime || s.maxTs > s.lastTimeTs) {
			s.timeN++
			s.lastTimeTs, s.hasTime = s.maxTs, true
		}
		s.bytesSince = 0
	}
	s.bytesSince += h.Size()
}

// full is index.full for seg's indexes with the simulated entries.
func (s *indexSim) full(seg *segment) bool {
	return s.offN >= seg.offIdx.maxEntries || s.timeN >= seg.timeIdx.maxEntries
}
