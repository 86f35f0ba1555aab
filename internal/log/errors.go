package log

import (
	"errors"
	"fmt"
)

var (
	// ErrOffsetOutOfRange: the offset is below the log start offset or above
	// the log end offset (Kafka's OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrStorage wraps every I/O failure (Kafka's KAFKA_STORAGE_ERROR). After
	// a failed write or fsync the log refuses appends with an ErrStorage
	// error until it is reopened.
	ErrStorage = errors.New("storage error")
	// ErrClosed: the log or manager is closed.
	ErrClosed = errors.New("log closed")
	// ErrInvalidBatch: Append got bytes that are not whole magic-2 batches.
	// Callers validate batches first, so this means a caller bug.
	ErrInvalidBatch = errors.New("invalid record batch")
	// ErrBatchTooLarge: a batch is larger than segment.bytes (Kafka's
	// RECORD_BATCH_TOO_LARGE).
	ErrBatchTooLarge = errors.New("record batch larger than segment.bytes")
	// ErrInconsistentTopicID: Create was given a topic ID different from the
	// one stored in partition.metadata (Kafka's INCONSISTENT_TOPIC_ID).
	ErrInconsistentTopicID = errors.New("inconsistent topic id")
)

// CorruptionError describes bad bytes found on disk: which file, which
// segment, and where. Recovery truncates the log at Position of the segment
// starting at Segment; callers reading it can report it precisely.
type CorruptionError struct {
	File     string // file name
	Segment  int64  // base offset of the segment
	Offset   int64  // offset expected at Position, -1 if unknown
	Position int64  // byte position in the file
	Reason   string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("corrupt %s (segment %d, offset %d, position %d): %s", e.File, e.Segment, e.Offset, e.Position, e.Reason)
}

// storageError wraps an I/O error so errors.Is(err, ErrStorage) holds and
// the cause stays reachable with errors.Unwrap / errors.As.
type storageError struct {
	op  string
	err error
}

func (e *storageError) Error() string   { return fmt.Sprintf("%s: %s: %v", ErrStorage, e.op, e.err) }
func (e *storageError) Unwrap() []error { return []error{ErrStorage, e.err} }

func storageErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrStorage) {
		return err
	}
	return &storageError{op: op, err: err}
}
