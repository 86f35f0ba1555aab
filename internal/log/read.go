package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// ReadOptions bound a read.
type ReadOptions struct {
	// MaxBytes is the byte budget; batches are never cut.
	MaxBytes int32
	// MaxOffset is an exclusive upper bound (the high watermark or last
	// stable offset): batches whose base offset is at or above it are not
	// returned. A negative MaxOffset means the log end offset.
	MaxOffset int64
	// MinOneBatch returns the first batch whole even if it exceeds MaxBytes,
	// so consumers always progress.
	MinOneBatch bool
}

// ReadResult is a byte range of one segment file holding whole batches.
// The caller must call Release when done: the file handle stays open until
// then, even if the segment is deleted or the handle cache evicts it.
type ReadResult struct {
	File     vfs.File // nil when Size is 0; vfs.OSFile(File) gives the *os.File for sendfile
	Position int64
	Size     int64
	// BaseOffset is the base offset of the first batch in the range (the
	// read offset when Size is 0).
	BaseOffset int64
	// NextOffset is the offset after the last batch in the range (the read
	// offset when Size is 0): where the next read continues.
	NextOffset int64

	files *fileCache
	seg   *segment
}

// WriteTo copies the range to w.
func (r *ReadResult) WriteTo(w io.Writer) (int64, error) {
	if r.Size == 0 {
		return 0, nil
	}
	return io.Copy(w, io.NewSectionReader(r.File, r.Position, r.Size))
}

// AppendTo appends the range's bytes to dst.
func (r *ReadResult) AppendTo(dst []byte) ([]byte, error) {
	if r.Size == 0 {
		return dst, nil
	}
	n := len(dst)
	dst = append(dst, make([]byte, r.Size)...)
	if _, err := r.File.ReadAt(dst[n:], r.Position); err != nil {
		return dst[:n], storageErr("read segment", err)
	}
	return dst, nil
}

// Release lets the file handle go. Calling it more than once is harmless.
func (r *ReadResult) Release() {
	if r.seg != nil {
		r.files.release(r.seg)
		r.seg = nil
		r.File = nil
	}
}

// floorSegment returns the index of the last segment whose base is at or
// below offset (0 if none).
func floorSegment(segs []*segment, offset int64) int {
	i := sort.Search(len(segs), func(i int) bool { return segs[i].base > offset })
	return max(i-1, 0)
}

// Read returns whole batches starting with the one containing offset.
// Errors: ErrOffsetOutOfRange when offset < LogStartOffset or offset >
// LogEndOffset. Reading at exactly LogEndOffset returns Size 0. Read never
// blocks on, or blocks, the appender; it sees only fully written batches.
func (l *Log) Read(offset int64, opts ReadOptions) (ReadResult, error) {
	for attempt := 0; ; attempt++ {
		// The log end offset is loaded before the segments: every batch
		// below it is inside a published segment size.
		leo := l.leo.Load()
		lso := l.lso.Load()
		if offset < lso || offset > leo {
			return ReadResult{}, fmt.Errorf("%w: offset %d, log %s holds [%d, %d)", ErrOffsetOutOfRange, offset, l.tp, lso, leo)
		}
		maxOff := opts.MaxOffset
		if maxOff < 0 || maxOff > leo {
			maxOff = leo
		}
		empty := ReadResult{BaseOffset: offset, NextOffset: offset}
		if offset >= maxOff {
			return empty, nil
		}
		segs := l.segments()
		res, err := l.readFrom(segs, offset, maxOff, opts)
		if errors.Is(err, errSegmentGone) && attempt < 5 {
			continue // retention deleted it meanwhile: look again
		}
		return res, err
	}
}

func (l *Log) readFrom(segs []*segment, offset, maxOff int64, opts ReadOptions) (ReadResult, error) {
	cfg := l.cfg.Load()
	for i := floorSegment(segs, offset); i < len(segs); i++ {
		s := segs[i]
		if s.base >= maxOff {
			break
		}
		res, found, err := l.readSegment(s, offset, maxOff, opts, cfg)
		if err != nil || found {
			return res, err
		}
	}
	return ReadResult{BaseOffset: offset, NextOffset: offset}, nil
}

// readSegment reads from one segment; found=false when the segment holds
// nothing at or after offset (a gap: look in the next one).
func (l *Log) readSegment(s *segment, offset, maxOff int64, opts ReadOptions, cfg *Config) (ReadResult, bool, error) {
	if err := s.ensureLoaded(l.m.files, cfg); err != nil {
		return ReadResult{}, false, err
	}
	f, err := l.m.files.acquire(s)
	if err != nil {
		return ReadResult{}, false, err
	}
	end := s.size.Load()
	pos := lookupOffset(s.offIdx.entries(), offset-s.base)
	hr := newHeaderReader(f)
	defer hr.done()
	var h record.Header
	for {
		if pos >= end {
			l.m.files.release(s)
			return ReadResult{}, false, nil
		}
		h, err = hr.at(pos, end)
		if err != nil {
			l.m.files.release(s)
			return ReadResult{}, false, s.corruptErr(pos, offset, err)
		}
		if h.LastOffset() >= offset {
			break
		}
		pos += h.Size()
	}
	res := ReadResult{Position: pos, BaseOffset: h.BaseOffset, NextOffset: h.BaseOffset}
	budget := int64(opts.MaxBytes)
	for p := pos; p < end; {
		if p != pos {
			if h, err = hr.at(p, end); err != nil {
				l.m.files.release(s)
				return ReadResult{}, false, s.corruptErr(p, res.NextOffset, err)
			}
		}
		if h.BaseOffset >= maxOff {
			break
		}
		if res.Size+h.Size() > budget {
			if res.Size == 0 && opts.MinOneBatch {
				res.Size = h.Size()
				res.NextOffset = h.NextOffset()
			}
			break
		}
		res.Size += h.Size()
		res.NextOffset = h.NextOffset()
		p += h.Size()
	}
	if res.Size == 0 {
		l.m.files.release(s)
		res.Position = 0
		res.NextOffset = offset
		res.BaseOffset = offset
		return res, true, nil
	}
	res.File, res.files, res.seg = f, l.m.files, s
	return res, true, nil
}

// ScanHeaders calls fn for every batch header from the batch holding
// offset from to the log end offset (used to rebuild producer state after
// a restart). It stops at the first error fn returns and returns it.
func (l *Log) ScanHeaders(from int64, fn func(h record.Header) error) error {
	leo := l.leo.Load()
	segs := l.segments()
	cfg := l.cfg.Load()
	for i := floorSegment(segs, from); i < len(segs); i++ {
		s := segs[i]
		if s.base >= leo {
			break
		}
		pos := int64(0)
		if from > s.base {
			if err := s.ensureLoaded(l.m.files, cfg); err != nil {
				return err
			}
			pos = lookupOffset(s.offIdx.entries(), from-s.base)
		}
		f, err := l.m.files.acquire(s)
		if err != nil {
			return err
		}
		end := s.size.Load()
		hr := newHeaderReader(f)
		for pos < end {
			h, err := hr.at(pos, end)
			if err != nil {
				l.m.files.release(s)
				return s.corruptErr(pos, -1, err)
			}
			if h.BaseOffset >= leo {
				break
			}
			if h.LastOffset() >= from {
				if err := fn(h); err != nil {
					l.m.files.release(s)
					return err
				}
			}
			pos += h.Size()
		}
		l.m.files.release(s)
	}
	return nil
}

// MaxTimestamp returns the largest batch timestamp in the log and the last
// offset of the batch holding it (for ListOffsets MAX_TIMESTAMP); (-1, -1)
// when the log has no timestamps.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64) {
	offset, timestamp = -1, -1
	cfg := l.cfg.Load()
	lso := l.lso.Load()
	for _, s := range l.segments() {
		ts, off, err := s.largestTimestamp(l.m.files, cfg)
		if err != nil || off < lso {
			continue
		}
		if ts > timestamp {
			offset, timestamp = off, ts
		}
	}
	return offset, timestamp
}

// OffsetForTimestamp finds the first offset whose record timestamp is at
// or above ts (ListOffsets by timestamp): the time index narrows the
// search, then batches are scanned; in an uncompressed batch the records'
// own timestamps are read, in a compressed one the batch's base offset and
// max timestamp answer. found=false if no record qualifies.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, found bool, err error) {
	leo := l.leo.Load()
	lso := l.lso.Load()
	cfg := l.cfg.Load()
	for _, s := range l.segments() {
		if s.base >= leo {
			break
		}
		maxTs, _, err := s.largestTimestamp(l.m.files, cfg)
		if err != nil {
			return 0, 0, false, err
		}
		if maxTs < ts || (s.next.Load() >= 0 && s.next.Load() <= lso) {
			continue
		}
		if err := s.ensureLoaded(l.m.files, cfg); err != nil {
			return 0, 0, false, err
		}
		rel := max(lookupTime(s.timeIdx.entries(), ts), lso-s.base)
		pos := lookupOffset(s.offIdx.entries(), rel)
		f, err := l.m.files.acquire(s)
		if err != nil {
			return 0, 0, false, err
		}
		off, t, ok, err := findTimestamp(f, s, pos, ts, lso, leo)
		l.m.files.release(s)
		if err != nil || ok {
			return off, t, ok, err
		}
	}
	return -1, -1, false, nil
}

func findTimestamp(f vfs.File, s *segment, pos, ts, lso, leo int64) (int64, int64, bool, error) {
	end := s.size.Load()
	hr := newHeaderReader(f)
	for pos < end {
		h, err := hr.at(pos, end)
		if err != nil {
			return 0, 0, false, s.corruptErr(pos, -1, err)
		}
		if h.BaseOffset >= leo {
			break
		}
		if h.MaxTimestamp >= ts && h.LastOffset() >= lso {
			if h.Compression() != record.CompressionNone || h.LogAppendTime() {
				return max(h.BaseOffset, lso), h.MaxTimestamp, true, nil
			}
			batch := make([]byte, h.Size())
			if _, err := f.ReadAt(batch, pos); err != nil {
				return 0, 0, false, storageErr("read segment", err)
			}
			if off, t, ok := firstRecordAtOrAfter(batch, h, ts, lso); ok {
				return off, t, true, nil
			}
			return max(h.BaseOffset, lso), h.MaxTimestamp, true, nil
		}
		pos += h.Size()
	}
	return 0, 0, false, nil
}

// firstRecordAtOrAfter walks an uncompressed batch's records for the first
// with timestamp >= ts and offset >= minOffset.
func firstRecordAtOrAfter(batch []byte, h record.Header, ts, minOffset int64) (int64, int64, bool) {
	p := record.HeaderSize
	for i := int32(0); i < h.NumRecords && p < len(batch); i++ {
		length, n := binary.Varint(batch[p:])
		if n <= 0 || length < 0 || int64(p+n)+length > int64(len(batch)) {
			return 0, 0, false
		}
		body := batch[p+n : p+n+int(length)]
		p += n + int(length)
		if len(body) < 1 {
			return 0, 0, false
		}
		tsDelta, n1 := binary.Varint(body[1:])
		if n1 <= 0 {
			return 0, 0, false
		}
		offDelta, n2 := binary.Varint(body[1+n1:])
		if n2 <= 0 {
			return 0, 0, false
		}
		rts, roff := h.BaseTimestamp+tsDelta, h.BaseOffset+offDelta
		if rts >= ts && roff >= minOffset {
			return roff, rts, true
		}
	}
	return 0, 0, false
}
