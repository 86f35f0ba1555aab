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
	// ErrTruncated: the records a durability wait was for were removed by
	// TruncateTo or TruncateFullyAndStartAt before they became durable; they
	// are never acknowledged.
	ErrTruncated = errors.New("log truncated below the awaited offset")
	// ErrUnexpectedOffset is wrapped by *UnexpectedOffsetError.
	ErrUnexpectedOffset = errors.New("unexpected offset in follower append")
)

// UnexpectedOffsetError is AppendAsFollower's refusal of batches whose
// offsets do not continue the log: the first batch starts below the log
// end offset, or a batch does not start after the previous one ends.
// Nothing was appended. Kafka's UnexpectedAppendOffsetException; a
// fetcher whose log is empty (log start offset = log end offset) and whose
// first fetched batch straddles that offset, as after a DeleteRecords in
// the middle of a batch on the leader, restarts its log at the batch's
// base offset with TruncateFullyAndStartAt, as Kafka's follower does.
type UnexpectedOffsetError struct {
	Partition    TopicPartition
	LogEndOffset int64 // the log end offset the append had to continue from
	Batch        int   // index of the offending batch in the input
	BaseOffset   int64 // its base offset
	LastOffset   int64 // its last offset
	After        int64 // the offset it had to start at or after
}

func (e *UnexpectedOffsetError) Error() string {
	if e.Batch == 0 {
		return fmt.Sprintf("%s: %s: first batch holds offsets [%d, %d], below the log end offset %d",
			ErrUnexpectedOffset, e.Partition, e.BaseOffset, e.LastOffset, e.LogEndOffset)
	}
	return fmt.Sprintf("%s: %s: batch %d holds offsets [%d, %d], not after the previous batch's last offset %d (log end offset %d)",
		ErrUnexpectedOffset, e.Partition, e.Batch, e.BaseOffset, e.LastOffset, e.After-1, e.LogEndOffset)
}

func (e *UnexpectedOffsetError) Unwrap() error { return ErrUnexpectedOffset }

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
