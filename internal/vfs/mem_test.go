package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"testing"
)

func writeFile(t *testing.T, fs FS, name, data string, sync bool) File {
	t.Helper()
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func readFile(t *testing.T, fs FS, name string) (string, bool) {
	t.Helper()
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

func TestMemCrashDropsUnsyncedData(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, m, "d/f", "durable", true)
	if _, err := f.Write([]byte(" lost")); err != nil {
		t.Fatal(err)
	}
	// Neither the directory d nor f's entry in it is durable yet.
	if _, ok := readFile(t, m.Crash(), "d/f"); ok {
		t.Fatal("file survived without its directory entries being synced")
	}
	if err := m.SyncDir("d"); err != nil {
		t.Fatal(err)
	}
	if _, ok := readFile(t, m.Crash(), "d/f"); ok {
		t.Fatal("file survived although d itself is not durable in the root")
	}
	if err := m.SyncDir("/"); err != nil {
		t.Fatal(err)
	}
	c := m.Crash()
	if got, ok := readFile(t, c, "d/f"); !ok || got != "durable" {
		t.Fatalf("after crash: %q %v", got, ok)
	}
	// The live file system is unchanged and keeps working.
	if got, _ := readFile(t, m, "d/f"); got != "durable lost" {
		t.Fatalf("live: %q", got)
	}
	// Files opened before the crash do not reach the clone.
	if _, err := f.Write([]byte(" more")); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile(t, c, "d/f"); got != "durable" {
		t.Fatalf("old handle changed the clone: %q", got)
	}
	// And the clone is a working file system of its own.
	g := writeFile(t, c, "d/f", "+new", true)
	g.Close()
	if got, _ := readFile(t, c, "d/f"); got != "durable+new" {
		t.Fatalf("clone: %q", got)
	}
	if got, _ := readFile(t, m, "d/f"); got != "durable lost more" {
		t.Fatalf("clone changed the original: %q", got)
	}
	f.Close()
}

func TestMemCrashRevertsUnsyncedDirectoryChanges(t *testing.T) {
	m := NewMem()
	for _, name := range []string{"a", "b"} {
		f := writeFile(t, m, name, name, true)
		f.Close()
	}
	if err := m.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	if err := m.Rename("a", "c"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("b"); err != nil {
		t.Fatal(err)
	}
	c := m.Crash()
	if got, ok := readFile(t, c, "a"); !ok || got != "a" {
		t.Fatalf("unsynced rename not reverted: %q %v", got, ok)
	}
	if _, ok := readFile(t, c, "c"); ok {
		t.Fatal("unsynced rename target survived")
	}
	if got, ok := readFile(t, c, "b"); !ok || got != "b" {
		t.Fatal("unsynced removal not reverted")
	}
	if err := m.SyncDir(""); err != nil {
		t.Fatal(err)
	}
	c = m.Crash()
	if _, ok := readFile(t, c, "a"); ok {
		t.Fatal("synced rename reverted")
	}
	if got, ok := readFile(t, c, "c"); !ok || got != "a" {
		t.Fatalf("renamed file lost its durable contents: %q", got)
	}
	if _, ok := readFile(t, c, "b"); ok {
		t.Fatal("synced removal reverted")
	}
}

func TestMemCrashOverwriteAndTruncate(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "f", "0123456789", true)
	f.Close()
	if err := m.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	g, err := m.OpenFile("f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.WriteAt([]byte("XX"), 2); err != nil {
		t.Fatal(err)
	}
	if err := g.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile(t, m.Crash(), "f"); got != "0123456789" {
		t.Fatalf("unsynced overwrite/truncate survived: %q", got)
	}
	if err := g.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, _ := readFile(t, m.Crash(), "f"); got != "01XX" {
		t.Fatalf("synced: %q", got)
	}
	g.Close()
}

func TestMemTornWrites(t *testing.T) {
	m := NewMem()
	f := writeFile(t, m, "f", "synced|", true)
	if err := m.SyncDir("."); err != nil {
		t.Fatal(err)
	}
	tail := "0123456789abcdefghijklmnopqrstuvwxyz"
	if _, err := f.Write([]byte(tail)); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for seed := int64(0); seed < 50; seed++ {
		opts := CrashOptions{TornWrites: true, Seed: seed}
		got, _ := readFile(t, m.CrashClone(opts), "f")
		again, _ := readFile(t, m.CrashClone(opts), "f")
		if got != again {
			t.Fatalf("seed %d not deterministic: %q vs %q", seed, got, again)
		}
		if !bytes.HasPrefix([]byte("synced|"+tail), []byte(got)) || len(got) < len("synced|") {
			t.Fatalf("torn contents %q are not synced data plus a prefix", got)
		}
		seen[len(got)] = true
	}
	if len(seen) < 5 {
		t.Fatalf("torn lengths barely vary: %v", seen)
	}
	if got, _ := readFile(t, m.Crash(), "f"); got != "synced|" {
		t.Fatalf("default crash kept unsynced data: %q", got)
	}
	f.Close()
}

func TestMemErrors(t *testing.T) {
	m := NewMem()
	if _, err := m.OpenFile("/", os.O_RDONLY, 0); err == nil {
		t.Fatal("opened the root as a file")
	}
	if err := m.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := m.OpenFile("d", os.O_RDWR, 0); err == nil {
		t.Fatal("opened a directory for writing")
	}
	if err := m.SyncDir("missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("SyncDir missing: %v", err)
	}
	if err := m.Rename("d", "d/sub"); err == nil {
		t.Fatal("renamed a directory into itself")
	}
	f := writeFile(t, m, "d/f", "x", false)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err == nil {
		t.Fatal("closed twice")
	}
	if _, err := m.ReadDir("d/f"); err == nil {
		t.Fatal("ReadDir of a file")
	}
}

// Concurrent readers alongside one writer, as the log uses files; run with
// -race.
func TestMemConcurrentReadWrite(t *testing.T) {
	m := NewMem()
	w := writeFile(t, m, "f", "", false)
	defer w.Close()
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.OpenFile("f", os.O_RDONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			buf := make([]byte, 64)
			for {
				select {
				case <-done:
					return
				default:
				}
				n, _ := r.ReadAt(buf, 0)
				for _, c := range buf[:n] {
					if c != 'x' {
						t.Error("read a byte never written")
						return
					}
				}
			}
		}()
	}
	for i := 0; i < 1000; i++ {
		if _, err := w.Write([]byte("xxxx")); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := w.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
}
