package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

var cleanTP = TopicPartition{Topic: "compacted", Partition: 0}

// kv is one record to append; a nil value is a tombstone.
type kv struct {
	key, value string
	tombstone  bool
}

// keyedBatch encodes records as one batch with the given codec and base
// timestamp (record i at ts+i).
func keyedBatch(t testing.TB, codec record.Compression, ts int64, recs ...kv) []byte {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.Compression = codec
	spec.BaseTimestamp = ts
	var rs []record.Record
	for i, r := range recs {
		rec := record.Record{TimestampDelta: int64(i), Key: []byte(r.key)}
		if !r.tombstone {
			rec.Value = []byte(r.value)
		}
		rs = append(rs, rec)
	}
	b, err := record.EncodeBatch(spec, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logRecord is a record as read back from the log.
type logRecord struct {
	offset     int64
	key, value string
	tombstone  bool
	ts         int64
	h          record.Header
}

// readRecords reads and decodes every record of the log, checking each
// batch with ValidateStored.
func readRecords(t testing.TB, l *Log) []logRecord {
	t.Helper()
	var out []logRecord
	off := l.LogStartOffset()
	for off < l.LogEndOffset() {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if rr.Size == 0 {
			break // a compacted tail: nothing more below the log end offset
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			h, err := record.ValidateStored(b[:min(len(b), int(mustHeader(t, b).Size()))])
			if err != nil {
				t.Fatalf("stored batch at %d: %v", mustHeader(t, b).BaseOffset, err)
			}
			err = record.DecodeRecords(h, b[:h.Size()], func(r *record.Record) error {
				out = append(out, logRecord{offset: r.Offset(h), key: string(r.Key), value: string(r.Value), tombstone: r.Value == nil, ts: r.Timestamp(h), h: h})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			b = b[h.Size():]
		}
		off = rr.NextOffset
	}
	return out
}

func mustHeader(t testing.TB, b []byte) record.Header {
	h, err := record.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// compactConfig: small segments so logs roll often; compaction on.
func compactConfig() Config {
	cfg := DefaultConfig()
	cfg.CleanupPolicy = CleanupPolicyCompact
	cfg.SegmentBytes = 4096
	cfg.IndexIntervalBytes = 512
	cfg.MinCleanableDirtyRatio = 0.01
	return cfg
}

func testCleanerConfig() CleanerConfig {
	c := DefaultCleanerConfig()
	c.DedupeBufferSize = 64 << 10
	c.IOBufferSize = 4096
	return c
}

// appendKeys appends n records in batches of per, key i%keys with value
// "v<i>", and returns key → latest value and offset → record.
func appendKeys(t testing.TB, l *Log, codec record.Compression, start, n, per, keys int, ts int64) (map[string]string, map[int64]kv) {
	t.Helper()
	latest := map[string]string{}
	byOffset := map[int64]kv{}
	for i := start; i < start+n; i += per {
		var recs []kv
		for j := i; j < start+n && j < i+per; j++ {
			r := kv{key: fmt.Sprintf("k%03d", j%keys), value: fmt.Sprintf("v%d", j)}
			recs = append(recs, r)
		}
		res, err := l.Append(keyedBatch(t, codec, ts+int64(i), recs...), AppendOptions{LeaderEpoch: 1})
		if err != nil {
			t.Fatal(err)
		}
		for k, r := range recs {
			latest[r.key] = r.value
			byOffset[res.BaseOffset+int64(k)] = r
		}
	}
	return latest, byOffset
}

type cleanerEnv struct {
	t     testing.TB
	clock *testClock
	fsys  vfs.FS
	m     *Manager
	l     *Log
	c     *Cleaner
}

func newCleanerEnv(t testing.TB, fsys vfs.FS, cfg Config) *cleanerEnv {
	t.Helper()
	if fsys == nil {
		fsys = vfs.NewMem()
	}
	clock := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	m := openTestManager(t, fsys, "data", func(o *ManagerOptions) { o.Now = clock.now })
	l, err := m.Create(cleanTP, [16]byte{9}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.NewCleaner(testCleanerConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &cleanerEnv{t: t, clock: clock, fsys: fsys, m: m, l: l, c: c}
}

func (e *cleanerEnv) close() {
	e.c.Stop()
	if err := e.m.Close(); err != nil {
		e.t.Fatal(err)
	}
}

// roll forces the active segment to roll by appending a batch that does
// not fit, so everything before it becomes cleanable.
func (e *cleanerEnv) roll() {
	e.t.Helper()
	big := keyedBatch(e.t, record.CompressionNone, e.clock.now().UnixMilli(), kv{key: "roll", value: string(make([]byte, e.l.Config().SegmentBytes-200))})
	if _, err := e.l.Append(big, AppendOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// checkLatest asserts the log holds, for every key, exactly its latest
// value (once in the cleaned part), and that every record is the one
// originally written at its offset.
func checkLatest(t testing.TB, recs []logRecord, latest map[string]string, byOffset map[int64]kv) {
	t.Helper()
	last := map[string]logRecord{}
	prev := int64(-1)
	for _, r := range recs {
		if r.offset <= prev {
			t.Fatalf("offset %d after %d", r.offset, prev)
		}
		prev = r.offset
		if want, ok := byOffset[r.offset]; ok && (want.key != r.key || want.value != r.value) {
			t.Fatalf("offset %d holds %s=%s, was written as %s=%s", r.offset, r.key, r.value, want.key, want.value)
		}
		last[r.key] = r
	}
	for k, v := range latest {
		if got, ok := last[k]; !ok || got.value != v {
			t.Fatalf("key %s: latest %q, want %q", k, got.value, v)
		}
	}
}

func TestCleanerKeepsLatestPerKey(t *testing.T) {
	for _, codec := range []record.Compression{record.CompressionNone, record.CompressionGzip, record.CompressionSnappy, record.CompressionLZ4, record.CompressionZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			e := newCleanerEnv(t, nil, compactConfig())
			defer e.close()
			latest, byOffset := appendKeys(t, e.l, codec, 0, 600, 5, 20, 1_700_000_000_000)
			e.roll()
			segsBefore, sizeBefore, leo := e.l.NumSegments(), e.l.Size(), e.l.LogEndOffset()
			res, err := e.c.Clean(e.l)
			if err != nil {
				t.Fatal(err)
			}
			if res.RecordsKept >= res.RecordsRead || res.BytesWritten >= res.BytesRead {
				t.Fatalf("nothing removed: %+v", res)
			}
			if e.l.Size() >= sizeBefore {
				t.Fatalf("size %d -> %d", sizeBefore, e.l.Size())
			}
			if e.l.LogEndOffset() != leo {
				t.Fatalf("log end offset moved %d -> %d", leo, e.l.LogEndOffset())
			}
			recs := readRecords(t, e.l)
			checkLatest(t, recs, latest, byOffset)
			seen := map[string]bool{}
			for _, r := range recs {
				if r.offset >= res.EndOffset {
					continue
				}
				if seen[r.key] {
					t.Fatalf("key %s twice below the cleaned end %d", r.key, res.EndOffset)
				}
				seen[r.key] = true
				if r.h.Compression() != codec {
					t.Fatalf("batch at %d has codec %v, want %v", r.h.BaseOffset, r.h.Compression(), codec)
				}
			}
			if len(seen) != 20 {
				t.Fatalf("%d keys in the cleaned part, want 20", len(seen))
			}
			// A second round finds nothing dirty.
			if _, cleaned, err := e.c.CleanOnce(); err != nil || cleaned {
				t.Fatalf("second round: cleaned=%v err=%v", cleaned, err)
			}
			// As in Kafka, segments are grouped by their size before
			// cleaning, so the small cleaned segments merge in the next round.
			more, moreOff := appendKeys(t, e.l, codec, 600, 10, 5, 20, 1_700_000_000_000)
			for k, v := range more {
				latest[k] = v
			}
			for k, v := range moreOff {
				byOffset[k] = v
			}
			e.roll()
			segsMid := e.l.NumSegments()
			if _, err := e.c.Clean(e.l); err != nil {
				t.Fatal(err)
			}
			if e.l.NumSegments() >= segsMid || e.l.NumSegments() >= segsBefore {
				t.Fatalf("segments %d, then %d before and %d after the second round", segsBefore, segsMid, e.l.NumSegments())
			}
			checkLatest(t, readRecords(t, e.l), latest, byOffset)
		})
	}
}

func TestCleanerReadInGapReturnsNextBatch(t *testing.T) {
	e := newCleanerEnv(t, nil, compactConfig())
	defer e.close()
	// Offsets 0..9 write keys a, b alternately, then 10 writes c.
	for i := 0; i < 10; i++ {
		k := []string{"a", "b"}[i%2]
		if _, err := e.l.Append(keyedBatch(t, record.CompressionNone, 1_700_000_000_000, kv{key: k, value: fmt.Sprint(i)}), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.l.Append(keyedBatch(t, record.CompressionNone, 1_700_000_000_000, kv{key: "c", value: "10"}), AppendOptions{})
	e.roll()
	if _, err := e.c.Clean(e.l); err != nil {
		t.Fatal(err)
	}
	// Offsets 0..7 are gone; reading at 3 returns the batch at 8.
	rr, err := e.l.Read(3, ReadOptions{MaxBytes: 1, MinOneBatch: true, MaxOffset: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if rr.BaseOffset != 8 || rr.NextOffset != 9 {
		t.Fatalf("read 3: batch [%d, %d), want [8, 9)", rr.BaseOffset, rr.NextOffset)
	}
	recs := readRecords(t, e.l)
	if len(recs) < 3 || recs[0].offset != 8 || recs[1].offset != 9 || recs[2].offset != 10 {
		t.Fatalf("records: %+v", recs)
	}
}

// TestCleanerRefusesCorruptBatch: the cleaner neither copies nor
// re-encodes a batch whose CRC32C does not match (re-encoding would give
// the damaged bytes a good CRC): cleaning fails with a CorruptionError,
// the log keeps its segments, and the damage stays detectable.
func TestCleanerRefusesCorruptBatch(t *testing.T) {
	e := newCleanerEnv(t, nil, compactConfig())
	defer e.close()
	ts := e.clock.t.UnixMilli()
	// The later "a" supersedes the first batch's first record, so cleaning
	// would rewrite that batch with its second record only.
	for _, b := range [][]byte{
		keyedBatch(t, record.CompressionNone, ts, kv{key: "a", value: "old"}, kv{key: "b", value: "payload"}),
		keyedBatch(t, record.CompressionNone, ts, kv{key: "a", value: "new"}),
	} {
		if _, err := e.l.Append(b, AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.roll()
	// Damage one byte of b's value on disk; the records still decode.
	seg := e.l.segments()[0]
	f, err := e.fsys.OpenFile(seg.path(LogFileSuffix), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, seg.size.Load())
	if _, err := f.ReadAt(data, 0); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("payload"))
	if i < 0 {
		t.Fatal("value not found in the segment")
	}
	if _, err := f.WriteAt([]byte("P"), int64(i)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	segs, size := e.l.NumSegments(), e.l.Size()
	res, err := e.c.Clean(e.l)
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("cleaning a log with a corrupt batch: %+v, %v; want a CorruptionError", res, err)
	}
	if e.l.NumSegments() != segs || e.l.Size() != size {
		t.Fatalf("the failed clean changed the log: %d segments, %d bytes; was %d, %d", e.l.NumSegments(), e.l.Size(), segs, size)
	}
	rr, err := e.l.Read(0, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := rr.AppendTo(nil)
	rr.Release()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := record.ValidateStored(b[:mustHeader(t, b).Size()]); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("the damaged batch after the clean: %v, want a CRC error", err)
	}
}

func TestCleanerTombstones(t *testing.T) {
	cfg := compactConfig()
	cfg.DeleteRetentionMs = 60_000
	e := newCleanerEnv(t, nil, cfg)
	defer e.close()
	ts := e.clock.now().UnixMilli()
	e.l.Append(keyedBatch(t, record.CompressionNone, ts, kv{key: "gone", value: "1"}, kv{key: "stays", value: "1"}), AppendOptions{})
	e.l.Append(keyedBatch(t, record.CompressionLZ4, ts, kv{key: "gone", tombstone: true}, kv{key: "other", value: "2"}), AppendOptions{})
	e.roll()
	if _, err := e.c.Clean(e.l); err != nil {
		t.Fatal(err)
	}
	// The first round keeps the tombstone and stamps its delete horizon.
	var tomb *logRecord
	recs := readRecords(t, e.l)
	for i, r := range recs {
		if r.key == "gone" {
			if !r.tombstone {
				t.Fatalf("old value of a deleted key survived: %+v", r)
			}
			tomb = &recs[i]
		}
	}
	if tomb == nil {
		t.Fatal("tombstone removed before delete.retention.ms")
	}
	if tomb.h.Attributes&record.DeleteHorizonBit == 0 || tomb.h.BaseTimestamp != ts+cfg.DeleteRetentionMs {
		t.Fatalf("tombstone batch: attributes %#x base timestamp %d, want horizon %d", tomb.h.Attributes, tomb.h.BaseTimestamp, ts+cfg.DeleteRetentionMs)
	}
	if tomb.ts != ts || tomb.h.Compression() != record.CompressionLZ4 {
		t.Fatalf("tombstone timestamp %d codec %v, want %d lz4", tomb.ts, tomb.h.Compression(), ts)
	}
	for _, r := range recs {
		if r.key == "other" && r.ts != ts+1 {
			t.Fatalf("record timestamp changed: %d, want %d", r.ts, ts+1)
		}
	}
	// Before the horizon a round keeps it.
	e.clock.advance(59 * time.Second)
	e.l.Append(keyedBatch(t, record.CompressionNone, ts, kv{key: "x", value: "x"}), AppendOptions{})
	e.roll()
	if _, err := e.c.Clean(e.l); err != nil {
		t.Fatal(err)
	}
	if !hasKey(readRecords(t, e.l), "gone") {
		t.Fatal("tombstone removed before its horizon")
	}
	// After it, the next round drops it.
	e.clock.advance(2 * time.Second)
	e.l.Append(keyedBatch(t, record.CompressionNone, ts, kv{key: "y", value: "y"}), AppendOptions{})
	e.roll()
	if _, err := e.c.Clean(e.l); err != nil {
		t.Fatal(err)
	}
	recs = readRecords(t, e.l)
	if hasKey(recs, "gone") {
		t.Fatal("tombstone kept after its delete horizon")
	}
	for _, k := range []string{"stays", "other", "x", "y"} {
		if !hasKey(recs, k) {
			t.Fatalf("key %s lost", k)
		}
	}
}

func hasKey(recs []logRecord, key string) bool {
	for _, r := range recs {
		if r.key == key {
			return true
		}
	}
	return false
}

func TestCleanerMinCompactionLag(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCompactionLagMs = 10 * 60_000
	e := newCleanerEnv(t, nil, cfg)
	defer e.close()
	now := e.clock.now().UnixMilli()
	// Old records (20 minutes ago), then recent ones (now).
	appendKeys(t, e.l, record.CompressionNone, 0, 200, 5, 10, now-20*60_000)
	e.roll()
	oldEnd := e.l.LogEndOffset()
	appendKeys(t, e.l, record.CompressionNone, 200, 200, 5, 10, now)
	e.roll()
	res, err := e.c.Clean(e.l)
	if err != nil {
		t.Fatal(err)
	}
	if res.EndOffset > oldEnd {
		t.Fatalf("cleaned up to %d, past the records younger than min.compaction.lag.ms (from %d)", res.EndOffset, oldEnd)
	}
	recs := readRecords(t, e.l)
	n := 0
	for _, r := range recs {
		if r.offset >= oldEnd && r.key != "roll" {
			n++
		}
	}
	if n != 200 {
		t.Fatalf("%d recent records left, want all 200", n)
	}
	// Once they are old enough, they are cleaned.
	e.clock.advance(11 * time.Minute)
	if _, err := e.c.Clean(e.l); err != nil {
		t.Fatal(err)
	}
	if got := len(readRecords(t, e.l)); got > 20+2 {
		t.Fatalf("%d records left after the lag passed", got)
	}
}

func TestCleanerDirtyRatio(t *testing.T) {
	cfg := compactConfig()
	cfg.MinCleanableDirtyRatio = 0.5
	e := newCleanerEnv(t, nil, cfg)
	defer e.close()
	// Another log with delete policy is never cleaned.
	del, err := e.m.Create(TopicPartition{"plain", 0}, [16]byte{}, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	appendKeys(t, del, record.CompressionNone, 0, 50, 5, 5, 1)
	if _, err := e.c.Clean(del); err == nil {
		t.Fatal("Clean of a delete-policy log succeeded")
	}
	appendKeys(t, e.l, record.CompressionNone, 0, 400, 5, 10, 1)
	e.roll()
	res, cleaned, err := e.c.CleanOnce()
	if err != nil || !cleaned || res.Partition != cleanTP {
		t.Fatalf("first round: %+v cleaned=%v err=%v", res, cleaned, err)
	}
	// New dirt: the ratio is dirty bytes over all bytes before the active
	// segment, and the log is cleaned only when it exceeds the setting.
	appendKeys(t, e.l, record.CompressionNone, 400, 10, 5, 10, 1)
	e.roll()
	ct, err := e.c.examine(e.l, e.clock.now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	var clean, dirty int64
	segs := e.l.segments()
	for _, s := range segs[:len(segs)-1] {
		if s.base < res.EndOffset {
			clean += s.size.Load()
		} else {
			dirty += s.size.Load()
		}
	}
	want := float64(dirty) / float64(clean+dirty)
	if r := ct.ratio(); r != want || r <= 0 || r >= 1 {
		t.Fatalf("dirty ratio %v, want %v", r, want)
	}
	cfg.MinCleanableDirtyRatio = want
	e.l.SetConfig(cfg)
	if _, cleaned, err := e.c.CleanOnce(); err != nil || cleaned {
		t.Fatalf("cleaned=%v err=%v at min.cleanable.dirty.ratio = dirty ratio", cleaned, err)
	}
	// max.compaction.lag.ms forces it.
	cfg.MaxCompactionLagMs = 1000
	if err := e.l.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(time.Hour)
	if _, cleaned, err := e.c.CleanOnce(); err != nil || !cleaned {
		t.Fatalf("max.compaction.lag.ms passed: cleaned=%v err=%v", cleaned, err)
	}
}

func TestCleanerCheckpointResumes(t *testing.T) {
	mem := vfs.NewMem()
	e := newCleanerEnv(t, mem, compactConfig())
	latest, byOffset := appendKeys(t, e.l, record.CompressionNone, 0, 300, 5, 10, 1)
	e.roll()
	res, err := e.c.Clean(e.l)
	if err != nil {
		t.Fatal(err)
	}
	e.close()
	data, err := readFile(mem, "data/"+CleanerOffsetCheckpointFile)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := ParseOffsetCheckpoint(data)
	if err != nil || ck[cleanTP] != res.EndOffset {
		t.Fatalf("checkpoint %q: %v, %v; want %d", data, ck, err, res.EndOffset)
	}
	m := openTestManager(t, mem, "data")
	defer m.Close()
	c, err := m.NewCleaner(testCleanerConfig())
	if err != nil {
		t.Fatal(err)
	}
	l, _ := m.Get(cleanTP)
	if got := c.FirstDirtyOffset(l); got != res.EndOffset {
		t.Fatalf("first dirty offset after reopen %d, want %d", got, res.EndOffset)
	}
	checkLatest(t, readRecords(t, l), latest, byOffset)
}

func TestCleanerSmallOffsetMapTakesRounds(t *testing.T) {
	cfg := compactConfig()
	cfg.SegmentBytes = 64 << 10
	e := newCleanerEnv(t, nil, cfg)
	defer e.close()
	cc := testCleanerConfig()
	cc.DedupeBufferSize = 2 << 10 // 64 slots: 57 keys per round
	c, err := e.m.NewCleaner(cc)
	if err != nil {
		t.Fatal(err)
	}
	latest, byOffset := appendKeys(t, e.l, record.CompressionSnappy, 0, 2000, 10, 100, 1)
	e.roll()
	rounds := 0
	for ; rounds < 60; rounds++ {
		res, err := c.Clean(e.l)
		if err != nil {
			t.Fatal(err)
		}
		if res.EndOffset >= e.l.segments()[e.l.NumSegments()-1].base {
			break
		}
	}
	if rounds < 2 {
		t.Fatalf("a map of 64 slots cleaned 100 keys in %d rounds", rounds+1)
	}
	recs := readRecords(t, e.l)
	checkLatest(t, recs, latest, byOffset)
	if len(recs) > 100+1 {
		t.Fatalf("%d records left, want 100 keys + the roll record", len(recs))
	}
}

// producerBatch is a batch from an idempotent (or transactional) producer.
func producerBatch(t testing.TB, pid int64, seq int32, txn bool, recs ...kv) []byte {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence, spec.Transactional = pid, 3, seq, txn
	spec.BaseTimestamp = 1_700_000_000_000
	var rs []record.Record
	for _, r := range recs {
		rs = append(rs, record.Record{Key: []byte(r.key), Value: []byte(r.value)})
	}
	b, err := record.EncodeBatch(spec, rs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marker(t testing.TB, pid int64, typ record.ControlType) []byte {
	b, err := record.EncodeControlBatch(record.ControlSpec{ProducerID: pid, ProducerEpoch: 3, Type: typ, Timestamp: 1_700_000_000_000})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCleanerProducerStateAndTransactions(t *testing.T) {
	e := newCleanerEnv(t, nil, compactConfig())
	defer e.close()
	app := func(b []byte) AppendResult {
		res, err := e.l.Append(b, AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Producer 7's last batch (sequence 2) is superseded by later writes
	// of the same key; it must survive, empty.
	app(producerBatch(t, 7, 0, false, kv{key: "a", value: "1"}, kv{key: "b", value: "1"}))
	last7 := app(producerBatch(t, 7, 2, false, kv{key: "a", value: "2"}))
	// A committed and an aborted transaction of producer 8.
	app(producerBatch(t, 8, 0, true, kv{key: "c", value: "committed"}))
	app(marker(t, 8, record.ControlCommit))
	aborted := app(producerBatch(t, 8, 1, true, kv{key: "c", value: "aborted"}, kv{key: "d", value: "aborted"}))
	app(marker(t, 8, record.ControlAbort))
	// A plain write supersedes a and b.
	app(keyedBatch(t, record.CompressionNone, 1_700_000_000_000, kv{key: "a", value: "3"}, kv{key: "b", value: "3"}))
	e.roll()
	if _, err := e.c.Clean(e.l); err != nil {
		t.Fatal(err)
	}
	var headers []record.Header
	vals := map[string]string{}
	for _, r := range readRecords(t, e.l) {
		vals[r.key] = r.value
	}
	for _, h := range readAll(t, e.l, 0) {
		headers = append(headers, h)
	}
	found := false
	for _, h := range headers {
		if h.ProducerID == 7 && h.BaseOffset == last7.BaseOffset {
			found = true
			if h.NumRecords != 0 || h.BaseSequence != 2 || h.ProducerEpoch != 3 || h.LastOffset() != last7.LastOffset {
				t.Fatalf("producer 7's last batch: %v seq %d epoch %d", h, h.BaseSequence, h.ProducerEpoch)
			}
		}
		if h.ProducerID == 8 && h.BaseOffset == aborted.BaseOffset && h.NumRecords != 0 {
			t.Fatalf("aborted batch kept its records: %v", h)
		}
	}
	if !found {
		t.Fatal("producer 7's last batch was removed")
	}
	if vals["c"] != "committed" {
		t.Fatalf("key c = %q: the aborted write shadowed the committed one", vals["c"])
	}
	if _, ok := vals["d"]; ok {
		t.Fatal("a record of an aborted transaction survived")
	}
	if vals["a"] != "3" || vals["b"] != "3" {
		t.Fatalf("a=%q b=%q", vals["a"], vals["b"])
	}
	markers := 0
	for _, h := range headers {
		if h.IsControl() {
			markers++
		}
	}
	if markers != 2 {
		t.Fatalf("%d markers left, want 2", markers)
	}
}

func TestCleanerOpenTransactionBoundsCleaning(t *testing.T) {
	e := newCleanerEnv(t, nil, compactConfig())
	defer e.close()
	appendKeys(t, e.l, record.CompressionNone, 0, 100, 5, 5, 1)
	e.roll()
	open, err := e.l.Append(producerBatch(t, 9, 0, true, kv{key: "k000", value: "open"}), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.roll()
	appendKeys(t, e.l, record.CompressionNone, 100, 100, 5, 5, 1)
	e.roll()
	res, err := e.c.Clean(e.l)
	if err != nil {
		t.Fatal(err)
	}
	if res.EndOffset > open.BaseOffset {
		t.Fatalf("cleaned to %d, past the open transaction at %d", res.EndOffset, open.BaseOffset)
	}
}

func TestCleanerBackgroundStopsWithManager(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	l, err := m.Create(cleanTP, [16]byte{}, compactConfig())
	if err != nil {
		t.Fatal(err)
	}
	cc := testCleanerConfig()
	cc.Backoff = time.Millisecond
	c, err := m.StartCleaner(cc)
	if err != nil {
		t.Fatal(err)
	}
	latest, byOffset := appendKeys(t, l, record.CompressionNone, 0, 500, 5, 10, 1)
	big := keyedBatch(t, record.CompressionNone, 1, kv{key: "roll", value: string(make([]byte, 3900))})
	l.Append(big, AppendOptions{})
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Rounds == 0 {
		if time.Now().After(deadline) {
			t.Fatal("background cleaner never cleaned")
		}
		time.Sleep(time.Millisecond)
	}
	checkLatest(t, readRecords(t, l), latest, byOffset)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	c.Stop()
}

// TestCleanerConcurrentReaders reads the log over and over (holding
// ReadResults across swaps) while the cleaner rewrites it and appends
// continue. Every read returns whole, valid batches holding records that
// were written at those offsets.
func TestCleanerConcurrentReaders(t *testing.T) {
	cfg := compactConfig()
	e := newCleanerEnv(t, nil, cfg)
	defer e.close()
	latest, byOffset := appendKeys(t, e.l, record.CompressionNone, 0, 400, 4, 30, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			var held []ReadResult
			defer func() {
				for i := range held {
					held[i].Release()
				}
			}()
			for {
				select {
				case <-stop:
					return
				default:
				}
				lso, leo := e.l.LogStartOffset(), e.l.LogEndOffset()
				off := lso + rng.Int63n(leo-lso+1)
				rr, err := e.l.Read(off, ReadOptions{MaxBytes: 2048, MinOneBatch: true, MaxOffset: -1})
				if err != nil {
					errs <- fmt.Errorf("read %d: %w", off, err)
					return
				}
				held = append(held, rr)
				if len(held) > 4 {
					// Read the oldest held result now, after swaps may have happened.
					old := held[0]
					held = held[1:]
					b, err := old.AppendTo(nil)
					old.Release()
					if err != nil {
						errs <- err
						return
					}
					for len(b) > 0 {
						h, err := record.ValidateStored(b[:mustHeader(t, b).Size()])
						if err != nil {
							errs <- err
							return
						}
						err = record.DecodeRecords(h, b[:h.Size()], func(r *record.Record) error {
							// appendKeys writes k<o%30>=v<o> at offset o.
							o := r.Offset(h)
							if string(r.Key) != fmt.Sprintf("k%03d", o%30) || string(r.Value) != fmt.Sprintf("v%d", o) {
								return fmt.Errorf("offset %d holds %s=%s", o, r.Key, r.Value)
							}
							return nil
						})
						if err != nil {
							errs <- err
							return
						}
						b = b[h.Size():]
					}
				}
			}
		}(int64(r))
	}
	for round := 0; round < 8; round++ {
		l2, byOff := appendKeys(t, e.l, record.CompressionNone, 400+round*100, 100, 4, 30, 1)
		for k, v := range l2 {
			latest[k] = v
		}
		for k, v := range byOff {
			byOffset[k] = v
		}
		if _, err := e.c.Clean(e.l); err != nil && !errors.Is(err, errCleanerAborted) {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if e.c.Stats().Rounds == 0 {
		t.Fatal("no cleaning round completed")
	}
	checkLatest(t, readRecords(t, e.l), latest, byOffset)
}

// cleanCrashState builds a compacted log with many segments on a MemFS
// and closes it cleanly; it returns the FS and what was written.
func cleanCrashState(t *testing.T) (*vfs.MemFS, map[string]string, map[int64]kv) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data")
	cfg := compactConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	l, err := m.Create(cleanTP, [16]byte{9}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	latest, byOffset := appendKeys(t, l, record.CompressionNone, 0, 240, 4, 12, 1)
	for k, v := range map[string]string{"t1": "x"} {
		l.Append(keyedBatch(t, record.CompressionNone, 1, kv{key: k, value: v}), AppendOptions{})
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	return mem, latest, byOffset
}

// cleanWorkload opens the log on fsys and runs one cleaning round.
func cleanWorkload(fsys vfs.FS) error {
	m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40})
	if err != nil {
		return err
	}
	defer m.Close()
	l, ok := m.Get(cleanTP)
	if !ok {
		return errors.New("log missing")
	}
	cfg := compactConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	if err := l.SetConfig(cfg); err != nil {
		return err
	}
	c, err := m.NewCleaner(testCleanerConfig())
	if err != nil {
		return err
	}
	_, err = c.Clean(l)
	return err
}

// TestCleanerCrashAtEveryStep cuts the power after each mutating file
// operation of opening the log and cleaning it (writing .cleaned files,
// the renames to .swap, to .deleted and to final names, the checkpoint),
// then recovers and checks that for every key the latest value is
// readable and every record read is the one written at its offset.
func TestCleanerCrashAtEveryStep(t *testing.T) {
	base, latest, byOffset := cleanCrashState(t)
	before := len(byOffset)
	probe := vfs.NewFaulty(base.Crash())
	if err := cleanWorkload(probe); err != nil {
		t.Fatal(err)
	}
	steps := probe.Steps()
	t.Logf("open + clean: %d steps", steps)
	check := func(fsys vfs.FS, label string) int {
		m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40})
		if err != nil {
			t.Fatalf("%s: reopen: %v", label, err)
		}
		defer m.Close()
		l, ok := m.Get(cleanTP)
		if !ok {
			t.Fatalf("%s: log missing", label)
		}
		recs := readRecords(t, l)
		checkLatest(t, recs, latest, byOffset)
		names, _ := fsys.ReadDir("data/" + cleanTP.String())
		for _, n := range names {
			if base, suf, ok := parseSegmentFile(n.Name()); ok && suf != LogFileSuffix && suf != IndexFileSuffix && suf != TimeIndexFileSuffix {
				t.Fatalf("%s: leftover file %s (segment %d)", label, n.Name(), base)
			}
		}
		return len(recs)
	}
	if n := check(probe.Inner(), "clean run"); n >= before {
		t.Fatalf("clean run removed nothing: %d records", n)
	}
	swapped := 0
	start, stride := crashStride(testSeed(t))
	for n := start; n <= steps+1; n += stride {
		// Alternate torn and clean crashes: a torn write differs from a
		// clean cut only when the crashing step is a write.
		for _, torn := range []bool{n%2 == 1} {
			mem := base.Crash()
			ff := vfs.NewFaulty(mem)
			ff.CrashAfter(n)
			ff.TearCrashingWrite(torn)
			cleanWorkload(ff)
			crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: n})
			if check(crashed, fmt.Sprintf("crash after step %d (torn %v)", n, torn)) < before {
				swapped++
			}
		}
	}
	if swapped == 0 {
		t.Fatal("no crash point left a cleaned log: the workload never reached a swap")
	}
}

func TestCleanerConfigValidate(t *testing.T) {
	if err := DefaultCleanerConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultCleanerConfig()
	bad.DedupeBufferLoadFactor = 0
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("load factor 0: %v", err)
	}
	bad = DefaultCleanerConfig()
	bad.DedupeBufferSize = 10
	if err := bad.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("tiny buffer: %v", err)
	}
}

func TestOffsetMap(t *testing.T) {
	m := newOffsetMap(1<<10, 0.75)
	if m.maxSlots != 32 || m.capacity() != 24 {
		t.Fatalf("slots %d capacity %d", m.maxSlots, m.capacity())
	}
	for i := 0; i < 24; i++ {
		if !m.put([]byte(fmt.Sprint("key", i)), int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	if m.put([]byte("new"), 100) {
		t.Fatal("a full map took a new key")
	}
	if !m.put([]byte("key3"), 200) || m.get([]byte("key3")) != 200 || m.latest != 200 {
		t.Fatal("overwriting an existing key in a full map failed")
	}
	if m.get([]byte("absent")) != -1 || m.get([]byte("key5")) != 5 {
		t.Fatal("get")
	}
	m.clear()
	if m.get([]byte("key5")) != -1 || m.size != 0 || m.latest != -1 {
		t.Fatal("clear")
	}
	// A large map grows from a small table and keeps every key.
	big := newOffsetMap(64<<20, 0.9)
	for i := 0; i < 100000; i++ {
		if !big.put([]byte(fmt.Sprint("key", i)), int64(i)) {
			t.Fatalf("put %d refused", i)
		}
	}
	if len(big.slots) >= big.maxSlots || len(big.slots) < 100000 {
		t.Fatalf("%d slots for 100000 keys (bound %d)", len(big.slots), big.maxSlots)
	}
	for i := 0; i < 100000; i += 997 {
		if got := big.get([]byte(fmt.Sprint("key", i))); got != int64(i) {
			t.Fatalf("key%d -> %d", i, got)
		}
	}
}

// FuzzCleanerFilterBatch feeds arbitrary batches (with a correct CRC, as
// the cleaner checks CRCs before filtering) through the cleaner's record
// filter: it must never panic, and whatever it writes must be valid stored
// batches within the input's offset range, in order.
func FuzzCleanerFilterBatch(f *testing.F) {
	tb := &testing.T{}
	f.Add(keyedBatch(tb, record.CompressionNone, 5, kv{key: "a", value: "1"}, kv{key: "b", tombstone: true}), int64(0), true)
	f.Add(keyedBatch(tb, record.CompressionGzip, 5, kv{key: "a", value: "1"}, kv{key: "a", value: "2"}), int64(1), false)
	f.Add(producerBatch(tb, 4, 0, true, kv{key: "x", value: "y"}), int64(-1), true)
	f.Add(marker(tb, 4, record.ControlAbort), int64(0), false)
	f.Fuzz(func(t *testing.T, batch []byte, latest int64, horizonPassed bool) {
		if len(batch) < record.HeaderSize {
			return
		}
		binary.BigEndian.PutUint32(batch[record.BatchLengthOffset:], uint32(len(batch)-record.LogOverhead))
		batch[record.MagicOffset] = record.CurrentMagic
		binary.BigEndian.PutUint32(batch[record.CRCOffset:], record.ComputeCRC(batch))
		h, err := record.ParseHeader(batch)
		if err != nil {
			return
		}
		c := &Cleaner{omap: newOffsetMap(1<<10, 0.9)}
		c.omap.put([]byte("a"), h.BaseOffset+1)
		now := int64(1_700_000_000_000)
		if horizonPassed {
			now = 1 << 62
		}
		st := &txnState{producers: map[int64]producerLast{4: {lastDataOffset: h.LastOffset(), epoch: h.ProducerEpoch}}, aborted: map[int64][]offsetRange{4: {{0, 1 << 40}}}}
		fl := &cleanFilter{c: c, st: st, nowMs: now, deleteRetentionMs: 1000, expiryMs: 1 << 40, latest: h.BaseOffset + latest}
		var cs cleanStats
		out, err := fl.filterBatch(nil, h, batch, &cs)
		if err != nil {
			return
		}
		for len(out) > 0 {
			oh, err := record.ParseHeader(out)
			if err != nil || oh.Size() > int64(len(out)) {
				t.Fatalf("output: %v", err)
			}
			if _, err := record.ValidateStored(out[:oh.Size()]); err != nil {
				t.Fatalf("output batch invalid: %v", err)
			}
			if oh.BaseOffset != h.BaseOffset || oh.LastOffset() != h.LastOffset() {
				t.Fatalf("output offsets [%d, %d], input [%d, %d]", oh.BaseOffset, oh.LastOffset(), h.BaseOffset, h.LastOffset())
			}
			out = out[oh.Size():]
		}
	})
}
