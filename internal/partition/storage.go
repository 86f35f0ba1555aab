package partition

import (
	"errors"
	"path/filepath"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// storageAppendResult is what the partition needs back from a log append.
type storageAppendResult struct {
	BaseOffset, LastOffset, LogStartOffset int64
}

// storage is the part of the partition log the partition uses: *log.Log
// through logStorage, or a fake in tests (to inject failures).
type storage interface {
	// Append assigns offsets and writes the batches, stamped with the
	// leader epoch and, if logAppendTime >= 0, LogAppendTime. It does not
	// wait for them to be durable (log.Log.AppendAsync).
	Append(batches []byte, leaderEpoch int32, logAppendTime int64) (storageAppendResult, error)
	// DurableOffset is the offset below which appended records are durable
	// by the log's policy; it never decreases.
	DurableOffset() int64
	// SetDurableListener installs fn, called (quickly, without blocking)
	// whenever the durable offset advances or the log fails or closes.
	SetDurableListener(fn func())
	// DurabilityErr is non-nil once the durable offset can no longer
	// advance: the log failed or closed.
	DurabilityErr() error
	LogStartOffset() int64
	LogEndOffset() int64
	ScanHeaders(from int64, fn func(h record.Header) error) error
	DeleteRecordsBefore(offset int64) (int64, error)
	Dir() string
	SegmentBytes() int64
	// EndOffsetForEpoch is the leader-epoch cache lookup: the largest epoch
	// <= epoch and the offset where it ended (-1, -1 if none).
	EndOffsetForEpoch(epoch int32) (int32, int64)
	// Read returns whole batches from the one holding offset
	// (log.Log.Read): log.ErrOffsetOutOfRange outside [log start, log end].
	Read(offset int64, opts log.ReadOptions) (log.ReadResult, error)
	// OffsetForTimestamp and MaxTimestamp search the records by timestamp
	// (log.Log.OffsetForTimestamp, log.Log.MaxTimestamp).
	OffsetForTimestamp(ts int64) (log.TimestampOffset, bool, error)
	MaxTimestamp() (log.TimestampOffset, bool, error)
	// LogStartOffsetEpoch is the log start offset and the leader epoch
	// ListOffsets EARLIEST answers with (log.Log.LogStartOffsetEpoch).
	LogStartOffsetEpoch() (int64, int32)

	// AppendAsFollower writes the leader's batches as they are
	// (log.Log.AppendAsFollower), without waiting for durability.
	AppendAsFollower(batches []byte) (storageAppendResult, error)
	// TruncateTo and TruncateFullyAndStartAt cut the log
	// (log.Log.TruncateTo, log.Log.TruncateFullyAndStartAt).
	TruncateTo(offset int64) error
	TruncateFullyAndStartAt(offset int64) error
	// BeginLeaderEpoch writes (epoch, log end offset) to the leader-epoch
	// cache and returns the log end offset (log.Log.BeginLeaderEpoch).
	BeginLeaderEpoch(epoch int32) (int64, error)
	// LatestEpoch is the newest epoch in the leader-epoch cache, ok=false
	// when it is empty (log.Log.LatestEpoch).
	LatestEpoch() (int32, bool)
	// HighWatermark is the checkpointed high watermark the log was opened
	// with, or the last one set; SetHighWatermark records it for the
	// checkpoint (log.Log.HighWatermark, SetHighWatermark).
	HighWatermark() int64
	SetHighWatermark(hw int64)
}

// logStorage adapts *log.Log.
type logStorage struct{ l *log.Log }

func (s logStorage) Append(batches []byte, leaderEpoch int32, logAppendTime int64) (storageAppendResult, error) {
	opts := log.AppendOptions{LeaderEpoch: leaderEpoch}
	if logAppendTime >= 0 {
		opts.LogAppendTime = logAppendTime
	}
	r, err := s.l.AppendAsync(batches, opts)
	if err != nil {
		return storageAppendResult{}, err
	}
	return storageAppendResult{BaseOffset: r.BaseOffset, LastOffset: r.LastOffset, LogStartOffset: r.LogStartOffset}, nil
}

func (s logStorage) DurableOffset() int64         { return s.l.DurableOffset() }
func (s logStorage) SetDurableListener(fn func()) { s.l.SetDurableListener(fn) }
func (s logStorage) DurabilityErr() error         { return s.l.DurabilityErr() }
func (s logStorage) LogStartOffset() int64        { return s.l.LogStartOffset() }
func (s logStorage) LogEndOffset() int64          { return s.l.LogEndOffset() }
func (s logStorage) ScanHeaders(from int64, fn func(h record.Header) error) error {
	return s.l.ScanHeaders(from, fn)
}
func (s logStorage) DeleteRecordsBefore(offset int64) (int64, error) {
	return s.l.DeleteRecordsBefore(offset)
}
func (s logStorage) Dir() string         { return s.l.Dir() }
func (s logStorage) SegmentBytes() int64 { return s.l.Config().SegmentBytes }
func (s logStorage) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return s.l.EndOffsetForEpoch(epoch)
}
func (s logStorage) Read(offset int64, opts log.ReadOptions) (log.ReadResult, error) {
	return s.l.Read(offset, opts)
}
func (s logStorage) OffsetForTimestamp(ts int64) (log.TimestampOffset, bool, error) {
	return s.l.OffsetForTimestamp(ts)
}
func (s logStorage) MaxTimestamp() (log.TimestampOffset, bool, error) { return s.l.MaxTimestamp() }
func (s logStorage) LogStartOffsetEpoch() (int64, int32)              { return s.l.LogStartOffsetEpoch() }
func (s logStorage) AppendAsFollower(batches []byte) (storageAppendResult, error) {
	r, err := s.l.AppendAsFollower(batches)
	if err != nil {
		return storageAppendResult{}, err
	}
	return storageAppendResult{BaseOffset: r.BaseOffset, LastOffset: r.LastOffset, LogStartOffset: r.LogStartOffset}, nil
}
func (s logStorage) TruncateTo(offset int64) error { return s.l.TruncateTo(offset) }
func (s logStorage) TruncateFullyAndStartAt(offset int64) error {
	return s.l.TruncateFullyAndStartAt(offset)
}
func (s logStorage) BeginLeaderEpoch(epoch int32) (int64, error) {
	return s.l.BeginLeaderEpoch(epoch)
}
func (s logStorage) LatestEpoch() (int32, bool) { return s.l.LatestEpoch() }
func (s logStorage) HighWatermark() int64       { return s.l.HighWatermark() }
func (s logStorage) SetHighWatermark(hw int64)  { s.l.SetHighWatermark(hw) }

// classifyLogError maps a log failure to a Kafka error code.
func classifyLogError(err error) *kerr.Error {
	switch {
	case errors.Is(err, log.ErrClosed):
		return kerr.NotLeaderForPartition
	case errors.Is(err, log.ErrBatchTooLarge):
		return kerr.RecordListTooLarge
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange
	case errors.Is(err, log.ErrInvalidBatch):
		return kerr.CorruptMessage
	case errors.Is(err, log.ErrUnexpectedOffset):
		return kerr.OffsetOutOfRange
	case errors.Is(err, log.ErrTruncated):
		return kerr.NotLeaderForPartition
	}
	return kerr.KafkaStorageError
}

func joinDir(dir, name string) string { return filepath.Join(dir, name) }
