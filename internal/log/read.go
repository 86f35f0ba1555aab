package log

import (
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

// WriteTo copies the range to w. A range a truncation cut off the file
// meanwhile (Log.TruncateTo) ends early with io.ErrUnexpectedEOF.
func (r *ReadResult) WriteTo(w io.Writer) (int64, error) {
	if r.Size == 0 {
		return 0, nil
	}
	n, err := io.Copy(w, io.NewSectionReader(r.File, r.Position, r.Size))
	if err == nil && n < r.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
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
// A read that overlaps a truncation reads again, in the truncated log.
func (l *Log) Read(offset int64, opts ReadOptions) (ReadResult, error) {
	for attempt := 0; ; attempt++ {
		// The truncation generation is loaded first and checked after the
		// read: a truncation publishes its new end before its generation
		// and touches no file before either.
		gen := l.truncGen.Load()
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
		if l.truncGen.Load() != gen && attempt < 5 {
			res.Release()
			continue // a truncation overlapped the read: read the truncated log
		}
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
