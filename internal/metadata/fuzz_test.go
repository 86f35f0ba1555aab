package metadata

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// walState is what a walStore holds, for comparisons.
type walState struct {
	First   uint64
	Entries []walEntry
	Stable  map[string][]byte
}

type walEntry struct {
	Index, Term      uint64
	Type             raft.LogType
	AppendedAt       int64
	Data, Extensions []byte
}

// stateOf returns the store's state, and fails if an entry is not at its
// place (entries[i].Index == first+i).
func stateOf(t *testing.T, s *walStore) walState {
	t.Helper()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := walState{First: s.first, Stable: map[string][]byte{}}
	for i, l := range s.entries {
		if l.Index != s.first+uint64(i) {
			t.Fatalf("entry %d has index %d, first is %d", i, l.Index, s.first)
		}
		at := int64(0)
		if !l.AppendedAt.IsZero() {
			at = l.AppendedAt.UnixNano()
		}
		st.Entries = append(st.Entries, walEntry{l.Index, l.Term, l.Type, at, bytes.Clone(l.Data), bytes.Clone(l.Extensions)})
	}
	for k, v := range s.stable {
		st.Stable[k] = bytes.Clone(v)
	}
	return st
}

// walFrames is the length of the prefix of data made of whole frames whose
// CRC matches: what replay keeps.
func walFrames(data []byte) int {
	end := 0
	for len(data)-end >= walFrameHeader {
		n := binary.BigEndian.Uint32(data[end:])
		if n == 0 || n > walMaxFrame || uint64(n) > uint64(len(data)-end-walFrameHeader) {
			break
		}
		payload := data[end+walFrameHeader : end+walFrameHeader+int(n)]
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(data[end+4:]) {
			break
		}
		end += walFrameHeader + int(n)
	}
	return end
}

// FuzzWALReplay opens the metadata log store (the Raft log and stable
// store) on arbitrary file contents. The open either fails (a frame whose
// CRC matches but whose operation does not apply: the store's own writes
// are damaged, and the node must not start on them) or keeps exactly the
// prefix of whole, CRC-valid frames and truncates the rest. From there the
// state survives a reopen, a compaction (which rewrites the file from the
// state) and a reopen after it, and entries and keys written after the
// replay are there after another reopen. With fixCRCs the CRC of every
// frame the length fields frame is made right first, so the fuzzer gets
// past the CRC to the operations.
func FuzzWALReplay(f *testing.F) {
	var seed []byte
	seed = appendFrame(seed, encodeSet([]byte(raftCurrentTerm), binary.BigEndian.AppendUint64(nil, 3)))
	seed = appendFrame(seed, encodeStoreLogs(logs(1, 4, 1)))
	seed = appendFrame(seed, encodeStoreLogs(logs(3, 5, 2)))
	seed = appendFrame(seed, append([]byte{opDeleteRange}, binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 1), 2)...))
	f.Add(seed, false)
	f.Add(seed[:len(seed)-3], false)
	f.Add(seed, true)
	f.Add([]byte{}, false)
	f.Add(appendFrame(nil, []byte{9}), false)
	const path = "meta/raft.wal"
	f.Fuzz(func(t *testing.T, data []byte, fixCRCs bool) {
		if len(data) > 1<<16 {
			return
		}
		data = bytes.Clone(data)
		for end := 0; fixCRCs && len(data)-end >= walFrameHeader; {
			n := binary.BigEndian.Uint32(data[end:])
			if n == 0 || uint64(n) > uint64(len(data)-end-walFrameHeader) {
				break
			}
			payload := data[end+walFrameHeader : end+walFrameHeader+int(n)]
			binary.BigEndian.PutUint32(data[end+4:], crc32.Checksum(payload, castagnoli))
			end += walFrameHeader + int(n)
		}
		fsys := vfs.NewMem()
		if err := fsys.MkdirAll("meta", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := vfs.WriteFileAtomic(fsys, path, data); err != nil {
			t.Fatal(err)
		}
		open := func() *walStore {
			t.Helper()
			s, err := openWALStore(fsys, path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			return s
		}
		s, err := openWALStore(fsys, path)
		if err != nil {
			return
		}
		want := stateOf(t, s)
		if fi, err := fsys.Stat(path); err != nil || fi.Size() != int64(walFrames(data)) || s.size != fi.Size() {
			t.Fatalf("replay kept %d bytes (file %v, %v) of %d; %d are whole frames", s.size, fi, err, len(data), walFrames(data))
		}
		s.Close()

		s = open()
		if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("state after a reopen:\n%+v\nwant\n%+v", got, want)
		}
		s.mu.Lock()
		err = s.compactLocked()
		s.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = open()
		if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("state after a compaction:\n%+v\nwant\n%+v", got, want)
		}

		next := uint64(1)
		if len(want.Entries) > 0 {
			next = want.First + uint64(len(want.Entries))
			if next == 0 {
				s.Close()
				return // the last index is MaxUint64
			}
		} else {
			want.First = next
		}
		l := &raft.Log{Index: next, Term: 9, Type: raft.LogCommand, AppendedAt: time.Unix(0, 42), Data: []byte("d"), Extensions: []byte("e")}
		if err := s.StoreLogs([]*raft.Log{l}); err != nil {
			t.Fatal(err)
		}
		if err := s.Set([]byte("k"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		want.Entries = append(want.Entries, walEntry{next, 9, raft.LogCommand, 42, []byte("d"), []byte("e")})
		want.Stable["k"] = []byte("v")
		s.Close()
		s = open()
		defer s.Close()
		if got := stateOf(t, s); !reflect.DeepEqual(got, want) {
			t.Fatalf("state after writes and a reopen:\n%+v\nwant\n%+v", got, want)
		}
	})
}

// FuzzDecodeSnapshot decodes arbitrary metadata snapshots: what decodes
// must encode into a snapshot that decodes to the same image.
func FuzzDecodeSnapshot(f *testing.F) {
	im, err := applyRecords(emptyImage("c", 1), sampleRecords())
	if err != nil {
		f.Fatal(err)
	}
	im.Epoch = 17
	f.Add(encodeSnapshot(im))
	f.Add(encodeSnapshot(emptyImage("c", 1)))
	f.Add([]byte{snapshotVersion, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := decodeSnapshot(data, "c", 1)
		if err != nil {
			return
		}
		im2, err := decodeSnapshot(encodeSnapshot(im), "c", 1)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !reflect.DeepEqual(im, im2) {
			t.Fatalf("snapshot round trip changed the image:\n%+v\n%+v", im, im2)
		}
	})
}
