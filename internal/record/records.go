package record

import (
	"encoding/binary"
	"fmt"
)

// RecordHeader is one record header. Kafka header keys are strings and never
// null; a nil Value is a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one record of a batch. Key and Value are nil for null (an empty
// non-null key is a zero-length, non-nil slice).
type Record struct {
	Attributes     int8 // unused by Kafka so far
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
}

// Offset is the record's offset, given its batch's header.
func (r *Record) Offset(h Header) int64 { return h.BaseOffset + int64(r.OffsetDelta) }

// Timestamp is the record's timestamp, given its batch's header: the batch's
// max timestamp for LogAppendTime batches, else base timestamp + delta.
func (r *Record) Timestamp(h Header) int64 {
	if h.LogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp + r.TimestampDelta
}

// DefaultMaxDecompressedSize bounds the decompressed records of one batch
// when a Decoder has no MaxSize.
const DefaultMaxDecompressedSize = 256 << 20

// Decoder decodes the records of batches, reusing its buffers between
// batches. The zero value is ready to use. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	// MaxSize bounds the decompressed size of one batch's records, in
	// bytes; 0 means DefaultMaxDecompressedSize. Larger batches fail with
	// ErrTooLarge.
	MaxSize int

	buf     []byte
	headers []RecordHeader
	rec     Record
}

// DecodeRecords calls fn for each record of one batch, decompressing as
// needed. It is Decoder.Decode with a fresh Decoder.
func DecodeRecords(h Header, batch []byte, fn func(r *Record) error) error {
	var d Decoder
	return d.Decode(h, batch, fn)
}

// Decode calls fn for each record of the batch whose header is h, in order,
// and stops at the first error fn returns. The *Record and every slice in
// it alias the batch or the Decoder's buffer: they are valid only until fn
// returns; copy what must outlive the call.
//
// Decode checks the batch's framing and every record's encoding with the
// rules ValidateStored applies (offset deltas strictly increasing, count
// matching, no trailing bytes) but not the CRC: run Validate first on data
// that has not been validated. Errors in the records of a compressed batch
// carry positions in the decompressed records.
func (d *Decoder) Decode(h Header, batch []byte, fn func(r *Record) error) error {
	if len(batch) < HeaderSize {
		return errAt(ErrCorrupt, 0, "%d bytes are shorter than a %d-byte batch header", len(batch), HeaderSize)
	}
	if err := checkMagic(byte(h.Magic)); err != nil {
		return err
	}
	if h.Size() != int64(len(batch)) {
		return errAt(ErrCorrupt, BatchLengthOffset, "batch length %d says %d bytes but the buffer holds %d", h.BatchLength, h.Size(), len(batch))
	}
	if err := checkHeader(h, false); err != nil {
		return err
	}
	w := newRecordWalker(batch, HeaderSize, h, false)
	if c := h.Compression(); c != CompressionNone {
		limit := d.MaxSize
		if limit <= 0 {
			limit = DefaultMaxDecompressedSize
		}
		var err error
		d.buf, err = Decompress(c, batch[HeaderSize:], d.buf[:0], limit)
		if err != nil {
			return &Error{Offset: HeaderSize, Record: -1, Detail: "decompressing records", Err: err}
		}
		w = newRecordWalker(d.buf, 0, h, false)
	}
	for {
		ok, err := w.next()
		if err != nil || !ok {
			return err
		}
		raw, r := &w.r, &d.rec
		r.Attributes, r.TimestampDelta, r.OffsetDelta = raw.Attributes, raw.TimestampDelta, raw.OffsetDelta
		r.Key, r.Value = raw.Key, raw.Value
		d.headers = appendHeaders(d.headers[:0], raw.Headers, int(raw.NumHeaders))
		r.Headers = d.headers
		if len(r.Headers) == 0 {
			r.Headers = nil
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// appendHeaders decodes n headers already checked by recordReader.next.
func appendHeaders(dst []RecordHeader, b []byte, n int) []RecordHeader {
	i := 0
	for ; n > 0; n-- {
		klen, j, _ := readVarint(b, i)
		key := b[j : j+int(klen)]
		vlen, k, _ := readVarint(b, j+int(klen))
		var value []byte
		if vlen >= 0 {
			value = b[k : k+int(vlen) : k+int(vlen)]
			k += int(vlen)
		}
		dst = append(dst, RecordHeader{Key: string(key), Value: value})
		i = k
	}
	return dst
}

// ControlType is the type of a control record, from its key.
type ControlType int16

const (
	// ControlAbort marks the end of an aborted transaction.
	ControlAbort ControlType = 0
	// ControlCommit marks the end of a committed transaction.
	ControlCommit ControlType = 1
)

func (t ControlType) String() string {
	switch t {
	case ControlAbort:
		return "ABORT"
	case ControlCommit:
		return "COMMIT"
	}
	return fmt.Sprintf("CONTROL(%d)", int16(t))
}

// ControlRecord is a decoded transaction marker.
type ControlRecord struct {
	Version          int16 // key version, 0
	Type             ControlType
	CoordinatorEpoch int32 // from the value; 0 when the value is absent
}

// ParseControlRecord decodes the key (int16 version, int16 type) and, for
// transaction markers, the value (int16 version, int32 coordinator epoch)
// of a control record. Other control types (leader change, snapshot
// markers) return their type with no coordinator epoch.
func ParseControlRecord(key, value []byte) (ControlRecord, error) {
	if len(key) < 4 {
		return ControlRecord{}, fmt.Errorf("record: control record key of %d bytes: %w", len(key), ErrInvalidRecord)
	}
	c := ControlRecord{
		Version: int16(binary.BigEndian.Uint16(key)),
		Type:    ControlType(binary.BigEndian.Uint16(key[2:])),
	}
	if c.Version < 0 {
		return c, fmt.Errorf("record: control record key version %d: %w", c.Version, ErrInvalidRecord)
	}
	if c.Type != ControlAbort && c.Type != ControlCommit {
		return c, nil
	}
	if len(value) < 6 {
		return c, fmt.Errorf("record: %s marker value of %d bytes: %w", c.Type, len(value), ErrInvalidRecord)
	}
	c.CoordinatorEpoch = int32(binary.BigEndian.Uint32(value[2:]))
	return c, nil
}

// ParseControlBatch decodes the single control record of a control batch.
func ParseControlBatch(h Header, batch []byte) (ControlRecord, error) {
	if !h.IsControl() {
		return ControlRecord{}, errAt(ErrInvalidRecord, AttributesOffset, "not a control batch")
	}
	var c ControlRecord
	found := false
	err := DecodeRecords(h, batch, func(r *Record) error {
		if found {
			return errAt(ErrInvalidRecord, HeaderSize, "control batch with more than one record")
		}
		found = true
		var err error
		c, err = ParseControlRecord(r.Key, r.Value)
		return err
	})
	if err == nil && !found {
		err = errAt(ErrInvalidRecord, RecordCountOffset, "control batch without a record")
	}
	return c, err
}
