package log

import (
	"fmt"
)

// applyRetention deletes the oldest segments, never the active one, while
// any rule holds for them: wholly below the log start offset; largest
// timestamp older than retention.ms; or the log larger than retention.bytes
// without them. Returns how many it deleted.
func (l *Log) applyRetention(nowMs int64) (int, error) {
	cfg := l.cfg.Load()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, nil
	}
	segs := l.segments()
	lso := l.lso.Load()
	var total int64
	for _, s := range segs {
		total += s.size.Load()
	}
	excess := int64(-1)
	if cfg.deletes() && cfg.RetentionBytes >= 0 {
		excess = total - cfg.RetentionBytes
	}
	n := 0
	for ; n < len(segs)-1; n++ {
		s := segs[n]
		if segs[n+1].base <= lso {
			continue
		}
		if cfg.deletes() && cfg.RetentionMs >= 0 {
			ts, _, err := s.largestTimestamp(l.m.files, cfg)
			if err != nil {
				l.mu.Unlock()
				return 0, err
			}
			if ts < 0 {
				ts = l.segmentMtime(s)
			}
			if nowMs-ts > cfg.RetentionMs {
				excess -= s.size.Load()
				continue
			}
		}
		if excess >= 0 && excess-s.size.Load() >= 0 {
			excess -= s.size.Load()
			continue
		}
		break
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	dels, err := l.deleteSegmentsLocked(n)
	if err2 := l.epochs.truncateFromStart(l.lso.Load()); err2 != nil {
		l.m.logger.Warn("write leader-epoch-checkpoint", "partition", l.tp.String(), "err", err2)
	}
	l.mu.Unlock()
	l.removeDeleted(dels)
	return len(dels), err
}

// segmentMtime is the retention clock for a segment without timestamps.
func (l *Log) segmentMtime(s *segment) int64 {
	fi, err := l.m.fsys.Stat(s.path(LogFileSuffix))
	if err != nil {
		return l.m.nowMs()
	}
	return fi.ModTime().UnixMilli()
}

// deleteSegmentsLocked removes the first n segments from the log: the log
// start offset moves to the next segment's base (if not already past it),
// the caller moves the leader-epoch cache's start with it,
// the segments leave the published list, and their files are renamed to
// .deleted, one segment at a time with a directory sync, so a crash leaves
// the log a contiguous run of segments. The caller removes the files with
// removeDeleted after releasing the lock.
func (l *Log) deleteSegmentsLocked(n int) ([]*segment, error) {
	segs := l.segments()
	dels := segs[:n]
	if next := segs[n].base; next > l.lso.Load() {
		l.lso.Store(next)
	}
	l.setSegments(append([]*segment(nil), segs[n:]...))
	for _, s := range dels {
		if err := l.m.files.renameForDelete(s); err != nil {
			return dels, err
		}
		if err := l.m.fsys.SyncDir(l.dir); err != nil {
			return dels, storageErr("sync partition dir", err)
		}
	}
	return dels, nil
}

// removeDeleted closes (once unreferenced) and removes deleted segments'
// files. Readers holding a ReadResult keep their handle until Release.
func (l *Log) removeDeleted(dels []*segment) {
	for _, s := range dels {
		l.m.files.forget(s)
		if err := removeSegmentFiles(l.m.fsys, s); err != nil {
			l.m.logger.Warn("remove deleted segment", "partition", l.tp.String(), "segment", s.base, "err", err)
		}
	}
}

// DeleteRecordsBefore moves the log start offset up to offset
// (DeleteRecords), deleting whole segments below it, and persists it in
// log-start-offset-checkpoint before returning. offset may equal the log
// end offset. Returns the new log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	leo := l.leo.Load()
	if offset > leo || offset < 0 {
		l.mu.Unlock()
		return 0, fmt.Errorf("%w: delete before %d, log end offset %d", ErrOffsetOutOfRange, offset, leo)
	}
	if offset <= l.lso.Load() {
		lso := l.lso.Load()
		l.mu.Unlock()
		return lso, nil
	}
	l.lso.Store(offset)
	segs := l.segments()
	n := 0
	for n < len(segs)-1 && segs[n+1].base <= offset {
		n++
	}
	var dels []*segment
	var err error
	if n > 0 {
		dels, err = l.deleteSegmentsLocked(n)
	}
	l.mu.Unlock()
	l.removeDeleted(dels)
	if err != nil {
		return offset, err
	}
	if err := l.m.writeCheckpoints(); err != nil {
		return offset, err
	}
	// The leader-epoch cache moves its start only once the new log start
	// offset is on disk: a crash in between must not leave a cache that
	// lost the epochs of records the recovered log still serves.
	l.mu.Lock()
	err = l.epochs.truncateFromStart(l.lso.Load())
	l.mu.Unlock()
	if err != nil {
		l.m.logger.Warn("write leader-epoch-checkpoint", "partition", l.tp.String(), "err", err)
	}
	return offset, nil
}
