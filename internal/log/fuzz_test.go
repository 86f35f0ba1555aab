package log

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func FuzzReadCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\norders 0 100\norders 1 200\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("1\n0\n"))
	f.Add([]byte("0\n3\na 0 1\n"))
	f.Add([]byte("0\n1\na -1 5\n"))
	f.Add([]byte("0\n99999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseOffsetCheckpoint(data)
		if err != nil {
			return
		}
		for tp, off := range m {
			if tp.Partition < 0 || off < 0 {
				t.Fatalf("accepted %v at %d", tp, off)
			}
		}
		// What parses survives a round trip, and the formatting is a fixed
		// point.
		text := FormatOffsetCheckpoint(m)
		m2, err := ParseOffsetCheckpoint(text)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip: %v\n%v\n%v", err, m, m2)
		}
		if again := FormatOffsetCheckpoint(m2); !bytes.Equal(again, text) {
			t.Fatalf("formatting differs:\n%q\n%q", text, again)
		}
	})
}

func FuzzLeaderEpochCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\n0 0\n3 150\n"))
	f.Add([]byte("0\n1\n5 10"))
	f.Add([]byte("0\n2\n3 10\n2 20\n"))
	f.Add([]byte("0\n1\n-1 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseLeaderEpochCheckpoint(data)
		if err != nil {
			return
		}
		for i, x := range e {
			if x.Epoch < 0 || x.StartOffset < 0 || i > 0 && (x.Epoch <= e[i-1].Epoch || x.StartOffset < e[i-1].StartOffset) {
				t.Fatalf("accepted entry %d %+v after %+v", i, x, e[max(i-1, 0)])
			}
		}
		text := FormatLeaderEpochCheckpoint(e)
		e2, err := ParseLeaderEpochCheckpoint(text)
		if err != nil || len(e2) != len(e) || (len(e) > 0 && !reflect.DeepEqual(e, e2)) {
			t.Fatalf("round trip: %v\n%v\n%v", err, e, e2)
		}
		if again := FormatLeaderEpochCheckpoint(e2); !bytes.Equal(again, text) {
			t.Fatalf("formatting differs:\n%q\n%q", text, again)
		}
		// The end offset of an epoch, as OffsetForLeaderEpoch answers it:
		// the start of the next larger epoch, or the log end offset for the
		// latest; an epoch between two known ones ends where the larger
		// starts, and one above the latest is unknown.
		const leo = 1 << 40
		c := epochCache{entries: e}
		for i, x := range e {
			wantEnd := int64(leo)
			if i+1 < len(e) {
				wantEnd = e[i+1].StartOffset
			}
			if ep, end := c.endOffsetFor(x.Epoch, leo); ep != x.Epoch || end != wantEnd {
				t.Fatalf("end offset for epoch %d: (%d, %d), want (%d, %d)", x.Epoch, ep, end, x.Epoch, wantEnd)
			}
			between := x.Epoch + 1
			wantEp, wantEnd := int32(UndefinedEpoch), int64(UndefinedEpochOffset)
			if i+1 < len(e) && e[i+1].Epoch > between {
				wantEp = x.Epoch
			}
			if wantEp != UndefinedEpoch || i+1 == len(e) {
				if i+1 < len(e) {
					wantEnd = e[i+1].StartOffset
				}
				if ep, end := c.endOffsetFor(between, leo); x.Epoch < math.MaxInt32 && (ep != wantEp || end != wantEnd) {
					t.Fatalf("end offset for epoch %d: (%d, %d), want (%d, %d)", between, ep, end, wantEp, wantEnd)
				}
			}
		}
	})
}

func FuzzPartitionMetadata(f *testing.F) {
	f.Add(FormatPartitionMetadata([16]byte{1, 2, 3}))
	f.Add([]byte("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Add([]byte("version: 1\ntopic_id: x"))
	f.Add([]byte("version: 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParsePartitionMetadata(data)
		if err != nil {
			return
		}
		id2, err := ParsePartitionMetadata(FormatPartitionMetadata(id))
		if err != nil || id2 != id {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// FuzzOffsetIndex checks parseOffsetIndex, the check an offset index file
// passes before it is used: what it accepts is a prefix of the file made of
// whole entries, strictly increasing in offset and position, every
// position inside the log, and only zero entries follow (no entry is
// dropped); and a lookup returns the
// position of the last entry at or below the target (0 below the first).
func FuzzOffsetIndex(f *testing.F) {
	var good []byte
	for i := 1; i <= 4; i++ {
		var e [8]byte
		putOffsetEntry(e[:], uint32(i*10), uint32(i*4096))
		good = append(good, e[:]...)
	}
	f.Add(good, int64(1<<20))
	f.Add(append(append([]byte(nil), good...), make([]byte, 64)...), int64(1<<20))
	f.Add(good[:13], int64(100))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, data []byte, logSize int64) {
		entries, err := parseOffsetIndex(data, logSize)
		if err != nil {
			return
		}
		whole := len(data) / offsetIndexEntrySize * offsetIndexEntrySize
		if len(entries)%offsetIndexEntrySize != 0 || !bytes.HasPrefix(data, entries) || !allZero(data[len(entries):whole]) {
			t.Fatalf("accepted %d of %d bytes", len(entries), len(data))
		}
		n := len(entries) / offsetIndexEntrySize
		for i := 0; i < n; i++ {
			rel, pos := offsetEntryAt(entries, i)
			if int64(pos) >= max(logSize, 1) {
				t.Fatalf("entry %d at position %d, log size %d", i, pos, logSize)
			}
			if i > 0 {
				if prel, ppos := offsetEntryAt(entries, i-1); rel <= prel || pos <= ppos {
					t.Fatalf("entry %d (+%d at %d) after (+%d at %d)", i, rel, pos, prel, ppos)
				}
			}
		}
		targets := []int64{-1, 0, 5, 1 << 20, 1 << 40}
		for i := 0; i < n; i++ {
			rel, _ := offsetEntryAt(entries, i)
			targets = append(targets, int64(rel)-1, int64(rel), int64(rel)+1)
		}
		for _, target := range targets {
			want := int64(0)
			for i := 0; i < n; i++ {
				if rel, pos := offsetEntryAt(entries, i); int64(rel) <= target {
					want = int64(pos)
				}
			}
			if got := lookupOffset(entries, target); got != want {
				t.Fatalf("lookup +%d -> %d, want %d", target, got, want)
			}
		}
	})
}

// FuzzTimeIndex is FuzzOffsetIndex for the time index: parseTimeIndex
// accepts whole entries with strictly increasing timestamps and
// non-decreasing relative offsets below maxRel, then only zero entries;
// lookupTime
// returns the offset of the last entry at or below the timestamp, and
// lastTimeEntry the last entry.
func FuzzTimeIndex(f *testing.F) {
	var good []byte
	for i := 1; i <= 4; i++ {
		var e [timeIndexEntrySize]byte
		putTimeEntry(e[:], baseTs+int64(i*100), uint32(i*10))
		good = append(good, e[:]...)
	}
	f.Add(good, int64(100))
	f.Add(append(append([]byte(nil), good...), make([]byte, 36)...), int64(math.MaxUint32))
	f.Add(good[:20], int64(41))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, data []byte, maxRel int64) {
		entries, err := parseTimeIndex(data, maxRel)
		if err != nil {
			return
		}
		whole := len(data) / timeIndexEntrySize * timeIndexEntrySize
		if len(entries)%timeIndexEntrySize != 0 || !bytes.HasPrefix(data, entries) || !allZero(data[len(entries):whole]) {
			t.Fatalf("accepted %d of %d bytes", len(entries), len(data))
		}
		n := len(entries) / timeIndexEntrySize
		targets := []int64{math.MinInt64, -1, 0, baseTs, math.MaxInt64}
		for i := 0; i < n; i++ {
			ts, rel := timeEntryAt(entries, i)
			if int64(rel) >= maxRel {
				t.Fatalf("entry %d at +%d, next offset +%d", i, rel, maxRel)
			}
			if i > 0 {
				if pts, prel := timeEntryAt(entries, i-1); ts <= pts || rel < prel {
					t.Fatalf("entry %d (%d at +%d) after (%d at +%d)", i, ts, rel, pts, prel)
				}
			}
			targets = append(targets, ts-1, ts, ts+1)
		}
		for _, target := range targets {
			want := int64(0)
			for i := 0; i < n; i++ {
				if ts, rel := timeEntryAt(entries, i); ts <= target {
					want = int64(rel)
				}
			}
			if got := lookupTime(entries, target); got != want {
				t.Fatalf("lookup %d -> +%d, want +%d", target, got, want)
			}
		}
		ts, rel, ok := lastTimeEntry(entries)
		if ok != (n > 0) {
			t.Fatalf("lastTimeEntry ok=%v with %d entries", ok, n)
		}
		if ok {
			if wts, wrel := timeEntryAt(entries, n-1); ts != wts || rel != wrel {
				t.Fatalf("lastTimeEntry (%d, +%d), want (%d, +%d)", ts, rel, wts, wrel)
			}
		}
	})
}

// segmentBatch is a batch the recovery model keeps.
type segmentBatch struct {
	pos, size  int64
	base, last int64
}

// modelRecovery is what recovery must keep of a segment with base offset 0
// holding seg: the longest prefix of whole magic-2 batches whose CRC32C
// matches, whose offsets increase and stay in the segment's 32-bit range
// (last offset <= MaxInt32). It returns those batches, the prefix's length
// and the offset after it.
func modelRecovery(seg []byte) (batches []segmentBatch, end, next int64) {
	for int64(len(seg))-end >= record.HeaderSize {
		h, err := record.ParseHeader(seg[end:])
		if err != nil || h.BatchLength < record.HeaderSize-record.LogOverhead || h.Size() > int64(len(seg))-end {
			break
		}
		b := seg[end : end+h.Size()]
		if h.Magic != record.CurrentMagic || record.ComputeCRC(b) != h.CRC || h.LastOffsetDelta < 0 ||
			h.BaseOffset < next || h.BaseOffset > math.MaxInt32-int64(h.LastOffsetDelta) {
			break
		}
		batches = append(batches, segmentBatch{pos: end, size: h.Size(), base: h.BaseOffset, last: h.LastOffset()})
		end += h.Size()
		next = h.LastOffset() + 1
	}
	return batches, end, next
}

// readLog reads every byte of l from offset 0 with Read.
func readLog(t *testing.T, l *Log) []byte {
	t.Helper()
	var out []byte
	for off := int64(0); off < l.LogEndOffset(); {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 16, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("read at %d (LEO %d): %v", off, l.LogEndOffset(), err)
		}
		if rr.Size == 0 || rr.NextOffset <= off {
			rr.Release()
			t.Fatalf("read at %d (LEO %d) returned %d bytes up to %d", off, l.LogEndOffset(), rr.Size, rr.NextOffset)
		}
		out, err = rr.AppendTo(out)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		off = rr.NextOffset
	}
	return out
}

// FuzzRecoverLog writes arbitrary bytes as the only segment of a partition
// and opens the log directory after a crash (no clean-shutdown marker, no
// recovery-point checkpoint), so recovery scans the segment. Recovery must
// keep exactly the prefix modelRecovery keeps: the log end offset, the
// segment's size and the bytes read back all match it, a read at either
// end of a kept batch starts at that batch, and the indexes recovery wrote
// are accepted by the index checks of the next open, with every entry on a
// kept batch. Then a batch is appended and the directory closed cleanly and
// opened again: nothing kept or appended is lost. With fixCRCs the CRC of
// every batch the length fields frame is made right first, so the fuzzer
// gets past the CRC check to the offset rules.
func FuzzRecoverLog(f *testing.F) {
	var seg []byte
	for i := 0; i < 6; i++ {
		b := makeBatch(1+i%3, 40, baseTs+int64(i))
		record.SetBaseOffset(b, int64(2*i))
		seg = append(seg, b...)
	}
	f.Add(seg, false)
	f.Add(seg[:len(seg)-7], false)
	corrupt := append([]byte(nil), seg...)
	corrupt[len(seg)/2] ^= 0xff
	f.Add(corrupt, false)
	f.Add(corrupt, true)
	f.Add([]byte{}, false)
	f.Add(make([]byte, 100), false)
	tp := TopicPartition{Topic: "t", Partition: 0}
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 64
	cfg.SegmentIndexBytes = 4096
	open := func(t *testing.T, fsys vfs.FS) (*Manager, *Log) {
		t.Helper()
		m := openTestManager(t, fsys, "data", func(o *ManagerOptions) { o.Config = cfg })
		l, ok := m.Get(tp)
		if !ok {
			m.Close()
			t.Fatal("partition missing after open")
		}
		return m, l
	}
	f.Fuzz(func(t *testing.T, seg []byte, fixCRCs bool) {
		if len(seg) > 1<<16 {
			return
		}
		for pos := 0; fixCRCs && len(seg)-pos >= record.HeaderSize; {
			h, _ := record.ParseHeader(seg[pos:])
			if h.BatchLength < record.HeaderSize-record.LogOverhead || h.Size() > int64(len(seg)-pos) {
				break
			}
			b := seg[pos : pos+int(h.Size())]
			binary.BigEndian.PutUint32(b[record.CRCOffset:], record.ComputeCRC(b))
			pos += len(b)
		}
		mem := vfs.NewMem()
		dir := "data/" + tp.String()
		if err := mem.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string][]byte{
			PartitionMetadataFile:                FormatPartitionMetadata([16]byte{1}),
			segmentName(0) + LogFileSuffix:       seg,
			segmentName(0) + IndexFileSuffix:     nil,
			segmentName(0) + TimeIndexFileSuffix: nil,
		} {
			if err := writeFileUnsynced(mem, filepath.Join(dir, name), data); err != nil {
				t.Fatal(err)
			}
		}
		batches, end, next := modelRecovery(seg)

		m, l := open(t, mem)
		defer func() { m.Close() }()
		if leo := l.LogEndOffset(); leo != next || l.Size() != end {
			t.Fatalf("recovered log end offset %d, size %d; want %d, %d (%d batches kept)", leo, l.Size(), next, end, len(batches))
		}
		if got := readLog(t, l); !bytes.Equal(got, seg[:end]) {
			t.Fatalf("read back %d bytes, want the %d-byte prefix", len(got), end)
		}
		for _, b := range batches {
			for _, off := range []int64{b.base, b.last} {
				rr, err := l.Read(off, ReadOptions{MaxBytes: 1, MaxOffset: -1, MinOneBatch: true})
				if err != nil || rr.Position != b.pos || rr.Size != b.size || rr.BaseOffset != b.base || rr.NextOffset != b.last+1 {
					t.Fatalf("read at %d: %+v, %v; want the batch at %d (%d bytes, offsets %d-%d)", off, rr, err, b.pos, b.size, b.base, b.last)
				}
				rr.Release()
			}
		}
		checkRecoveredIndexes(t, mem, dir, batches, end)

		res, err := l.Append(makeBatch(2, 10, baseTs), AppendOptions{})
		if err != nil || res.BaseOffset != next {
			t.Fatalf("append after recovery: %+v, %v; want base offset %d", res, err, next)
		}
		want := readLog(t, l)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m, l = open(t, mem)
		if l.LogEndOffset() != next+2 {
			t.Fatalf("log end offset %d after a clean reopen, want %d", l.LogEndOffset(), next+2)
		}
		if got := readLog(t, l); !bytes.Equal(got, want) || !bytes.HasPrefix(got, seg[:end]) {
			t.Fatalf("clean reopen reads %d bytes, want %d", len(got), len(want))
		}
	})
}

// checkRecoveredIndexes checks the index files recovery wrote for segment
// 0: the offset index passes parseOffsetIndex and the time index
// parseTimeIndex (or the next open would throw them away and rebuild), and
// every entry names a kept batch: the offset index by its last offset and
// position, the time index by the last offset of a batch. The active
// segment's index files stay preallocated, and a first entry of zeros
// reads as (+0 at position 0) or (timestamp 0 at +0): harmless, as a scan
// from the segment's start is always right.
func checkRecoveredIndexes(t *testing.T, fsys vfs.FS, dir string, batches []segmentBatch, end int64) {
	t.Helper()
	read := func(suffix string) []byte {
		data, err := readFile(fsys, filepath.Join(dir, segmentName(0)+suffix))
		if err != nil && !isNotExist(err) {
			t.Fatal(err)
		}
		return data
	}
	byPos := map[int64]segmentBatch{}
	byLast := map[int64]bool{}
	for _, b := range batches {
		byPos[b.pos] = b
		byLast[b.last] = true
	}
	off, err := parseOffsetIndex(read(IndexFileSuffix), max(end, 1))
	if err != nil {
		t.Fatalf("offset index written by recovery is rejected: %v", err)
	}
	for i := 0; i < len(off)/offsetIndexEntrySize; i++ {
		rel, pos := offsetEntryAt(off, i)
		if i == 0 && rel == 0 && pos == 0 {
			continue
		}
		if b, ok := byPos[int64(pos)]; !ok || b.last != int64(rel) {
			t.Fatalf("offset index entry %d (+%d at %d) is not on a kept batch", i, rel, pos)
		}
	}
	tix, err := parseTimeIndex(read(TimeIndexFileSuffix), math.MaxUint32)
	if err != nil {
		t.Fatalf("time index written by recovery is rejected: %v", err)
	}
	for i := 0; i < len(tix)/timeIndexEntrySize; i++ {
		if ts, rel := timeEntryAt(tix, i); !byLast[int64(rel)] && (i > 0 || ts != 0 || rel != 0) {
			t.Fatalf("time index entry %d (%d at +%d) is not on a kept batch", i, ts, rel)
		}
	}
}
