package log

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// truncModel is what the truncation workload did, as the checks after a
// crash need it. live holds, by base offset, every batch the log may hold:
// those appended and not removed by a truncation that completed (a
// truncation in progress when the power went may have left the old ones).
// acked holds the batches acknowledged durable and not at or above the
// point of a truncation that began.
type truncModel struct {
	live, acked    map[int64][]byte
	lsoMin, lsoMax int64
	truncations    int // completed
	label          string
}

func newTruncModel() *truncModel {
	return &truncModel{live: map[int64][]byte{}, acked: map[int64][]byte{}}
}

// truncWorkload appends as leader and as follower to one partition with
// small segments and indexes (rolls on size and full indexes), and
// truncates it: at a batch boundary inside a segment, at a segment
// boundary, inside a batch, below several segments, to the log start after
// a DeleteRecords, fully past its end; with become-leader epoch entries,
// checkpoint writes and a clean shutdown. Every append is acknowledged
// only once WaitDurable says so. It stops at the first error: after the
// crash point every operation fails.
func truncWorkload(fsys vfs.FS, md *truncModel) {
	cfg := followerConfig()
	m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, HighWatermarkCheckpointInterval: 1 << 40, Config: cfg})
	if err != nil {
		return
	}
	defer m.Close()
	l, err := m.Create(followerTP, [16]byte{5}, cfg)
	if err != nil {
		return
	}
	seq := int64(0)
	epoch := int32(0)
	// leaderAppends appends n batches as leader; followerAppends n as a
	// follower, in one call. Both wait for durability, then acknowledge.
	leaderAppends := func(n int) bool {
		var pending [][]byte
		var bases []int64
		end := int64(0)
		for i := 0; i < n; i++ {
			seq++
			b := makeBatch(1+int(seq%3), 60+int(seq%5)*40, 1_700_000_000_000+seq)
			md.live[l.LogEndOffset()] = b // stamped in place by the append
			res, err := l.AppendAsync(b, AppendOptions{LeaderEpoch: epoch})
			if err != nil {
				return false
			}
			pending, bases, end = append(pending, b), append(bases, res.BaseOffset), res.LastOffset+1
		}
		if l.WaitDurable(context.Background(), end) != nil {
			return false
		}
		for i, b := range pending {
			md.acked[bases[i]] = b
		}
		return true
	}
	followerAppends := func(n int, ep int32) bool {
		var in []byte
		var bs [][]byte
		off := l.LogEndOffset()
		for i := 0; i < n; i++ {
			seq++
			b := stamped(makeBatch(1+int(seq%2), 80, 1_600_000_000_000+seq), off, ep)
			h, _ := record.ParseHeader(b)
			off = h.NextOffset()
			in = append(in, b...)
			bs = append(bs, b)
		}
		for _, b := range bs {
			md.live[mustHeaderB(b).BaseOffset] = b
		}
		if _, err := l.AppendAsFollower(in); err != nil {
			return false
		}
		if l.WaitDurable(context.Background(), off) != nil {
			return false
		}
		for _, b := range bs {
			md.acked[mustHeaderB(b).BaseOffset] = b
		}
		return true
	}
	// truncate truncates to offset (fully when full), keeping the model:
	// acknowledged batches at or above the cut are no longer owed when it
	// begins; the live ones go when it completes.
	truncate := func(offset int64, full bool) bool {
		end := offset
		if !full {
			for base, b := range md.live {
				if h := mustHeaderB(b); base < offset && h.LastOffset() >= offset {
					end = base // inside a batch: the batch goes
				}
			}
		}
		for base := range md.acked {
			if base >= end || full {
				delete(md.acked, base)
			}
		}
		md.lsoMin = min(md.lsoMin, end)
		if full {
			md.lsoMax = max(md.lsoMax, offset)
		}
		var err error
		if full {
			err = l.TruncateFullyAndStartAt(offset)
		} else {
			err = l.TruncateTo(offset)
		}
		if err != nil {
			return false
		}
		for base := range md.live {
			if base >= end || full {
				delete(md.live, base)
			}
		}
		if full {
			md.lsoMin = offset
		}
		md.truncations++
		return true
	}
	// batchIn returns the i-th last batch of the active segment.
	batchIn := func(i int) (record.Header, bool) {
		l.mu.Lock()
		s := l.active
		l.mu.Unlock()
		hs, _, err := segmentBatches(l, s)
		if err != nil || len(hs) == 0 {
			return record.Header{}, false
		}
		return hs[max(len(hs)-1-i, 0)], true
	}

	if !leaderAppends(12) || !followerAppends(6, 2) {
		return
	}
	epoch = 3
	if _, err := l.BeginLeaderEpoch(epoch); err != nil {
		return
	}
	if !leaderAppends(10) {
		return
	}
	// A batch boundary in the middle of the active segment.
	h, ok := batchIn(1)
	if !ok || !truncate(h.BaseOffset, false) || !followerAppends(8, 4) {
		return
	}
	// A segment boundary.
	segs := l.segments()
	if !truncate(segs[len(segs)-2].base, false) || !followerAppends(10, 5) {
		return
	}
	if err := m.WriteCheckpoints(); err != nil {
		return
	}
	// Inside a batch.
	if h, ok = batchIn(0); !ok || !truncate(h.BaseOffset+int64(h.LastOffsetDelta), false) || !followerAppends(3, 6) {
		return
	}
	// Below several segments.
	segs = l.segments()
	if !truncate(segs[max(len(segs)-4, 1)].base+1, false) {
		return
	}
	epoch = 7
	if _, err := l.BeginLeaderEpoch(epoch); err != nil {
		return
	}
	if !leaderAppends(14) {
		return
	}
	// To the log start, after a DeleteRecords.
	del := l.segments()[1].base + 1
	md.lsoMax = max(md.lsoMax, del)
	if _, err := l.DeleteRecordsBefore(del); err != nil {
		return
	}
	md.lsoMin = max(md.lsoMin, del)
	for base, b := range md.acked {
		if mustHeaderB(b).LastOffset() < del {
			delete(md.acked, base)
		}
	}
	if !truncate(l.LogStartOffset(), false) || !followerAppends(6, 8) {
		return
	}
	// Fully, past the end.
	if !truncate(l.LogEndOffset()+40, true) || !followerAppends(5, 9) {
		return
	}
	if err := m.Close(); err != nil {
		return
	}
}

func mustHeaderB(b []byte) record.Header {
	h, _ := record.ParseHeader(b)
	return h
}

// checkTruncRecovered opens a crashed file system and checks: the log
// start offset within its bounds; every batch acknowledged and owed (not
// at or above a truncation that began, not below the log start offset)
// there byte for byte; nothing that is not live (no batch a completed
// truncation removed); indexes and epoch cache agreeing with the records
// (checkLogConsistent); and the log taking appends as leader and follower.
func checkTruncRecovered(t *testing.T, fsys vfs.FS, md *truncModel, label string) {
	t.Helper()
	m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, Config: followerConfig()})
	if err != nil {
		t.Fatalf("%s: reopen: %v", label, err)
	}
	defer m.Close()
	l, ok := m.Get(followerTP)
	if !ok {
		if len(md.acked) > 0 {
			t.Fatalf("%s: log missing with %d acknowledged batches", label, len(md.acked))
		}
		return
	}
	lso, leo := l.LogStartOffset(), l.LogEndOffset()
	if lso < md.lsoMin || lso > md.lsoMax {
		t.Fatalf("%s: log start offset %d outside [%d, %d] (log end %d)", label, lso, md.lsoMin, md.lsoMax, leo)
	}
	got := map[int64][]byte{}
	for off := lso; off < leo; {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("%s: read %d (log [%d, %d)): %v", label, off, lso, leo, err)
		}
		if rr.Size == 0 {
			break
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			h := mustHeaderB(b)
			if want, ok := md.live[h.BaseOffset]; !ok || !bytes.Equal(want, b[:h.Size()]) {
				t.Fatalf("%s: batch at %d is not one the log may hold (log [%d, %d))", label, h.BaseOffset, lso, leo)
			}
			got[h.BaseOffset] = b[:h.Size()]
			b = b[h.Size():]
		}
		off = rr.NextOffset
	}
	for base, want := range md.acked {
		if mustHeaderB(want).LastOffset() >= lso && !bytes.Equal(got[base], want) {
			t.Fatalf("%s: acknowledged batch at %d lost (log [%d, %d))", label, base, lso, leo)
		}
	}
	if err := checkLogConsistent(l); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	if _, err := l.Append(makeBatch(1, 10, 1), AppendOptions{LeaderEpoch: 50}); err != nil {
		t.Fatalf("%s: append after recovery: %v", label, err)
	}
	if _, err := l.AppendAsFollower(stamped(makeBatch(1, 10, 1), l.LogEndOffset(), 51)); err != nil {
		t.Fatalf("%s: follower append after recovery: %v", label, err)
	}
	if err := checkLogConsistent(l); err != nil {
		t.Fatalf("%s: after appends: %v", label, err)
	}
}

// TestCrashTruncation is TestCrashAtEveryStep for truncation: it cuts the
// power after each mutating file operation of truncWorkload, with and
// without a torn write, and checks what recovery returns
// (checkTruncRecovered): everything acknowledged below each truncation
// point, nothing above a completed truncation, indexes and epoch cache
// agreeing with the records. Producer state is checked by
// internal/partition's TestCrashFollower.
func TestCrashTruncation(t *testing.T) {
	seed := testSeed(t)
	clean := vfs.NewFaulty(vfs.NewMem())
	md := newTruncModel()
	truncWorkload(clean, md)
	steps := clean.Steps()
	if md.truncations != 6 {
		t.Fatalf("clean run: %d truncations completed, want 6", md.truncations)
	}
	checkTruncRecovered(t, clean.Inner(), md, "clean run")
	t.Logf("workload: %d steps", steps)
	start, stride := crashStride(seed)
	for n := start; n <= steps+1; n += stride {
		torns := []bool{false, true}
		if stride > 1 {
			torns = []bool{n%2 == 1}
		}
		for _, torn := range torns {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			ff.CrashAfter(n)
			ff.TearCrashingWrite(torn)
			md := newTruncModel()
			truncWorkload(ff, md)
			crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: seed + n})
			checkTruncRecovered(t, crashed, md, fmt.Sprintf("crash after step %d (torn %v, %d truncations done)", n, torn, md.truncations))
		}
	}
}
