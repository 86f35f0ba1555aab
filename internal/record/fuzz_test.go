package record

import (
	"encoding/binary"
	"errors"
	"testing"
)

// seedBatches are valid batches of every shape the package knows, for the
// fuzz corpora.
func seedBatches(t testing.TB) [][]byte {
	var seeds [][]byte
	small := sampleRecords()[:4]
	for _, c := range codecs {
		seeds = append(seeds, mustEncode(t, spec(c), small))
		seeds = append(seeds, kmsgBatch(t, c, small, 1000))
	}
	s := spec(CompressionLZ4)
	s.KeepOffsetDeltas, s.LastOffsetDelta = true, 20
	seeds = append(seeds, mustEncode(t, s, []Record{{OffsetDelta: 2, Key: []byte("k")}, {OffsetDelta: 9}}))
	ctl, err := EncodeControlBatch(ControlSpec{ProducerID: 3, Type: ControlCommit, CoordinatorEpoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds, ctl)
}

func FuzzValidate(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Validate(b)
		hs, errStored := ValidateStored(b)
		if err == nil && errStored != nil {
			t.Fatalf("Validate accepts what ValidateStored rejects: %v", errStored)
		}
		for _, e := range []error{err, errStored} {
			if e != nil && KafkaError(e) == nil {
				t.Fatalf("error %v maps to no Kafka error", e)
			}
			var re *Error
			if e != nil && !errors.As(e, &re) {
				t.Fatalf("error %v is not an *Error", e)
			}
		}
		if errStored != nil {
			return
		}
		if h != hs && err == nil {
			t.Fatalf("headers differ: %v %v", h, hs)
		}
		// A batch that validates decodes, with the header's record count
		// (decompression may still fail: Validate does not decompress).
		n := int32(0)
		d := Decoder{MaxSize: 1 << 20}
		derr := d.Decode(hs, b, func(r *Record) error { n++; return nil })
		if hs.Compression() == CompressionNone && derr != nil {
			t.Fatalf("valid uncompressed batch does not decode: %v", derr)
		}
		if derr == nil && n != hs.NumRecords {
			t.Fatalf("decoded %d records, header says %d", n, hs.NumRecords)
		}
	})
}

func FuzzSplitBatches(f *testing.F) {
	seeds := seedBatches(f)
	f.Add([]byte{})
	for i, b := range seeds {
		f.Add(b)
		next := seeds[(i+1)%len(seeds)]
		f.Add(append(append([]byte{}, b...), next...))
		f.Add(append(append([]byte{}, b...), next[:20]...))
	}
	f.Fuzz(func(t *testing.T, set []byte) {
		total := 0
		err := SplitBatches(set, func(batch []byte, h Header) error {
			if h.Size() != int64(len(batch)) || h.Magic != CurrentMagic {
				t.Fatalf("batch of %d bytes with header %v", len(batch), h)
			}
			if &batch[0] != &set[total] {
				t.Fatal("batch is not a slice of the set at the running offset")
			}
			total += len(batch)
			return nil
		})
		if err == nil && total != len(set) {
			t.Fatalf("clean end after %d of %d bytes", total, len(set))
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Offset < total) {
			t.Fatalf("error %v before the last whole batch at %d", err, total)
		}
	})
}

// FuzzDecodeRecords decodes arbitrary batches without a CRC check, so the
// fuzzer reaches the record parser and every decompressor. The length field
// is fixed up to match the input so mutations are not all wasted on it.
func FuzzDecodeRecords(f *testing.F) {
	for _, b := range seedBatches(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderSize {
			return
		}
		binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		d := Decoder{MaxSize: 1 << 20}
		n := int32(0)
		prev := int32(-1)
		err = d.Decode(h, b, func(r *Record) error {
			if r.OffsetDelta <= prev || r.OffsetDelta > h.LastOffsetDelta {
				t.Fatalf("offset delta %d after %d (last %d)", r.OffsetDelta, prev, h.LastOffsetDelta)
			}
			prev = r.OffsetDelta
			n++
			return nil
		})
		if err != nil {
			if KafkaError(err) == nil {
				t.Fatalf("error %v maps to no Kafka error", err)
			}
			return
		}
		if n != h.NumRecords {
			t.Fatalf("decoded %d records, header says %d", n, h.NumRecords)
		}
	})
}
