package log

import (
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// indexer adds index entries as batches go by, with Kafka's rule: a batch
// gets an offset index entry (its last offset, its position) and a time
// index entry (the max timestamp so far, if it grew) when more than
// index.interval.bytes were written since the previous entry.
type indexer struct {
	base        int64
	off, time   *index
	bytesSince  int64
	maxTs       int64
	maxTsOffset int64
	interval    int64
}

func (x *indexer) add(pos int64, h record.Header) {
	if h.MaxTimestamp > x.maxTs {
		x.maxTs = h.MaxTimestamp
		x.maxTsOffset = h.LastOffset()
	}
	if x.bytesSince > x.interval {
		var e [timeIndexEntrySize]byte
		putOffsetEntry(e[:], uint32(h.LastOffset()-x.base), uint32(pos))
		x.off.appendEntry(e[:offsetIndexEntrySize])
		if last, _, ok := lastTimeEntry(x.time.entries()); x.maxTs >= 0 && (!ok || x.maxTs > last) {
			putTimeEntry(e[:], x.maxTs, uint32(x.maxTsOffset-x.base))
			x.time.appendEntry(e[:])
		}
		x.bytesSince = 0
	}
	x.bytesSince += h.Size()
}

// scanResult is what a full scan of a segment learnt.
type scanResult struct {
	end         int64 // position after the last valid batch
	next        int64 // offset after the last valid batch
	batches     int
	firstTs     int64 // max timestamp of the first batch, -1 if none
	corrupt     *CorruptionError
	offEntries  []byte
	timeEntries []byte
	maxTs       int64
	maxTsOffset int64
	// epochs: the base offset of the first valid batch of each partition
	// leader epoch higher than every one before it in the scan.
	epochs []EpochEntry

	bytesSinceIndex int64
}

const scanBufferSize = 4 << 20

var scanBuffers = sync.Pool{New: func() any { b := make([]byte, scanBufferSize); return &b }}

// scanLog reads a segment sequentially from position from to size with a
// large buffer, checks every batch (framing, magic, CRC32C, offsets
// increasing and inside the segment's 32-bit range), and rebuilds the
// indexes from position 0 (from must be 0 when buildIndex is set). It stops
// at the first bad or torn batch and reports it in corrupt; only an I/O
// failure is returned as an error.
func scanLog(f vfs.File, s *segment, from, size, expectNext int64, _ []byte, cfg *Config, buildIndex bool) (scanResult, error) {
	bp := scanBuffers.Get().(*[]byte)
	defer scanBuffers.Put(bp)
	buf := *bp
	x := indexer{
		base: s.base, off: newIndex(offsetIndexEntrySize, cfg.SegmentIndexBytes),
		time: newIndex(timeIndexEntrySize, cfg.SegmentIndexBytes), maxTs: -1, maxTsOffset: s.base,
		interval: int64(cfg.IndexIntervalBytes),
	}
	res := scanResult{end: from, next: expectNext, firstTs: -1}
	var chunk []byte
	chunkStart := from
	pos := from
	bad := func(reason string, args ...any) {
		res.corrupt = &CorruptionError{File: s.path(LogFileSuffix), Segment: s.base, Offset: res.next, Position: pos, Reason: fmt.Sprintf(reason, args...)}
	}
	for pos < size {
		// Make sure the length field is in the chunk.
		if pos+record.LogOverhead > chunkStart+int64(len(chunk)) {
			var err error
			chunk, err = readChunk(f, buf, pos, size)
			if err != nil {
				return res, storageErr(fmt.Sprintf("read segment %d at %d", s.base, pos), err)
			}
			chunkStart = pos
			if int64(len(chunk)) < record.LogOverhead {
				bad("torn batch: %d bytes left, a batch needs at least %d", size-pos, record.HeaderSize)
				break
			}
		}
		rel := pos - chunkStart
		h, _ := record.ParseHeader(padHeader(chunk[rel:]))
		if h.BatchLength < record.HeaderSize-record.LogOverhead {
			bad("batch length %d below the minimum %d", h.BatchLength, record.HeaderSize-record.LogOverhead)
			break
		}
		if pos+h.Size() > size {
			bad("torn batch: length %d runs past the end of the file (%d)", h.BatchLength, size)
			break
		}
		if rel+h.Size() > int64(len(chunk)) {
			if h.Size() > int64(len(buf)) {
				buf = make([]byte, h.Size())
			}
			var err error
			chunk, err = readChunk(f, buf, pos, size)
			if err != nil {
				return res, storageErr(fmt.Sprintf("read segment %d at %d", s.base, pos), err)
			}
			chunkStart, rel = pos, 0
		}
		batch := chunk[rel : rel+h.Size()]
		h, _ = record.ParseHeader(batch)
		switch {
		case h.Magic != record.CurrentMagic:
			bad("magic %d, want 2", h.Magic)
		case record.ComputeCRC(batch) != h.CRC:
			bad("CRC32C %#08x does not match the header's %#08x", record.ComputeCRC(batch), h.CRC)
		case h.LastOffsetDelta < 0:
			bad("negative last offset delta %d", h.LastOffsetDelta)
		case h.BaseOffset < res.next:
			bad("base offset %d goes back before %d", h.BaseOffset, res.next)
		case h.BaseOffset-s.base > math.MaxInt32-int64(h.LastOffsetDelta):
			// Written so that it cannot overflow (base offset >= s.base,
			// last offset delta >= 0): the base offset is outside the CRC,
			// and a corrupt one near MaxInt64 made LastOffset wrap
			// negative and pass.
			bad("batch at offset %d with last offset delta %d reaches past the segment's 32-bit offset range", h.BaseOffset, h.LastOffsetDelta)
		}
		if res.corrupt != nil {
			break
		}
		if buildIndex {
			x.add(pos, h)
		} else if h.MaxTimestamp > x.maxTs {
			x.maxTs, x.maxTsOffset = h.MaxTimestamp, h.LastOffset()
		}
		if res.batches == 0 {
			res.firstTs = h.MaxTimestamp
		}
		if e := h.PartitionLeaderEpoch; e >= 0 && (len(res.epochs) == 0 || e > res.epochs[len(res.epochs)-1].Epoch) {
			res.epochs = append(res.epochs, EpochEntry{Epoch: e, StartOffset: h.BaseOffset})
		}
		res.batches++
		res.next = h.NextOffset()
		pos += h.Size()
		res.end = pos
	}
	res.offEntries, res.timeEntries = x.off.entries(), x.time.entries()
	res.maxTs, res.maxTsOffset = x.maxTs, x.maxTsOffset
	res.bytesSinceIndex = x.bytesSince
	return res, nil
}

// padHeader makes b at least HeaderSize long so ParseHeader can read the
// length field of a batch whose header is cut by the end of the file.
func padHeader(b []byte) []byte {
	if len(b) >= record.HeaderSize {
		return b
	}
	p := make([]byte, record.HeaderSize)
	copy(p, b)
	return p
}

// readChunk reads up to len(buf) bytes at pos, stopping at size.
func readChunk(f vfs.File, buf []byte, pos, size int64) ([]byte, error) {
	want := min(int64(len(buf)), size-pos)
	n, err := f.ReadAt(buf[:want], pos)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:n], nil
}
