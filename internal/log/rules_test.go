package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

const baseTs = 1_700_000_000_000

func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4096
	cfg.IndexIntervalBytes = 512
	cfg.SegmentIndexBytes = 4096
	return cfg
}

func TestOnDiskLayout(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	l, err := m.Create(TopicPartition{"my-topic", 3}, [16]byte{0xde, 0xad}, smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		if _, err := l.Append(makeBatch(3, 100, baseTs+int64(i)), AppendOptions{LeaderEpoch: 2}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := mem.ReadDir("data/my-topic-3")
	names := map[string]int64{}
	for _, e := range entries {
		fi, _ := e.Info()
		names[e.Name()] = fi.Size()
	}
	for _, want := range []string{"00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex", LeaderEpochCheckpointFile, PartitionMetadataFile} {
		if _, ok := names[want]; !ok {
			t.Errorf("missing %s in %v", want, names)
		}
	}
	for name, size := range names {
		switch filepath.Ext(name) {
		case ".index":
			if size%8 != 0 || size >= 4096 {
				t.Errorf("%s: %d bytes, want trimmed entries", name, size)
			}
		case ".timeindex":
			if size%12 != 0 || size == 0 || size >= 4096 {
				t.Errorf("%s: %d bytes, want trimmed entries with the final one", name, size)
			}
		}
	}
	data, _ := readFile(mem, "data/my-topic-3/"+PartitionMetadataFile)
	if string(data) != "version: 0\ntopic_id: 3q0AAAAAAAAAAAAAAAAAAA" {
		t.Errorf("partition.metadata = %q", data)
	}
	data, _ = readFile(mem, "data/my-topic-3/"+LeaderEpochCheckpointFile)
	if string(data) != "0\n1\n2 0\n" {
		t.Errorf("leader-epoch-checkpoint = %q", data)
	}
	data, _ = readFile(mem, "data/"+RecoveryPointCheckpointFile)
	if string(data) != "0\n1\nmy-topic 3 120\n" {
		t.Errorf("recovery point checkpoint = %q", data)
	}
	if _, err := mem.Stat("data/" + CleanShutdownFile); err != nil {
		t.Errorf("no clean shutdown marker: %v", err)
	}
	m = openTestManager(t, mem, "data")
	defer m.Close()
	if _, err := mem.Stat("data/" + CleanShutdownFile); err == nil {
		t.Error("clean shutdown marker still there while open")
	}
}

// A new partition's directory holds its .log file only: its indexes live
// in memory and reach disk at roll or close (or are rebuilt from the log
// at open), so creating many partitions creates few files.
func TestNewPartitionIndexesWrittenAtClose(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	cfg := smallConfig()
	l, err := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Stat("data/t-0/00000000000000000000.log"); err != nil {
		t.Fatal(err)
	}
	for _, suf := range []string{IndexFileSuffix, TimeIndexFileSuffix} {
		if _, err := mem.Stat("data/t-0/00000000000000000000" + suf); err == nil {
			t.Fatalf("a new partition has a %s file", suf)
		}
	}
	if _, err := l.Append(makeBatch(3, 10, baseTs), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suf := range []string{IndexFileSuffix, TimeIndexFileSuffix} {
		fi, err := mem.Stat("data/t-0/00000000000000000000" + suf)
		if err != nil || fi.Size() >= int64(cfg.SegmentIndexBytes) {
			t.Fatalf("%s after close: %v %v, want a trimmed file", suf, fi, err)
		}
	}
	m = openTestManager(t, mem, "data")
	defer m.Close()
	l, _ = m.Get(TopicPartition{"t", 0})
	if got := readAll(t, l, 0); len(got) != 1 || got[0].NumRecords != 3 {
		t.Fatalf("after reopen: %d batches", len(got))
	}
}

func TestRollOnIndexFullAndSegmentMs(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(baseTs)}
	m := openTestManager(t, vfs.NewMem(), "data", func(o *ManagerOptions) { o.Now = clock.now })
	defer m.Close()
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 0
	cfg.SegmentIndexBytes = 48 // 6 offset entries, 4 time entries
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	for i := 0; i < 20; i++ {
		l.Append(makeBatch(1, 10, baseTs+int64(i)), AppendOptions{})
	}
	if n := l.NumSegments(); n < 3 {
		t.Fatalf("index full did not roll: %d segments", n)
	}
	cfg = DefaultConfig()
	cfg.SegmentMs = 1000
	l2, _ := m.Create(TopicPartition{"t", 1}, [16]byte{}, cfg)
	l2.Append(makeBatch(1, 10, baseTs), AppendOptions{})
	l2.Append(makeBatch(1, 10, baseTs), AppendOptions{})
	if l2.NumSegments() != 1 {
		t.Fatal("rolled too early")
	}
	clock.advance(1001 * time.Millisecond)
	l2.Append(makeBatch(1, 10, baseTs), AppendOptions{})
	if l2.NumSegments() != 2 {
		t.Fatalf("segment.ms did not roll: %d", l2.NumSegments())
	}
}

func TestRetention(t *testing.T) {
	clock := &testClock{t: time.UnixMilli(baseTs + 10_000)}
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data", func(o *ManagerOptions) { o.Now = clock.now })
	cfg := smallConfig()
	cfg.RetentionMs = 5000
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	// Old batches (timestamps 0..4s after baseTs), then new ones.
	for i := 0; i < 30; i++ {
		l.Append(makeBatch(2, 100, baseTs+int64(i)*100), AppendOptions{})
	}
	oldEnd := l.LogEndOffset()
	for i := 0; i < 30; i++ {
		l.Append(makeBatch(2, 100, baseTs+9000), AppendOptions{})
	}
	before := l.NumSegments()
	n := m.RunRetention()
	if n == 0 || l.NumSegments() != before-n {
		t.Fatalf("retention deleted %d of %d segments", n, before)
	}
	if lso := l.LogStartOffset(); lso == 0 || lso > oldEnd {
		t.Fatalf("log start offset %d, old data ended at %d", lso, oldEnd)
	}
	if _, err := l.Read(0, ReadOptions{MaxBytes: 100}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	readAll(t, l, l.LogStartOffset())
	// Everything expired: all but the active segment go.
	clock.advance(time.Hour)
	m.RunRetention()
	if l.NumSegments() != 1 {
		t.Fatalf("%d segments left; the active one must stay", l.NumSegments())
	}
	// Size-based.
	cfg2 := smallConfig()
	cfg2.RetentionMs = -1
	cfg2.RetentionBytes = 8192
	l2, _ := m.Create(TopicPartition{"t", 1}, [16]byte{}, cfg2)
	for i := 0; i < 60; i++ {
		l2.Append(makeBatch(2, 100, baseTs), AppendOptions{})
	}
	m.RunRetention()
	if s := l2.Size(); s > 8192+4096 || s < 8192-4096 {
		t.Fatalf("size after retention %d", s)
	}
	// No .deleted files linger; the log start offset survives a crash.
	lso := l2.LogStartOffset()
	entries, _ := mem.ReadDir("data/t-1")
	for _, e := range entries {
		if filepath.Ext(e.Name()) == DeletedFileSuffix {
			t.Fatalf("left %s", e.Name())
		}
	}
	m2 := openTestManager(t, mem.Crash(), "data", func(o *ManagerOptions) { o.Now = clock.now })
	defer m2.Close()
	l2b, _ := m2.Get(TopicPartition{"t", 1})
	if l2b.LogStartOffset() != lso {
		t.Fatalf("log start offset %d after crash, was %d", l2b.LogStartOffset(), lso)
	}
	m.Close()
}

func TestDeleteRecordsBefore(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, smallConfig())
	for i := 0; i < 50; i++ {
		l.Append(makeBatch(2, 100, baseTs), AppendOptions{LeaderEpoch: int32(i / 10)})
	}
	segs := l.NumSegments()
	got, err := l.DeleteRecordsBefore(61)
	if err != nil || got != 61 {
		t.Fatalf("DeleteRecordsBefore: %d %v", got, err)
	}
	if l.NumSegments() >= segs {
		t.Fatal("no segment deleted")
	}
	rr, err := l.Read(61, ReadOptions{MaxBytes: 1000, MaxOffset: -1})
	if err != nil || rr.BaseOffset != 60 {
		t.Fatalf("read at the new start: %+v %v", rr, err)
	}
	rr.Release()
	if _, err := l.Read(59, ReadOptions{MaxBytes: 1000}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatal("read below the new start")
	}
	if _, err := l.DeleteRecordsBefore(101); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatal("delete past the end accepted")
	}
	if got, _ := l.DeleteRecordsBefore(10); got != 61 {
		t.Fatalf("moving back: %d", got)
	}
	if e := l.LeaderEpochs(); len(e) == 0 || e[0].StartOffset != 61 || e[0].Epoch != 3 {
		t.Fatalf("epochs after delete: %v", e)
	}
	// Persisted immediately: survives a crash.
	m2 := openTestManager(t, mem.Crash(), "data")
	l2, _ := m2.Get(TopicPartition{"t", 0})
	if l2.LogStartOffset() != 61 {
		t.Fatalf("log start after crash %d", l2.LogStartOffset())
	}
	if got, err := l2.DeleteRecordsBefore(100); err != nil || got != 100 {
		t.Fatalf("delete to the end: %d %v", got, err)
	}
	m2.Close()
	m.Close()
}

func TestTimestamps(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, smallConfig())
	for i := 0; i < 100; i++ {
		// Records i*10 .. i*10+4 with timestamps baseTs + i*10 + j.
		l.Append(makeBatch(5, 30, baseTs+int64(i)*10), AppendOptions{})
	}
	for _, tc := range []struct{ ts, off, gotTs int64 }{
		{baseTs, 0, baseTs},
		{baseTs + 3, 3, baseTs + 3},
		{baseTs + 7, 5, baseTs + 10},
		{baseTs + 502, 252, baseTs + 502},
		{baseTs + 994, 499, baseTs + 994},
	} {
		r, found, err := l.OffsetForTimestamp(tc.ts)
		if err != nil || !found || r.Offset != tc.off || r.Timestamp != tc.gotTs {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d", tc.ts-baseTs, r.Offset, r.Timestamp-baseTs, found, err, tc.off, tc.gotTs-baseTs)
		}
	}
	if _, found, _ := l.OffsetForTimestamp(baseTs + 995); found {
		t.Error("found past the max timestamp")
	}
	if r, found, err := l.MaxTimestamp(); err != nil || !found || r.Timestamp != baseTs+994 || r.Offset != 499 {
		t.Errorf("MaxTimestamp = %+v, %v, %v", r, found, err)
	}
	// LogAppendTime stamping.
	res, err := l.Append(makeBatch(2, 10, 5), AppendOptions{LogAppendTime: baseTs + 5000})
	if err != nil || res.MaxTimestamp != baseTs+5000 {
		t.Fatalf("LogAppendTime: %+v %v", res, err)
	}
	rr, _ := l.Read(res.BaseOffset, ReadOptions{MaxBytes: 1000, MaxOffset: -1})
	b, _ := rr.AppendTo(nil)
	rr.Release()
	h, _ := record.ParseHeader(b)
	if !h.LogAppendTime() || h.MaxTimestamp != baseTs+5000 || record.ComputeCRC(b) != h.CRC {
		t.Fatalf("stamped batch: %v", h)
	}
	// Every record of a LogAppendTime batch carries the append time: the
	// first of them holds the max timestamp.
	if r, found, err := l.MaxTimestamp(); err != nil || !found || r.Timestamp != baseTs+5000 || r.Offset != res.BaseOffset {
		t.Errorf("MaxTimestamp after LogAppendTime = %+v, %v, %v; want offset %d", r, found, err, res.BaseOffset)
	}
}

func TestRecoveryTruncatesCorruptTail(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	cfg := smallConfig()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	var sizes []int64
	for i := 0; i < 30; i++ {
		l.Append(makeBatch(2, 100, baseTs), AppendOptions{})
		sizes = append(sizes, l.Size())
	}
	segs := l.segments()
	// Simulate a crash (no clean marker), then flip a byte in a batch in
	// the middle of the second-to-last segment.
	crashed := mem.Crash()
	m.Close()
	target := segs[len(segs)-2]
	f, err := crashed.OpenFile(target.path(LogFileSuffix), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("segment %d did not survive the crash: %v", target.base, err)
	}
	f.WriteAt([]byte{0xff}, 500)
	f.Close()
	m2 := openTestManager(t, crashed, "data", func(o *ManagerOptions) { o.Config = cfg })
	defer m2.Close()
	l2, _ := m2.Get(TopicPartition{"t", 0})
	if l2.NumSegments() != len(segs)-1 {
		t.Fatalf("segments after recovery %d, want %d", l2.NumSegments(), len(segs)-1)
	}
	hs := readAll(t, l2, 0)
	last := hs[len(hs)-1]
	if l2.LogEndOffset() != last.NextOffset() || last.NextOffset() > target.base+6 {
		t.Fatalf("LEO %d, last batch %v, corrupt segment at %d", l2.LogEndOffset(), last, target.base)
	}
	// The bad bytes are cut off the file, not only hidden behind the log
	// end: otherwise the next append would land in front of leftovers that
	// a later recovery could take for batches (records nobody acknowledged
	// coming back after the new ones).
	act := l2.segments()[l2.NumSegments()-1]
	fi, err := crashed.Stat(act.path(LogFileSuffix))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != act.size.Load() {
		t.Fatalf("recovered segment file holds %d bytes, the log %d", fi.Size(), act.size.Load())
	}
	if _, err := l2.Append(makeBatch(1, 10, baseTs), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l2, 0); len(got) != len(hs)+1 {
		t.Fatalf("after append %d batches", len(got))
	}
}

func TestCorruptIndexRebuilt(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	cfg := smallConfig()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	for i := 0; i < 40; i++ {
		l.Append(makeBatch(2, 100, baseTs), AppendOptions{})
	}
	m.Close()
	// Garble the first segment's index and delete the second's.
	f, _ := mem.OpenFile("data/t-0/00000000000000000000.index", os.O_RDWR, 0)
	f.WriteAt([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 8)
	f.Close()
	segs := l.segments()
	mem.Remove(segs[1].path(IndexFileSuffix))
	m = openTestManager(t, mem, "data", func(o *ManagerOptions) { o.Config = cfg })
	defer m.Close()
	l, _ = m.Get(TopicPartition{"t", 0})
	if hs := readAll(t, l, 0); len(hs) != 40 {
		t.Fatalf("read %d batches", len(hs))
	}
	for off := int64(0); off < 80; off += 7 {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1, MinOneBatch: true, MaxOffset: -1})
		if err != nil || rr.BaseOffset > off || rr.NextOffset <= off {
			t.Fatalf("read %d: %+v %v", off, rr, err)
		}
		rr.Release()
	}
}

// roundGate records the committer's rounds (appends and files of each) and
// holds the first round, before its appends are acknowledged, until open
// is closed.
type roundGate struct {
	mu     sync.Mutex
	rounds [][2]int
	open   chan struct{}
}

func (g *roundGate) CommitRound(appends, files int, _ time.Duration) {
	g.mu.Lock()
	first := len(g.rounds) == 0
	g.rounds = append(g.rounds, [2]int{appends, files})
	g.mu.Unlock()
	if first {
		<-g.open
	}
}

func (g *roundGate) Fsync(time.Duration, error) {}

// TestGroupCommitSharesFsyncs: appends to several partitions that register
// while a round's fsyncs run share the next round, one fsync per file. The
// first round is held until every partition has an append either in it or
// waiting for the next, so some round covers several partitions; over the
// whole run there are fewer rounds than appends, and every append was
// registered in a round.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	gate := &roundGate{open: make(chan struct{})}
	m := openTestManager(t, vfs.OS, t.TempDir(), func(o *ManagerOptions) { o.CommitObserver = gate })
	defer m.Close()
	const parts, writers, perWriter = 4, 8, 50
	var logs []*Log
	for p := int32(0); p < parts; p++ {
		l, _ := m.Create(TopicPartition{"t", p}, [16]byte{}, DefaultConfig())
		logs = append(logs, l)
	}
	go func() {
		defer close(gate.open)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			gate.mu.Lock()
			files1 := -1
			if len(gate.rounds) > 0 {
				files1 = gate.rounds[0][1]
			}
			gate.mu.Unlock()
			m.committer.mu.Lock()
			waiting := len(m.committer.cur.ends)
			m.committer.mu.Unlock()
			if files1 >= 0 && files1+waiting >= parts {
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := logs[w%parts]
			for i := 0; i < perWriter; i++ {
				if _, err := l.Append(makeBatch(4, 100, baseTs), AppendOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	rounds := m.SyncRounds()
	gate.mu.Lock()
	observed := append([][2]int(nil), gate.rounds...)
	gate.mu.Unlock()
	appends, widest := 0, 0
	for _, r := range observed {
		appends += r[0]
		widest = max(widest, r[1])
	}
	t.Logf("%d appends, %d group-commit rounds, at most %d partitions in one", writers*perWriter, rounds, widest)
	if int64(len(observed)) != rounds || appends != writers*perWriter {
		t.Fatalf("%d rounds observed of %d, with %d appends of %d", len(observed), rounds, appends, writers*perWriter)
	}
	if rounds >= writers*perWriter {
		t.Errorf("%d fsync rounds for %d appends: no grouping", rounds, writers*perWriter)
	}
	if widest < 2 {
		t.Errorf("no round covered more than %d partition: no sharing across partitions", widest)
	}
	for _, l := range logs {
		if n := len(readAll(t, l, 0)); n != writers/parts*perWriter {
			t.Fatalf("%d batches", n)
		}
	}
}

func TestConcurrentReadersAndAppender(t *testing.T) {
	m := openTestManager(t, vfs.OS, t.TempDir())
	defer m.Close()
	cfg := smallConfig()
	cfg.Durability = DurabilityPageCache
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			off := int64(0)
			for {
				ch := l.AppendNotify()
				rr, err := l.Read(off, ReadOptions{MaxBytes: 4096, MaxOffset: -1, MinOneBatch: true})
				if err != nil {
					t.Error(err)
					return
				}
				b, err := rr.AppendTo(nil)
				rr.Release()
				if err != nil {
					t.Error(err)
					return
				}
				for len(b) > 0 {
					h, _ := record.ParseHeader(b)
					if h.BaseOffset != off || record.ComputeCRC(b[:h.Size()]) != h.CRC {
						t.Errorf("reader got %v at %d", h, off)
						return
					}
					off = h.NextOffset()
					b = b[h.Size():]
				}
				if rr.Size == 0 {
					select {
					case <-ch:
					case <-done:
						if off == l.LogEndOffset() {
							return
						}
					}
				}
			}
		}()
	}
	for i := 0; i < 500; i++ {
		if _, err := l.Append(makeBatch(1+i%3, 50, baseTs), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
}

func TestReadResultOutlivesDeletionAndEviction(t *testing.T) {
	m := openTestManager(t, vfs.OS, t.TempDir(), func(o *ManagerOptions) { o.MaxOpenFiles = 2 })
	defer m.Close()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, smallConfig())
	for i := 0; i < 60; i++ {
		l.Append(makeBatch(2, 100, baseTs), AppendOptions{})
	}
	rr, err := l.Read(0, ReadOptions{MaxBytes: 4096, MaxOffset: -1})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := rr.AppendTo(nil)
	// Touch every segment (evicting), then delete the one the result is in.
	readAll(t, l, 0)
	if m.OpenFiles() > 3 {
		t.Fatalf("%d open files with MaxOpenFiles 2", m.OpenFiles())
	}
	if _, err := l.DeleteRecordsBefore(l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	got, err := rr.AppendTo(nil)
	if err != nil || string(got) != string(want) {
		t.Fatalf("result changed after deletion: %v", err)
	}
	rr.Release()
	rr.Release()
}

func TestManyPartitionsLazy(t *testing.T) {
	n := 300
	dir := t.TempDir()
	m := openTestManager(t, vfs.OS, dir)
	cfg := DefaultConfig()
	cfg.SegmentIndexBytes = 1 << 12
	cfg.Durability = DurabilityPageCache
	for p := 0; p < n; p++ {
		l, err := m.Create(TopicPartition{"many", int32(p)}, [16]byte{}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.Append(makeBatch(1, 10, baseTs), AppendOptions{})
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m = openTestManager(t, vfs.OS, dir, func(o *ManagerOptions) { o.Config = cfg; o.MaxOpenFiles = 50 })
	defer m.Close()
	t.Logf("opened %d partitions in %v", n, time.Since(start))
	if got := len(m.Logs()); got != n {
		t.Fatalf("%d logs", got)
	}
	if open := m.OpenFiles(); open > 50 {
		t.Fatalf("%d files open after open", open)
	}
	for _, l := range m.Logs() {
		if l.LogEndOffset() != 1 {
			t.Fatalf("%s LEO %d", l.tp, l.LogEndOffset())
		}
		if l.segments()[0].loaded.Load() {
			t.Fatalf("%s index loaded eagerly", l.tp)
		}
	}
	for _, l := range m.Logs()[:150] {
		readAll(t, l, 0)
	}
	if open := m.OpenFiles(); open > 50 {
		t.Fatalf("%d files open, MaxOpenFiles 50", open)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.SegmentBytes = 10 },
		func(c *Config) { c.SegmentBytes = 1 << 32 },
		func(c *Config) { c.RetentionMs = -2 },
		func(c *Config) { c.CleanupPolicy = "forever" },
		func(c *Config) { c.MinCleanableDirtyRatio = 2 },
		func(c *Config) { c.Durability = 7 },
		func(c *Config) { c.FlushMessages = 0 },
	} {
		c := DefaultConfig()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestPageCacheFlushMessages(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	cfg := DefaultConfig()
	cfg.Durability = DurabilityPageCache
	cfg.FlushMessages = 10
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	for i := 0; i < 4; i++ {
		l.Append(makeBatch(3, 10, baseTs), AppendOptions{})
	}
	if rp := l.RecoveryPoint(); rp != 12 {
		t.Fatalf("recovery point %d after 12 messages with flush.messages 10", rp)
	}
}

func TestEndOffsetForEpoch(t *testing.T) {
	c := epochCache{entries: []EpochEntry{{1, 0}, {3, 100}, {6, 250}}}
	for _, tc := range []struct {
		epoch   int32
		wantE   int32
		wantOff int64
	}{{0, 0, 0}, {1, 1, 100}, {2, 1, 100}, {3, 3, 250}, {5, 3, 250}, {6, 6, 400}, {7, -1, -1}, {-1, -1, -1}} {
		e, off := c.endOffsetFor(tc.epoch, 400)
		if e != tc.wantE || off != tc.wantOff {
			t.Errorf("endOffsetFor(%d) = %d, %d; want %d, %d", tc.epoch, e, off, tc.wantE, tc.wantOff)
		}
	}
}

func TestBadInput(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	cfg := smallConfig()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
	good := makeBatch(1, 10, baseTs)
	for i, b := range [][]byte{nil, good[:30], append(append([]byte(nil), good...), 1, 2, 3), makeBatch(100, 100, baseTs)} {
		if _, err := l.Append(b, AppendOptions{}); err == nil || errors.Is(err, ErrStorage) {
			t.Errorf("input %d: %v", i, err)
		}
	}
	if l.Failed() != nil || l.LogEndOffset() != 0 {
		t.Fatal("bad input harmed the log")
	}
	if _, err := m.Create(TopicPartition{"../x", 0}, [16]byte{}, cfg); err == nil {
		t.Error("path in topic name accepted")
	}
	if _, err := m.Create(TopicPartition{"t", 0}, [16]byte{1}, cfg); err != nil {
		t.Errorf("setting a topic id on a log without one: %v", err)
	}
	if _, err := m.Create(TopicPartition{"t", 0}, [16]byte{2}, cfg); !errors.Is(err, ErrInconsistentTopicID) {
		t.Errorf("topic id mismatch: %v", err)
	}
}

func TestManagerDelete(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, smallConfig())
	l.Append(makeBatch(1, 10, baseTs), AppendOptions{})
	if err := m.Delete(TopicPartition{"t", 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(1, 10, baseTs), AppendOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append to deleted log: %v", err)
	}
	if _, ok := m.Get(TopicPartition{"t", 0}); ok {
		t.Fatal("still there")
	}
	entries, _ := mem.ReadDir("data")
	for _, e := range entries {
		if e.IsDir() {
			t.Fatalf("left %s", e.Name())
		}
	}
	m.Close()
}

func TestParseTopicPartition(t *testing.T) {
	for in, want := range map[string]string{"a-0": "a-0", "my-topic-12": "my-topic-12", "x": "", "x-": "", "x--1": "x--1", "-3": "", "a-b": ""} {
		tp, ok := ParseTopicPartition(in)
		got := ""
		if ok {
			got = fmt.Sprint(tp)
		}
		if got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

func TestDefaultMaxOpenFiles(t *testing.T) {
	for _, c := range []struct {
		limit uint64
		want  int
	}{{0, 1024}, {256, 1024}, {20000, 20000}, {1 << 20, 65536}} {
		if got := clampOpenFiles(c.limit); got != c.want {
			t.Errorf("clampOpenFiles(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
	if n := defaultMaxOpenFiles(); n < minDefaultOpenFiles || n > maxDefaultOpenFiles {
		t.Fatalf("defaultMaxOpenFiles() = %d", n)
	}
}
