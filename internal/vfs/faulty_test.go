package vfs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestFaultyNthOperation(t *testing.T) {
	f := NewFaulty(NewMem(), Rule{Ops: OpWrite, Path: "*.log", Nth: 3, Err: syscall.ENOSPC})
	seg, err := f.OpenFile("t-0/00.log", os.O_CREATE|os.O_WRONLY, 0o644)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
	if err := f.MkdirAll("t-0", 0o755); err != nil {
		t.Fatal(err)
	}
	seg, err = f.OpenFile("t-0/00.log", os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := f.OpenFile("t-0/00.index", os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if _, err := idx.Write([]byte("i")); err != nil {
			t.Fatalf("index write %d: %v", i, err)
		}
		_, err := seg.Write([]byte("x"))
		if i == 3 {
			var ie *InjectedError
			if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrInjected) || !errors.As(err, &ie) || ie.Op != OpWrite {
				t.Fatalf("write 3: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	st, _ := f.Inner().Stat("t-0/00.log")
	if st.Size() != 3 {
		t.Fatalf("failed write reached the file: size %d", st.Size())
	}
	seg.Close()
	idx.Close()
}

func TestFaultyEveryMatch(t *testing.T) {
	f := NewFaulty(NewMem(), Rule{Ops: OpSync | OpSyncDir})
	w, err := f.OpenFile("f", os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := 0; i < 3; i++ {
		if err := w.Sync(); !errors.Is(err, syscall.EIO) {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if err := f.SyncDir("."); !errors.Is(err, syscall.EIO) {
		t.Fatalf("syncdir: %v", err)
	}
	f.ClearRules()
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	f.AddRule(Rule{Ops: OpRename | OpRemove | OpOpen, Path: "ckpt*"})
	if err := f.Rename("ckpt.tmp", "ckpt"); !errors.Is(err, ErrInjected) {
		t.Fatalf("rename: %v", err)
	}
	if err := f.Remove("ckpt"); !errors.Is(err, ErrInjected) {
		t.Fatalf("remove: %v", err)
	}
	if _, err := f.OpenFile("ckpt", os.O_RDONLY, 0); !errors.Is(err, ErrInjected) {
		t.Fatalf("open: %v", err)
	}
	if _, err := f.OpenFile("other", os.O_CREATE|os.O_RDONLY, 0o644); err != nil {
		t.Fatalf("unmatched path failed: %v", err)
	}
}

func TestFaultyTornWrite(t *testing.T) {
	mem := NewMem()
	f := NewFaulty(mem, Rule{Ops: OpWrite, Nth: 2, TornBytes: -1}, Rule{Ops: OpWrite, Nth: 3, TornBytes: 3})
	w, err := f.OpenFile("f", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write([]byte("aaaa")); err != nil {
		t.Fatal(err)
	}
	n, err := w.Write([]byte("bbbbbbbb"))
	if n != 4 || !errors.Is(err, syscall.EIO) {
		t.Fatalf("torn write: %d %v", n, err)
	}
	n, err = w.WriteAt([]byte("cccccc"), 100)
	if n != 3 || err == nil {
		t.Fatalf("torn WriteAt: %d %v", n, err)
	}
	if got, _ := readFile(t, mem, "f"); got[:8] != "aaaabbbb" || !strings.HasSuffix(got, "ccc") || len(got) != 103 {
		t.Fatalf("contents %q", got)
	}
}

func TestFaultyCrashAfter(t *testing.T) {
	f := NewFaulty(NewMem())
	f.CrashAfter(2)
	if err := f.MkdirAll("d", 0o755); err != nil { // step 1
		t.Fatal(err)
	}
	w, err := f.OpenFile("d/f", os.O_CREATE|os.O_WRONLY, 0o644) // step 2
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat("d/f"); err != nil { // reads are not steps
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrCrashed) { // step 3
		t.Fatalf("write at the crash point: %v", err)
	}
	if !f.Crashed() || f.Steps() != 3 {
		t.Fatalf("crashed %v steps %d", f.Crashed(), f.Steps())
	}
	if _, err := f.Stat("d/f"); !errors.Is(err, ErrCrashed) {
		t.Fatalf("read after the crash: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after the crash: %v", err)
	}
	f.CrashAfter(-1)
	if _, err := f.Stat("d/f"); err != nil {
		t.Fatalf("after clearing the crash point: %v", err)
	}
}

// appendWorkload is a miniature log: it appends records, syncing each, and
// after every record atomically replaces a checkpoint naming how many are
// durable (write temp, sync, rename, sync dir). It returns how many records
// it acknowledged before the first error.
func appendWorkload(fs FS, records int) (acked int, err error) {
	if err := fs.MkdirAll("p-0", 0o755); err != nil {
		return 0, err
	}
	if err := fs.SyncDir("."); err != nil {
		return 0, err
	}
	log, err := fs.OpenFile("p-0/00.log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	if err := fs.SyncDir("p-0"); err != nil {
		return 0, err
	}
	for i := 0; i < records; i++ {
		if _, err := log.Write([]byte(fmt.Sprintf("record-%02d\n", i))); err != nil {
			return acked, err
		}
		if err := log.Sync(); err != nil {
			return acked, err
		}
		tmp, err := fs.OpenFile("p-0/ckpt.tmp", os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return acked, err
		}
		_, err = tmp.Write([]byte(fmt.Sprint(i + 1)))
		if err == nil {
			err = tmp.Sync()
		}
		tmp.Close()
		if err == nil {
			err = fs.Rename("p-0/ckpt.tmp", "p-0/ckpt")
		}
		if err == nil {
			err = fs.SyncDir("p-0")
		}
		if err != nil {
			return acked, err
		}
		acked = i + 1
	}
	return acked, nil
}

// TestCrashAtEveryStep is the pattern storage tests follow: count the
// workload's steps, then for each step N crash there, recover from what
// the disk holds, and check the invariants.
func TestCrashAtEveryStep(t *testing.T) {
	const records = 5
	probe := NewFaulty(NewMem())
	if _, err := appendWorkload(probe, records); err != nil {
		t.Fatal(err)
	}
	total := probe.Steps()
	for n := int64(0); n <= total; n++ {
		for _, torn := range []bool{false, true} {
			mem := NewMem()
			f := NewFaulty(mem)
			f.CrashAfter(n)
			f.TearCrashingWrite(torn)
			acked, err := appendWorkload(f, records)
			if n < total && !errors.Is(err, ErrCrashed) {
				t.Fatalf("step %d: workload ended with %v", n, err)
			}
			disk := mem.CrashClone(CrashOptions{TornWrites: torn, Seed: n})
			data, _ := readFile(t, disk, "p-0/00.log")
			ckpt, hasCkpt := readFile(t, disk, "p-0/ckpt")
			var want strings.Builder
			for i := 0; i < records; i++ {
				fmt.Fprintf(&want, "record-%02d\n", i)
			}
			if !strings.HasPrefix(want.String(), data) {
				t.Fatalf("step %d: log %q is not a prefix of the records", n, data)
			}
			if len(data) < acked*len("record-00\n") {
				t.Fatalf("step %d: %d acknowledged records but the log holds %q", n, acked, data)
			}
			if hasCkpt {
				var k int
				if _, err := fmt.Sscan(ckpt, &k); err != nil || k < acked || k > records || len(data) < k*len("record-00\n") {
					t.Fatalf("step %d: checkpoint %q, %d acked, log %q", n, ckpt, acked, data)
				}
			} else if acked > 0 {
				t.Fatalf("step %d: %d acknowledged but no checkpoint", n, acked)
			}
		}
	}
}
