package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kerr"
)

// scanned is one record as the Scanner reports it.
type scanned struct{ off, ts int64 }

func scanAll(t testing.TB, s *Scanner, batch []byte) ([]scanned, error) {
	t.Helper()
	h, err := ParseHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Reset(h, batch); err != nil {
		if s.Next() || s.Err() != err {
			t.Fatalf("after a failed Reset: Next true or Err %v != %v", s.Err(), err)
		}
		return nil, err
	}
	var out []scanned
	for s.Next() {
		out = append(out, scanned{s.Offset(), s.Timestamp()})
	}
	return out, s.Err()
}

// decoded is what Decoder.Decode says the same records are.
func decoded(t testing.TB, batch []byte) []scanned {
	t.Helper()
	h, _ := ParseHeader(batch)
	var out []scanned
	err := DecodeRecords(h, batch, func(r *Record) error {
		out = append(out, scanned{r.Offset(h), r.Timestamp(h)})
		return nil
	})
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return out
}

// rawSnappy re-encodes a snappy batch's records as one raw snappy block,
// as librdkafka writes them, instead of the xerial framing.
func rawSnappy(t testing.TB, batch []byte) []byte {
	t.Helper()
	h, _ := ParseHeader(batch)
	recs, err := Decompress(CompressionSnappy, batch[HeaderSize:], nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append([]byte{}, batch[:HeaderSize]...), snappy.Encode(nil, recs)...)
	binary.BigEndian.PutUint32(out[BatchLengthOffset:], uint32(len(out)-LogOverhead))
	binary.BigEndian.PutUint32(out[CRCOffset:], ComputeCRC(out))
	if _, err := Validate(out); err != nil || h.Compression() != CompressionSnappy {
		t.Fatalf("raw snappy batch: %v", err)
	}
	return out
}

func TestScannerMatchesDecoder(t *testing.T) {
	type tc struct {
		name  string
		batch []byte
	}
	var cases []tc
	for _, c := range codecs {
		s := spec(c)
		s.BaseOffset = 1000
		cases = append(cases, tc{c.String(), mustEncode(t, s, sampleRecords())})
		lat := s
		lat.LogAppendTime, lat.MaxTimestamp = true, 1_800_000_000_000
		cases = append(cases, tc{c.String() + " LogAppendTime", mustEncode(t, lat, sampleRecords())})
		gaps := s
		gaps.KeepOffsetDeltas, gaps.LastOffsetDelta = true, 40
		cases = append(cases, tc{c.String() + " compacted", mustEncode(t, gaps, []Record{
			{OffsetDelta: 3, TimestampDelta: 7, Value: []byte("a")},
			{OffsetDelta: 17, TimestampDelta: 2, Key: []byte("k")},
			{OffsetDelta: 30, TimestampDelta: 90},
		})})
		cases = append(cases, tc{c.String() + " from kmsg", kmsgBatch(t, c, sampleRecords()[:4], 5000)})
	}
	cases = append(cases, tc{"raw snappy", rawSnappy(t, mustEncode(t, spec(CompressionSnappy), sampleRecords()))})
	empty := spec(CompressionNone)
	empty.KeepOffsetDeltas, empty.LastOffsetDelta = true, 4
	cases = append(cases, tc{"no records left", mustEncode(t, empty, nil)})
	ctl, err := EncodeControlBatch(ControlSpec{ProducerID: 3, Type: ControlCommit, CoordinatorEpoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, tc{"control", ctl})

	var s Scanner // one Scanner for every case: Reset must start afresh
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := scanAll(t, &s, c.batch)
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			want := decoded(t, c.batch)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("scanned %v\nwant    %v", got, want)
			}
			h, _ := ParseHeader(c.batch)
			for _, r := range got {
				if h.LogAppendTime() && r.ts != h.MaxTimestamp {
					t.Fatalf("LogAppendTime record at %d has timestamp %d, want the batch's %d", r.off, r.ts, h.MaxTimestamp)
				}
			}
			if s.Next() {
				t.Fatal("Next true after the end")
			}
		})
	}
}

func TestScannerStopsEarlyAndCloses(t *testing.T) {
	for _, c := range codecs {
		batch := mustEncode(t, spec(c), sampleRecords())
		h, _ := ParseHeader(batch)
		var s Scanner
		if err := s.Reset(h, batch); err != nil {
			t.Fatal(err)
		}
		if !s.Next() || s.Offset() != 0 || !s.Next() || s.Offset() != 1 || s.Timestamp() != h.BaseTimestamp+5 {
			t.Fatalf("%v: first records wrong: offset %d timestamp %d", c, s.Offset(), s.Timestamp())
		}
		s.Close()
		if s.Next() || s.Err() != nil {
			t.Fatalf("%v: Next after Close: err %v", c, s.Err())
		}
		// Usable again after Close.
		if got, err := scanAll(t, &s, batch); err != nil || len(got) != len(sampleRecords()) {
			t.Fatalf("%v: after Close: %d records, %v", c, len(got), err)
		}
	}
}

func TestScannerRejects(t *testing.T) {
	valid := mustEncode(t, spec(CompressionNone), sampleRecords()[:3])
	h, _ := ParseHeader(valid)
	withRecords := func(codec Compression, recs []byte, fix func(b []byte)) []byte {
		t.Helper()
		b := append([]byte{}, valid[:HeaderSize]...)
		binary.BigEndian.PutUint16(b[AttributesOffset:], uint16(codec))
		b, err := Compress(codec, recs, b)
		if err != nil {
			t.Fatal(err)
		}
		if fix != nil {
			fix(b)
		}
		binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
		return b
	}
	recs := valid[HeaderSize:]
	for _, c := range codecs {
		for _, tc := range []struct {
			name  string
			batch []byte
			want  error
		}{
			{"truncated", withRecords(c, recs[:len(recs)-2], nil), ErrInvalidRecord},
			{"trailing bytes", withRecords(c, append(append([]byte{}, recs...), 0), nil), ErrInvalidRecord},
			{"too many records claimed", withRecords(c, recs, func(b []byte) {
				binary.BigEndian.PutUint32(b[RecordCountOffset:], uint32(h.NumRecords+1))
				binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], uint32(h.LastOffsetDelta+1))
			}), ErrInvalidRecord},
			{"offset delta past the last", withRecords(c, recs, func(b []byte) {
				binary.BigEndian.PutUint32(b[LastOffsetDeltaOffset:], 1)
			}), ErrInvalidRecord},
		} {
			got, err := scanAll(t, &Scanner{}, tc.batch)
			if !errors.Is(err, tc.want) || KafkaError(err) != kerr.InvalidRecord {
				t.Errorf("%v %s: %d records, err %v (Kafka %v); want %v (Kafka %v)", c, tc.name, len(got), err, KafkaError(err), tc.want, kerr.InvalidRecord)
			}
		}
	}
	for _, c := range codecs[1:] {
		b := append([]byte{}, valid[:HeaderSize]...)
		binary.BigEndian.PutUint16(b[AttributesOffset:], uint16(c))
		b = append(b, "this is not compressed data at all, not in any codec"...)
		binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
		if _, err := scanAll(t, &Scanner{}, b); !errors.Is(err, ErrCorrupt) || KafkaError(err) != kerr.CorruptMessage {
			t.Errorf("%v garbage: %v (Kafka %v); want %v (Kafka %v)", c, err, KafkaError(err), ErrCorrupt, kerr.CorruptMessage)
		}
	}
	short := append([]byte{}, valid...)
	binary.BigEndian.PutUint32(short[BatchLengthOffset:], uint32(len(short)))
	if _, err := scanAll(t, &Scanner{}, short); !errors.Is(err, ErrCorrupt) || KafkaError(err) != kerr.CorruptMessage {
		t.Errorf("length mismatch: %v", err)
	}
}

func TestScannerLimit(t *testing.T) {
	// One record whose value decompresses to 1 MiB, and a batch of
	// many small ones that add up to more than the limit.
	big := []Record{{Value: make([]byte, 1<<20)}}
	var many []Record
	for i := 0; i < 100; i++ {
		many = append(many, Record{Value: make([]byte, 1<<10)})
	}
	for _, c := range codecs {
		for _, recs := range [][]Record{big, many} {
			batch := mustEncode(t, spec(c), recs)
			s := Scanner{MaxSize: 64 << 10}
			if _, err := scanAll(t, &s, batch); !errors.Is(err, ErrTooLarge) {
				t.Errorf("%v, %d records: got %v, want ErrTooLarge", c, len(recs), err)
			}
			s.MaxSize = 2 << 20
			if got, err := scanAll(t, &s, batch); err != nil || len(got) != len(recs) {
				t.Errorf("%v under the limit: %d records, %v", c, len(got), err)
			}
		}
	}
}

// A scan's allocations must not grow with the number of records or their
// size: the records are streamed, not copied out.
func TestScannerAllocations(t *testing.T) {
	batches := func(c Compression, n int) []byte {
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = Record{Key: []byte(fmt.Sprint(i)), Value: bytes.Repeat([]byte{byte(i)}, 300), TimestampDelta: int64(i),
				Headers: []RecordHeader{{Key: "h", Value: []byte("v")}}}
		}
		return mustEncode(t, spec(c), recs)
	}
	for _, c := range codecs {
		var s Scanner
		allocs := func(batch []byte) float64 {
			h, _ := ParseHeader(batch)
			return testing.AllocsPerRun(20, func() {
				if err := s.Reset(h, batch); err != nil {
					t.Fatal(err)
				}
				for s.Next() {
				}
				if s.Err() != nil {
					t.Fatal(s.Err())
				}
			})
		}
		if c != CompressionNone && raceEnabled {
			continue
		}
		// Once the pools hold a decompressor, a scan allocates nothing.
		if few, lots := allocs(batches(c, 2)), allocs(batches(c, 2000)); few != 0 || lots != 0 {
			t.Errorf("%v: %v allocations for 2 records, %v for 2000", c, few, lots)
		}
	}
}

// FuzzScanner checks the Scanner against the Decoder: whatever the Decoder
// accepts, the Scanner reads the same way. (The Scanner skips keys, values
// and headers without parsing them, so it may accept what the Decoder
// rejects.)
func FuzzScanner(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderSize {
			return
		}
		binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
		h, _ := ParseHeader(b)
		d := Decoder{MaxSize: 1 << 20}
		var want []scanned
		derr := d.Decode(h, b, func(r *Record) error {
			want = append(want, scanned{r.Offset(h), r.Timestamp(h)})
			return nil
		})
		s := Scanner{MaxSize: 1 << 20}
		got, err := scanAll(t, &s, b)
		if err != nil && KafkaError(err) == nil {
			t.Fatalf("error %v maps to no Kafka error", err)
		}
		if derr != nil {
			return
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("decoder read %v; scanner %v, %v", want, got, err)
		}
	})
}
