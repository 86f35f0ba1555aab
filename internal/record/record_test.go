package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

var codecs = []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd}

// sampleRecords covers null and empty keys and values, headers with null
// values, negative timestamp deltas and a large value.
func sampleRecords() []Record {
	return []Record{
		{Key: []byte("k0"), Value: []byte("v0")},
		{Key: nil, Value: []byte("null key"), TimestampDelta: 5},
		{Key: []byte{}, Value: nil, TimestampDelta: -3},
		{Key: []byte("h"), Value: []byte("with headers"), TimestampDelta: 70000, Headers: []RecordHeader{
			{Key: "a", Value: []byte("1")}, {Key: "null", Value: nil}, {Key: "", Value: []byte{}},
		}},
		{Key: []byte("big"), Value: bytes.Repeat([]byte("0123456789abcdef"), 4096), TimestampDelta: 1 << 40},
	}
}

func spec(codec Compression) BatchSpec {
	s := DefaultBatchSpec()
	s.Compression = codec
	s.BaseTimestamp = 1_700_000_000_000
	return s
}

func mustEncode(t testing.TB, s BatchSpec, recs []Record) []byte {
	t.Helper()
	b, err := EncodeBatch(s, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAll copies a batch's records out of the decoder.
func decodeAll(t testing.TB, batch []byte) []Record {
	t.Helper()
	h, err := ParseHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	err = DecodeRecords(h, batch, func(r *Record) error {
		c := *r
		c.Key = clone(r.Key)
		c.Value = clone(r.Value)
		c.Headers = nil
		for _, hd := range r.Headers {
			c.Headers = append(c.Headers, RecordHeader{Key: hd.Key, Value: clone(hd.Value)})
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

func equalRecords(t testing.TB, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Attributes != w.Attributes || g.TimestampDelta != w.TimestampDelta || g.OffsetDelta != w.OffsetDelta {
			t.Fatalf("record %d: got attrs/ts/off %d/%d/%d, want %d/%d/%d", i, g.Attributes, g.TimestampDelta, g.OffsetDelta, w.Attributes, w.TimestampDelta, w.OffsetDelta)
		}
		if !bytesNullEqual(g.Key, w.Key) || !bytesNullEqual(g.Value, w.Value) {
			t.Fatalf("record %d: key/value differ: got %q/%.20q want %q/%.20q", i, g.Key, g.Value, w.Key, w.Value)
		}
		if len(g.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !bytesNullEqual(g.Headers[j].Value, w.Headers[j].Value) {
				t.Fatalf("record %d header %d: got %+v want %+v", i, j, g.Headers[j], w.Headers[j])
			}
		}
	}
}

func bytesNullEqual(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestRoundTripAllCodecs(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			want := sampleRecords()
			batch := mustEncode(t, spec(c), want)
			h, err := Validate(batch)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if h.Compression() != c || h.NumRecords != int32(len(want)) || h.LastOffsetDelta != int32(len(want)-1) {
				t.Fatalf("header %v: codec %v", h, h.Compression())
			}
			if wantMax := spec(c).BaseTimestamp + 1<<40; h.MaxTimestamp != wantMax {
				t.Fatalf("max timestamp %d, want %d", h.MaxTimestamp, wantMax)
			}
			for i := range want {
				want[i].OffsetDelta = int32(i)
			}
			got := decodeAll(t, batch)
			equalRecords(t, got, want)
			if ts := got[1].Timestamp(h); ts != h.BaseTimestamp+5 {
				t.Fatalf("record timestamp %d", ts)
			}
		})
	}
}

func TestSetBaseOffsetKeepsBatchValid(t *testing.T) {
	batch := mustEncode(t, spec(CompressionNone), sampleRecords())
	SetBaseOffset(batch, 1234)
	SetPartitionLeaderEpoch(batch, 7)
	h, err := Validate(batch)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 1234 || h.LastOffset() != 1234+4 || h.PartitionLeaderEpoch != 7 {
		t.Fatalf("header %v", h)
	}
	SetLogAppendTime(batch, 42)
	h, err = Validate(batch)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, batch)
	if !h.LogAppendTime() || got[0].Timestamp(h) != 42 || got[0].Offset(h) != 1234 {
		t.Fatalf("header %v: ts %d", h, got[0].Timestamp(h))
	}
}

// patch rewrites one field of a valid batch and, if fixCRC, recomputes the
// CRC so the check under test is the one that fails.
func patch(batch []byte, fixCRC bool, fn func(b []byte)) []byte {
	b := append([]byte{}, batch...)
	fn(b)
	if fixCRC {
		binary.BigEndian.PutUint32(b[CRCOffset:], ComputeCRC(b))
	}
	return b
}

func TestValidateRejects(t *testing.T) {
	be := binary.BigEndian
	good := mustEncode(t, spec(CompressionNone), sampleRecords())
	oneRec := mustEncode(t, spec(CompressionNone), []Record{{Key: []byte("k"), Value: []byte("v")}})
	legacy := make([]byte, 12+14) // a magic-1 message: offset, size, crc, magic 1, ...
	be.PutUint32(legacy[8:], 14)
	legacy[16] = 1

	cases := []struct {
		name     string
		batch    []byte
		sentinel error
		code     *kerr.Error
		at       int // expected byte offset, -1 to skip
	}{
		{"empty", nil, ErrCorrupt, kerr.CorruptMessage, 0},
		{"magic 1", legacy, ErrUnsupportedMagic, kerr.InvalidRecord, MagicOffset},
		{"magic 0", patch(good, true, func(b []byte) { b[MagicOffset] = 0 }), ErrUnsupportedMagic, kerr.InvalidRecord, MagicOffset},
		{"magic 3", patch(good, true, func(b []byte) { b[MagicOffset] = 3 }), ErrCorrupt, kerr.CorruptMessage, MagicOffset},
		{"short header", good[:40], ErrCorrupt, kerr.CorruptMessage, 0},
		{"truncated", good[:len(good)-1], ErrCorrupt, kerr.CorruptMessage, BatchLengthOffset},
		{"extra byte", append(append([]byte{}, good...), 0), ErrCorrupt, kerr.CorruptMessage, BatchLengthOffset},
		{"length below header", patch(good, false, func(b []byte) { be.PutUint32(b[BatchLengthOffset:], 10) }), ErrCorrupt, kerr.CorruptMessage, BatchLengthOffset},
		{"crc", patch(good, false, func(b []byte) { b[len(b)-1] ^= 1 }), ErrCorrupt, kerr.CorruptMessage, CRCOffset},
		{"codec 5", patch(good, true, func(b []byte) { b[AttributesOffset+1] |= 5 }), ErrUnsupportedCompression, kerr.UnsupportedCompressionType, AttributesOffset},
		{"zero records", patch(good, true, func(b []byte) { be.PutUint32(b[RecordCountOffset:], 0) }), ErrInvalidRecord, kerr.InvalidRecord, RecordCountOffset},
		{"count vs last delta", patch(good, true, func(b []byte) { be.PutUint32(b[RecordCountOffset:], 4) }), ErrInvalidRecord, kerr.InvalidRecord, LastOffsetDeltaOffset},
		{"count vs records", patch(good, true, func(b []byte) {
			be.PutUint32(b[RecordCountOffset:], 4)
			be.PutUint32(b[LastOffsetDeltaOffset:], 3)
		}), ErrInvalidRecord, kerr.InvalidRecord, -1},
		{"negative count", patch(good, true, func(b []byte) { be.PutUint32(b[RecordCountOffset:], 0xffffffff) }), ErrInvalidRecord, kerr.InvalidRecord, RecordCountOffset},
		{"huge count", patch(oneRec, true, func(b []byte) {
			be.PutUint32(b[RecordCountOffset:], 1<<30)
			be.PutUint32(b[LastOffsetDeltaOffset:], 1<<30-1)
		}), ErrInvalidRecord, kerr.InvalidRecord, RecordCountOffset},
		{"transactional without producer", patch(good, true, func(b []byte) { b[AttributesOffset+1] |= TransactionalBit }), ErrInvalidRecord, kerr.InvalidRecord, ProducerIDOffset},
		{"producer without sequence", patch(good, true, func(b []byte) { be.PutUint64(b[ProducerIDOffset:], 9) }), ErrInvalidRecord, kerr.InvalidRecord, BaseSequenceOffset},
		{"base timestamp", patch(good, true, func(b []byte) { be.PutUint64(b[BaseTimestampOffset:], uint64(1<<63)) }), ErrInvalidTimestamp, kerr.InvalidTimestamp, BaseTimestampOffset},
		{"max timestamp", patch(good, true, func(b []byte) { be.PutUint64(b[MaxTimestampOffset:], ^uint64(1)) }), ErrInvalidTimestamp, kerr.InvalidTimestamp, MaxTimestampOffset},
		// The first record starts at HeaderSize: its length varint, then
		// attributes, timestamp delta (1 byte: 0), offset delta.
		{"record length too big", patch(oneRec, true, func(b []byte) { b[HeaderSize] = 0x7e }), ErrInvalidRecord, kerr.InvalidRecord, HeaderSize},
		{"record length too small", patch(oneRec, true, func(b []byte) { b[HeaderSize] -= 2 }), ErrInvalidRecord, kerr.InvalidRecord, -1},
		{"offset delta", patch(oneRec, true, func(b []byte) { b[HeaderSize+3] = 2 }), ErrInvalidRecord, kerr.InvalidRecord, HeaderSize},
		{"varint too long", patch(oneRec, true, func(b []byte) { copy(b[HeaderSize+3:], []byte{0x80, 0x80, 0x80, 0x80, 0x80}) }), ErrInvalidRecord, kerr.InvalidRecord, HeaderSize + 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.batch)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("got %v, want %v", err, tc.sentinel)
			}
			if code := KafkaError(err); code != tc.code {
				t.Fatalf("Kafka error %v, want %v", code, tc.code)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%v is not an *Error", err)
			}
			if tc.at >= 0 && e.Offset != tc.at {
				t.Fatalf("error at byte %d, want %d: %v", e.Offset, tc.at, err)
			}
		})
	}
	if KafkaError(nil) != nil {
		t.Fatal("KafkaError(nil) != nil")
	}
}

func TestMagicErrorSaysOldFormat(t *testing.T) {
	batch := patch(mustEncode(t, spec(CompressionNone), sampleRecords()), true, func(b []byte) { b[MagicOffset] = 1 })
	_, err := Validate(batch)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("old message formats")) {
		t.Fatalf("error %q does not explain the old format", err)
	}
}

func TestValidateStoredAcceptsCompactedShapes(t *testing.T) {
	s := spec(CompressionNone)
	s.KeepOffsetDeltas = true
	s.LastOffsetDelta = 9
	recs := []Record{{OffsetDelta: 1, Key: []byte("a")}, {OffsetDelta: 4, Key: []byte("b")}, {OffsetDelta: 7, Key: []byte("c")}}
	for _, c := range codecs {
		s.Compression = c
		batch := mustEncode(t, s, recs)
		if _, err := Validate(batch); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("%v: Validate accepted a compacted batch: %v", c, err)
		}
		h, err := ValidateStored(batch)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if h.LastOffsetDelta != 9 || h.NumRecords != 3 {
			t.Fatalf("header %v", h)
		}
		equalRecords(t, decodeAll(t, batch), recs)
	}
	// An empty batch, as compaction leaves to keep a producer's state.
	s.Compression = CompressionNone
	s.ProducerID, s.ProducerEpoch, s.BaseSequence = 5, 0, 10
	empty := mustEncode(t, s, nil)
	if _, err := ValidateStored(empty); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := Validate(empty); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("Validate accepted an empty batch: %v", err)
	}
	// Decreasing deltas are rejected even when stored.
	b := NewBuilder(s)
	if err := b.Append(Record{OffsetDelta: 3}); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(Record{OffsetDelta: 3}); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("builder accepted a repeated offset delta: %v", err)
	}
}

func TestControlBatch(t *testing.T) {
	for _, typ := range []ControlType{ControlAbort, ControlCommit} {
		batch, err := EncodeControlBatch(ControlSpec{BaseOffset: 100, PartitionLeaderEpoch: 3, ProducerID: 77, ProducerEpoch: 2, Type: typ, CoordinatorEpoch: 9, Timestamp: 1234})
		if err != nil {
			t.Fatal(err)
		}
		h, err := Validate(batch)
		if err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.ProducerID != 77 || h.ProducerEpoch != 2 || h.NumRecords != 1 || h.BaseSequence != NoSequence {
			t.Fatalf("header %v", h)
		}
		c, err := ParseControlBatch(h, batch)
		if err != nil {
			t.Fatal(err)
		}
		if c.Type != typ || c.CoordinatorEpoch != 9 || c.Version != 0 {
			t.Fatalf("control record %+v", c)
		}
		// Kafka's exact bytes: key 00 00 00 0t, value 00 00 00 00 00 09.
		recs := decodeAll(t, batch)
		if !bytes.Equal(recs[0].Key, []byte{0, 0, 0, byte(typ)}) || !bytes.Equal(recs[0].Value, []byte{0, 0, 0, 0, 0, 9}) {
			t.Fatalf("control key %x value %x", recs[0].Key, recs[0].Value)
		}
	}
	if _, err := EncodeControlBatch(ControlSpec{Type: 2, ProducerID: 1}); err == nil {
		t.Fatal("encoded a control batch of type 2")
	}
	plain := mustEncode(t, spec(CompressionNone), sampleRecords())
	h, _ := ParseHeader(plain)
	if _, err := ParseControlBatch(h, plain); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("parsed a data batch as control: %v", err)
	}
	if _, err := ParseControlRecord([]byte{0, 0}, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("short control key: %v", err)
	}
	if c, err := ParseControlRecord([]byte{0, 0, 0, 3}, nil); err != nil || c.Type != 3 {
		t.Fatalf("other control type: %+v %v", c, err)
	}
}

func TestSplitBatches(t *testing.T) {
	var set []byte
	var sizes []int
	for i, c := range codecs {
		s := spec(c)
		s.BaseOffset = int64(i * 10)
		b := mustEncode(t, s, sampleRecords()[:i+1])
		sizes = append(sizes, len(b))
		set = append(set, b...)
	}
	var got []int
	err := SplitBatches(set, func(batch []byte, h Header) error {
		if _, err := Validate(batch); err != nil {
			return err
		}
		if h.BaseOffset != int64(len(got)*10) {
			return fmt.Errorf("batch %d base offset %d", len(got), h.BaseOffset)
		}
		got = append(got, len(batch))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(sizes) {
		t.Fatalf("sizes %v, want %v", got, sizes)
	}
	if err := SplitBatches(nil, func([]byte, Header) error { return errors.New("called") }); err != nil {
		t.Fatalf("empty set: %v", err)
	}
	last := len(set) - sizes[len(sizes)-1]
	for _, cut := range []int{1, 5, 20, sizes[len(sizes)-1] - 1} {
		n := 0
		err := SplitBatches(set[:last+cut], func([]byte, Header) error { n++; return nil })
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrCorrupt) || e.Offset < last {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if n != len(sizes)-1 {
			t.Fatalf("cut %d: %d whole batches, want %d", cut, n, len(sizes)-1)
		}
	}
	stop := errors.New("stop")
	if err := SplitBatches(set, func([]byte, Header) error { return stop }); err != stop {
		t.Fatalf("fn error not returned: %v", err)
	}
	legacy := patch(set[:sizes[0]], false, func(b []byte) { b[MagicOffset] = 1 })
	if err := SplitBatches(append(append([]byte{}, set[:sizes[0]]...), legacy...), func([]byte, Header) error { return nil }); !errors.Is(err, ErrUnsupportedMagic) {
		t.Fatalf("legacy batch: %v", err)
	}
	it := Batches(set)
	for i := 0; it.Next(); i++ {
		if it.Offset() != sum(sizes[:i]) {
			t.Fatalf("batch %d at %d", i, it.Offset())
		}
	}
	if it.Err() != nil || it.Next() {
		t.Fatal("iterator did not stop cleanly")
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestValidateDoesNotAllocate(t *testing.T) {
	batch := mustEncode(t, spec(CompressionNone), sampleRecords())
	set := append(append([]byte{}, batch...), batch...)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Validate(batch); err != nil {
			t.Fatal(err)
		}
		it := Batches(set)
		for it.Next() {
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func TestDecoderLimit(t *testing.T) {
	recs := []Record{{Value: make([]byte, 1<<20)}}
	batch := mustEncode(t, spec(CompressionZstd), recs)
	h, _ := ParseHeader(batch)
	d := Decoder{MaxSize: 64 << 10}
	err := d.Decode(h, batch, func(*Record) error { return nil })
	if !errors.Is(err, ErrTooLarge) || KafkaError(err) != kerr.MessageTooLarge {
		t.Fatalf("got %v", err)
	}
	d.MaxSize = 2 << 20
	n := 0
	if err := d.Decode(h, batch, func(*Record) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

// The record example in docs/format/record-batch.md.
func TestDocumentedRecordBytes(t *testing.T) {
	batch := mustEncode(t, spec(CompressionNone), []Record{{Key: []byte("k"), Value: []byte("v")}})
	want := []byte{0x10, 0x00, 0x00, 0x00, 0x02, 'k', 0x02, 'v', 0x00}
	if !bytes.Equal(batch[HeaderSize:], want) {
		t.Fatalf("record bytes %x, want %x", batch[HeaderSize:], want)
	}
}
