package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

var crashTP = TopicPartition{Topic: "crash", Partition: 0}

func crashConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 300
	cfg.RetentionBytes = 5000
	cfg.SegmentIndexBytes = 1200
	return cfg
}

// lsoBounds bound the log start offset a recovery may report: no higher
// than the workload asked for (DeleteRecordsBefore) or retention could
// reach, as raised before each such operation; no lower than where the
// last DeleteRecordsBefore that returned left it (persisted before it
// returns).
type lsoBounds struct{ min, max int64 }

// crashWorkload appends batches to a log with small segments (so it rolls
// several times), runs retention and DeleteRecordsBefore (segment
// deletion, checkpoint writes) and closes. It records the bytes of every
// acknowledged batch by offset, and the bounds of the log start offset.
// Any error stops it: after the crash point every operation fails.
func crashWorkload(fsys vfs.FS, acked map[int64][]byte, lso *lsoBounds) {
	cfg := crashConfig()
	m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, Config: cfg})
	if err != nil {
		return
	}
	defer m.Close()
	l, err := m.Create(crashTP, [16]byte{7}, cfg)
	if err != nil {
		return
	}
	// Appends go out without waiting, up to three at a time, and are
	// acknowledged only once WaitDurable says they are on disk, as the
	// broker's pipelined produce path does.
	type inFlight struct {
		base int64
		b    []byte
	}
	var pending []inFlight
	ack := func(end int64) bool {
		if err := l.WaitDurable(context.Background(), end); err != nil {
			return false
		}
		for _, p := range pending {
			acked[p.base] = p.b
		}
		pending = pending[:0]
		return true
	}
	for i := 0; i < 24; i++ {
		b := makeBatch(1+i%3, 150, 1_700_000_000_000+int64(i))
		res, err := l.AppendAsync(b, AppendOptions{LeaderEpoch: int32(i / 8)})
		if err != nil {
			return
		}
		pending = append(pending, inFlight{res.BaseOffset, append([]byte(nil), b...)})
		if i%3 == 2 && !ack(res.LastOffset+1) {
			return
		}
		switch i {
		case 12:
			// Retention never deletes the active segment, whose base is
			// at most the log end offset.
			lso.max = max(lso.max, res.LastOffset+1)
			m.RunRetention()
		case 18:
			lso.max = max(lso.max, res.BaseOffset-3)
			if _, err := l.DeleteRecordsBefore(res.BaseOffset - 3); err != nil {
				return
			}
			lso.min = max(lso.min, res.BaseOffset-3)
		}
	}
}

// checkRecovered opens the crashed file system and checks that the log
// start offset is within its bounds, that every acknowledged batch at or
// above it is there byte for byte, that the log end offset covers them,
// and that nothing else but batches we appended is readable.
func checkRecovered(t *testing.T, fsys vfs.FS, acked map[int64][]byte, attempted map[int64]bool, bounds lsoBounds, label string) {
	t.Helper()
	m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, Config: crashConfig()})
	if err != nil {
		t.Fatalf("%s: reopen: %v", label, err)
	}
	defer m.Close()
	l, ok := m.Get(crashTP)
	if !ok {
		if len(acked) > 0 {
			t.Fatalf("%s: log missing with %d acknowledged batches", label, len(acked))
		}
		return
	}
	lso, leo := l.LogStartOffset(), l.LogEndOffset()
	if lso > bounds.max || lso < bounds.min {
		t.Fatalf("%s: log start offset %d outside [%d, %d], what DeleteRecords and retention could have set (log end %d)", label, lso, bounds.min, bounds.max, leo)
	}
	var maxAcked int64 = -1
	for off, b := range acked {
		h, _ := record.ParseHeader(b)
		maxAcked = max(maxAcked, h.LastOffset())
		_ = off
	}
	if leo <= maxAcked {
		t.Fatalf("%s: log end offset %d, but offset %d was acknowledged", label, leo, maxAcked)
	}
	got := map[int64][]byte{}
	off := lso
	for off < leo {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("%s: read %d (log [%d, %d)): %v", label, off, lso, leo, err)
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: read %d: %d bytes, %v", label, off, len(b), err)
		}
		for len(b) > 0 {
			h, _ := record.ParseHeader(b)
			got[h.BaseOffset] = b[:h.Size()]
			b = b[h.Size():]
		}
		off = rr.NextOffset
	}
	for off, want := range acked {
		h, _ := record.ParseHeader(want)
		if h.LastOffset() < lso {
			continue
		}
		if !bytes.Equal(got[off], want) {
			t.Fatalf("%s: acknowledged batch at %d lost or changed (log [%d, %d))", label, off, lso, leo)
		}
	}
	for off := range got {
		if !attempted[off] {
			t.Fatalf("%s: batch at %d was never appended", label, off)
		}
	}
	if err := checkLogConsistent(l); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	// The recovered log takes appends again.
	if _, err := l.Append(makeBatch(1, 10, 1_700_000_000_000), AppendOptions{}); err != nil {
		t.Fatalf("%s: append after recovery: %v", label, err)
	}
}

// TestCrashAtEveryStep cuts the power after each mutating file-system
// operation of the workload (segment rolls, index trims, retention
// renames and removals, checkpoint writes, the clean-shutdown marker) and
// checks recovery yields every acknowledged batch.
func TestCrashAtEveryStep(t *testing.T) {
	// A clean run counts the steps and the offsets the workload appends.
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	all := map[int64][]byte{}
	var allLSO lsoBounds
	crashWorkload(ff, all, &allLSO)
	steps := ff.Steps()
	attempted := map[int64]bool{}
	for off := range all {
		attempted[off] = true
	}
	checkRecovered(t, mem, all, attempted, allLSO, "clean run")
	t.Logf("workload: %d steps", steps)
	if steps < 50 {
		t.Fatalf("workload made only %d steps", steps)
	}
	for n := int64(0); n <= steps+2; n++ {
		for _, torn := range []bool{false, true} {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			ff.CrashAfter(n)
			ff.TearCrashingWrite(torn)
			acked := map[int64][]byte{}
			var lso lsoBounds
			crashWorkload(ff, acked, &lso)
			crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: n})
			checkRecovered(t, crashed, acked, attempted, lso, fmt.Sprintf("crash after step %d (torn %v)", n, torn))
		}
	}
}

func TestWriteFailureIsSticky(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule vfs.Rule
	}{
		{"enospc", vfs.Rule{Ops: vfs.OpWrite, Path: "*.log", Nth: 4, Err: syscall.ENOSPC}},
		{"torn", vfs.Rule{Ops: vfs.OpWrite, Path: "*.log", Nth: 4, Err: syscall.ENOSPC, TornBytes: -1}},
		{"fsync", vfs.Rule{Ops: vfs.OpSync, Path: "*.log", Nth: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			m := openTestManager(t, ff, "data")
			l, err := m.Create(TopicPartition{"t", 0}, [16]byte{}, DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			ff.AddRule(tc.rule)
			var acked int
			for i := 0; i < 6; i++ {
				_, err := l.Append(makeBatch(2, 50, 1_700_000_000_000), AppendOptions{})
				if i < 3 && err != nil {
					t.Fatalf("append %d: %v", i, err)
				}
				if i >= 3 {
					if !errors.Is(err, ErrStorage) {
						t.Fatalf("append %d after the fault: %v, want ErrStorage", i, err)
					}
					if tc.name == "enospc" && !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("ENOSPC not reachable from %v", err)
					}
				} else {
					acked++
				}
			}
			if l.Failed() == nil {
				t.Fatal("log not marked failed")
			}
			// Reads still work on what was acknowledged.
			if got := len(readAll(t, l, 0)); got < acked {
				t.Fatalf("read %d batches, acknowledged %d", got, acked)
			}
			m.Close()
			ff.ClearRules()
			m = openTestManager(t, mem.Crash(), "data")
			defer m.Close()
			l, _ = m.Get(TopicPartition{"t", 0})
			if hs := readAll(t, l, 0); len(hs) < acked || l.LogEndOffset() < int64(2*acked) {
				t.Fatalf("after reopen: %d batches, LEO %d; acknowledged %d", len(hs), l.LogEndOffset(), acked)
			}
			if _, err := l.Append(makeBatch(1, 10, 1), AppendOptions{}); err != nil {
				t.Fatalf("append after reopen: %v", err)
			}
		})
	}
}
