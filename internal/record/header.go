package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the fields of a magic-2 record batch header.
const (
	BaseOffsetOffset           = 0
	BatchLengthOffset          = 8
	PartitionLeaderEpochOffset = 12
	MagicOffset                = 16
	CRCOffset                  = 17
	AttributesOffset           = 21
	LastOffsetDeltaOffset      = 23
	BaseTimestampOffset        = 27
	MaxTimestampOffset         = 35
	ProducerIDOffset           = 43
	ProducerEpochOffset        = 51
	BaseSequenceOffset         = 53
	RecordCountOffset          = 57

	// HeaderSize is the size of a batch header, records excluded.
	HeaderSize = 61
	// LogOverhead is the size of the base offset and batch length fields,
	// which the batch length does not count.
	LogOverhead = 12
	// CurrentMagic is the only message format Samsa stores.
	CurrentMagic = 2
)

// Attribute bits.
const (
	CompressionMask     = 0x07
	TimestampTypeBit    = 0x08
	TransactionalBit    = 0x10
	ControlBit          = 0x20
	DeleteHorizonBit    = 0x40
	NoProducerID        = -1
	NoSequence          = -1
	NoPartitionLeaderEp = -1
)

// Compression is a batch's codec, from the low three attribute bits.
type Compression int8

const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrShortBuffer reports fewer bytes than a batch header needs.
var ErrShortBuffer = errors.New("record: buffer shorter than a batch header")

// Header is a decoded magic-2 batch header.
type Header struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// ParseHeader decodes the header at the start of b without validating it.
// It needs at least HeaderSize bytes.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, ErrShortBuffer
	}
	be := binary.BigEndian
	return Header{
		BaseOffset:           int64(be.Uint64(b[BaseOffsetOffset:])),
		BatchLength:          int32(be.Uint32(b[BatchLengthOffset:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[PartitionLeaderEpochOffset:])),
		Magic:                int8(b[MagicOffset]),
		CRC:                  be.Uint32(b[CRCOffset:]),
		Attributes:           int16(be.Uint16(b[AttributesOffset:])),
		LastOffsetDelta:      int32(be.Uint32(b[LastOffsetDeltaOffset:])),
		BaseTimestamp:        int64(be.Uint64(b[BaseTimestampOffset:])),
		MaxTimestamp:         int64(be.Uint64(b[MaxTimestampOffset:])),
		ProducerID:           int64(be.Uint64(b[ProducerIDOffset:])),
		ProducerEpoch:        int16(be.Uint16(b[ProducerEpochOffset:])),
		BaseSequence:         int32(be.Uint32(b[BaseSequenceOffset:])),
		NumRecords:           int32(be.Uint32(b[RecordCountOffset:])),
	}, nil
}

// Size is the whole batch's size in bytes, including the offset and length.
func (h Header) Size() int64 { return int64(h.BatchLength) + LogOverhead }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// NextOffset is the offset after the batch.
func (h Header) NextOffset() int64 { return h.LastOffset() + 1 }

// Compression is the batch's codec.
func (h Header) Compression() Compression { return Compression(h.Attributes & CompressionMask) }

// IsTransactional reports the transactional attribute bit.
func (h Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// IsControl reports the control attribute bit (a transaction marker).
func (h Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// LogAppendTime reports whether the batch's timestamps are broker-assigned.
func (h Header) LogAppendTime() bool { return h.Attributes&TimestampTypeBit != 0 }

// SetBaseOffset writes a base offset into a batch in place. The CRC does not
// cover the base offset, so it stays valid.
func SetBaseOffset(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[BaseOffsetOffset:], uint64(offset))
}

// SetPartitionLeaderEpoch writes the leader epoch into a batch in place; the
// CRC does not cover it.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[PartitionLeaderEpochOffset:], uint32(epoch))
}

// ComputeCRC returns the CRC32C of a whole batch, from the attributes to the end.
func ComputeCRC(batch []byte) uint32 {
	return crc32.Checksum(batch[AttributesOffset:], castagnoli)
}

// SetLogAppendTime sets the timestamp type to LogAppendTime with max
// timestamp ts, and recomputes the CRC.
func SetLogAppendTime(batch []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(batch[AttributesOffset:]) | TimestampTypeBit
	be.PutUint16(batch[AttributesOffset:], attrs)
	be.PutUint64(batch[MaxTimestampOffset:], uint64(ts))
	be.PutUint32(batch[CRCOffset:], ComputeCRC(batch))
}

// String describes a header for error messages.
func (h Header) String() string {
	return fmt.Sprintf("batch[base=%d last=%d len=%d magic=%d records=%d]", h.BaseOffset, h.LastOffset(), h.BatchLength, h.Magic, h.NumRecords)
}
