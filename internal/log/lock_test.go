package log

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// treeSnapshot maps every file under dir to its contents (directories to
// "<dir>").
func treeSnapshot(t *testing.T, fs vfs.FS, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(string)
	walk = func(d string) {
		entries, err := fs.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			p := path.Join(d, e.Name())
			if e.IsDir() {
				out[p] = "<dir>"
				walk(p)
				continue
			}
			f, err := fs.OpenFile(p, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[p] = string(b)
		}
	}
	walk(dir)
	return out
}

// A second manager on a directory in use is refused before it reads or
// writes anything, and the owner's acknowledged records and clean shutdown
// are unaffected.
func TestOpenManagerRefusesLockedDir(t *testing.T) {
	fs := vfs.NewMem()
	owner := openTestManager(t, fs, "/data")
	tp := TopicPartition{Topic: "orders", Partition: 0}
	l, err := owner.Create(tp, [16]byte{1}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(makeBatch(3, 10, 1000), AppendOptions{LeaderEpoch: 0}); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	before := treeSnapshot(t, fs, "/data")

	_, err = OpenManager(ManagerOptions{FS: fs, Dir: "/data", Logger: quietLogger()})
	var le *vfs.LockedError
	if !errors.As(err, &le) || le.Dir != "/data" {
		t.Fatalf("second OpenManager: %v, want a *vfs.LockedError for /data", err)
	}
	after := treeSnapshot(t, fs, "/data")
	if len(before) != len(after) {
		t.Fatalf("the refused manager changed the directory: %d entries before, %d after", len(before), len(after))
	}
	for p, b := range before {
		if after[p] != b {
			t.Fatalf("the refused manager changed %s", p)
		}
	}
	if _, err := fs.Stat(path.Join("/data", CleanShutdownFile)); err == nil {
		t.Fatal("a clean-shutdown marker appeared in a live directory")
	}

	if _, err := l.Append(makeBatch(2, 10, 2000), AppendOptions{LeaderEpoch: 0}); err != nil {
		t.Fatalf("the owner cannot append after a refused open: %v", err)
	}
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed, the directory is free again and holds all five records.
	again := openTestManager(t, fs, "/data")
	defer again.Close()
	got, ok := again.Get(tp)
	if !ok || got.LogEndOffset() != 5 {
		t.Fatalf("after reopen: log present %v, end offset %d, want 5", ok, got.LogEndOffset())
	}
}

// Close writes the clean-shutdown marker while it still owns the
// directory: a successor that opens right after Close finds a clean
// directory and a free lock.
func TestManagerCloseReleasesLockAfterMarker(t *testing.T) {
	fs := vfs.NewMem()
	m := openTestManager(t, fs, "/data")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	b := treeSnapshot(t, fs, "/data")[path.Join("/data", CleanShutdownFile)]
	if !bytes.Contains([]byte(b), []byte("brokerEpoch")) {
		t.Fatalf("clean-shutdown marker %q", b)
	}
	l, err := fs.Lock("/data")
	if err != nil {
		t.Fatalf("lock after Close: %v", err)
	}
	l.Close()
}
