package log

import (
	"container/list"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// File name suffixes of a segment's files.
const (
	LogFileSuffix       = ".log"
	IndexFileSuffix     = ".index"
	TimeIndexFileSuffix = ".timeindex"
	TxnIndexFileSuffix  = ".txnindex"
	// DeletedFileSuffix marks a file renamed for deletion; files with it are
	// removed at open.
	DeletedFileSuffix = ".deleted"
	// CleanedFileSuffix and SwapFileSuffix are the cleaner's: a .cleaned
	// file is a segment being written by the cleaner (deleted at open); a
	// .swap file is a finished cleaned segment waiting to replace the
	// originals.
	CleanedFileSuffix = ".cleaned"
	SwapFileSuffix    = ".swap"
)

// segmentName is the 20-digit, zero-padded base offset Kafka names files by.
func segmentName(base int64) string { return fmt.Sprintf("%020d", base) }

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, segmentName(base)+suffix)
}

// segment is one .log file with its offset and time indexes.
//
// Concurrency: size, next, the indexes and the max timestamp are published
// by the single appender (who holds Log.mu) with atomics and read lock-free.
// Indexes of a segment opened from disk are loaded on first use under
// loadMu. The open file handle and its reference count belong to the
// fileCache and are guarded by fileCache.mu.
type segment struct {
	base int64
	dir  string
	fsys vfs.FS

	size atomic.Int64 // bytes of whole batches in the .log file
	next atomic.Int64 // offset after the last batch; valid once loaded (or for the active segment)

	loadMu  sync.Mutex
	loaded  atomic.Bool
	offIdx  *index
	timeIdx *index
	maxTs   atomic.Pointer[tsPair] // largest batch max timestamp; nil until known

	// Appender-owned (Log.mu), or recovery-owned before publication.
	bytesSinceIndex int64
	rollTs          int64 // ms the segment.ms clock runs from; -1 until known
	idxWritten      [2]int
	idxTrimmed      bool     // the index files hold exactly idxWritten entries
	x               *indexer // set while the segment is active

	// fileCache-owned (fileCache.mu).
	file   vfs.File
	refs   int
	elem   *list.Element
	suffix string // "" or DeletedFileSuffix
	gone   bool   // files removed; no new handle can be opened
}

func (s *segment) path(suffix string) string { return segmentPath(s.dir, s.base, suffix) }

// createSegment makes a new, empty segment: its .log file; the .index and
// .timeindex follow at the first writeIndexes.
func createSegment(fsys vfs.FS, dir string, base int64, cfg *Config, nowMs int64) (*segment, error) {
	s := &segment{base: base, dir: dir, fsys: fsys, rollTs: -1}
	f, err := fsys.OpenFile(s.path(LogFileSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, storageErr("create segment", err)
	}
	if err := f.Close(); err != nil {
		return nil, storageErr("create segment", err)
	}
	// The index files are created by the first writeIndexes: a segment
	// nobody writes to (a new partition) costs one file, not three, and a
	// missing index is rebuilt from the log at open.
	s.offIdx = newIndex(offsetIndexEntrySize, cfg.SegmentIndexBytes)
	s.timeIdx = newIndex(timeIndexEntrySize, cfg.SegmentIndexBytes)
	s.next.Store(base)
	s.maxTs.Store(&tsPair{ts: -1, offset: base})
	s.loaded.Store(true)
	return s, nil
}

// openSegment describes a segment found on disk, without reading it.
func openSegment(fsys vfs.FS, dir string, base, size int64) *segment {
	s := &segment{base: base, dir: dir, fsys: fsys, rollTs: -1}
	s.size.Store(size)
	s.next.Store(-1)
	return s
}

// ensureLoaded loads the segment's indexes on first use: from the index
// files if they pass a sanity check, else rebuilt from the .log.
func (s *segment) ensureLoaded(c *fileCache, cfg *Config) error {
	if s.loaded.Load() {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.loaded.Load() {
		return nil
	}
	size := s.size.Load()
	offIdx := newIndex(offsetIndexEntrySize, cfg.SegmentIndexBytes)
	timeIdx := newIndex(timeIndexEntrySize, cfg.SegmentIndexBytes)
	data, err := readFile(s.fsys, s.path(IndexFileSuffix))
	var entries []byte
	if err == nil {
		entries, err = parseOffsetIndex(data, max(size, 1))
	}
	var tentries []byte
	if err == nil {
		data, err = readFile(s.fsys, s.path(TimeIndexFileSuffix))
		if err == nil {
			tentries, err = parseTimeIndex(data, math.MaxUint32)
		}
	}
	f, ferr := c.acquire(s)
	if ferr != nil {
		return ferr
	}
	defer c.release(s)
	if err != nil {
		// Missing or corrupt index: rebuild it from the log, as Kafka does.
		res, serr := scanLog(f, s, 0, size, s.base, nil, cfg, true)
		if serr != nil {
			return serr
		}
		offIdx.reset(res.offEntries)
		timeIdx.reset(res.timeEntries)
		s.next.Store(res.next)
		s.maxTs.Store(&tsPair{ts: res.maxTs, offset: res.maxTsOffset})
		if res.corrupt != nil {
			// Only the range after the recovery point is truncated; here we
			// stop serving at the corruption and report it.
			s.size.Store(res.end)
		}
		s.bytesSinceIndex = res.bytesSinceIndex
	} else {
		offIdx.reset(entries)
		timeIdx.reset(tentries)
		s.idxWritten = [2]int{offIdx.len(), timeIdx.len()}
		s.idxTrimmed = false
		if s.next.Load() < 0 {
			next, err := lastOffsetFrom(f, s, entries, size)
			if err != nil {
				return err
			}
			s.next.Store(next)
		}
		if s.maxTs.Load() == nil {
			p := &tsPair{ts: -1, offset: s.base}
			if ts, rel, ok := lastTimeEntry(tentries); ok {
				p = &tsPair{ts: ts, offset: s.base + int64(rel)}
			}
			s.maxTs.Store(p)
		}
	}
	s.offIdx, s.timeIdx = offIdx, timeIdx
	s.loaded.Store(true)
	return nil
}

// lastOffsetFrom finds the offset after the last batch: from the last
// offset index entry, scan the headers to the end.
func lastOffsetFrom(f vfs.File, s *segment, entries []byte, size int64) (int64, error) {
	pos := int64(0)
	if n := len(entries) / offsetIndexEntrySize; n > 0 {
		_, p := offsetEntryAt(entries, n-1)
		pos = int64(p)
	}
	next := s.base
	hr := newHeaderReader(f)
	for pos < size {
		h, err := hr.at(pos, size)
		if err != nil {
			return 0, s.corruptErr(pos, next, err)
		}
		next = h.NextOffset()
		pos += h.Size()
	}
	return next, nil
}

func (s *segment) corruptErr(pos, offset int64, cause error) error {
	var ce *CorruptionError
	if errors.As(cause, &ce) {
		return cause
	}
	if _, ok := cause.(*ioFailure); ok {
		return storageErr(fmt.Sprintf("read segment %d at %d", s.base, pos), cause)
	}
	return &CorruptionError{File: s.path(LogFileSuffix), Segment: s.base, Offset: offset, Position: pos, Reason: cause.Error()}
}

// segmentMaxTimestamp returns the segment's largest timestamp without
// loading its indexes when it can: from the last entry of the time index
// file, written at roll and close.
func (s *segment) largestTimestamp(c *fileCache, cfg *Config) (ts int64, offset int64, err error) {
	if p := s.maxTs.Load(); p != nil {
		return p.ts, p.offset, nil
	}
	f, err := s.fsys.OpenFile(s.path(TimeIndexFileSuffix), os.O_RDONLY, 0)
	if err == nil {
		fi, serr := f.Stat()
		if serr == nil && fi.Size() >= timeIndexEntrySize && fi.Size()%timeIndexEntrySize == 0 {
			var e [timeIndexEntrySize]byte
			if _, rerr := f.ReadAt(e[:], fi.Size()-timeIndexEntrySize); rerr == nil {
				ts, rel := timeEntryAt(e[:], 0)
				if ts != 0 || rel != 0 {
					f.Close()
					s.maxTs.CompareAndSwap(nil, &tsPair{ts: ts, offset: s.base + int64(rel)})
					p := s.maxTs.Load()
					return p.ts, p.offset, nil
				}
			}
		}
		f.Close()
	}
	if err := s.ensureLoaded(c, cfg); err != nil {
		return 0, 0, err
	}
	p := s.maxTs.Load()
	return p.ts, p.offset, nil
}

// tsPair is a timestamp and the offset of the batch it came from.
type tsPair struct{ ts, offset int64 }

// writeIndexes writes the index entries not yet in the files; with trim
// the files are cut to their entries (a rolled or closed segment), else
// they stay preallocated. Then fsyncs them. Called by the appender (under
// Log.mu) or for a rolled segment nobody appends to any more.
func (s *segment) writeIndexes(cfg *Config, trim bool) error {
	if !s.loaded.Load() {
		return nil
	}
	if trim && s.idxTrimmed && s.idxWritten == [2]int{s.offIdx.len(), s.timeIdx.len()} {
		return nil
	}
	for i, ix := range []*index{s.offIdx, s.timeIdx} {
		suffix := IndexFileSuffix
		if i == 1 {
			suffix = TimeIndexFileSuffix
		}
		entries := ix.entries()
		f, err := s.fsys.OpenFile(s.path(suffix), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return storageErr("open index", err)
		}
		from := s.idxWritten[i] * ix.entrySize
		if from > len(entries) {
			from = 0
		}
		if _, err := f.WriteAt(entries[from:], int64(from)); err != nil {
			f.Close()
			return storageErr("write index", err)
		}
		if trim {
			err = f.Truncate(int64(len(entries)))
		} else if fi, serr := f.Stat(); serr == nil && fi.Size() < int64(cfg.SegmentIndexBytes) {
			err = f.Truncate(int64(cfg.SegmentIndexBytes) - int64(cfg.SegmentIndexBytes)%int64(ix.entrySize))
		}
		if err != nil {
			f.Close()
			return storageErr("size index", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return storageErr("sync index", err)
		}
		if err := f.Close(); err != nil {
			return storageErr("close index", err)
		}
		s.idxWritten[i] = len(entries) / ix.entrySize
	}
	s.idxTrimmed = trim
	return nil
}

// appendFinalTimeEntry records the segment's max timestamp in the time
// index if the last entry does not already hold it (at roll and close, as
// Kafka does, so the largest timestamp survives a restart).
func (s *segment) appendFinalTimeEntry() {
	p := s.maxTs.Load()
	if !s.loaded.Load() || p == nil || p.ts < 0 {
		return
	}
	ts := p.ts
	if last, _, ok := lastTimeEntry(s.timeIdx.entries()); ok && last >= ts {
		return
	}
	var e [timeIndexEntrySize]byte
	putTimeEntry(e[:], ts, uint32(p.offset-s.base))
	s.timeIdx.appendEntry(e[:])
}

// ioFailure marks an error from the file system (as opposed to bad bytes).
type ioFailure struct{ err error }

func (e *ioFailure) Error() string { return e.err.Error() }
func (e *ioFailure) Unwrap() error { return e.err }

// headerReader reads batch headers through a small buffer, so scanning
// small batches costs one read per many headers.
type headerReader struct {
	f     vfs.File
	buf   []byte
	start int64
	n     int
}

// headerReaders recycles header readers: a fetch reads through one per
// partition, and a fresh 8 KiB buffer each time was the fetch path's
// largest allocation.
var headerReaders = sync.Pool{New: func() any { return &headerReader{buf: make([]byte, 8192)} }}

// newHeaderReader returns a reader of f's batch headers; give it back with
// done once finished with it (optional).
func newHeaderReader(f vfs.File) *headerReader {
	r := headerReaders.Get().(*headerReader)
	r.f, r.start, r.n = f, -1, 0
	return r
}

// done recycles r; r must not be used afterwards.
func (r *headerReader) done() {
	r.f = nil
	headerReaders.Put(r)
}

// at returns the header of the batch at pos, which must end by end.
func (r *headerReader) at(pos, end int64) (record.Header, error) {
	if pos+record.HeaderSize > end {
		return record.Header{}, fmt.Errorf("batch header at %d runs past the end %d", pos, end)
	}
	if r.start < 0 || pos < r.start || pos+record.HeaderSize > r.start+int64(r.n) {
		want := min(int64(len(r.buf)), end-pos)
		n, err := r.f.ReadAt(r.buf[:want], pos)
		if int64(n) < record.HeaderSize {
			if err == nil || err == io.EOF {
				return record.Header{}, fmt.Errorf("short read at %d", pos)
			}
			return record.Header{}, &ioFailure{err}
		}
		r.start, r.n = pos, n
	}
	h, _ := record.ParseHeader(r.buf[pos-r.start:])
	if h.Magic != record.CurrentMagic {
		return h, fmt.Errorf("magic %d", h.Magic)
	}
	if h.BatchLength < record.HeaderSize-record.LogOverhead || pos+h.Size() > end {
		return h, fmt.Errorf("batch length %d does not fit", h.BatchLength)
	}
	return h, nil
}
