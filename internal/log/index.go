package log

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"sync/atomic"
)

// Index entry sizes, as Kafka lays them out (big-endian).
const (
	// offsetIndexEntrySize: 4-byte offset relative to the segment's base
	// offset, then the 4-byte byte position of the batch in the .log file.
	offsetIndexEntrySize = 8
	// timeIndexEntrySize: 8-byte timestamp, then the 4-byte relative offset
	// of the batch holding that timestamp.
	timeIndexEntrySize = 12
)

// index is an append-only array of fixed-size entries with one writer (the
// appender, or recovery) and any number of lock-free readers. The writer
// fills an entry past the published count, then publishes the new count;
// when the buffer is full it copies it into a bigger one and publishes that
// first, so a reader that loads the count and then the buffer always finds
// the entries it counted.
type index struct {
	entrySize  int
	maxEntries int // from segment.index.bytes; the segment rolls when full
	buf        atomic.Pointer[[]byte]
	n          atomic.Int64
}

func newIndex(entrySize int, maxBytes int32) *index {
	ix := &index{entrySize: entrySize, maxEntries: int(maxBytes) / entrySize}
	b := make([]byte, 0)
	ix.buf.Store(&b)
	return ix
}

// entries returns the published entries. Safe for concurrent readers; the
// slice must not be modified.
func (ix *index) entries() []byte {
	n := ix.n.Load()
	b := *ix.buf.Load()
	return b[:int(n)*ix.entrySize]
}

func (ix *index) len() int { return int(ix.n.Load()) }

// full reports whether the index has reached segment.index.bytes.
func (ix *index) full() bool { return ix.len() >= ix.maxEntries }

// appendEntry adds an entry. Writer only.
func (ix *index) appendEntry(e []byte) {
	n := int(ix.n.Load())
	b := *ix.buf.Load()
	end := (n + 1) * ix.entrySize
	if end > cap(b) {
		nb := make([]byte, n*ix.entrySize, max(2*cap(b), 64*ix.entrySize))
		copy(nb, b[:n*ix.entrySize])
		b = nb
	}
	b = b[:end]
	copy(b[n*ix.entrySize:], e)
	ix.buf.Store(&b)
	ix.n.Store(int64(n + 1))
}

// reset replaces all entries (after a rebuild or truncation). Writer only,
// and only while no reader can reach the index (recovery, or under the log
// lock before the segment is published again).
func (ix *index) reset(entries []byte) {
	b := append([]byte(nil), entries...)
	ix.n.Store(0)
	ix.buf.Store(&b)
	ix.n.Store(int64(len(entries) / ix.entrySize))
}

// Offset index.

func putOffsetEntry(b []byte, rel uint32, pos uint32) {
	binary.BigEndian.PutUint32(b, rel)
	binary.BigEndian.PutUint32(b[4:], pos)
}

func offsetEntryAt(entries []byte, i int) (rel uint32, pos uint32) {
	e := entries[i*offsetIndexEntrySize:]
	return binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:])
}

// lookupOffset returns the byte position to start scanning from for
// relative offset rel: the position of the largest entry at or below rel,
// or 0 when every entry is above it.
func lookupOffset(entries []byte, rel int64) int64 {
	n := len(entries) / offsetIndexEntrySize
	i := sort.Search(n, func(i int) bool {
		r, _ := offsetEntryAt(entries, i)
		return int64(r) > rel
	})
	if i == 0 {
		return 0
	}
	_, pos := offsetEntryAt(entries, i-1)
	return int64(pos)
}

// parseOffsetIndex checks an offset index file's contents and returns its
// valid entries. A preallocated, untrimmed file ends in zero entries, which
// mark the end. Entries must be strictly increasing in both offset and
// position, and point inside the log (below logSize).
func parseOffsetIndex(data []byte, logSize int64) ([]byte, error) {
	n := len(data) / offsetIndexEntrySize
	var prevRel, prevPos int64 = -1, -1
	for i := 0; i < n; i++ {
		rel, pos := offsetEntryAt(data, i)
		if rel == 0 && pos == 0 && i > 0 {
			return data[:i*offsetIndexEntrySize], checkZeroTail(data[i*offsetIndexEntrySize:], i)
		}
		if int64(rel) <= prevRel || int64(pos) <= prevPos || int64(pos) >= logSize {
			return nil, fmt.Errorf("entry %d (offset +%d, position %d) after (+%d, %d), log size %d", i, rel, pos, prevRel, prevPos, logSize)
		}
		prevRel, prevPos = int64(rel), int64(pos)
	}
	if len(data)%offsetIndexEntrySize != 0 && n > 0 && !allZero(data[n*offsetIndexEntrySize:]) {
		return nil, fmt.Errorf("size %d is not a multiple of %d", len(data), offsetIndexEntrySize)
	}
	return data[:n*offsetIndexEntrySize], nil
}

func checkZeroTail(tail []byte, at int) error {
	if !allZero(tail) {
		return fmt.Errorf("entry %d is empty but later entries are not", at)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Time index.

func putTimeEntry(b []byte, ts int64, rel uint32) {
	binary.BigEndian.PutUint64(b, uint64(ts))
	binary.BigEndian.PutUint32(b[8:], rel)
}

func timeEntryAt(entries []byte, i int) (ts int64, rel uint32) {
	e := entries[i*timeIndexEntrySize:]
	return int64(binary.BigEndian.Uint64(e)), binary.BigEndian.Uint32(e[8:])
}

// lastTimeEntry returns the newest entry, ok=false if none.
func lastTimeEntry(entries []byte) (ts int64, rel uint32, ok bool) {
	n := len(entries) / timeIndexEntrySize
	if n == 0 {
		return 0, 0, false
	}
	ts, rel = timeEntryAt(entries, n-1)
	return ts, rel, true
}

// lookupTime returns the relative offset to start scanning from for
// timestamp ts: the offset of the largest entry whose timestamp is at or
// below ts, or 0 when every entry is above it.
func lookupTime(entries []byte, ts int64) int64 {
	n := len(entries) / timeIndexEntrySize
	i := sort.Search(n, func(i int) bool {
		t, _ := timeEntryAt(entries, i)
		return t > ts
	})
	if i == 0 {
		return 0
	}
	_, rel := timeEntryAt(entries, i-1)
	return int64(rel)
}

// parseTimeIndex checks a time index file's contents: timestamps strictly
// increasing, relative offsets non-decreasing and below maxRel (the
// segment's next relative offset, or MaxUint32 if unknown); zero entries
// mark the end of a preallocated file.
func parseTimeIndex(data []byte, maxRel int64) ([]byte, error) {
	n := len(data) / timeIndexEntrySize
	var prevTs, prevRel int64 = math.MinInt64, -1
	for i := 0; i < n; i++ {
		ts, rel := timeEntryAt(data, i)
		if ts == 0 && rel == 0 && i > 0 {
			return data[:i*timeIndexEntrySize], checkZeroTail(data[i*timeIndexEntrySize:], i)
		}
		if ts <= prevTs || int64(rel) < prevRel || int64(rel) >= maxRel {
			return nil, fmt.Errorf("entry %d (timestamp %d, offset +%d) after (%d, +%d), next offset +%d", i, ts, rel, prevTs, prevRel, maxRel)
		}
		prevTs, prevRel = ts, int64(rel)
	}
	if len(data)%timeIndexEntrySize != 0 && n > 0 && !allZero(data[n*timeIndexEntrySize:]) {
		return nil, fmt.Errorf("size %d is not a multiple of %d", len(data), timeIndexEntrySize)
	}
	return data[:n*timeIndexEntrySize], nil
}
