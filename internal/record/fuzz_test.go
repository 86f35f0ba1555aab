package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
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
		checkValidate(t, b)
		// Most mutations break the length or the CRC: fix both up to reach
		// the header rules and the records.
		if len(b) >= HeaderSize {
			fixed := append([]byte(nil), b...)
			binary.BigEndian.PutUint32(fixed[BatchLengthOffset:], uint32(len(fixed)-LogOverhead))
			binary.BigEndian.PutUint32(fixed[CRCOffset:], ComputeCRC(fixed))
			checkValidate(t, fixed)
		}
	})
}

// checkValidate is FuzzValidate's check of one input: Validate and
// ValidateStored agree and report *Errors with Kafka codes; what
// ValidateStored accepts is a whole batch with a matching CRC that decodes
// to the header's record count, and re-encodes (checkReencode).
func checkValidate(t *testing.T, b []byte) {
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
	// What validates is one whole magic-2 batch whose CRC matches.
	if hs.Size() != int64(len(b)) || hs.Magic != CurrentMagic || ComputeCRC(b) != hs.CRC {
		t.Fatalf("validated %d bytes with header %v (CRC32C %#08x)", len(b), hs, ComputeCRC(b))
	}
	if err == nil && (hs.NumRecords < 1 || int64(hs.LastOffsetDelta) != int64(hs.NumRecords)-1) {
		t.Fatalf("Validate accepts %d records with last offset delta %d", hs.NumRecords, hs.LastOffsetDelta)
	}
	// A batch that validates decodes, with the header's record count
	// (decompression may still fail: Validate does not decompress).
	var recs []Record
	d := Decoder{MaxSize: 1 << 20}
	derr := d.Decode(hs, b, func(r *Record) error { recs = append(recs, copyRecord(r)); return nil })
	if hs.Compression() == CompressionNone && derr != nil {
		t.Fatalf("valid uncompressed batch does not decode: %v", derr)
	}
	if derr != nil {
		return
	}
	if int32(len(recs)) != hs.NumRecords {
		t.Fatalf("decoded %d records, header says %d", len(recs), hs.NumRecords)
	}
	checkReencode(t, hs, b, recs)
}

// copyRecord copies a record out of the Decoder's buffers.
func copyRecord(r *Record) Record {
	c := *r
	if r.Key != nil {
		c.Key = append([]byte{}, r.Key...)
	}
	if r.Value != nil {
		c.Value = append([]byte{}, r.Value...)
	}
	c.Headers = nil
	for _, h := range r.Headers {
		if h.Value != nil {
			h.Value = append([]byte{}, h.Value...)
		}
		c.Headers = append(c.Headers, h)
	}
	return c
}

// checkReencode encodes the records decoded from batch b (header h) again,
// uncompressed, with h's fields: the result validates, decodes to the same
// records, and for an uncompressed b it is b itself unless b spends more
// bytes than needed on a varint (the encoder writes the shortest form, so
// it is then shorter). The max timestamp and attribute bits the encoder
// does not set are taken from b for the comparison.
func checkReencode(t *testing.T, h Header, b []byte, recs []Record) {
	t.Helper()
	s := DefaultBatchSpec()
	s.BaseOffset, s.PartitionLeaderEpoch = h.BaseOffset, h.PartitionLeaderEpoch
	s.LogAppendTime, s.Transactional, s.Control = h.LogAppendTime(), h.IsTransactional(), h.IsControl()
	s.ProducerID, s.ProducerEpoch, s.BaseSequence = h.ProducerID, h.ProducerEpoch, h.BaseSequence
	s.BaseTimestamp, s.MaxTimestamp = h.BaseTimestamp, h.MaxTimestamp
	s.KeepOffsetDeltas, s.LastOffsetDelta = true, h.LastOffsetDelta
	again, err := EncodeBatch(s, recs)
	if err != nil {
		t.Fatalf("decoded records do not encode: %v", err)
	}
	h2, err := ValidateStored(again)
	if err != nil {
		t.Fatalf("re-encoded batch does not validate: %v", err)
	}
	if h2.BaseOffset != h.BaseOffset || h2.LastOffsetDelta != h.LastOffsetDelta || h2.NumRecords != h.NumRecords || h2.ProducerID != h.ProducerID {
		t.Fatalf("re-encoded header %v, was %v", h2, h)
	}
	var recs2 []Record
	if err := DecodeRecords(h2, again, func(r *Record) error { recs2 = append(recs2, copyRecord(r)); return nil }); err != nil {
		t.Fatalf("re-encoded batch does not decode: %v", err)
	}
	if !reflect.DeepEqual(recs, recs2) {
		t.Fatalf("round trip changed the records:\n%+v\n%+v", recs, recs2)
	}
	if h.Compression() != CompressionNone {
		return
	}
	if len(again) > len(b) {
		t.Fatalf("re-encoding grew the batch from %d to %d bytes", len(b), len(again))
	}
	if len(again) < len(b) {
		return // non-minimal varints in b
	}
	binary.BigEndian.PutUint16(again[AttributesOffset:], uint16(h.Attributes))
	binary.BigEndian.PutUint64(again[MaxTimestampOffset:], uint64(h.MaxTimestamp))
	binary.BigEndian.PutUint32(again[CRCOffset:], ComputeCRC(again))
	if !bytes.Equal(again, b) {
		t.Fatalf("decode/encode changed the batch:\n%x\n%x", b, again)
	}
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

// FuzzParseControlBatch decodes arbitrary control batches (the length and
// CRC fixed up, the control bit set): a transaction marker that parses
// encodes again with EncodeControlBatch, from its header and record, to a
// stored batch that validates and parses to the same marker.
func FuzzParseControlBatch(f *testing.F) {
	for _, typ := range []ControlType{ControlAbort, ControlCommit} {
		b, err := EncodeControlBatch(ControlSpec{BaseOffset: 7, ProducerID: 3, ProducerEpoch: 2, Type: typ, CoordinatorEpoch: 5, Timestamp: 1_700_000_000_000})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderSize {
			return
		}
		b = append([]byte(nil), b...)
		binary.BigEndian.PutUint32(b[BatchLengthOffset:], uint32(len(b)-LogOverhead))
		binary.BigEndian.PutUint16(b[AttributesOffset:], binary.BigEndian.Uint16(b[AttributesOffset:])|ControlBit)
		binary.BigEndian.PutUint32(b[CRCOffset:], ComputeCRC(b))
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseControlBatch(h, b)
		if err != nil {
			if KafkaError(err) == nil && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("error %v is neither a Kafka error nor ErrInvalidRecord", err)
			}
			return
		}
		if c.Version < 0 {
			t.Fatalf("parsed %+v", c)
		}
		if c.Type != ControlAbort && c.Type != ControlCommit {
			return
		}
		again, err := EncodeControlBatch(ControlSpec{BaseOffset: h.BaseOffset, PartitionLeaderEpoch: h.PartitionLeaderEpoch,
			ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch, Type: c.Type, CoordinatorEpoch: c.CoordinatorEpoch, Timestamp: h.BaseTimestamp})
		if err != nil {
			t.Fatal(err)
		}
		h2, err := ValidateStored(again)
		if err != nil && h.ProducerID >= 0 {
			t.Fatalf("re-encoded marker does not validate: %v", err)
		}
		if err != nil {
			return // a marker needs a producer id
		}
		c2, err := ParseControlBatch(h2, again)
		if err != nil || c2.Type != c.Type || c2.CoordinatorEpoch != c.CoordinatorEpoch {
			t.Fatalf("marker %+v re-encodes to %+v, %v", c, c2, err)
		}
	})
}
