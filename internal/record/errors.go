package record

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors. Every error this package returns about a batch's content
// wraps exactly one of them (test with errors.Is), usually inside an *Error
// that says where in the batch the problem was found. KafkaError maps them to
// the error code a Produce response carries.
var (
	// ErrCorrupt: the batch's framing or checksum is wrong (length fields
	// that disagree with the buffer, a CRC32C mismatch, an unknown magic
	// byte). Kafka answers CORRUPT_MESSAGE, which producers retry.
	ErrCorrupt = errors.New("corrupt record batch")

	// ErrUnsupportedMagic: the batch uses message format magic 0 or 1,
	// which Samsa does not store. Kafka answers INVALID_RECORD ("produce
	// requests ... are only allowed to contain record batches with magic
	// version 2").
	ErrUnsupportedMagic = errors.New("old message formats (magic 0 and 1) are not supported, only magic 2")

	// ErrInvalidRecord: the checksum matches but the content breaks the
	// format's rules (record count, offset deltas, varint lengths, producer
	// fields). Kafka answers INVALID_RECORD, which producers do not retry.
	ErrInvalidRecord = errors.New("invalid record")

	// ErrInvalidTimestamp: a timestamp below -1 (Kafka's "no timestamp").
	// Kafka answers INVALID_TIMESTAMP.
	ErrInvalidTimestamp = errors.New("invalid timestamp")

	// ErrUnsupportedCompression: the codec bits name no known codec (5..7).
	// Kafka answers UNSUPPORTED_COMPRESSION_TYPE.
	ErrUnsupportedCompression = errors.New("unsupported compression type")

	// ErrTooLarge: decompressing would produce more bytes than the caller's
	// limit (a decompression bomb, or a batch larger than the broker
	// accepts). Kafka answers RECORD_TOO_LARGE for oversize batches.
	ErrTooLarge = errors.New("decompressed records exceed the size limit")
)

// Error locates a problem in a batch: Offset is the byte position in the
// batch (or, for SplitBatches, in the record set) where it was found. For
// records inside a compressed batch, Offset counts from the start of the
// decompressed records and Record is the record's index.
type Error struct {
	Offset int    // byte position of the problem
	Record int    // index of the record involved, or -1
	Detail string // what is wrong, in words
	Err    error  // one of the sentinel errors
}

func (e *Error) Error() string {
	if e.Record >= 0 {
		return fmt.Sprintf("record: %v: record %d at byte %d: %s", e.Err, e.Record, e.Offset, e.Detail)
	}
	return fmt.Sprintf("record: %v at byte %d: %s", e.Err, e.Offset, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *Error) Unwrap() error { return e.Err }

func errAt(sentinel error, offset int, format string, args ...any) error {
	return &Error{Offset: offset, Record: -1, Detail: fmt.Sprintf(format, args...), Err: sentinel}
}

func errRecord(sentinel error, offset, record int, format string, args ...any) error {
	return &Error{Offset: offset, Record: record, Detail: fmt.Sprintf(format, args...), Err: sentinel}
}

// KafkaError maps an error returned by this package to the Kafka error code
// a Produce response should carry for the partition. It returns nil for nil,
// and CORRUPT_MESSAGE for errors it does not recognise (such as a
// decompressor's own error, which means the compressed bytes are damaged).
func KafkaError(err error) *kerr.Error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnsupportedMagic), errors.Is(err, ErrInvalidRecord):
		return kerr.InvalidRecord
	case errors.Is(err, ErrInvalidTimestamp):
		return kerr.InvalidTimestamp
	case errors.Is(err, ErrUnsupportedCompression):
		return kerr.UnsupportedCompressionType
	case errors.Is(err, ErrTooLarge):
		return kerr.MessageTooLarge
	default:
		return kerr.CorruptMessage
	}
}
