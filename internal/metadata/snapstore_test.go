package metadata

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

var testConfiguration = raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "1", Address: "node-1"}}}

// writeSnapshot writes one snapshot and returns the sink's Close error.
func writeSnapshot(s raft.SnapshotStore, index, term uint64, data []byte) (string, error) {
	// FileSnapshotStore encodes the configuration's voters with the
	// transport, for version-0 readers.
	_, trans := raft.NewInmemTransport("node-1")
	defer trans.Close()
	sink, err := s.Create(1, index, term, testConfiguration, 1, trans)
	if err != nil {
		return "", err
	}
	if _, err := sink.Write(data); err != nil {
		_ = sink.Cancel()
		return "", err
	}
	return sink.ID(), sink.Close()
}

func readSnapshot(t *testing.T, s raft.SnapshotStore, id string) (*raft.SnapshotMeta, []byte) {
	t.Helper()
	meta, rc, err := s.Open(id)
	if err != nil {
		t.Fatalf("open snapshot %s: %v", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read snapshot %s: %v", id, err)
	}
	return meta, data
}

func snapshotData(index uint64) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("state at %d;", index)), 100)
}

func TestSnapshotStore(t *testing.T) {
	mem := vfs.NewMem()
	s, err := newSnapshotStore(mem, "meta", 2, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.List(); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty store = %v, %v", l, err)
	}
	for i := uint64(1); i <= 3; i++ {
		if _, err := writeSnapshot(s, 10*i, 1, snapshotData(10*i)); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.List()
	if err != nil || len(l) != 2 || l[0].Index != 30 || l[1].Index != 20 {
		t.Fatalf("List = %+v, %v; want indexes 30, 20", l, err)
	}
	meta, data := readSnapshot(t, s, l[0].ID)
	if !bytes.Equal(data, snapshotData(30)) || meta.Size != int64(len(data)) ||
		!reflect.DeepEqual(meta.Configuration, testConfiguration) || meta.ConfigurationIndex != 1 {
		t.Fatalf("snapshot 30: meta %+v, %d bytes", meta, len(data))
	}
	// The oldest was reaped.
	if entries, _ := mem.ReadDir("meta/snapshots"); len(entries) != 2 {
		t.Fatalf("%d snapshot directories, want 2", len(entries))
	}

	// A cancelled snapshot leaves nothing; an unfinished one is not listed
	// and is removed when the store is opened again.
	sink, err := s.Create(1, 40, 1, testConfiguration, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Cancel(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(1, 50, 1, testConfiguration, 1, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(); len(l) != 2 || l[0].Index != 30 {
		t.Fatalf("List with an unfinished snapshot = %+v", l)
	}
	if _, err := newSnapshotStore(mem, "meta", 2, quietLogger()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := mem.ReadDir("meta/snapshots"); len(entries) != 2 {
		t.Fatalf("%d snapshot directories after reopening, want 2", len(entries))
	}

	// A damaged state file fails Open.
	f, err := mem.OpenFile(filepath.Join("meta/snapshots", l[0].ID, snapshotStateFile), 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{'X'}, 5); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, _, err := s.Open(l[0].ID); err == nil {
		t.Fatal("opened a snapshot whose state does not match its CRC")
	}
}

// TestSnapshotStoreReadsRaftFileSnapshots checks both directions of
// compatibility with hashicorp/raft's FileSnapshotStore, which wrote the
// snapshots of earlier versions.
func TestSnapshotStoreReadsRaftFileSnapshots(t *testing.T) {
	dir := t.TempDir()
	theirs, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	ours, err := newSnapshotStore(vfs.OS, dir, 2, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeSnapshot(theirs, 10, 1, snapshotData(10)); err != nil {
		t.Fatal(err)
	}
	if _, err := writeSnapshot(ours, 20, 2, snapshotData(20)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]raft.SnapshotStore{"ours": ours, "theirs": theirs} {
		l, err := s.List()
		if err != nil || len(l) != 2 || l[0].Index != 20 || l[1].Index != 10 {
			t.Fatalf("%s: List = %+v, %v", name, l, err)
		}
		for _, m := range l {
			meta, data := readSnapshot(t, s, m.ID)
			if !bytes.Equal(data, snapshotData(m.Index)) || meta.Term != m.Term ||
				!reflect.DeepEqual(meta.Configuration, testConfiguration) {
				t.Fatalf("%s: snapshot %s: meta %+v, %d bytes", name, m.ID, meta, len(data))
			}
		}
	}
}

// TestSnapshotStoreCrash cuts the power after every step of writing a
// snapshot next to an older one: afterwards every listed snapshot must
// open with the right contents, a snapshot whose Close returned nil must
// be listed, and the older one must be there until the new one is.
func TestSnapshotStoreCrash(t *testing.T) {
	setup := func() *vfs.MemFS {
		mem := vfs.NewMem()
		s, err := newSnapshotStore(mem, "meta", 1, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := writeSnapshot(s, 10, 1, snapshotData(10)); err != nil {
			t.Fatal(err)
		}
		if err := mem.SyncDir("/"); err != nil {
			t.Fatal(err)
		}
		return mem
	}
	run := func(fs vfs.FS) error {
		s, err := newSnapshotStore(fs, "meta", 1, quietLogger())
		if err != nil {
			return err
		}
		_, err = writeSnapshot(s, 20, 1, snapshotData(20))
		return err
	}
	clean := vfs.NewFaulty(setup())
	if err := run(clean); err != nil {
		t.Fatal(err)
	}
	steps := clean.Steps()
	for n := int64(0); n <= steps; n++ {
		for _, torn := range []bool{false, true} {
			label := fmt.Sprintf("crash after step %d (torn %v)", n, torn)
			mem := setup()
			ff := vfs.NewFaulty(mem)
			ff.CrashAfter(n)
			ff.TearCrashingWrite(torn)
			err := run(ff)
			crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: n})
			s, oerr := newSnapshotStore(crashed, "meta", 1, quietLogger())
			if oerr != nil {
				t.Fatalf("%s: reopen: %v", label, oerr)
			}
			metas, lerr := s.snapshots()
			if lerr != nil || len(metas) == 0 {
				t.Fatalf("%s: no snapshot left: %v", label, lerr)
			}
			if err == nil && metas[0].Index != 20 {
				t.Fatalf("%s: Close returned nil but the newest snapshot is %d", label, metas[0].Index)
			}
			if metas[0].Index == 10 && len(metas) != 1 {
				t.Fatalf("%s: %d snapshots", label, len(metas))
			}
			for _, m := range metas {
				if _, data := readSnapshot(t, s, m.ID); !bytes.Equal(data, snapshotData(m.Index)) {
					t.Fatalf("%s: snapshot %d holds other data", label, m.Index)
				}
			}
		}
	}
	t.Logf("%d steps", steps)
}
