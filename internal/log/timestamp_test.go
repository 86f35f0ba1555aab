package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

var allCodecs = []record.Compression{record.CompressionNone, record.CompressionGzip, record.CompressionSnappy, record.CompressionLZ4, record.CompressionZstd}

// tsBatch encodes one batch whose records carry the timestamps baseTs+rel
// for each rel, in that order.
func tsBatch(t testing.TB, c record.Compression, rel ...int64) []byte {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.Compression = c
	spec.BaseTimestamp = baseTs + rel[0]
	recs := make([]record.Record, len(rel))
	for i, r := range rel {
		recs[i] = record.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("value %d at %d", i, r)), TimestampDelta: r - rel[0]}
	}
	b, err := record.EncodeBatch(spec, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// want is an expected ListOffsets answer, with the timestamp relative to
// baseTs; offset -1 means none.
type want struct {
	off, ts int64
	epoch   int32
}

func (w want) String() string {
	return fmt.Sprintf("offset %d, timestamp +%d, epoch %d", w.off, w.ts, w.epoch)
}

func got(r TimestampOffset, found bool) want {
	if !found {
		return want{-1, -1, -1}
	}
	return want{r.Offset, r.Timestamp - baseTs, r.LeaderEpoch}
}

var none = want{-1, -1, -1}

func checkLookups(t *testing.T, l *Log, what string, cases map[int64]want) {
	t.Helper()
	for ts, w := range cases {
		r, found, err := l.OffsetForTimestamp(baseTs + ts)
		if err != nil {
			t.Fatalf("%s: OffsetForTimestamp(+%d): %v", what, ts, err)
		}
		if g := got(r, found); g != w {
			t.Errorf("%s: OffsetForTimestamp(+%d) = %v; want %v", what, ts, g, w)
		}
	}
}

func checkMax(t *testing.T, l *Log, what string, w want) {
	t.Helper()
	r, found, err := l.MaxTimestamp()
	if err != nil {
		t.Fatalf("%s: MaxTimestamp: %v", what, err)
	}
	if g := got(r, found); g != w {
		t.Errorf("%s: MaxTimestamp = %v; want %v", what, g, w)
	}
}

// TestOffsetForTimestampInsideBatches checks the record ListOffsets finds,
// by timestamp and by max timestamp, inside multi-record batches of every
// codec, laid out in one segment with a sparse index and in one segment per
// batch with an index entry per batch; with the log start offset moved into
// a batch by DeleteRecords; after a restart; and for LogAppendTime batches.
func TestOffsetForTimestampInsideBatches(t *testing.T) {
	for _, c := range allCodecs {
		for _, layout := range []string{"one segment", "segment per batch"} {
			t.Run(c.String()+"/"+layout, func(t *testing.T) {
				// Batch A, epoch 1: offsets 0-4. Batch B, epoch 2: 5-9,
				// timestamps out of order. Batch C, epoch 2: 10-13, the
				// largest timestamp in the middle.
				a := tsBatch(t, c, 0, 10, 20, 30, 40)
				b := tsBatch(t, c, 50, 70, 60, 90, 80)
				cb := tsBatch(t, c, 100, 130, 110, 120)
				cfg := testConfig()
				if layout == "segment per batch" {
					cfg.SegmentBytes = int64(max(len(a), len(b), len(cb)))
					cfg.IndexIntervalBytes = 1
				}
				mem := vfs.NewMem()
				m := openTestManager(t, mem, "data")
				l, err := m.Create(TopicPartition{"t", 0}, [16]byte{}, cfg)
				if err != nil {
					t.Fatal(err)
				}
				for i, batch := range [][]byte{a, b, cb} {
					if _, err := l.Append(batch, AppendOptions{LeaderEpoch: int32(min(i+1, 2))}); err != nil {
						t.Fatal(err)
					}
				}
				if layout == "segment per batch" && l.NumSegments() != 3 {
					t.Fatalf("%d segments, want 3", l.NumSegments())
				}
				lookups := map[int64]want{
					-100: {0, 0, 1},    // before everything: the first record
					0:    {0, 0, 1},    // the first record exactly
					20:   {2, 20, 1},   // exactly, in the middle of a batch
					25:   {3, 30, 1},   // between two records of a batch
					41:   {5, 50, 2},   // between two batches
					55:   {6, 70, 2},   // the first in offset order, not the nearest (60 at 7)
					61:   {6, 70, 2},   // likewise
					75:   {8, 90, 2},   // 80 at 9 comes later
					91:   {10, 100, 2}, // the next batch
					125:  {11, 130, 2},
					130:  {11, 130, 2}, // the largest timestamp exactly
					131:  none,         // past the end
				}
				checkLookups(t, l, "whole log", lookups)
				checkMax(t, l, "whole log", want{11, 130, 2})
				if off, epoch := l.LogStartOffsetEpoch(); off != 0 || epoch != 1 {
					t.Errorf("LogStartOffsetEpoch = %d, %d; want 0, 1", off, epoch)
				}

				// The log start offset inside batch A: records below it
				// are not answers any more.
				if _, err := l.DeleteRecordsBefore(3); err != nil {
					t.Fatal(err)
				}
				checkLookups(t, l, "start at 3", map[int64]want{
					-100: {3, 30, 1},
					20:   {3, 30, 1},
					25:   {3, 30, 1},
					41:   {5, 50, 2},
				})
				checkMax(t, l, "start at 3", want{11, 130, 2})
				if off, epoch := l.LogStartOffsetEpoch(); off != 3 || epoch != 1 {
					t.Errorf("LogStartOffsetEpoch = %d, %d; want 3, 1", off, epoch)
				}

				// The log start offset inside batch C, past the record
				// with the largest timestamp: the largest left is 120 at
				// 13, and nothing at or after 12 holds 125 or later.
				if _, err := l.DeleteRecordsBefore(12); err != nil {
					t.Fatal(err)
				}
				afterDelete := map[int64]want{
					-100: {12, 110, 2},
					55:   {12, 110, 2},
					111:  {13, 120, 2},
					120:  {13, 120, 2},
					125:  none,
				}
				checkLookups(t, l, "start at 12", afterDelete)
				checkMax(t, l, "start at 12", want{13, 120, 2})
				if off, epoch := l.LogStartOffsetEpoch(); off != 12 || epoch != 2 {
					t.Errorf("LogStartOffsetEpoch = %d, %d; want 12, 2", off, epoch)
				}

				// The same answers from the files after a restart.
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				m = openTestManager(t, mem, "data")
				defer m.Close()
				l, _ = m.Get(TopicPartition{"t", 0})
				checkLookups(t, l, "after a restart", afterDelete)
				checkMax(t, l, "after a restart", want{13, 120, 2})

				// A LogAppendTime batch: every record carries the append
				// time, whatever the producer's timestamps said.
				d := tsBatch(t, c, 1, 2, 3)
				if _, err := l.Append(d, AppendOptions{LeaderEpoch: 3, LogAppendTime: baseTs + 500}); err != nil {
					t.Fatal(err)
				}
				checkLookups(t, l, "LogAppendTime", map[int64]want{
					1:   {12, 110, 2},
					125: {14, 500, 3},
					300: {14, 500, 3},
					500: {14, 500, 3},
					501: none,
				})
				checkMax(t, l, "LogAppendTime", want{14, 500, 3})
			})
		}
	}
}

func TestMaxTimestampFirstOfEqual(t *testing.T) {
	for _, c := range allCodecs {
		m := openTestManager(t, vfs.NewMem(), "data")
		l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, testConfig())
		for _, batch := range [][]byte{tsBatch(t, c, 5, 9, 7), tsBatch(t, c, 9, 9, 1)} {
			if _, err := l.Append(batch, AppendOptions{LeaderEpoch: 4}); err != nil {
				t.Fatal(err)
			}
		}
		checkMax(t, l, c.String(), want{1, 9, 4})
		m.Close()
	}
}

func TestTimestampSearchEmptyLog(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, testConfig())
	checkLookups(t, l, "empty", map[int64]want{0: none})
	checkMax(t, l, "empty", none)
	if off, epoch := l.LogStartOffsetEpoch(); off != 0 || epoch != -1 {
		t.Errorf("LogStartOffsetEpoch = %d, %d; want 0, -1", off, epoch)
	}
}

// A compressed batch whose records cannot be read (Validate does not
// decompress, so the log may hold one) is reported, not skipped.
func TestTimestampSearchUnreadableRecords(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	l, _ := m.Create(TopicPartition{"t", 0}, [16]byte{}, testConfig())
	b := tsBatch(t, record.CompressionGzip, 0, 10)
	b = append(b[:record.HeaderSize:record.HeaderSize], "not gzip at all, not gzip at all"...)
	binary.BigEndian.PutUint32(b[record.BatchLengthOffset:], uint32(len(b)-record.LogOverhead))
	binary.BigEndian.PutUint32(b[record.CRCOffset:], record.ComputeCRC(b))
	if _, err := record.Validate(b); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(b, AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	var ce *CorruptionError
	if _, _, err := l.OffsetForTimestamp(baseTs); !errors.As(err, &ce) || ce.Offset != 0 {
		t.Errorf("OffsetForTimestamp: %v, want a CorruptionError at offset 0", err)
	}
	if _, _, err := l.MaxTimestamp(); !errors.As(err, &ce) {
		t.Errorf("MaxTimestamp: %v, want a CorruptionError", err)
	}
}
