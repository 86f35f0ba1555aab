package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Truncation: a follower whose log diverged from its leader's removes its
// tail (TruncateTo), and one whose log lies wholly below its leader's log
// start offset starts over (TruncateFullyAndStartAt), as Kafka's
// UnifiedLog.truncateTo and truncateFullyAndStartAt do.
//
// The steps, under the appender lock, each made durable before the next:
//
//  1. the new log end offset (and a lower log start offset) is published
//     and the truncation generation moves on, so a reader that overlapped
//     the truncation reads again and no durability wait or fsync round
//     from before it acknowledges anything past the cut;
//  2. when the log start offset goes down, or TruncateFullyAndStartAt
//     starts the log at or past its old end, the checkpoints are written
//     first (the new log start offset is the commit point of a full
//     truncation: with it on disk, the next open finds every old record
//     below the log start offset and starts an empty log there);
//  3. the segments at or above the cut are renamed to .deleted, the last
//     one first, with a directory fsync after each, so a crash leaves the
//     old log cut at a segment boundary, never a hole;
//  4. the segment holding the cut gets index files trimmed to the records
//     it keeps (rebuilt from its batch headers), then its .log file is cut
//     and fsynced, then its .txnindex is trimmed;
//  5. a new, empty segment is created at the cut and the directory fsynced;
//  6. the leader-epoch cache drops the epochs starting at or after the cut;
//  7. the durable offset and the recovery point move to the cut (all that
//     is kept is on disk), and the checkpoints are written if they still
//     name a recovery point, log start offset or high watermark beyond it,
//     so that nothing appended after the truncation is trusted without
//     recovery at the next open.
//
// A crash at any step leaves the old log cut at some point at or above
// the truncation point: every record below it is kept, whole segments or
// a cut segment, with indexes that agree (a cut segment is either the last
// one, which recovery scans from the recovery point, or followed by the
// new segment, written only after its index files and data were). The
// epoch cache is trimmed at open to what recovery kept, and the
// transaction indexes too (Manager.loadLog).
//
// Concurrent readers never see torn data: a segment file is never
// written again once cut: appends go to the new segment from step 5.
// Renamed segments keep their contents for the readers holding them. A
// reader whose read overlapped a truncation (the generation changed) reads
// again. A ReadResult taken before the truncation and sent afterwards
// either gets the bytes it was given or, past the cut of a shrunk file, a
// short read, which WriteTo, AppendTo and the server's sendfile report as
// an error (as Kafka's FileRecords does for a file truncated under a
// send): never other records' bytes.
//
// Appends waiting for durability (WaitDurable, Append, the committer's
// rounds) above the cut fail with ErrTruncated; none is acknowledged.

// TruncateTo removes every record at and above offset, as Kafka's
// UnifiedLog.truncateTo, for a follower whose log diverged from its
// leader's: segments wholly at or above it are deleted, the segment holding
// it is cut, offset, time and transaction indexes trimmed, the leader-epoch
// cache truncated from the end, the log end offset, durable offset,
// recovery point and high watermark moved back to the new end. See the
// comment at the top of truncate.go for the steps and why a crash or a
// concurrent reader never sees a mix.
//
// A batch is the unit of storage: when offset falls inside a batch, the
// whole batch goes and the log ends at its base offset, below offset (the
// follower fetches it again). Truncation points a fetcher uses (epoch end
// offsets, high watermarks) are batch boundaries. The new records after a
// truncation go to a new segment starting at the new log end offset.
//
// An offset at or above the log end offset removes nothing, but drops a
// leader-epoch entry starting at the log end offset (written by
// BeginLeaderEpoch for records that never came), as Kafka does. An offset
// below the first segment's base offset truncates fully
// (TruncateFullyAndStartAt(offset)); one below the log start offset moves
// the log start offset down with the end.
//
// Errors: ErrClosed; the log's sticky error; ErrStorage-wrapped errors for
// I/O failures, after which the log refuses appends until reopened.
func (l *Log) TruncateTo(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("log %s: truncate to negative offset %d", l.tp, offset)
	}
	if err := l.lockIdle(); err != nil {
		return err
	}
	defer l.mu.Unlock()
	leo := l.leo.Load()
	if offset >= leo {
		return l.epochs.truncateFromEnd(leo)
	}
	segs := l.segments()
	if offset < segs[0].base {
		return l.truncateLocked(nil, nil, offset, offset, true)
	}
	j := floorSegment(segs, offset)
	k := segs[j]
	ck, end, err := l.prefixUpTo(k, offset)
	if err != nil {
		return l.failLocked(err)
	}
	keep := segs[:j+1]
	if end == k.base || (ck != nil && ck.size.Load() == 0) {
		// Nothing of the segment stays: it goes whole.
		keep, ck = segs[:j], nil
	}
	return l.truncateLocked(keep, ck, end, min(l.lso.Load(), end), false)
}

// TruncateFullyAndStartAt deletes every segment and starts an empty log at
// offset, which becomes its log start offset and log end offset (Kafka's
// UnifiedLog.truncateFullyAndStartAt): for a follower whose log end offset
// is below its leader's log start offset, or whose first fetched batch
// straddles its empty log's start (*UnexpectedOffsetError). The
// leader-epoch cache is emptied, the durable offset, recovery point and
// high watermark set to offset. Errors as for TruncateTo.
func (l *Log) TruncateFullyAndStartAt(offset int64) error {
	if offset < 0 {
		return fmt.Errorf("log %s: start at negative offset %d", l.tp, offset)
	}
	if err := l.lockIdle(); err != nil {
		return err
	}
	defer l.mu.Unlock()
	return l.truncateLocked(nil, nil, offset, offset, true)
}

// lockIdle takes the appender lock at a moment when no rolled segment is
// being finished in the background (whose recovery point advance would
// otherwise land after the truncation), and checks the log is usable.
func (l *Log) lockIdle() error {
	for {
		l.mu.Lock()
		if err := l.writableLocked(); err != nil {
			l.mu.Unlock()
			return err
		}
		if l.finishing.Load() == 0 {
			return nil
		}
		l.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

// prefixUpTo scans segment k's batch headers up to the batch holding
// offset and returns where the log ends when truncated to offset (offset,
// or the base offset of the batch holding it) and, if k keeps less than
// it holds, a replacement segment object for k's kept prefix with indexes
// rebuilt as the appends built them (nil when k keeps everything).
func (l *Log) prefixUpTo(k *segment, offset int64) (*segment, int64, error) {
	cfg := l.cfg.Load()
	f, err := l.m.files.acquire(k)
	if err != nil {
		return nil, 0, err
	}
	defer l.m.files.release(k)
	size := k.size.Load()
	x := &indexer{base: k.base, off: newIndex(offsetIndexEntrySize, cfg.SegmentIndexBytes),
		time: newIndex(timeIndexEntrySize, cfg.SegmentIndexBytes), maxTs: -1, maxTsOffset: k.base,
		interval: int64(cfg.IndexIntervalBytes)}
	hr := newHeaderReader(f)
	defer hr.done()
	pos, next, end := int64(0), k.base, offset
	for pos < size {
		h, err := hr.at(pos, size)
		if err != nil {
			return nil, 0, k.corruptErr(pos, next, err)
		}
		if h.LastOffset() >= offset {
			end = min(offset, h.BaseOffset)
			break
		}
		x.add(pos, h)
		next = h.NextOffset()
		pos += h.Size()
	}
	if pos == size {
		return nil, end, nil
	}
	ck := &segment{base: k.base, dir: k.dir, fsys: k.fsys, rollTs: k.rollTs, offIdx: x.off, timeIdx: x.time, bytesSinceIndex: x.bytesSince}
	ck.size.Store(pos)
	ck.next.Store(next)
	ck.maxTs.Store(&tsPair{ts: x.maxTs, offset: x.maxTsOffset})
	ck.loaded.Store(true)
	ck.appendFinalTimeEntry()
	return ck, end, nil
}

// truncateLocked makes the log end at end: the segments in keep stay (the
// last replaced by ck, its cut prefix, when ck is not nil), every other
// one is deleted, a new segment starts at end, and the log start offset
// becomes newLSO. full: the leader-epoch cache is emptied rather than
// truncated (TruncateFullyAndStartAt). The steps are at the top of the
// file.
func (l *Log) truncateLocked(keep []*segment, ck *segment, end, newLSO int64, full bool) error {
	cfg := l.cfg.Load()
	segs := l.segments()
	oldLSO, oldLEO := l.lso.Load(), l.leo.Load()
	dels := segs[len(keep):]
	var cut *segment // the segment ck replaces
	if ck != nil {
		cut = keep[len(keep)-1]
	}

	// 1. Publish the new end and what is kept of the segments (the cut
	// segment's replacement only reads its prefix, which never changes);
	// then fence durability waits, rounds and readers.
	kept := append([]*segment(nil), keep...)
	if ck != nil {
		kept[len(kept)-1] = ck
	}
	if newLSO < oldLSO {
		l.lso.Store(newLSO)
	}
	l.leo.Store(end)
	if newLSO >= oldLEO && newLSO > oldLSO {
		l.lso.Store(newLSO)
	}
	l.setSegments(kept)
	l.durableMu.Lock()
	gen := l.truncGen.Load() + 1
	l.cuts[gen%uint64(len(l.cuts))] = end
	l.truncGen.Store(gen)
	l.durable.Store(min(l.durable.Load(), end))
	l.recoveryPoint.Store(min(l.recoveryPoint.Load(), end))
	l.durableMu.Unlock()
	l.hw.Store(min(l.hw.Load(), end))
	l.unflushedMsgs, l.firstUnflushedMs = 0, 0
	l.durableChanged() // waiters above the cut fail now

	// 2. The checkpoints first when they commit the truncation.
	if newLSO < oldLSO || (full && newLSO >= oldLEO && newLSO > oldLSO) {
		if err := l.m.writeCheckpoints(); err != nil {
			return l.failLocked(err)
		}
	}

	// 3. Segments at or above the cut, the last first.
	fsys := l.m.fsys
	for i := len(dels) - 1; i >= 0; i-- {
		if err := l.m.files.renameForDelete(dels[i]); err != nil {
			return l.failLocked(err)
		}
		if err := fsys.SyncDir(l.dir); err != nil {
			return l.failLocked(storageErr("sync partition dir", err))
		}
	}

	// 4. The segment holding the cut.
	if cut != nil {
		if err := ck.writeIndexes(cfg, true); err != nil {
			return l.failLocked(err)
		}
		f, err := l.m.files.acquire(cut)
		if err != nil {
			return l.failLocked(err)
		}
		err = f.Truncate(ck.size.Load())
		if err == nil {
			err = syncData(f)
		}
		l.m.files.release(cut)
		if err != nil {
			return l.failLocked(storageErr(fmt.Sprintf("cut segment %d at position %d", cut.base, ck.size.Load()), err))
		}
	}
	if len(keep) > 0 {
		last := keep[len(keep)-1]
		if err := trimTxnIndex(fsys, last.path(TxnIndexFileSuffix), end); err != nil {
			return l.failLocked(err)
		}
	}

	// 5. The new segment.
	ns, err := createSegment(fsys, l.dir, end, cfg, l.m.nowMs())
	if err != nil {
		return l.failLocked(err)
	}
	if err := fsys.SyncDir(l.dir); err != nil {
		return l.failLocked(storageErr("sync partition dir", err))
	}
	if n := len(kept); n > 0 {
		kept[n-1].x = nil
	}
	l.setSegments(append(kept[:len(kept):len(kept)], ns))
	l.active = ns
	if err := l.activateLocked(ns, cfg); err != nil {
		return err
	}

	// 6. The leader-epoch cache.
	if full {
		err = l.epochs.clear()
	} else {
		err = l.epochs.truncateFromEnd(end)
	}
	if err != nil {
		return l.failLocked(err)
	}

	// 7. Everything kept is on disk.
	l.advanceDurableAt(gen, end)
	l.advanceRecoveryPointAt(gen, end)
	if full {
		l.lso.Store(newLSO)
	}
	l.durableChanged()
	if l.ckptRecoveryPoint.Load() > end || l.ckptLogStartOffset.Load() != l.lso.Load() || l.ckptHighWatermark.Load() > end {
		if err := l.m.writeCheckpoints(); err != nil {
			return l.failLocked(err)
		}
	}

	for _, s := range dels {
		l.m.files.forget(s)
		removeDeletedFiles(fsys, s, l.m)
	}
	if cut != nil {
		l.m.files.forget(cut)
	}
	l.m.logger.Info("truncated log", "partition", l.tp.String(), "from", oldLEO, "to", end, "logStartOffset", l.lso.Load(), "segmentsDeleted", len(dels), "full", full)
	l.wakeReaders()
	return nil
}

// removeDeletedFiles removes the .deleted files of a segment deleted by a
// truncation: never its plain names, which the new segment at the cut may
// have taken again.
func removeDeletedFiles(fsys vfs.FS, s *segment, m *Manager) {
	for _, suf := range segmentFileSuffixes {
		if err := fsys.Remove(s.path(suf + DeletedFileSuffix)); err != nil && !isNotExist(err) {
			m.logger.Warn("remove truncated segment", "segment", s.base, "err", err)
		}
	}
}

// txnIndexEntrySize is the size of a .txnindex entry (Kafka's AbortedTxn:
// version int16, producer id, first offset, last offset, last stable
// offset, int64s), whose last offset is at byte txnIndexLastOffset. The
// partition layer writes and reads the entries (docs/format/txnindex.md);
// the log only trims them.
const (
	txnIndexEntrySize  = 34
	txnIndexLastOffset = 18
)

// trimTxnIndex cuts a .txnindex file before its first entry whose last
// offset (the marker's offset) is at or above end, and before a torn
// entry, and fsyncs it. Entries are appended in marker order. A missing
// file is fine.
func trimTxnIndex(fsys vfs.FS, name string, end int64) error {
	f, err := fsys.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return storageErr("open "+filepath.Base(name), err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return storageErr("read "+filepath.Base(name), err)
	}
	n := 0
	for n+txnIndexEntrySize <= len(data) && int64(binary.BigEndian.Uint64(data[n+txnIndexLastOffset:])) < end {
		n += txnIndexEntrySize
	}
	if n == len(data) {
		return nil
	}
	if err := f.Truncate(int64(n)); err != nil {
		return storageErr("trim "+filepath.Base(name), err)
	}
	return storageErr("sync "+filepath.Base(name), f.Sync())
}
