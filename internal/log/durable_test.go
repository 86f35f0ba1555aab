package log

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// gatedFS holds every fsync of a .log file until the test lets it through,
// so a test can look at the log while its data is written but not durable.
type gatedFS struct {
	vfs.FS
	entered chan struct{} // receives once per .log fsync that started
	gate    chan struct{} // one receive lets one fsync through
	once    sync.Once
}

// release lets every fsync through from now on. Tests defer it before the
// manager's Close, so a failed check does not leave Close's flush held.
func (g *gatedFS) release() { g.once.Do(func() { close(g.gate) }) }

func newGatedFS(inner vfs.FS) *gatedFS {
	return &gatedFS{FS: inner, entered: make(chan struct{}, 64), gate: make(chan struct{})}
}

func (g *gatedFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, LogFileSuffix) {
		return f, err
	}
	return &gatedFile{File: f, g: g}, nil
}

type gatedFile struct {
	vfs.File
	g *gatedFS
}

func (f *gatedFile) Sync() error {
	f.g.entered <- struct{}{}
	<-f.g.gate
	return f.File.Sync()
}

// TestAppendAsyncDurableOffset: AppendAsync returns before the fsync, the
// records are past the log end offset but not the durable offset until
// the group commit round ends, and WaitDurable wakes exactly then.
func TestAppendAsyncDurableOffset(t *testing.T) {
	g := newGatedFS(vfs.NewMem())
	m := openTestManager(t, g, "data")
	defer m.Close()
	defer g.release()
	l, err := m.Create(TopicPartition{"d", 0}, [16]byte{1}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var heard []int64
	heardCh := make(chan int64, 16)
	l.SetDurableListener(func() { heardCh <- l.DurableOffset() })

	r1, err := l.AppendAsync(makeBatch(3, 20, 1), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-g.entered // the first round's fsync is running (and held)
	r2, err := l.AppendAsync(makeBatch(2, 20, 1), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.LogEndOffset() != 5 || l.DurableOffset() != 0 {
		t.Fatalf("before any fsync: LEO %d durable %d, want 5 and 0", l.LogEndOffset(), l.DurableOffset())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	if err := l.WaitDurable(ctx, r1.LastOffset+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitDurable before the fsync: %v, want deadline exceeded", err)
	}
	cancel()

	waited := make(chan error, 1)
	go func() { waited <- l.WaitDurable(context.Background(), r2.LastOffset+1) }()
	g.gate <- struct{}{} // first round done: covers r1 only
	heard = append(heard, <-heardCh)
	if heard[0] != r1.LastOffset+1 {
		t.Fatalf("after round 1 durable %d, want %d", heard[0], r1.LastOffset+1)
	}
	select {
	case err := <-waited:
		t.Fatalf("waiter for the second append returned (%v) before its fsync", err)
	default:
	}
	<-g.entered
	g.gate <- struct{}{}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if d := l.DurableOffset(); d != 5 {
		t.Fatalf("durable %d after both rounds, want 5", d)
	}
	g.release() // let close's flush through
}

// TestWaitDurableFailedFsync: a failed fsync fails the waiter with the
// log's sticky storage error, and the durable offset stays put.
func TestWaitDurableFailedFsync(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	m := openTestManager(t, ff, "data")
	defer m.Close()
	l, err := m.Create(TopicPartition{"d", 0}, [16]byte{1}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(1, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log"})
	res, err := l.AppendAsync(makeBatch(1, 10, 1), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitDurable(context.Background(), res.LastOffset+1); !errors.Is(err, ErrStorage) {
		t.Fatalf("WaitDurable after a failed fsync: %v, want ErrStorage", err)
	}
	if d := l.DurableOffset(); d != 1 {
		t.Fatalf("durable offset %d after the failed fsync, want 1", d)
	}
	ff.ClearRules()
}

// TestFailedLogRefusesAppends: once an fsync failed the log refuses
// appends, AppendAsync included, even when the file system works again:
// nothing is written after data whose fate is unknown, the log end offset
// stays where it was, and no producer is told its records were taken.
func TestFailedLogRefusesAppends(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	m := openTestManager(t, ff, "data")
	defer m.Close()
	l, err := m.Create(TopicPartition{"d", 0}, [16]byte{1}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(1, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log"})
	if _, err := l.Append(makeBatch(1, 10, 1), AppendOptions{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("append with a failing fsync: %v, want ErrStorage", err)
	}
	ff.ClearRules()
	leo, size := l.LogEndOffset(), l.Size()
	for i := 0; i < 3; i++ {
		if res, err := l.AppendAsync(makeBatch(1, 10, 1), AppendOptions{}); !errors.Is(err, ErrStorage) {
			t.Fatalf("AppendAsync %d on the failed log: %+v, %v; want ErrStorage", i, res, err)
		}
	}
	if l.LogEndOffset() != leo || l.Size() != size {
		t.Fatalf("failed log moved: LEO %d -> %d, size %d -> %d", leo, l.LogEndOffset(), size, l.Size())
	}
	if d := l.DurableOffset(); d != 1 {
		t.Fatalf("durable offset %d, want 1", d)
	}
}

// TestFailedCloseWritesNoCleanMarker: when Close cannot flush a log, it
// reports the error and leaves no clean-shutdown marker, so the next open
// recovers the logs instead of trusting their files.
func TestFailedCloseWritesNoCleanMarker(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	m := openTestManager(t, ff, "data")
	cfg := DefaultConfig()
	cfg.Durability = DurabilityPageCache // the data waits for Close's flush
	l, err := m.Create(TopicPartition{"d", 0}, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(2, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log"})
	if err := m.Close(); !errors.Is(err, ErrStorage) {
		t.Fatalf("Close with a failing fsync: %v, want ErrStorage", err)
	}
	if _, err := mem.Stat(filepath.Join("data", CleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("clean-shutdown marker after a failed Close: %v, want none", err)
	}
	ff.ClearRules()
	m = openTestManager(t, ff, "data")
	defer m.Close()
	l, ok := m.Get(TopicPartition{"d", 0})
	if !ok {
		t.Fatal("the log is gone after reopening")
	}
	if leo := l.LogEndOffset(); leo != 2 {
		t.Fatalf("log end offset %d after reopening, want 2", leo)
	}
}

// A log that failed before Close (an fsync failed under an append) leaves
// the directory without a clean-shutdown marker either, so the next open
// recovers it instead of trusting its files.
func TestEarlierFailureWritesNoCleanMarker(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	m := openTestManager(t, ff, "data")
	l, err := m.Create(TopicPartition{"d", 0}, [16]byte{1}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(2, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log", Nth: 1})
	if _, err := l.Append(makeBatch(1, 10, 2), AppendOptions{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("append with a failing fsync: %v, want ErrStorage", err)
	}
	ff.ClearRules()
	m.Close() // the failed log's error may or may not be reported again
	if _, err := mem.Stat(filepath.Join("data", CleanShutdownFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("clean-shutdown marker after a log failed: %v, want none", err)
	}
}

// TestDurablePageCache: with DurabilityPageCache the durable offset follows
// the log end offset as AppendAsync returns.
func TestDurablePageCache(t *testing.T) {
	g := newGatedFS(vfs.NewMem())
	m := openTestManager(t, g, "data")
	defer m.Close()
	defer g.release()
	cfg := DefaultConfig()
	cfg.Durability = DurabilityPageCache
	l, err := m.Create(TopicPartition{"d", 0}, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := l.AppendAsync(makeBatch(2, 10, 1), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		if d, leo := l.DurableOffset(), l.LogEndOffset(); d != leo {
			t.Fatalf("append %d: durable %d, LEO %d", i, d, leo)
		}
	}
	g.release()
}
