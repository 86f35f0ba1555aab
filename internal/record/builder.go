package record

import (
	"encoding/binary"
	"fmt"
)

// BatchSpec describes the header of a batch to encode. Start from
// DefaultBatchSpec: its zero value would name producer id 0.
type BatchSpec struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32 // -1 when unknown, as producers send it
	Compression          Compression
	// LogAppendTime sets the timestamp type attribute; MaxTimestamp must
	// then hold the append time.
	LogAppendTime bool
	Transactional bool
	Control       bool
	ProducerID    int64 // NoProducerID (-1) for a non-idempotent producer
	ProducerEpoch int16 // -1 without a producer id
	BaseSequence  int32 // NoSequence (-1) without a producer id
	// BaseTimestamp is the first timestamp; records carry deltas from it.
	BaseTimestamp int64
	// MaxTimestamp is used only with LogAppendTime; otherwise the encoder
	// computes it from the records (BaseTimestamp when there are none).
	MaxTimestamp int64
	// KeepOffsetDeltas encodes the records' OffsetDelta fields as given
	// (strictly increasing; compaction keeps them); otherwise records are
	// numbered 0, 1, 2, ... in order.
	KeepOffsetDeltas bool
	// LastOffsetDelta, with KeepOffsetDeltas, is kept when larger than the
	// last record's delta, as compaction does when it drops a batch's last
	// records.
	LastOffsetDelta int32
}

// DefaultBatchSpec is the spec of a plain, non-idempotent, uncompressed
// batch at offset 0.
func DefaultBatchSpec() BatchSpec {
	return BatchSpec{
		PartitionLeaderEpoch: NoPartitionLeaderEp,
		ProducerID:           NoProducerID,
		ProducerEpoch:        -1,
		BaseSequence:         NoSequence,
		BaseTimestamp:        -1,
		MaxTimestamp:         -1,
	}
}

// Builder encodes one batch record by record. The zero value is not ready;
// use NewBuilder or Reset.
type Builder struct {
	spec    BatchSpec
	records []byte // encoded records, uncompressed
	n       int32
	last    int32 // offset delta of the last record
	maxTs   int64
}

// NewBuilder returns a Builder for a batch described by spec.
func NewBuilder(spec BatchSpec) *Builder {
	b := &Builder{}
	b.Reset(spec)
	return b
}

// Reset starts a new batch, keeping the buffers.
func (b *Builder) Reset(spec BatchSpec) {
	b.spec = spec
	b.records = b.records[:0]
	b.n = 0
	b.last = -1
	b.maxTs = spec.BaseTimestamp
}

// Len is the number of records appended.
func (b *Builder) Len() int { return int(b.n) }

// Append adds a record. Without KeepOffsetDeltas its OffsetDelta is ignored
// and the record gets the next delta. It fails if a kept offset delta does
// not increase.
func (b *Builder) Append(r Record) error {
	delta := b.n
	if b.spec.KeepOffsetDeltas {
		delta = r.OffsetDelta
		if delta <= b.last {
			return fmt.Errorf("record: offset delta %d does not follow %d: %w", delta, b.last, ErrInvalidRecord)
		}
	}
	r.OffsetDelta = delta
	b.records = appendRecord(b.records, &r)
	b.n++
	b.last = delta
	if ts := b.spec.BaseTimestamp + r.TimestampDelta; ts > b.maxTs {
		b.maxTs = ts
	}
	return nil
}

// Build appends the encoded batch to dst: header with CRC32C, then the
// records, compressed with the spec's codec.
func (b *Builder) Build(dst []byte) ([]byte, error) {
	s := b.spec
	attrs := int16(s.Compression) & CompressionMask
	if s.Compression < CompressionNone || s.Compression > CompressionZstd {
		return dst, fmt.Errorf("record: codec %d: %w", int8(s.Compression), ErrUnsupportedCompression)
	}
	maxTs := b.maxTs
	if s.LogAppendTime {
		attrs |= TimestampTypeBit
		maxTs = s.MaxTimestamp
	}
	if s.Transactional {
		attrs |= TransactionalBit
	}
	if s.Control {
		attrs |= ControlBit
	}
	last := b.last
	if s.KeepOffsetDeltas && s.LastOffsetDelta > last {
		last = s.LastOffsetDelta
	}
	if last < 0 {
		last = 0 // an empty batch still covers one offset
	}
	start := len(dst)
	dst = grow(dst, HeaderSize+len(b.records))
	dst = dst[:start+HeaderSize]
	if s.Compression == CompressionNone {
		dst = append(dst, b.records...)
	} else {
		var err error
		if dst, err = Compress(s.Compression, b.records, dst); err != nil {
			return dst[:start], err
		}
	}
	batch := dst[start:]
	be := binary.BigEndian
	be.PutUint64(batch[BaseOffsetOffset:], uint64(s.BaseOffset))
	be.PutUint32(batch[BatchLengthOffset:], uint32(len(batch)-LogOverhead))
	be.PutUint32(batch[PartitionLeaderEpochOffset:], uint32(s.PartitionLeaderEpoch))
	batch[MagicOffset] = CurrentMagic
	be.PutUint16(batch[AttributesOffset:], uint16(attrs))
	be.PutUint32(batch[LastOffsetDeltaOffset:], uint32(last))
	be.PutUint64(batch[BaseTimestampOffset:], uint64(s.BaseTimestamp))
	be.PutUint64(batch[MaxTimestampOffset:], uint64(maxTs))
	be.PutUint64(batch[ProducerIDOffset:], uint64(s.ProducerID))
	be.PutUint16(batch[ProducerEpochOffset:], uint16(s.ProducerEpoch))
	be.PutUint32(batch[BaseSequenceOffset:], uint32(s.BaseSequence))
	be.PutUint32(batch[RecordCountOffset:], uint32(b.n))
	be.PutUint32(batch[CRCOffset:], ComputeCRC(batch))
	return dst, nil
}

// EncodeBatch encodes records as one batch described by spec.
func EncodeBatch(spec BatchSpec, records []Record) ([]byte, error) {
	var b Builder
	b.Reset(spec)
	for i := range records {
		if err := b.Append(records[i]); err != nil {
			return nil, err
		}
	}
	return b.Build(nil)
}

// appendRecord encodes one record: varint length, then the body.
func appendRecord(dst []byte, r *Record) []byte {
	size := 1 + varlongLen(r.TimestampDelta) + varintLen(r.OffsetDelta) +
		bytesLen(r.Key) + bytesLen(r.Value) + varintLen(int32(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		size += varintLen(int32(len(h.Key))) + len(h.Key) + bytesLen(h.Value)
	}
	dst = appendVarint(dst, int32(size))
	dst = append(dst, byte(r.Attributes))
	dst = appendVarlong(dst, r.TimestampDelta)
	dst = appendVarint(dst, r.OffsetDelta)
	dst = appendBytes(dst, r.Key)
	dst = appendBytes(dst, r.Value)
	dst = appendVarint(dst, int32(len(r.Headers)))
	for i := range r.Headers {
		h := &r.Headers[i]
		dst = appendVarint(dst, int32(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendBytes(dst, h.Value)
	}
	return dst
}

func bytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int32(len(b))) + len(b)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	dst = appendVarint(dst, int32(len(b)))
	return append(dst, b...)
}

// ControlSpec describes a transaction marker batch.
type ControlSpec struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	ProducerID           int64
	ProducerEpoch        int16
	Type                 ControlType // ControlAbort or ControlCommit
	CoordinatorEpoch     int32
	Timestamp            int64 // when the marker was written, in ms
}

// EncodeControlBatch encodes a transaction marker: a transactional control
// batch holding one control record whose key is (version 0, type) and whose
// value is (version 0, coordinator epoch), as Kafka's EndTransactionMarker.
func EncodeControlBatch(c ControlSpec) ([]byte, error) {
	if c.Type != ControlAbort && c.Type != ControlCommit {
		return nil, fmt.Errorf("record: control type %d is not a transaction marker: %w", c.Type, ErrInvalidRecord)
	}
	key := make([]byte, 4)
	binary.BigEndian.PutUint16(key[2:], uint16(c.Type))
	value := make([]byte, 6)
	binary.BigEndian.PutUint32(value[2:], uint32(c.CoordinatorEpoch))
	spec := BatchSpec{
		BaseOffset:           c.BaseOffset,
		PartitionLeaderEpoch: c.PartitionLeaderEpoch,
		Transactional:        true,
		Control:              true,
		ProducerID:           c.ProducerID,
		ProducerEpoch:        c.ProducerEpoch,
		BaseSequence:         NoSequence,
		BaseTimestamp:        c.Timestamp,
		MaxTimestamp:         c.Timestamp,
	}
	return EncodeBatch(spec, []Record{{Key: key, Value: value}})
}
