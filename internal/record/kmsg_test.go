package record

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kmsgBatch builds a batch the way franz-go's producer does: kmsg records,
// compressed with kgo's compressor, in a kmsg.RecordBatch.
func kmsgBatch(t testing.TB, c Compression, recs []Record, firstTs int64) []byte {
	t.Helper()
	var raw []byte
	for i, r := range recs {
		kr := kmsg.Record{
			Attributes:       r.Attributes,
			TimestampDelta64: r.TimestampDelta,
			OffsetDelta:      int32(i),
			Key:              r.Key,
			Value:            r.Value,
		}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		body := kr.AppendTo(nil)[1:] // encoded with Length 0: drop it, add the real one
		kr.Length = int32(len(body))
		raw = kr.AppendTo(raw)
	}
	attrs := int16(0)
	if c != CompressionNone {
		comp, err := kgo.DefaultCompressor(kgoCodec(c))
		if err != nil {
			t.Fatal(err)
		}
		out, codec := comp.Compress(new(bytes.Buffer), raw)
		if codec != kgo.CompressionCodecType(c) {
			t.Skipf("franz-go did not compress with %v", c)
		}
		raw = append([]byte{}, out...)
		attrs = int16(c)
	}
	maxTs := firstTs
	for _, r := range recs {
		maxTs = max(maxTs, firstTs+r.TimestampDelta)
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       firstTs,
		MaxTimestamp:         maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	b := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
	binary.BigEndian.PutUint32(b[CRCOffset:], ComputeCRC(b))
	return b
}

func TestCrossCheckWithKmsg(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			recs := sampleRecords()
			ts := spec(c).BaseTimestamp
			theirs := kmsgBatch(t, c, recs, ts)
			h, err := Validate(theirs)
			if err != nil {
				t.Fatalf("franz-go batch does not validate: %v", err)
			}
			for i := range recs {
				recs[i].OffsetDelta = int32(i)
			}
			equalRecords(t, decodeAll(t, theirs), recs)

			ours := mustEncode(t, spec(c), recs)
			if c == CompressionNone && !bytes.Equal(ours, theirs) {
				t.Fatalf("uncompressed encodings differ:\nours   %x\ntheirs %x", ours[:80], theirs[:80])
			}
			// franz-go reads our batch the same way.
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(ours); err != nil {
				t.Fatal(err)
			}
			if rb.NumRecords != h.NumRecords || rb.LastOffsetDelta != h.LastOffsetDelta || rb.MaxTimestamp != h.MaxTimestamp || uint32(rb.CRC) != ComputeCRC(ours) {
				t.Fatalf("franz-go reads header %+v", rb)
			}
			raw, err := kgo.DefaultDecompressor().Decompress(rb.Records, kgo.CompressionCodecType(c))
			if err != nil {
				t.Fatal(err)
			}
			for i := range recs {
				var kr kmsg.Record
				n := readRecordLen(t, raw)
				if err := kr.ReadFrom(raw[:n]); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				raw = raw[n:]
				if !bytes.Equal(kr.Key, recs[i].Key) || !bytes.Equal(kr.Value, recs[i].Value) || kr.OffsetDelta != int32(i) || len(kr.Headers) != len(recs[i].Headers) {
					t.Fatalf("record %d: franz-go reads %+v", i, kr)
				}
			}
			if len(raw) != 0 {
				t.Fatalf("%d bytes left after the records", len(raw))
			}
		})
	}
}

// readRecordLen is the encoded size of the record at the start of b.
func readRecordLen(t testing.TB, b []byte) int {
	l, next, ok := readVarint(b, 0)
	if !ok {
		t.Fatal("bad record length")
	}
	return next + int(l)
}
