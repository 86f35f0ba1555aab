package log

import (
	"errors"
	"testing"
)

func TestAppendRead(t *testing.T) {
	dir := t.TempDir()
	m := openTestManager(t, nil, dir)
	cfg := testConfig()
	cfg.SegmentBytes = 16 << 10
	cfg.IndexIntervalBytes = 1024
	l, err := m.Create(TopicPartition{"orders", 0}, [16]byte{1}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for i := 0; i < 200; i++ {
		res, err := l.Append(makeBatch(5, 100, 1000+int64(i)), AppendOptions{LeaderEpoch: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.BaseOffset != int64(i*5) || res.LastOffset != int64(i*5+4) {
			t.Fatalf("append %d: got %+v", i, res)
		}
		want = append(want, res.BaseOffset)
	}
	if l.LogEndOffset() != 1000 {
		t.Fatalf("LEO %d", l.LogEndOffset())
	}
	if l.NumSegments() < 3 {
		t.Fatalf("expected rolls, got %d segments", l.NumSegments())
	}
	hs := readAll(t, l, 0)
	if len(hs) != 200 {
		t.Fatalf("read %d batches", len(hs))
	}
	for i, h := range hs {
		if h.BaseOffset != want[i] || h.PartitionLeaderEpoch != 3 {
			t.Fatalf("batch %d: %v epoch %d", i, h, h.PartitionLeaderEpoch)
		}
	}
	// Read from the middle of a batch returns the batch containing it.
	rr, err := l.Read(502, ReadOptions{MaxBytes: 1, MinOneBatch: true, MaxOffset: -1})
	if err != nil {
		t.Fatal(err)
	}
	if rr.BaseOffset != 500 || rr.NextOffset != 505 {
		t.Fatalf("read 502: %+v", rr)
	}
	rr.Release()
	if _, err := l.Read(1001, ReadOptions{MaxBytes: 100}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read past end: %v", err)
	}
	if rr, err := l.Read(1000, ReadOptions{MaxBytes: 100, MaxOffset: -1}); err != nil || rr.Size != 0 {
		t.Fatalf("read at end: %+v %v", rr, err)
	}
	// MaxOffset bounds.
	rr, err = l.Read(0, ReadOptions{MaxBytes: 1 << 20, MaxOffset: 12})
	if err != nil {
		t.Fatal(err)
	}
	if rr.NextOffset != 15 {
		t.Fatalf("bounded read next %d", rr.NextOffset)
	}
	rr.Release()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = openTestManager(t, nil, dir)
	defer m.Close()
	l, ok := m.Get(TopicPartition{"orders", 0})
	if !ok {
		t.Fatal("log not reopened")
	}
	if l.LogEndOffset() != 1000 || l.TopicID() != [16]byte{1} {
		t.Fatalf("reopened LEO %d id %v", l.LogEndOffset(), l.TopicID())
	}
	if got := len(readAll(t, l, 0)); got != 200 {
		t.Fatalf("after reopen read %d batches", got)
	}
	res, err := l.Append(makeBatch(1, 10, 5000), AppendOptions{LeaderEpoch: 4})
	if err != nil || res.BaseOffset != 1000 {
		t.Fatalf("append after reopen: %+v %v", res, err)
	}
	if e, off := l.EndOffsetForEpoch(3); e != 3 || off != 1000 {
		t.Fatalf("EndOffsetForEpoch(3) = %d, %d", e, off)
	}
}
