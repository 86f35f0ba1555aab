package partition

import (
	"errors"
	"io"
	"math"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file holds what a consumer may read from the partition: the Fetch
// rules (Read) and the ListOffsets rules (OffsetForTimestamp), as Kafka's
// Partition.fetchRecords / readRecords and fetchOffsetForTimestamp apply
// them on the leader. The request handlers map requests and responses;
// every per-partition decision is made here.

// IsolationLevel is a Fetch's or ListOffsets' isolation level.
type IsolationLevel int8

const (
	// ReadUncommitted reads up to the high watermark.
	ReadUncommitted IsolationLevel = 0
	// ReadCommitted reads up to the last stable offset, and a fetch is
	// told of the aborted transactions in the range it read.
	ReadCommitted IsolationLevel = 1
)

// ReadOptions describe one partition of a consumer's Fetch.
type ReadOptions struct {
	// Offset is the fetch offset.
	Offset int64
	// MaxBytes is the byte budget for this partition (the smaller of its
	// partition max bytes and what is left of the request's max bytes);
	// batches are never cut. Values outside [0, 2^31-1] are clamped.
	MaxBytes int64
	// MinOneBatch returns the first batch whole even when it is larger
	// than MaxBytes, so a consumer always progresses (the first partition
	// of a fetch that has data).
	MinOneBatch bool
	// Isolation bounds the read: the high watermark or the last stable
	// offset.
	Isolation IsolationLevel
	// CurrentLeaderEpoch is the leader epoch the client believes current,
	// -1 if it sent none (see CheckLeaderEpoch).
	CurrentLeaderEpoch int32
	// LastFetchedEpoch is the epoch of the last batch the client fetched,
	// -1 if it sent none (Fetch v12+, KIP-320): the read checks that the
	// client's log has not diverged from this one.
	LastFetchedEpoch int32
	// FromFollower reads for a follower replica's fetch: up to the log end
	// offset, not the high watermark, and only on the leader
	// (NOT_LEADER_OR_FOLLOWER otherwise). Isolation is ignored.
	FromFollower bool
}

// EpochEndOffset is a leader epoch and the offset where it ended.
type EpochEndOffset struct {
	Epoch     int32
	EndOffset int64
}

// ReadResult is what Read answers for one partition: the partition's
// offsets as of the start of the read, and the records read.
type ReadResult struct {
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
	LogEndOffset     int64
	// AbortedTransactions are, for a ReadCommitted read that returned
	// records, the aborted transactions overlapping the range read, in
	// order of first offset; nil otherwise.
	AbortedTransactions []AbortedTxn
	// Diverging is set when the client's log diverged from this one (see
	// Read): DivergingEpoch then holds the largest epoch of this log at or
	// below the client's last fetched epoch and the offset where it ended,
	// and the result holds no records.
	Diverging      bool
	DivergingEpoch EpochEndOffset
	// Records are the batches read.
	Records Records
}

// Records is a byte range of whole batches in one segment file (none when
// Size is 0), sent to the client as it is. The caller must call Release
// once the bytes are sent or abandoned: the file handle stays open until
// then, even if the segment is deleted.
type Records struct{ r log.ReadResult }

// Size is the byte length of the records.
func (r *Records) Size() int64 { return r.r.Size }

// NextOffset is the offset after the last batch: where the next read
// continues (the fetch offset when nothing was read).
func (r *Records) NextOffset() int64 { return r.r.NextOffset }

// BaseOffset is the base offset of the first batch in the range (the
// fetch offset when nothing was read).
func (r *Records) BaseOffset() int64 { return r.r.BaseOffset }

// File returns the byte range: the segment file, where in it the range
// starts, and its length. vfs.OSFile(f) gives the *os.File to send the
// range with sendfile. f is nil when size is 0, and valid only until
// Release.
func (r *Records) File() (f vfs.File, position, size int64) {
	return r.r.File, r.r.Position, r.r.Size
}

// WriteTo copies the records to w.
func (r *Records) WriteTo(w io.Writer) (int64, error) { return r.r.WriteTo(w) }

// AppendTo appends the records' bytes to dst.
func (r *Records) AppendTo(dst []byte) ([]byte, error) { return r.r.AppendTo(dst) }

// Release lets the file handle go. Calling it more than once is harmless.
func (r *Records) Release() { r.r.Release() }

// Read reads records for a consumer's Fetch, by the rules of Kafka's
// Partition.fetchRecords for a fetch from a consumer:
//
//   - the client's current leader epoch is checked first
//     (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH; see CheckLeaderEpoch);
//   - with a last fetched epoch, the leader-epoch cache is asked where
//     that epoch ended: no answer is OFFSET_OUT_OF_RANGE, as is a fetch
//     offset below the log start offset; an epoch below the client's, or
//     an end offset below the fetch offset, means the logs diverged: the
//     result carries that epoch and end offset instead of records;
//   - records are read from the batch holding the fetch offset, whole
//     batches up to MaxBytes, and none from the high watermark on
//     (ReadUncommitted) or from the last stable offset on (ReadCommitted);
//     a ReadCommitted result lists the aborted transactions in its range;
//   - a fetch offset below the log start offset or above the log end
//     offset is OFFSET_OUT_OF_RANGE; one between the bound and the log end
//     offset reads nothing.
//
// The offsets of the result are those of the start of the read (the last
// stable offset follows from the same high watermark), and are set even
// when Read fails after taking them. Errors are *Error values: the codes
// above, and KAFKA_STORAGE_ERROR when the log cannot be read.
func (p *Partition) Read(opts ReadOptions) (ReadResult, error) {
	hw := p.HighWatermark()
	res := ReadResult{
		HighWatermark:    hw,
		LastStableOffset: p.txns.lastStableOffset(hw),
		LogStartOffset:   p.store.LogStartOffset(),
		LogEndOffset:     p.store.LogEndOffset(),
		Records:          Records{log.ReadResult{BaseOffset: opts.Offset, NextOffset: opts.Offset}},
	}
	if err := p.CheckLeaderEpoch(opts.CurrentLeaderEpoch); err != nil {
		return res, err
	}
	if t := p.term.Load(); opts.FromFollower && !t.leader {
		return res, p.notLeader(t)
	}
	if opts.LastFetchedEpoch >= 0 {
		epoch, end := p.store.EndOffsetForEpoch(opts.LastFetchedEpoch)
		if epoch == log.UndefinedEpoch || end == log.UndefinedEpochOffset {
			return res, newError(kerr.OffsetOutOfRange, nil,
				"the end offset of the last fetched epoch %d is not known", opts.LastFetchedEpoch)
		}
		if opts.Offset < res.LogStartOffset {
			return res, p.outOfRange(opts.Offset, res, nil)
		}
		if epoch < opts.LastFetchedEpoch || end < opts.Offset {
			res.Diverging, res.DivergingEpoch = true, EpochEndOffset{Epoch: epoch, EndOffset: end}
			return res, nil
		}
	}
	bound := hw
	switch {
	case opts.FromFollower:
		bound = res.LogEndOffset
	case opts.Isolation == ReadCommitted:
		bound = res.LastStableOffset
	}
	limit := min(max(opts.MaxBytes, 0), math.MaxInt32)
	rr, err := p.store.Read(opts.Offset, log.ReadOptions{MaxBytes: int32(limit), MaxOffset: bound, MinOneBatch: opts.MinOneBatch})
	switch {
	case errors.Is(err, log.ErrOffsetOutOfRange):
		return res, p.outOfRange(opts.Offset, res, err)
	case err != nil:
		return res, newError(kerr.KafkaStorageError, err, "read at offset %d", opts.Offset)
	}
	res.Records = Records{rr}
	if rr.Size > 0 && opts.Isolation == ReadCommitted {
		res.AbortedTransactions = p.AbortedTransactions(opts.Offset, rr.NextOffset)
	}
	return res, nil
}

// Moved reports whether a read that returned res could now read more: the
// high watermark moved since, or, for a follower's read (which goes up to
// the log end), the log end offset did. A parked fetch asks it between the
// read and the start of its wait.
func (p *Partition) Moved(res ReadResult, fromFollower bool) bool {
	return p.HighWatermark() != res.HighWatermark || (fromFollower && p.store.LogEndOffset() != res.LogEndOffset)
}

func (p *Partition) outOfRange(offset int64, res ReadResult, cause error) error {
	return newError(kerr.OffsetOutOfRange, cause, "offset %d is outside the log's [%d, %d]",
		offset, res.LogStartOffset, res.LogEndOffset)
}

// The special timestamps of ListOffsets (Kafka's ListOffsetsRequest).
const (
	ListLatest                = -1 // the last fetchable offset
	ListEarliest              = -2 // the log start offset
	ListMaxTimestamp          = -3 // the record with the largest timestamp
	ListEarliestLocal         = -4 // the first offset stored locally
	ListLatestTiered          = -5 // the last offset in tiered storage
	ListEarliestPendingUpload = -6 // the first offset not yet in tiered storage
)

// TimestampOffset is ListOffsets' answer for one partition: an offset, the
// timestamp of the record found (-1 if none was looked for or found) and a
// leader epoch (-1 if unknown).
type TimestampOffset struct {
	Offset      int64
	Timestamp   int64
	LeaderEpoch int32
}

// OffsetForTimestamp answers ListOffsets for one partition, as Kafka's
// Partition.fetchOffsetForTimestamp and UnifiedLog.fetchOffsetByTimestamp
// do on a leader without tiered storage. The client's current leader
// epoch is checked first (FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH). Then,
// by timestamp:
//
//	ListLatest (-1)         the last fetchable offset: the high watermark
//	                        (ReadUncommitted) or the last stable offset
//	                        (ReadCommitted), with the current leader epoch
//	ListEarliest (-2),      the log start offset, with the epoch of the
//	ListEarliestLocal (-4)  leader-epoch cache's first entry if that starts
//	                        at or below it, else -1 (all data is local)
//	ListMaxTimestamp (-3)   the first record with the largest timestamp
//	ListLatestTiered (-5),  offset -1, epoch -1: nothing is tiered
//	ListEarliestPendingUpload (-6)
//	>= 0                    the first record at or after the log start
//	                        offset whose timestamp is >= the timestamp,
//	                        also inside compressed or multi-record batches
//
// A record found (-3, >= 0) is answered with its offset, its timestamp and
// its batch's partition leader epoch if it lies below the last fetchable
// offset; otherwise, or when none qualifies, with offset -1.
//
// Errors are *Error values: the epoch codes above, UNSUPPORTED_VERSION for
// a negative timestamp that is none of these, KAFKA_STORAGE_ERROR when the
// log cannot be read and CORRUPT_MESSAGE when a batch's records cannot be.
func (p *Partition) OffsetForTimestamp(timestamp int64, isolation IsolationLevel, currentLeaderEpoch int32) (TimestampOffset, error) {
	none := TimestampOffset{Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	if err := p.CheckLeaderEpoch(currentLeaderEpoch); err != nil {
		return none, err
	}
	// Records from the last fetchable offset on are no answer: a consumer
	// could not read them yet.
	lastFetchable := p.HighWatermark()
	if isolation == ReadCommitted {
		lastFetchable = p.txns.lastStableOffset(lastFetchable)
	}
	var (
		rec   log.TimestampOffset
		found bool
		err   error
	)
	// A new leader whose high watermark has not reached the start of its
	// epoch does not know yet where the committed records end: it answers
	// OFFSET_NOT_AVAILABLE (retriable) rather than an offset that may move
	// back, as Kafka does since KAFKA-2334.
	lagging := func() error {
		if es := p.epochStartOffset.Load(); es > p.HighWatermark() {
			return newError(kerr.OffsetNotAvailable, nil, "the high watermark %d has not reached the start %d of leader epoch %d yet", p.HighWatermark(), es, p.LeaderEpoch())
		}
		return nil
	}
	switch {
	case timestamp == ListLatest:
		if err := lagging(); err != nil {
			return none, err
		}
		return TimestampOffset{Offset: lastFetchable, Timestamp: -1, LeaderEpoch: p.LeaderEpoch()}, nil
	case timestamp == ListEarliest || timestamp == ListEarliestLocal:
		off, epoch := p.store.LogStartOffsetEpoch()
		return TimestampOffset{Offset: off, Timestamp: -1, LeaderEpoch: epoch}, nil
	case timestamp == ListLatestTiered || timestamp == ListEarliestPendingUpload:
		return none, nil
	case timestamp == ListMaxTimestamp:
		rec, found, err = p.store.MaxTimestamp()
	case timestamp >= 0:
		rec, found, err = p.store.OffsetForTimestamp(timestamp)
	default:
		return none, newError(kerr.UnsupportedVersion, nil, "timestamp %d is not a ListOffsets timestamp", timestamp)
	}
	if err != nil {
		var ce *log.CorruptionError
		if errors.As(err, &ce) {
			return none, newError(kerr.CorruptMessage, err, "search by timestamp %d", timestamp)
		}
		return none, newError(kerr.KafkaStorageError, err, "search by timestamp %d", timestamp)
	}
	if !found || rec.Offset >= lastFetchable {
		if found {
			if err := lagging(); err != nil {
				return none, err
			}
		}
		return none, nil
	}
	return TimestampOffset{Offset: rec.Offset, Timestamp: rec.Timestamp, LeaderEpoch: rec.LeaderEpoch}, nil
}
