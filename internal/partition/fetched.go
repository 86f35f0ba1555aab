package partition

import (
	"encoding/binary"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
)

// This file is a follower's handling of its leader's answer to a fetch,
// one partition at a time, as Kafka's AbstractFetcherThread does it; the
// replica manager's fetchers carry the requests and responses, and the
// replication simulator drives the same code.
//
// Per partition, an answer
//
//   - with a diverging epoch (Fetch v12+, KIP-320): truncates the log to
//     where it stops agreeing with the leader's, the smaller of the
//     leader's end of that epoch and this log's (KIP-101, KIP-279);
//   - with records: appends them as the leader wrote them
//     (AppendAsFollower), a torn last batch left for the next fetch; an
//     empty log whose first batch straddles its start starts over at the
//     batch;
//   - with OFFSET_OUT_OF_RANGE: starts the log over at the leader's log
//     start offset when it fell below it, else truncates to the leader's
//     high watermark (below which both logs agree);
//   - with any other error: is held off (FetchHoldOff), for the metadata
//     image to move the partition or the leader to recover.

// Fetched is a leader's answer for one partition of a follower's fetch.
type Fetched struct {
	// Err is the partition's error code, nil for none.
	Err *kerr.Error
	// HighWatermark and LogStartOffset are the leader's (-1 if unknown).
	HighWatermark  int64
	LogStartOffset int64
	// DivergingEpoch and DivergingEndOffset are set (>= 0) when the
	// follower's log diverged from the leader's.
	DivergingEpoch     int32
	DivergingEndOffset int64
	// Records are the batches read.
	Records []byte
}

// FetchOutcome says what a follower did with a Fetched.
type FetchOutcome int8

const (
	// FetchAppended: records were appended (or there were none); once the
	// log made them durable the follower adopts the leader's high
	// watermark (SetHighWatermark) and fetches again.
	FetchAppended FetchOutcome = iota
	// FetchTruncated: the log was cut or started over; fetch again at once.
	FetchTruncated
	// FetchRetrySoon: the leader has not caught up with the metadata yet
	// (UNKNOWN_LEADER_EPOCH); fetch again shortly.
	FetchRetrySoon
	// FetchHoldOff: an error the metadata image or the leader must
	// resolve; fetch again after the backoff.
	FetchHoldOff
)

// FetchPosition is where a follower fetches from: its log end offset and
// the newest epoch in its leader-epoch cache (-1 if none), the
// LastFetchedEpoch that lets the leader detect a divergence.
func (p *Partition) FetchPosition() (offset int64, lastFetchedEpoch int32) {
	offset = p.store.LogEndOffset()
	lastFetchedEpoch = -1
	if e, ok := p.store.LatestEpoch(); ok {
		lastFetchedEpoch = e
	}
	return offset, lastFetchedEpoch
}

// ApplyFetched applies the leader's answer f for this follower (see the
// file comment). The error, with FetchHoldOff, is one to log: a failed
// truncation or append.
func (p *Partition) ApplyFetched(f Fetched) (FetchOutcome, error) {
	switch {
	case f.Err == nil:
	case f.Err == kerr.OffsetOutOfRange:
		return p.fetchedOutOfRange(f)
	case f.Err == kerr.UnknownLeaderEpoch:
		return FetchRetrySoon, nil
	default:
		return FetchHoldOff, nil
	}
	if f.DivergingEpoch >= 0 && f.DivergingEndOffset >= 0 {
		target := f.DivergingEndOffset
		if localEpoch, localEnd := p.EndOffsetForEpoch(f.DivergingEpoch); localEpoch == f.DivergingEpoch && localEnd >= 0 {
			target = min(target, localEnd)
		}
		return p.followerTruncate(min(target, p.LogEndOffset()))
	}
	batches := wholeBatches(f.Records)
	if len(batches) == 0 {
		return FetchAppended, nil
	}
	_, err := p.AppendAsFollower(batches)
	var unexpected *log.UnexpectedOffsetError
	switch {
	case err == nil:
		return FetchAppended, nil
	case errors.As(err, &unexpected) && p.LogStartOffset() == p.LogEndOffset():
		if err := p.TruncateFullyAndStartAt(unexpected.BaseOffset); err != nil {
			return FetchHoldOff, err
		}
		if _, err := p.AppendAsFollower(batches); err != nil {
			return FetchHoldOff, err
		}
		return FetchAppended, nil
	default:
		return FetchHoldOff, err
	}
}

// fetchedOutOfRange handles OFFSET_OUT_OF_RANGE.
func (p *Partition) fetchedOutOfRange(f Fetched) (FetchOutcome, error) {
	leo := p.LogEndOffset()
	if f.LogStartOffset >= 0 && leo < f.LogStartOffset {
		if err := p.TruncateFullyAndStartAt(f.LogStartOffset); err != nil {
			return FetchHoldOff, err
		}
		p.logger.Info("follower log restarted at the leader's log start offset", "offset", f.LogStartOffset)
		return FetchTruncated, nil
	}
	if f.HighWatermark >= 0 && f.HighWatermark < leo {
		return p.followerTruncate(f.HighWatermark)
	}
	return FetchHoldOff, nil
}

// followerTruncate cuts the follower's log to offset. A cut below the high
// watermark this replica exposed takes back records consumers may have
// read: it happens only after an unclean election, is counted
// (Config.TruncatedBelowHighWatermark) and logged as the error it is.
func (p *Partition) followerTruncate(offset int64) (FetchOutcome, error) {
	leo := p.LogEndOffset()
	if offset < leo {
		if hw := p.HighWatermark(); offset < hw {
			p.logger.Error("truncating below the high watermark", "offset", offset, "high_watermark", hw)
			if p.cfg.TruncatedBelowHighWatermark != nil {
				p.cfg.TruncatedBelowHighWatermark()
			}
		}
	}
	if err := p.TruncateTo(offset); err != nil {
		return FetchHoldOff, err
	}
	if offset < leo {
		p.logger.Info("truncated the follower log", "from", leo, "to", offset)
	}
	return FetchTruncated, nil
}

// wholeBatches returns the prefix of b made of whole batches: a fetch
// response may end inside a batch (Kafka's leaders cut at the byte limit).
// The batches themselves are checked by the append.
func wholeBatches(b []byte) []byte {
	n := 0
	for rest := b; len(rest) >= record.LogOverhead; rest = b[n:] {
		length := int64(int32(binary.BigEndian.Uint32(rest[record.BatchLengthOffset:])))
		size := record.LogOverhead + length
		if length <= 0 || size > int64(len(rest)) {
			break
		}
		n += int(size)
	}
	return b[:n]
}
