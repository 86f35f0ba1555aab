package vfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   FS
		dir  string
	}{
		{"os", OS, t.TempDir()},
		{"mem", NewMem(), "/data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.fs.MkdirAll(tc.dir, 0o755); err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(tc.dir, "f")
			for _, want := range []string{"first", "second, longer", "3"} {
				if err := WriteFileAtomic(tc.fs, name, []byte(want)); err != nil {
					t.Fatal(err)
				}
				got, err := ReadFile(tc.fs, name)
				if err != nil || string(got) != want {
					t.Fatalf("ReadFile = %q, %v; want %q", got, err, want)
				}
			}
			if _, err := tc.fs.Stat(name + TempSuffix); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("temporary file left behind: %v", err)
			}
			if _, err := ReadFile(tc.fs, filepath.Join(tc.dir, "missing")); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("ReadFile of a missing file: %v", err)
			}
		})
	}
}

// TestWriteFileAtomicReportsEveryStep fails each step in turn and checks
// the failure is returned: a replace whose directory sync failed is not
// known to be durable, so the caller must hear of it.
func TestWriteFileAtomicReportsEveryStep(t *testing.T) {
	for _, op := range []Op{OpOpen, OpWrite, OpSync, OpRename, OpSyncDir} {
		mem := NewMem()
		if err := mem.MkdirAll("d", 0o755); err != nil {
			t.Fatal(err)
		}
		ff := NewFaulty(mem, Rule{Ops: op, Nth: 1})
		err := WriteFileAtomic(ff, "d/f", []byte("data"))
		if !errors.Is(err, ErrInjected) {
			t.Fatalf("%s fails: WriteFileAtomic returned %v", op, err)
		}
	}
}

// TestWriteFileAtomicCrash cuts the power after every step of a replace
// and checks the file then holds the old contents or the new ones, and
// the new ones whenever the call had returned nil.
func TestWriteFileAtomicCrash(t *testing.T) {
	const oldData, newData = "old contents", "new contents, longer than the old"
	setup := func() *MemFS {
		mem := NewMem()
		if err := mem.MkdirAll("d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(mem, "d/f", []byte(oldData)); err != nil {
			t.Fatal(err)
		}
		if err := mem.SyncDir("/"); err != nil {
			t.Fatal(err)
		}
		return mem
	}
	clean := NewFaulty(setup())
	if err := WriteFileAtomic(clean, "d/f", []byte(newData)); err != nil {
		t.Fatal(err)
	}
	steps := clean.Steps()
	if steps < 5 {
		t.Fatalf("a replace took only %d steps", steps)
	}
	for n := int64(0); n <= steps; n++ {
		for _, torn := range []bool{false, true} {
			mem := setup()
			ff := NewFaulty(mem)
			ff.CrashAfter(n)
			ff.TearCrashingWrite(torn)
			err := WriteFileAtomic(ff, "d/f", []byte(newData))
			label := fmt.Sprintf("crash after step %d (torn %v)", n, torn)
			if (err == nil) != (n >= steps) {
				t.Fatalf("%s: WriteFileAtomic returned %v", label, err)
			}
			got, rerr := ReadFile(mem.CrashClone(CrashOptions{TornWrites: torn, Seed: n}), "d/f")
			switch {
			case rerr != nil:
				t.Fatalf("%s: %v", label, rerr)
			case err == nil && string(got) != newData:
				t.Fatalf("%s: replace returned nil but the file holds %q", label, got)
			case string(got) != oldData && string(got) != newData:
				t.Fatalf("%s: file holds %q", label, got)
			}
		}
	}
}
