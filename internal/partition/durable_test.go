package partition

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestHighWatermarkFollowsDurableOffset: an append moves the log end
// offset at once but the high watermark only as the durable offset moves,
// and WaitHighWatermark returns exactly when it covers the records.
func TestHighWatermarkFollowsDurableOffset(t *testing.T) {
	s := newMemStore(t)
	s.holdDurable = true
	p := openTest(t, s)
	r1, err := p.AppendAsLeaderAsync(batch(t, plain(3)), AppendOptions{RequiredAcks: -1})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := p.AppendAsLeaderAsync(batch(t, plain(2)), AppendOptions{RequiredAcks: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.LogEndOffset() != 5 || p.HighWatermark() != 0 {
		t.Fatalf("before durability: LEO %d HW %d, want 5 and 0", p.LogEndOffset(), p.HighWatermark())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	if err := p.WaitHighWatermark(ctx, r1.LastOffset+1); codeOf(err) != kerr.RequestTimedOut {
		t.Fatalf("wait before durability: %v, want REQUEST_TIMED_OUT", err)
	}
	cancel()

	waited := make(chan error, 1)
	go func() { waited <- p.WaitHighWatermark(context.Background(), r2.LastOffset+1) }()
	s.makeDurable(r1.LastOffset + 1)
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HW %d after the first records became durable, want 3", hw)
	}
	select {
	case err := <-waited:
		t.Fatalf("waiter for offset 5 returned (%v) with HW 3", err)
	default:
	}
	s.makeDurable(r2.LastOffset + 1)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HW %d, want 5", hw)
	}
}

// TestWaitHighWatermarkStorageFailure: a failed fsync ends the wait with
// KAFKA_STORAGE_ERROR at once (the waiter is not left to time out) and the
// high watermark stays below the records.
func TestWaitHighWatermarkStorageFailure(t *testing.T) {
	s := newMemStore(t)
	s.holdDurable = true
	p := openTest(t, s)
	res, err := p.AppendAsLeaderAsync(batch(t, plain(2)), AppendOptions{RequiredAcks: -1})
	if err != nil {
		t.Fatal(err)
	}
	// The deadline only bounds the test: the failure must end the wait
	// long before it, with the storage error rather than a timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- p.WaitHighWatermark(ctx, res.LastOffset+1) }()
	s.failDurability(errors.New("fsync: input/output error"))
	if err := <-waited; codeOf(err) != kerr.KafkaStorageError {
		t.Fatalf("wait after a failed fsync: %v, want KAFKA_STORAGE_ERROR", err)
	}
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HW %d after the failed fsync, want 0", hw)
	}
}

// TestHighWatermarkNeverPassesDurableOffset drives the real log with
// DurabilitySync from several appenders while a watcher checks that the
// high watermark it reads is never above the log's durable offset read
// after it, and that every acknowledged append is below both.
func TestHighWatermarkNeverPassesDurableOffset(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := log.OpenManager(log.ManagerOptions{FS: vfs.OS, Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.Create(log.TopicPartition{Topic: "d", Partition: 0}, [16]byte{1}, log.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Log: l, Topic: "d", Now: func() time.Time { return testNow }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	var stop atomic.Bool
	var violation atomic.Value
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		for !stop.Load() {
			hw := p.HighWatermark()
			if d := l.DurableOffset(); hw > d {
				violation.Store([2]int64{hw, d})
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				res, err := p.AppendAsLeaderAsync(batch(t, plain(2)), AppendOptions{RequiredAcks: -1})
				if err != nil {
					errs <- err
					return
				}
				if err := p.WaitHighWatermark(context.Background(), res.LastOffset+1); err != nil {
					errs <- err
					return
				}
				if d := l.DurableOffset(); d <= res.LastOffset {
					errs <- errors.New("acknowledged an append above the durable offset")
					return
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	<-watcher
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v := violation.Load(); v != nil {
		t.Fatalf("high watermark %d above the durable offset %d", v.([2]int64)[0], v.([2]int64)[1])
	}
	if hw, leo := p.HighWatermark(), p.LogEndOffset(); hw != leo || leo != 320 {
		t.Fatalf("after all waits: HW %d LEO %d, want 320", hw, leo)
	}
}

// gatedFS holds every fsync of a .log file until the test lets it through.
type gatedFS struct {
	vfs.FS
	gate chan struct{}
}

func (g *gatedFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, log.LogFileSuffix) {
		return f, err
	}
	return &gatedFile{File: f, gate: g.gate}, nil
}

type gatedFile struct {
	vfs.File
	gate chan struct{}
}

func (f *gatedFile) Sync() error {
	<-f.gate
	return f.File.Sync()
}

// TestHighWatermarkDurabilityModes: over the real log, with DurabilitySync
// the high watermark waits for the fsync; with DurabilityPageCache it moves
// with the append.
func TestHighWatermarkDurabilityModes(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := &gatedFS{FS: vfs.NewMem(), gate: make(chan struct{})}
	m, err := log.OpenManager(log.ManagerOptions{FS: g, Dir: "data", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	defer close(g.gate) // lets every held and later fsync through
	for _, mode := range []log.Durability{log.DurabilitySync, log.DurabilityPageCache} {
		cfg := log.DefaultConfig()
		cfg.Durability = mode
		l, err := m.Create(log.TopicPartition{Topic: mode.String(), Partition: 0}, [16]byte{1}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Log: l, FS: g, Topic: mode.String(), Now: func() time.Time { return testNow }, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		res, err := p.AppendAsLeaderAsync(batch(t, plain(4)), AppendOptions{RequiredAcks: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if mode == log.DurabilityPageCache {
			want = res.LastOffset + 1
		}
		if hw := p.HighWatermark(); hw != want || l.DurableOffset() != want {
			t.Fatalf("%v: HW %d durable %d right after the append, want %d", mode, hw, l.DurableOffset(), want)
		}
		if mode == log.DurabilitySync {
			waited := make(chan error, 1)
			go func() { waited <- p.WaitHighWatermark(context.Background(), res.LastOffset+1) }()
			g.gate <- struct{}{} // the round's fsync
			if err := <-waited; err != nil {
				t.Fatal(err)
			}
			if hw := p.HighWatermark(); hw != 4 {
				t.Fatalf("HW %d after the fsync, want 4", hw)
			}
		}
	}
}
