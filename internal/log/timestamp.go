package log

import (
	"errors"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TimestampOffset is a record found for ListOffsets: its offset, its
// timestamp, and the partition leader epoch of the batch holding it
// (record.NoPartitionLeaderEp, -1, when the batch carries none).
type TimestampOffset struct {
	Offset      int64
	Timestamp   int64
	LeaderEpoch int32
}

// OffsetForTimestamp finds the first record at or after the log start
// offset whose timestamp is at or after ts (ListOffsets by timestamp), by
// Kafka's rules (LogSegment.findOffsetByTimestamp,
// FileRecords.searchForTimestamp): from the first segment whose largest
// timestamp reaches ts, the time index skips the batches that cannot hold
// it; then each batch whose max timestamp reaches ts is read record by
// record in offset order, compressed batches too, since a batch's records
// need not be in timestamp order. A batch none of whose records qualifies
// (all earlier than ts, or below the log start offset) passes the search
// on, to the next segment too (Kafka gives up after the first segment, so
// it answers nothing when that segment's qualifying records all lie below
// the log start offset). Every record of a LogAppendTime batch carries the
// batch's max timestamp. found=false when no record qualifies.
//
// Errors: ErrStorage for I/O failures, *CorruptionError when a batch's
// records cannot be read.
func (l *Log) OffsetForTimestamp(ts int64) (res TimestampOffset, found bool, err error) {
	var q batchSearch
	for attempt := 0; ; attempt++ {
		gen := l.truncGen.Load()
		res, found, err = q.offsetForTimestamp(l, ts)
		if (errors.Is(err, errSegmentGone) || l.truncGen.Load() != gen) && attempt < 5 {
			continue // retention, the cleaner or a truncation changed the segments meanwhile: look again
		}
		return res, found, err
	}
}

// MaxTimestamp finds the record with the largest timestamp at or after the
// log start offset (ListOffsets MAX_TIMESTAMP), the first one if several
// share it, as Kafka does since 3.8 (UnifiedLog.fetchOffsetByTimestamp,
// RecordBatch.offsetOfMaxTimestamp): the segment with the largest
// timestamp (the earliest on a tie), in it the first batch reaching that
// timestamp, in that batch the first record carrying it. found=false when
// the log holds no timestamps. Errors as for OffsetForTimestamp.
func (l *Log) MaxTimestamp() (res TimestampOffset, found bool, err error) {
	var q batchSearch
	for attempt := 0; ; attempt++ {
		gen := l.truncGen.Load()
		res, found, err = q.maxTimestamp(l)
		if (errors.Is(err, errSegmentGone) || l.truncGen.Load() != gen) && attempt < 5 {
			continue
		}
		return res, found, err
	}
}

// LogStartOffsetEpoch returns the log start offset and the leader epoch
// ListOffsets EARLIEST answers with: the epoch of the leader-epoch cache's
// first entry if that starts at or below the log start offset (the cache
// moves its first entry up with the log start offset), else -1, as Kafka's
// UnifiedLog.fetchOffsetByTimestamp does.
func (l *Log) LogStartOffsetEpoch() (offset int64, epoch int32) {
	offset = l.lso.Load()
	l.epochs.mu.Lock()
	defer l.epochs.mu.Unlock()
	if len(l.epochs.entries) > 0 && l.epochs.entries[0].StartOffset <= offset {
		return offset, l.epochs.entries[0].Epoch
	}
	return offset, UndefinedEpoch
}

// batchSearch is what looking inside batches takes, reused from batch to
// batch: a record scanner and a buffer holding one batch.
type batchSearch struct {
	sc  record.Scanner
	buf []byte
}

func (q *batchSearch) offsetForTimestamp(l *Log, ts int64) (TimestampOffset, bool, error) {
	leo, lso := l.leo.Load(), l.lso.Load()
	cfg := l.cfg.Load()
	for _, s := range l.segments() {
		if s.base >= leo {
			break
		}
		if next := s.next.Load(); next >= 0 && next <= lso {
			continue // wholly below the log start offset
		}
		maxTs, _, err := s.largestTimestamp(l.m.files, cfg)
		if err != nil {
			return TimestampOffset{}, false, err
		}
		if maxTs < ts {
			continue
		}
		if err := s.ensureLoaded(l.m.files, cfg); err != nil {
			return TimestampOffset{}, false, err
		}
		// Every record up to the time index entry at or below ts is at
		// most that entry's timestamp, and the entry's timestamp first
		// appears in the batch it names: start at that batch.
		from := max(s.base+lookupTime(s.timeIdx.entries(), ts), lso)
		res, found, err := q.inSegment(l, s, from, ts, lso, leo)
		if err != nil || found {
			return res, found, err
		}
	}
	return TimestampOffset{}, false, nil
}

func (q *batchSearch) maxTimestamp(l *Log) (TimestampOffset, bool, error) {
	leo, lso := l.leo.Load(), l.lso.Load()
	cfg := l.cfg.Load()
	segs := l.segments()
	// A segment's largest timestamp comes from its batch headers and
	// counts records below the log start offset. When the record holding
	// it turns out to be gone (DeleteRecords or retention moved the log
	// start offset past it inside the segment), that segment's largest
	// timestamp is computed again from the log start offset on, and the
	// segment chosen again.
	exactSeg, exactTs := -1, int64(-1)
	for {
		best, bestTs, from := -1, int64(-1), int64(0)
		for i, s := range segs {
			if s.base >= leo {
				break
			}
			if next := s.next.Load(); next >= 0 && next <= lso {
				continue
			}
			// off is the last offset of the first batch reaching ts.
			ts, off, err := s.largestTimestamp(l.m.files, cfg)
			if err != nil {
				return TimestampOffset{}, false, err
			}
			if i == exactSeg {
				ts, off = exactTs, s.base
			}
			if ts > bestTs {
				best, bestTs, from = i, ts, off
			}
		}
		if best < 0 || bestTs < 0 {
			return TimestampOffset{}, false, nil
		}
		s := segs[best]
		if err := s.ensureLoaded(l.m.files, cfg); err != nil {
			return TimestampOffset{}, false, err
		}
		// Nothing in the segment is later than bestTs, so the first
		// record at or after it is the first carrying it.
		res, found, err := q.inSegment(l, s, max(from, lso), bestTs, lso, leo)
		if err != nil || found || best == exactSeg {
			return res, found, err
		}
		exactSeg = best
		if exactTs, err = q.largestFrom(l, s, lso, leo); err != nil {
			return TimestampOffset{}, false, err
		}
	}
}

// inSegment searches segment s from the batch holding offset from on for
// the first record at or after the log start offset lso whose timestamp is
// at or after ts. Batches at or above leo are not looked at.
func (q *batchSearch) inSegment(l *Log, s *segment, from, ts, lso, leo int64) (TimestampOffset, bool, error) {
	f, err := l.m.files.acquire(s)
	if err != nil {
		return TimestampOffset{}, false, err
	}
	defer l.m.files.release(s)
	hr := newHeaderReader(f)
	defer hr.done()
	end := s.size.Load()
	for pos := lookupOffset(s.offIdx.entries(), max(from, s.base)-s.base); pos < end; {
		h, err := hr.at(pos, end)
		if err != nil {
			return TimestampOffset{}, false, s.corruptErr(pos, -1, err)
		}
		if h.BaseOffset >= leo {
			break
		}
		if h.MaxTimestamp >= ts && h.LastOffset() >= lso {
			if err := q.scan(f, s, pos, h); err != nil {
				return TimestampOffset{}, false, err
			}
			for q.sc.Next() {
				if q.sc.Timestamp() >= ts && q.sc.Offset() >= lso {
					res := TimestampOffset{Offset: q.sc.Offset(), Timestamp: q.sc.Timestamp(), LeaderEpoch: h.PartitionLeaderEpoch}
					q.sc.Close()
					return res, true, nil
				}
			}
			if err := q.sc.Err(); err != nil {
				return TimestampOffset{}, false, s.corruptErr(pos, h.BaseOffset, err)
			}
		}
		pos += h.Size()
	}
	return TimestampOffset{}, false, nil
}

// largestFrom is the largest timestamp of segment s's records at or after
// lso (and below leo), -1 if none: batch headers answer for the batches
// wholly at or after lso, the records for the batch lso falls in.
func (q *batchSearch) largestFrom(l *Log, s *segment, lso, leo int64) (int64, error) {
	f, err := l.m.files.acquire(s)
	if err != nil {
		return 0, err
	}
	defer l.m.files.release(s)
	hr := newHeaderReader(f)
	defer hr.done()
	end := s.size.Load()
	largest := int64(-1)
	var h record.Header
	for pos := lookupOffset(s.offIdx.entries(), max(lso, s.base)-s.base); pos < end; pos += h.Size() {
		if h, err = hr.at(pos, end); err != nil {
			return 0, s.corruptErr(pos, -1, err)
		}
		if h.BaseOffset >= leo {
			break
		}
		switch {
		case h.LastOffset() < lso:
		case h.BaseOffset >= lso:
			largest = max(largest, h.MaxTimestamp)
		default:
			if err := q.scan(f, s, pos, h); err != nil {
				return 0, err
			}
			for q.sc.Next() {
				if q.sc.Offset() >= lso {
					largest = max(largest, q.sc.Timestamp())
				}
			}
			if err := q.sc.Err(); err != nil {
				return 0, s.corruptErr(pos, h.BaseOffset, err)
			}
		}
	}
	return largest, nil
}

// scan reads the batch at pos of segment s and starts the scanner on it.
func (q *batchSearch) scan(f vfs.File, s *segment, pos int64, h record.Header) error {
	n := int(h.Size())
	if cap(q.buf) < n {
		q.buf = make([]byte, n)
	}
	q.buf = q.buf[:n]
	if _, err := f.ReadAt(q.buf, pos); err != nil {
		return storageErr("read segment", err)
	}
	if err := q.sc.Reset(h, q.buf); err != nil {
		return s.corruptErr(pos, h.BaseOffset, err)
	}
	return nil
}
