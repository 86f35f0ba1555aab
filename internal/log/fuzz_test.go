package log

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func FuzzReadCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\norders 0 100\norders 1 200\n"))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("1\n0\n"))
	f.Add([]byte("0\n3\na 0 1\n"))
	f.Add([]byte("0\n1\na -1 5\n"))
	f.Add([]byte("0\n99999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseOffsetCheckpoint(data)
		if err != nil {
			return
		}
		// What parses must survive a round trip.
		m2, err := ParseOffsetCheckpoint(FormatOffsetCheckpoint(m))
		if err != nil || len(m2) != len(m) {
			t.Fatalf("round trip: %v %d != %d", err, len(m2), len(m))
		}
		for k, v := range m {
			if m2[k] != v {
				t.Fatalf("round trip changed %v", k)
			}
		}
	})
}

func FuzzLeaderEpochCheckpoint(f *testing.F) {
	f.Add([]byte("0\n2\n0 0\n3 150\n"))
	f.Add([]byte("0\n1\n5 10"))
	f.Add([]byte("0\n2\n3 10\n2 20\n"))
	f.Add([]byte("0\n1\n-1 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseLeaderEpochCheckpoint(data)
		if err != nil {
			return
		}
		e2, err := ParseLeaderEpochCheckpoint(FormatLeaderEpochCheckpoint(e))
		if err != nil || len(e2) != len(e) {
			t.Fatalf("round trip: %v", err)
		}
		c := epochCache{entries: e}
		for _, x := range e {
			c.endOffsetFor(x.Epoch, 1<<40)
			c.endOffsetFor(x.Epoch+1, 1<<40)
		}
	})
}

func FuzzPartitionMetadata(f *testing.F) {
	f.Add(FormatPartitionMetadata([16]byte{1, 2, 3}))
	f.Add([]byte("version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Add([]byte("version: 1\ntopic_id: x"))
	f.Add([]byte("version: 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParsePartitionMetadata(data)
		if err != nil {
			return
		}
		id2, err := ParsePartitionMetadata(FormatPartitionMetadata(id))
		if err != nil || id2 != id {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzOffsetIndex(f *testing.F) {
	var good []byte
	for i := 1; i <= 4; i++ {
		var e [8]byte
		putOffsetEntry(e[:], uint32(i*10), uint32(i*4096))
		good = append(good, e[:]...)
	}
	f.Add(good, int64(1<<20))
	f.Add(append(append([]byte(nil), good...), make([]byte, 64)...), int64(1<<20))
	f.Add(good[:13], int64(100))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, data []byte, logSize int64) {
		entries, err := parseOffsetIndex(data, logSize)
		if err != nil {
			return
		}
		if len(entries)%offsetIndexEntrySize != 0 || !bytes.HasPrefix(data, entries) {
			t.Fatalf("bad entries slice")
		}
		// Lookups land on an entry position (or 0) at or below the target.
		for _, target := range []int64{-1, 0, 5, 1 << 20, 1 << 40} {
			pos := lookupOffset(entries, target)
			if pos < 0 || pos >= max(logSize, 1) {
				t.Fatalf("lookup %d -> %d outside the log", target, pos)
			}
		}
		times := make([]byte, len(data)/8*12)
		for i := 0; i+8 <= len(data); i += 8 {
			binary.BigEndian.PutUint64(times[i/8*12:], binary.BigEndian.Uint64(data[i:]))
		}
		if te, err := parseTimeIndex(times, 1<<31); err == nil {
			lookupTime(te, 12345)
			lastTimeEntry(te)
		}
	})
}
