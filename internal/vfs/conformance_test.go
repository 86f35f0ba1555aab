package vfs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// testConformance runs the same checks against any FS, under dir.
func testConformance(t *testing.T, fs FS, dir string) {
	p := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	must(fs.MkdirAll(p("a", "b"), 0o755))
	must(fs.MkdirAll(p("a", "b"), 0o755)) // idempotent

	// Create, write, read back.
	f, err := fs.OpenFile(p("a", "f.log"), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o644)
	must(err)
	if n, err := f.Write([]byte("hello ")); n != 6 || err != nil {
		t.Fatalf("write: %d %v", n, err)
	}
	if _, err := f.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("W"), 6); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, err := f.ReadAt(buf, 0)
	if n != 11 || err != io.EOF || string(buf[:n]) != "hello World" {
		t.Fatalf("readat: %d %v %q", n, err, buf[:n])
	}
	if n, err := f.ReadAt(buf[:5], 6); n != 5 || err != nil || string(buf[:5]) != "World" {
		t.Fatalf("readat middle: %d %v", n, err)
	}
	if n, err := f.ReadAt(buf, 11); n != 0 || err != io.EOF {
		t.Fatalf("readat at end: %d %v", n, err)
	}
	if pos, err := f.Seek(0, io.SeekStart); pos != 0 || err != nil {
		t.Fatalf("seek: %d %v", pos, err)
	}
	all, err := io.ReadAll(f)
	if err != nil || string(all) != "hello World" {
		t.Fatalf("read all: %q %v", all, err)
	}
	if pos, err := f.Seek(-5, io.SeekEnd); pos != 6 || err != nil {
		t.Fatalf("seek end: %d %v", pos, err)
	}
	if _, err := f.Seek(-100, io.SeekCurrent); err == nil {
		t.Fatal("seek before start succeeded")
	}
	must(f.Sync())
	must(f.Truncate(5))
	if st, err := f.Stat(); err != nil || st.Size() != 5 || st.Name() != "f.log" || st.IsDir() {
		t.Fatalf("stat: %v %v", st, err)
	}
	must(f.Truncate(8)) // extends with zeros
	n, _ = f.ReadAt(buf, 0)
	if string(buf[:n]) != "hello\x00\x00\x00" {
		t.Fatalf("after truncate: %q", buf[:n])
	}
	if f.Name() != p("a", "f.log") {
		t.Fatalf("name %q", f.Name())
	}
	must(f.Close())
	if _, err := f.Write([]byte("x")); err == nil {
		t.Fatal("write after close succeeded")
	}

	// O_EXCL on an existing file; open of a missing file.
	if _, err := fs.OpenFile(p("a", "f.log"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644); !errors.Is(err, os.ErrExist) {
		t.Fatalf("O_EXCL: %v", err)
	}
	if _, err := fs.OpenFile(p("a", "missing"), os.O_RDONLY, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := fs.OpenFile(p("nodir", "x"), os.O_CREATE|os.O_WRONLY, 0o644); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing parent: %v", err)
	}

	// Read-only files refuse writes; O_APPEND appends; O_TRUNC empties.
	ro, err := fs.OpenFile(p("a", "f.log"), os.O_RDONLY, 0)
	must(err)
	if _, err := ro.Write([]byte("x")); err == nil {
		t.Fatal("write to a read-only file succeeded")
	}
	must(ro.Close())
	ap, err := fs.OpenFile(p("a", "f.log"), os.O_WRONLY|os.O_APPEND, 0)
	must(err)
	_, err = ap.Write([]byte("!"))
	must(err)
	if _, err := ap.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("WriteAt on an O_APPEND file succeeded")
	}
	must(ap.Close())
	if st, err := fs.Stat(p("a", "f.log")); err != nil || st.Size() != 9 {
		t.Fatalf("after append: %v %v", st, err)
	}
	tr, err := fs.OpenFile(p("a", "f.log"), os.O_RDWR|os.O_TRUNC, 0)
	must(err)
	if st, _ := tr.Stat(); st.Size() != 0 {
		t.Fatalf("O_TRUNC left %d bytes", st.Size())
	}
	must(tr.Close())

	// Directory listing is sorted and typed.
	for _, name := range []string{"c", "b2", "z"} {
		g, err := fs.OpenFile(p("a", name), os.O_CREATE|os.O_WRONLY, 0o644)
		must(err)
		must(g.Close())
	}
	entries, err := fs.ReadDir(p("a"))
	must(err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if e.Name() == "b" && !e.IsDir() || e.Name() == "c" && e.IsDir() {
			t.Fatalf("entry %s has the wrong type", e.Name())
		}
	}
	if want := "b b2 c f.log z"; join(names) != want {
		t.Fatalf("ReadDir: %q, want %q", join(names), want)
	}
	if _, err := fs.ReadDir(p("nope")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadDir missing: %v", err)
	}

	// Rename replaces the target; Remove refuses non-empty directories.
	must(fs.Rename(p("a", "c"), p("a", "z")))
	if _, err := fs.Stat(p("a", "c")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old name after rename: %v", err)
	}
	if err := fs.Rename(p("a", "missing"), p("a", "q")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rename missing: %v", err)
	}
	must(fs.Rename(p("a", "b"), p("moved")))
	if st, err := fs.Stat(p("moved")); err != nil || !st.IsDir() {
		t.Fatalf("renamed dir: %v %v", st, err)
	}
	if err := fs.Remove(p("a")); err == nil {
		t.Fatal("removed a non-empty directory")
	}
	must(fs.Remove(p("a", "z")))
	if err := fs.Remove(p("a", "z")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("remove twice: %v", err)
	}
	must(fs.SyncDir(p("a")))
	must(fs.RemoveAll(p("a")))
	must(fs.RemoveAll(p("a"))) // missing is fine
	if _, err := fs.Stat(p("a", "f.log")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after RemoveAll: %v", err)
	}
	if err := fs.MkdirAll(p("moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	g, err := fs.OpenFile(p("file"), os.O_CREATE|os.O_WRONLY, 0o644)
	must(err)
	must(g.Close())
	if err := fs.MkdirAll(p("file", "sub"), 0o755); err == nil {
		t.Fatal("MkdirAll through a file succeeded")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestConformanceOS(t *testing.T)  { testConformance(t, OS, t.TempDir()) }
func TestConformanceMem(t *testing.T) { testConformance(t, NewMem(), "/data") }
func TestConformanceFaultyMem(t *testing.T) {
	testConformance(t, NewFaulty(NewMem()), "data")
}
