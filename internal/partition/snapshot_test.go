package partition

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// fill appends an idempotent history: producer 1 with four batches, producer
// 2 with two, and plain batches between.
func fill(t *testing.T, p *Partition) {
	t.Helper()
	for _, sp := range []spec{
		idem(1, 0, 0, 2), plain(1), idem(2, 4, 100, 1), idem(1, 0, 2, 3),
		idem(1, 0, 5, 1), idem(2, 4, 101, 2), idem(1, 0, 6, 1),
	} {
		if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func snapshotFiles(t *testing.T, dir string) []int64 {
	t.Helper()
	offs, err := listSnapshots(vfs.OS, dir)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// checkRecovered asserts that a reopened partition answers retries and
// continues sequences exactly like the original.
func checkRecovered(t *testing.T, before, after *Partition, s *memStore) {
	t.Helper()
	if !reflect.DeepEqual(before.ActiveProducers(), after.ActiveProducers()) {
		t.Fatalf("producers after restart\n got  %+v\n want %+v", after.ActiveProducers(), before.ActiveProducers())
	}
	if !reflect.DeepEqual(before.producers.producers, after.producers.producers) {
		t.Fatalf("producer entries differ after restart")
	}
	res, err := after.AppendAsLeader(batch(t, idem(1, 0, 2, 3)), AppendOptions{})
	if err != nil || !res.Duplicate || res.BaseOffset != 4 {
		t.Fatalf("retry after restart: %+v %v", res, err)
	}
	leo := s.LogEndOffset()
	res, err = after.AppendAsLeader(batch(t, idem(2, 4, 103, 1)), AppendOptions{})
	if err != nil || res.Duplicate || res.BaseOffset != leo {
		t.Fatalf("next sequence after restart: %+v %v", res, err)
	}
}

func TestRestartFromSnapshot(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	fill(t, p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := snapshotFiles(t, s.dir); !reflect.DeepEqual(got, []int64{s.LogEndOffset()}) {
		t.Fatalf("snapshots %v, want one at the log end %d", got, s.LogEndOffset())
	}
	// Remove the log's batches: a reopen must need the snapshot alone.
	s.batches = nil
	q := openTest(t, s)
	checkRecovered(t, p, q, s)
}

func TestRestartFromScanOnly(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	fill(t, p)
	// A crash: no snapshot was written.
	q := openTest(t, s)
	checkRecovered(t, p, q, s)
}

func TestRestartFromSnapshotPlusScan(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	if _, err := p.AppendAsLeader(batch(t, idem(1, 0, 0, 2)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for _, sp := range []spec{plain(1), idem(2, 4, 100, 1), idem(1, 0, 2, 3), idem(1, 0, 5, 1), idem(2, 4, 101, 2), idem(1, 0, 6, 1)} {
		if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	q := openTest(t, s)
	checkRecovered(t, p, q, s)
}

func TestSnapshotsKeepTwoAndSurviveDamage(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	for i := 0; i < 4; i++ {
		if _, err := p.AppendAsLeader(batch(t, idem(1, 0, int32(i), 1)), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := p.Snapshot(); err != nil {
			t.Fatal(err)
		}
	}
	if got := snapshotFiles(t, s.dir); !reflect.DeepEqual(got, []int64{3, 4}) {
		t.Fatalf("snapshots %v, want [3 4]", got)
	}
	// Damage the newest: the older one plus a scan rebuilds the state.
	newest := filepath.Join(s.dir, snapshotName(4))
	data, err := os.ReadFile(newest)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 1
	if err := os.WriteFile(newest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	q := openTest(t, s)
	if !reflect.DeepEqual(p.producers.producers, q.producers.producers) {
		t.Fatalf("state after damaged snapshot differs")
	}
	if got := snapshotFiles(t, s.dir); !reflect.DeepEqual(got, []int64{3}) {
		t.Fatalf("damaged snapshot not removed: %v", got)
	}
}

func TestSnapshotBeyondTruncatedLogIsDropped(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	fill(t, p)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// The tail was never flushed and recovery cut it off: the snapshot
	// describes records that no longer exist.
	s.truncate(7)
	q := openTest(t, s)
	if got := snapshotFiles(t, s.dir); len(got) != 0 {
		t.Fatalf("stale snapshots kept: %v", got)
	}
	// Producer 1's batches from offset 7 on (seqs 5 and 6) are gone: 5 is next again.
	res, err := q.AppendAsLeader(batch(t, idem(1, 0, 5, 1)), AppendOptions{})
	if err != nil || res.Duplicate || res.BaseOffset != 7 {
		t.Fatalf("after truncation: %+v %v", res, err)
	}
}

func TestStrayTmpRemoved(t *testing.T) {
	s := newMemStore(t)
	tmp := filepath.Join(s.dir, "00000000000000000005"+snapshotTmpSuffix)
	if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	openTest(t, s)
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("stray tmp still there: %v", err)
	}
}

func TestSnapshotOnSegmentWorthOfBytes(t *testing.T) {
	s := newMemStore(t)
	s.segmentBytes = 200
	p := openTest(t, s)
	for i := 0; i < 10; i++ {
		if _, err := p.AppendAsLeader(batch(t, idem(1, 0, int32(i), 1)), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := snapshotFiles(t, s.dir); len(got) != 2 {
		t.Fatalf("snapshots %v, want the newest two", got)
	}
}

func sampleEntries() map[int64]*producerEntry {
	return map[int64]*producerEntry{
		1: {ProducerID: 1, Epoch: 0, CoordinatorEpoch: -1, CurrentTxnFirstOffset: -1, LastTimestamp: 5, n: 1, batchBuf: [BatchesToRetain]batchMetadata{{LastSeq: 2, LastOffset: 2, OffsetDelta: 2, Timestamp: 5}}},
		math.MaxInt64: {ProducerID: math.MaxInt64, Epoch: math.MaxInt16, CoordinatorEpoch: 7, CurrentTxnFirstOffset: 10, LastTimestamp: -1, n: 5, batchBuf: [BatchesToRetain]batchMetadata{
			{LastSeq: math.MaxInt32, LastOffset: 20, OffsetDelta: 0, Timestamp: 1},
			{LastSeq: 1, LastOffset: 22, OffsetDelta: 1, Timestamp: 2},
			{LastSeq: 2, LastOffset: 23, OffsetDelta: 0, Timestamp: 3},
			{LastSeq: 3, LastOffset: 24, OffsetDelta: 0, Timestamp: 4},
			{LastSeq: 9, LastOffset: 30, OffsetDelta: 5, Timestamp: 5},
		}},
		3: {ProducerID: 3, Epoch: -1, CoordinatorEpoch: -1, CurrentTxnFirstOffset: -1, LastTimestamp: -1},
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	in := sampleEntries()
	b := encodeSnapshot(in)
	out, err := readSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs")
	}
	if !bytes.Equal(encodeSnapshot(out), b) {
		t.Fatal("re-encoding differs")
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)-1],
		"trailing":  append(append([]byte(nil), b...), 0),
		"version":   append([]byte{0, 9}, b[2:]...),
	} {
		if _, err := readSnapshot(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzReadSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(sampleEntries()))
	f.Add(encodeSnapshot(map[int64]*producerEntry{}))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			entries, err := readSnapshot(b)
			if err != nil {
				return
			}
			// Whatever decodes must encode back to the same bytes.
			if !bytes.Equal(encodeSnapshot(entries), b) {
				t.Fatalf("decode/encode not identical for %x", b)
			}
			for id, e := range entries {
				if id != e.ProducerID || id < 0 || e.n > BatchesToRetain {
					t.Fatalf("producer %d decoded as %+v", id, e)
				}
			}
		}
		check(b)
		// Most mutations fail the CRC; fix it up to reach the structure.
		if len(b) >= snapshotHeaderSize {
			fixed := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(fixed[2:], crc32.Checksum(fixed[6:], snapshotCRCTable))
			check(fixed)
		}
	})
}
