package metadata

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

func logs(from, to uint64, term uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: []byte{byte(i), byte(term)}})
	}
	return ls
}

func checkRange(t *testing.T, s *walStore, first, last uint64) {
	t.Helper()
	f, _ := s.FirstIndex()
	l, _ := s.LastIndex()
	if f != first || l != last {
		t.Fatalf("range = [%d, %d], want [%d, %d]", f, l, first, last)
	}
	for i := first; i <= last && first != 0; i++ {
		var lg raft.Log
		if err := s.GetLog(i, &lg); err != nil || lg.Index != i {
			t.Fatalf("GetLog(%d) = %+v, %v", i, lg, err)
		}
	}
}

func TestWALStoreReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.wal")
	s, err := openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 0, 0)
	if err := s.StoreLogs(logs(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	// A conflicting suffix from a new term overwrites 8..10.
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(logs(8, 12, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 3); err != nil { // compaction behind a snapshot
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 4, 12)
	s.Close()
	if err := s.StoreLog(&raft.Log{Index: 13}); err == nil {
		t.Fatal("write after close succeeded")
	}

	s, err = openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkRange(t, s, 4, 12)
	var lg raft.Log
	_ = s.GetLog(9, &lg)
	if lg.Term != 2 || !bytes.Equal(lg.Data, []byte{9, 2}) {
		t.Fatalf("entry 9 = %+v", lg)
	}
	if err := s.GetLog(3, &lg); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(3) err = %v", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 2 {
		t.Fatalf("CurrentTerm = %d, %v", v, err)
	}
	if _, err := s.Get([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing key err = %v", err)
	}
	if v, err := s.GetUint64([]byte("missing")); err == nil || v != 0 {
		t.Fatalf("missing uint64 = %d, %v", v, err)
	}
}

func TestWALStoreTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.wal")
	s, err := openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(logs(1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	size := s.size
	if err := s.StoreLogs(logs(6, 6, 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Cut the last frame in half, as a crash mid-write would.
	full, _ := os.ReadFile(path)
	if err := os.WriteFile(path, full[:size+(int64(len(full))-size)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	checkRange(t, s, 1, 5)
	// Appending after the repaired tail works and survives a reopen.
	if err := s.StoreLogs(logs(6, 7, 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A flipped bit in the last frame is treated the same way.
	full, _ = os.ReadFile(path)
	full[len(full)-1] ^= 0xff
	_ = os.WriteFile(path, full, 0o644)
	s, err = openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkRange(t, s, 1, 5)
}

func TestWALStoreCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.wal")
	s, err := openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10)
	var idx uint64
	for round := 0; round < 8; round++ {
		var batch []*raft.Log
		for i := 0; i < 16; i++ {
			idx++
			batch = append(batch, &raft.Log{Index: idx, Term: 1, Data: big})
		}
		if err := s.StoreLogs(batch); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRange(1, idx-2); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetUint64([]byte("k"), 7); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Size() > 8<<20 {
		t.Fatalf("file is %d bytes: never compacted", st.Size())
	}
	s.Close()
	s, err = openWALStore(vfs.OS, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkRange(t, s, idx-1, idx)
	if v, _ := s.GetUint64([]byte("k")); v != 7 {
		t.Fatal("stable value lost in compaction")
	}
}

// TestWALStoreFailureIsSticky: after a failed write or fsync the store
// takes no more writes, even once the file system recovers, because the
// file's tail is unknown; the current term is the one exception (see
// SetUint64). A reopen replays what was acknowledged.
func TestWALStoreFailureIsSticky(t *testing.T) {
	for _, rule := range []vfs.Rule{
		{Ops: vfs.OpWrite, Path: "raft.wal", Nth: 1, TornBytes: -1},
		{Ops: vfs.OpSync, Path: "raft.wal", Nth: 1},
	} {
		t.Run(rule.Ops.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			s, err := openWALStore(ff, "raft.wal")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(logs(1, 3, 1)); err != nil {
				t.Fatal(err)
			}
			ff.AddRule(rule)
			if err := s.StoreLogs(logs(4, 4, 1)); !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("StoreLogs on a failing file = %v", err)
			}
			select {
			case <-s.Failed():
			default:
				t.Fatal("Failed not closed")
			}
			ff.ClearRules()
			if err := s.StoreLogs(logs(4, 4, 1)); !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("StoreLogs after the failure = %v", err)
			}
			if err := s.SetUint64([]byte("LastVoteTerm"), 2); !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("SetUint64(LastVoteTerm) after the failure = %v", err)
			}
			if err := s.SetUint64([]byte(raftCurrentTerm), 2); err != nil {
				t.Fatalf("SetUint64(CurrentTerm) after the failure = %v", err)
			}
			checkRange(t, s, 1, 3)
			s.Close()

			s, err = openWALStore(mem, "raft.wal")
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.GetUint64([]byte(raftCurrentTerm)); err == nil {
				t.Fatal("the current term was written after the failure")
			}
			// The failed frame may or may not have reached the file; the
			// acknowledged ones did.
			if first, _ := s.FirstIndex(); first != 1 {
				t.Fatalf("first index %d after reopen", first)
			}
			last, _ := s.LastIndex()
			if last != 3 && last != 4 {
				t.Fatalf("last index %d after reopen", last)
			}
			if err := s.StoreLogs(logs(last+1, last+1, 1)); err != nil {
				t.Fatalf("StoreLogs after reopen: %v", err)
			}
		})
	}
}
