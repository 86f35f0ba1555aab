package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// fillLog appends n single-batch appends of 1 to 3 records with epochs
// rising every 10, and returns the headers of the batches.
func fillEpochs(t testing.TB, l *Log, n int, epoch0 int32) []record.Header {
	t.Helper()
	var hs []record.Header
	for i := 0; i < n; i++ {
		b := makeBatch(1+i%3, 100, 1_700_000_000_000+int64(i))
		if _, err := l.Append(b, AppendOptions{LeaderEpoch: epoch0 + int32(i/10)}); err != nil {
			t.Fatal(err)
		}
		h, _ := record.ParseHeader(b)
		hs = append(hs, h)
	}
	return hs
}

// TestTruncateTo truncates a log at each kind of point and checks what it
// holds, its indexes and epoch cache, that it takes appends after, and
// that a clean restart and a power cut both bring back the truncated log.
func TestTruncateTo(t *testing.T) {
	type pick func(l *Log, hs []record.Header) (to, wantEnd int64)
	cases := []struct {
		name string
		pick pick
	}{
		{"batch boundary inside the active segment", func(l *Log, hs []record.Header) (int64, int64) {
			s := l.segments()
			var inActive []record.Header
			for _, h := range hs {
				if h.BaseOffset > s[len(s)-1].base {
					inActive = append(inActive, h)
				}
			}
			h := inActive[len(inActive)/2]
			return h.BaseOffset, h.BaseOffset
		}},
		{"batch boundary inside an older segment", func(l *Log, hs []record.Header) (int64, int64) {
			s := l.segments()
			for _, h := range hs {
				if h.BaseOffset > s[2].base && h.LastOffset() < s[3].base-1 {
					return h.BaseOffset, h.BaseOffset
				}
			}
			panic("no batch")
		}},
		{"segment boundary", func(l *Log, hs []record.Header) (int64, int64) {
			b := l.segments()[3].base
			return b, b
		}},
		{"inside a batch", func(l *Log, hs []record.Header) (int64, int64) {
			for _, h := range hs[len(hs)/2:] {
				if h.LastOffsetDelta > 0 {
					return h.BaseOffset + 1, h.BaseOffset
				}
			}
			panic("no batch")
		}},
		{"below several segments", func(l *Log, hs []record.Header) (int64, int64) {
			h := hs[3]
			return h.BaseOffset, h.BaseOffset
		}},
		{"to the log start", func(l *Log, hs []record.Header) (int64, int64) { return 0, 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			m := openTestManager(t, mem, "data")
			l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
			if err != nil {
				t.Fatal(err)
			}
			hs := fillEpochs(t, l, 60, 0)
			if l.NumSegments() < 6 {
				t.Fatalf("%d segments", l.NumSegments())
			}
			if _, err := l.BeginLeaderEpoch(20); err != nil {
				t.Fatal(err)
			}
			l.SetHighWatermark(l.LogEndOffset())
			to, wantEnd := tc.pick(l, hs)
			before := readRaw(t, l, 0)
			if err := l.TruncateTo(to); err != nil {
				t.Fatal(err)
			}
			check := func(l *Log, label string) {
				t.Helper()
				// After a power cut the high watermark is the last one
				// checkpointed: the periodic write may not have run.
				hwOK := l.HighWatermark() == wantEnd || (label == "after a power cut" && l.HighWatermark() <= wantEnd)
				if l.LogEndOffset() != wantEnd || l.DurableOffset() != wantEnd || !hwOK {
					t.Fatalf("%s: end %d durable %d high watermark %d, want %d", label, l.LogEndOffset(), l.DurableOffset(), l.HighWatermark(), wantEnd)
				}
				got := readRaw(t, l, 0)
				if !bytes.HasPrefix(before, got) {
					t.Fatalf("%s: the kept log is not a prefix of the old one", label)
				}
				if rest := readAll(t, l, 0); len(rest) > 0 && rest[len(rest)-1].NextOffset() != wantEnd {
					t.Fatalf("%s: last batch ends at %d", label, rest[len(rest)-1].NextOffset())
				}
				for _, e := range l.LeaderEpochs() {
					if e.StartOffset >= wantEnd {
						t.Fatalf("%s: epoch entry %v at or past the end %d", label, e, wantEnd)
					}
				}
				if err := checkLogConsistent(l); err != nil {
					t.Fatalf("%s: %v", label, err)
				}
			}
			check(l, "truncated")
			if l.RecoveryPoint() != wantEnd {
				t.Fatalf("recovery point %d", l.RecoveryPoint())
			}
			// It takes appends, as leader and as follower, in a new segment.
			res, err := l.Append(makeBatch(2, 50, 1), AppendOptions{LeaderEpoch: 21})
			if err != nil || res.BaseOffset != wantEnd {
				t.Fatalf("append after truncation: %+v %v", res, err)
			}
			if l.active.base != wantEnd {
				t.Fatalf("appends go to segment %d", l.active.base)
			}
			if _, err := l.AppendAsFollower(stamped(makeBatch(1, 50, 2), wantEnd+2, 22)); err != nil {
				t.Fatal(err)
			}
			if err := l.TruncateTo(wantEnd); err != nil {
				t.Fatal(err)
			}
			check(l, "truncated again")
			crashed := mem.CrashClone(vfs.CrashOptions{})
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			for i, fsys := range []vfs.FS{mem, crashed} {
				m := openTestManager(t, fsys, "data")
				l, _ := m.Get(followerTP)
				check(l, []string{"reopened", "after a power cut"}[i])
				m.Close()
			}
		})
	}
}

// TestTruncateFullyAndStartAt: the log starts over empty at the offset,
// above its old end or below its start, and a crash leaves either the old
// log or the new one.
func TestTruncateFullyAndStartAt(t *testing.T) {
	for _, at := range []int64{500, 3} {
		mem := vfs.NewMem()
		m := openTestManager(t, mem, "data")
		l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
		if err != nil {
			t.Fatal(err)
		}
		fillEpochs(t, l, 30, 0)
		if _, err := l.DeleteRecordsBefore(10); err != nil {
			t.Fatal(err)
		}
		if err := l.TruncateFullyAndStartAt(at); err != nil {
			t.Fatal(err)
		}
		if l.LogStartOffset() != at || l.LogEndOffset() != at || l.NumSegments() != 1 || len(l.LeaderEpochs()) != 0 {
			t.Fatalf("start at %d: log [%d, %d), %d segments, epochs %v", at, l.LogStartOffset(), l.LogEndOffset(), l.NumSegments(), l.LeaderEpochs())
		}
		if _, err := l.AppendAsFollower(stamped(makeBatch(2, 20, 5), at, 4)); err != nil {
			t.Fatal(err)
		}
		if err := l.WaitDurable(context.Background(), at+2); err != nil {
			t.Fatal(err)
		}
		if err := checkLogConsistent(l); err != nil {
			t.Fatal(err)
		}
		crashed := mem.CrashClone(vfs.CrashOptions{})
		m.Close()
		m = openTestManager(t, crashed, "data")
		l, _ = m.Get(followerTP)
		if l.LogStartOffset() != at || l.LogEndOffset() != at+2 {
			t.Fatalf("after a crash: log [%d, %d)", l.LogStartOffset(), l.LogEndOffset())
		}
		m.Close()
	}
}

// TestTruncateFailsDurabilityWaits: appends not yet durable above the cut
// are never acknowledged: their waits fail with ErrTruncated, an fsync
// round that covered them does not move the durable offset past the cut,
// and the durable offset reaching their offset again with new records
// does not wake them as done.
func TestTruncateFailsDurabilityWaits(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	committer := manualCommitter(m)
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsync(makeBatch(5, 20, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	runRound(committer)
	var pending []AppendResult
	for i := 0; i < 3; i++ {
		res, err := l.AppendAsync(makeBatch(2, 20, 1), AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, res)
	}
	// Append (write and wait) from another goroutine, and a WaitDurable.
	appendErr := make(chan error, 1)
	go func() {
		_, err := l.Append(makeBatch(1, 20, 1), AppendOptions{})
		appendErr <- err
	}()
	waitErr := make(chan error, 1)
	go func() { waitErr <- l.WaitDurable(context.Background(), pending[2].LastOffset+1) }()
	for l.LogEndOffset() != 12 {
		time.Sleep(time.Millisecond)
	}
	keptWait := make(chan error, 1)
	go func() { keptWait <- l.WaitDurable(context.Background(), pending[0].LastOffset+1) }()
	if err := l.TruncateTo(pending[1].BaseOffset); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan error{appendErr, waitErr} {
		if err := <-ch; !errors.Is(err, ErrTruncated) {
			t.Fatalf("wait above the cut: %v, want ErrTruncated", err)
		}
	}
	// What the truncation kept is durable: it fsynced it.
	if err := <-keptWait; err != nil {
		t.Fatalf("wait below the cut: %v", err)
	}
	// The round that covered the truncated appends runs now.
	runRound(committer)
	if d := l.DurableOffset(); d != pending[1].BaseOffset {
		t.Fatalf("durable offset %d after the stale round, log end %d", d, l.LogEndOffset())
	}
	// New records reach the old offsets; a wait from before the
	// truncation still fails.
	gen := pending[2].gen
	for l.LogEndOffset() <= pending[2].LastOffset+1 {
		if _, err := l.AppendAsync(makeBatch(3, 20, 1), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	runRound(committer)
	if err := l.waitDurable(context.Background(), pending[2].LastOffset+1, gen); !errors.Is(err, ErrTruncated) {
		t.Fatalf("stale wait after refill: %v", err)
	}
	if err := l.WaitDurable(context.Background(), l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
}

// TestHighWatermarkCheckpoint: the high watermark is written to
// replication-offset-checkpoint at close and read back at open, clamped to
// the log; a truncation below it lowers it, on disk too.
func TestHighWatermarkCheckpoint(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	l2, err := m.Create(TopicPartition{"other", 0}, [16]byte{2}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	fillEpochs(t, l, 20, 0)
	fillEpochs(t, l2, 5, 0)
	if l.HighWatermark() != 0 {
		t.Fatalf("new log: high watermark %d", l.HighWatermark())
	}
	l.SetHighWatermark(25)
	l2.SetHighWatermark(1 << 40) // clamped to the log end
	if err := m.WriteHighWatermarks(); err != nil {
		t.Fatal(err)
	}
	data, err := readFile(mem, filepath.Join("data", ReplicationOffsetCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("0\n2\nother 0 %d\nreplicated 3 25\n", l2.LogEndOffset()); string(data) != want {
		t.Fatalf("checkpoint %q, want %q", data, want)
	}
	// Nothing changed: no write.
	if err := mem.Remove(filepath.Join("data", ReplicationOffsetCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteHighWatermarks(); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat(filepath.Join("data", ReplicationOffsetCheckpointFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("written without a change: %v", err)
	}
	if err := l.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	if l.HighWatermark() != l.LogEndOffset() || l.LogEndOffset() > 10 {
		t.Fatalf("after truncation: high watermark %d, log end %d", l.HighWatermark(), l.LogEndOffset())
	}
	// The truncation wrote the lower value at once.
	ckpt, err := ParseOffsetCheckpoint(mustRead(t, mem, filepath.Join("data", ReplicationOffsetCheckpointFile)))
	if err != nil || ckpt[followerTP] != l.LogEndOffset() {
		t.Fatalf("checkpoint after truncation: %v %v", ckpt, err)
	}
	fillEpochs(t, l, 5, 3)
	l.SetHighWatermark(l.LogEndOffset() - 2)
	want := l.HighWatermark()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m = openTestManager(t, mem, "data")
	defer m.Close()
	l, _ = m.Get(followerTP)
	if l.HighWatermark() != want {
		t.Fatalf("reopened: high watermark %d, want %d", l.HighWatermark(), want)
	}
}

func mustRead(t testing.TB, fsys vfs.FS, name string) []byte {
	t.Helper()
	b, err := readFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTruncateTrimsTxnIndex: the transaction index of the segment holding
// the cut loses the entries of markers at or past it; those of deleted
// segments go with them.
func TestTruncateTrimsTxnIndex(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	defer m.Close()
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	fillEpochs(t, l, 80, 0)
	segs := l.segments()
	s := segs[2]
	entry := func(last int64) []byte {
		b := make([]byte, txnIndexEntrySize)
		binary.BigEndian.PutUint64(b[2:], 7)
		binary.BigEndian.PutUint64(b[10:], uint64(s.base))
		binary.BigEndian.PutUint64(b[txnIndexLastOffset:], uint64(last))
		return b
	}
	hs := readAll(t, l, s.base)
	var data []byte
	for _, h := range hs {
		if h.BaseOffset < segs[3].base {
			data = append(data, entry(h.BaseOffset)...)
		}
	}
	name := s.path(TxnIndexFileSuffix)
	if err := vfs.WriteFileAtomic(mem, name, data); err != nil {
		t.Fatal(err)
	}
	later := segs[4].path(TxnIndexFileSuffix)
	if err := vfs.WriteFileAtomic(mem, later, entry(segs[4].base)); err != nil {
		t.Fatal(err)
	}
	cut := hs[2].BaseOffset
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, mem, name); !bytes.Equal(got, data[:2*txnIndexEntrySize]) {
		t.Fatalf("txnindex holds %d bytes, want the 2 entries below %d", len(got), cut)
	}
	if _, err := mem.Stat(later); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("txnindex of a deleted segment: %v", err)
	}
}

// TestTruncateUnderConcurrentReaders: readers that never take the log's
// lock read while the log is truncated and appended to as a follower over
// and over; every batch they get is whole (its CRC holds) and is one that
// was written at its offset, never a mix of two, and whatever a
// ReadResult sends is the bytes it was given or an error.
func TestTruncateUnderConcurrentReaders(t *testing.T) {
	seed := testSeed(t)
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		written = map[int64]map[string]bool{} // base offset → every batch written there
		stop    atomic.Bool
		reads   atomic.Int64
		wg      sync.WaitGroup
		errs    = make(chan error, 8)
	)
	appendAt := func(rng *rand.Rand, n int) {
		for i := 0; i < n; i++ {
			leo := l.LogEndOffset()
			b := stamped(makeBatch(1+rng.Intn(3), 30+rng.Intn(150), rng.Int63n(1<<40)), leo, 1)
			mu.Lock()
			if written[leo] == nil {
				written[leo] = map[string]bool{}
			}
			written[leo][string(b)] = true
			mu.Unlock()
			if _, err := l.AppendAsFollower(b); err != nil {
				t.Error(err)
				return
			}
		}
	}
	appendAt(rand.New(rand.NewSource(seed)), 40)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed + int64(r)))
			for !stop.Load() {
				off := l.LogStartOffset() + rng.Int63n(max(l.LogEndOffset()-l.LogStartOffset(), 1))
				rr, err := l.Read(off, ReadOptions{MaxBytes: int32(1 + rng.Intn(3000)), MaxOffset: -1, MinOneBatch: true})
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("read %d: %v", off, err)
					return
				}
				if rng.Intn(2) == 0 {
					time.Sleep(time.Duration(rng.Intn(200)) * time.Microsecond) // let a truncation pass
				}
				var buf bytes.Buffer
				_, werr := rr.WriteTo(&buf)
				rr.Release()
				b := buf.Bytes()
				if werr != nil {
					// A range cut off under the send: an error, as long as
					// what came was whole batches as written.
					b = b[:0]
				}
				for len(b) > 0 {
					h, err := record.ParseHeader(b)
					if err != nil || int64(len(b)) < h.Size() {
						errs <- fmt.Errorf("read %d: a torn batch", off)
						return
					}
					mu.Lock()
					ok := written[h.BaseOffset][string(b[:h.Size()])]
					mu.Unlock()
					if !ok {
						errs <- fmt.Errorf("read %d: batch at %d is not one written there", off, h.BaseOffset)
						return
					}
					b = b[h.Size():]
				}
				reads.Add(1)
			}
		}(r)
	}
	rng := rand.New(rand.NewSource(seed - 1))
	for i := 0; i < 300; i++ {
		lso, leo := l.LogStartOffset(), l.LogEndOffset()
		if err := l.TruncateTo(lso + rng.Int63n(leo-lso+1)); err != nil {
			t.Fatal(err)
		}
		appendAt(rng, 1+rng.Intn(12))
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d reads", reads.Load())
	if err := checkLogConsistent(l); err != nil {
		t.Fatal(err)
	}
}
