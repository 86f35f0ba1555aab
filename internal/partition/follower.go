package partition

import (
	"fmt"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is the follower's side of the partition: appending the
// leader's batches with the producer and transaction state they carry,
// and truncating the log with that state rebuilt, as Kafka's follower
// does (UnifiedLog.appendAsFollower with ProducerStateManager, and
// truncateTo with truncateAndReload).

// AppendAsFollower appends batches fetched from the partition's leader
// exactly as the leader wrote them (log.Log.AppendAsFollower: offsets,
// epochs, timestamps kept; checked first, nothing appended on a refusal),
// and replays them into the producer state as the leader built it
// (design F8: a follower that becomes leader answers a retried batch with
// its original offsets instead of appending it again): each idempotent
// producer's epoch, sequences and last five batches; transactions opened
// by transactional batches and ended by markers, with the markers'
// coordinator epochs; an aborted transaction's entry in the transaction
// index. The control record of every marker is checked before anything is
// appended.
//
// It returns once the records are written; with DurabilitySync they are
// durable once the log's durable offset passes them (the fetcher waits
// with log.Log.WaitDurable before it reports its log end offset). The
// high watermark does not move: SetHighWatermark does.
//
// Errors are *Error values: NOT_LEADER_OR_FOLLOWER when the partition is
// the leader or closed; CORRUPT_MESSAGE for batches the log refuses or a
// marker whose record does not parse; OFFSET_OUT_OF_RANGE wrapping a
// *log.UnexpectedOffsetError (errors.As reaches it) when the batches do
// not continue the log; KAFKA_STORAGE_ERROR.
func (p *Partition) AppendAsFollower(batches []byte) (AppendResult, error) {
	// Markers carry their type and coordinator epoch in their record: parse
	// them all before touching anything.
	for it := record.Batches(batches); it.Next(); {
		h := it.Header()
		if !h.IsControl() || h.ProducerID < 0 {
			continue
		}
		if _, err := record.ParseControlBatch(h, it.Batch()); err != nil {
			return AppendResult{}, newError(kerr.CorruptMessage, err, "control batch at offset %d", h.BaseOffset)
		}
	}

	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return AppendResult{}, newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	if t := p.term.Load(); t.leader {
		return AppendResult{}, newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is the leader in epoch %d, not a follower", p.cfg.Topic, p.cfg.Partition, t.epoch)
	}
	res, err := p.store.AppendAsFollower(batches)
	if err != nil {
		return AppendResult{}, storageError(err, "append as follower")
	}
	for it := record.Batches(batches); it.Next(); {
		p.replayLocked(it.Header(), it.Batch())
	}
	p.bytesSinceSnapshot += int64(len(batches))
	p.maybeSnapshotLocked()
	return AppendResult{
		BaseOffset:     res.BaseOffset,
		LastOffset:     res.LastOffset,
		LogAppendTime:  -1,
		LogStartOffset: res.LogStartOffset,
		LeaderEpoch:    p.term.Load().epoch,
	}, nil
}

// replayLocked applies one batch the log now holds to the producer and
// transaction state, as the leader's append of it did: the leader's
// appendCheck.commit and trackTxnsLocked for data batches, appendTxnMarker
// for markers.
func (p *Partition) replayLocked(h record.Header, batch []byte) {
	if h.ProducerID < 0 {
		return
	}
	if !h.IsControl() {
		p.producers.replay(h)
		if h.IsTransactional() {
			if e, ok := p.producers.entry(h.ProducerID); ok && e.CurrentTxnFirstOffset >= 0 {
				p.txns.mu.Lock()
				if _, open := p.txns.ongoing[h.ProducerID]; !open {
					p.txns.ongoing[h.ProducerID] = e.CurrentTxnFirstOffset
				}
				p.txns.mu.Unlock()
			}
		}
		return
	}
	c, err := record.ParseControlBatch(h, batch)
	if err != nil || (c.Type != record.ControlAbort && c.Type != record.ControlCommit) {
		p.producers.replay(h)
		return
	}
	e, ok := p.producers.entry(h.ProducerID)
	if !ok {
		e = newProducerEntry(h.ProducerID)
		p.producers.producers[h.ProducerID] = e
	}
	e.maybeUpdateEpoch(h.ProducerEpoch)
	e.CoordinatorEpoch = c.CoordinatorEpoch
	e.CurrentTxnFirstOffset = -1
	e.LastTimestamp = h.MaxTimestamp
	if a, aborted := p.txns.end(h.ProducerID, h.BaseOffset, c.Type == record.ControlCommit); aborted {
		if err := p.writeTxnIndexEntry(a); err != nil {
			// Rebuilt from the log at the next load.
			p.logger.Warn("cannot write the aborted transaction index", "err", err)
		}
	}
}

// TruncateTo removes every record at and above offset from the log of a
// follower whose log diverged from its leader's (log.Log.TruncateTo: a
// batch holding offset goes whole) and rebuilds the producer and
// transaction state for the records left, as Kafka's
// ProducerStateManager.truncateAndReload: snapshots above the cut are
// deleted first (durably, so none can describe records a later append puts
// at their offsets), then the newest snapshot at or below the new log end
// is loaded and the batches after it replayed; the aborted transactions
// are read again from the trimmed transaction index. The high watermark
// comes down to the new log end offset if it was above.
//
// Errors: NOT_LEADER_OR_FOLLOWER when the partition is the leader (a
// leader never truncates: it becomes a follower first) or closed;
// KAFKA_STORAGE_ERROR.
func (p *Partition) TruncateTo(offset int64) error {
	return p.truncate(offset, false)
}

// TruncateFullyAndStartAt empties the log of a follower and starts it at
// offset (log.Log.TruncateFullyAndStartAt): for a follower whose log end
// offset is below its leader's log start offset. Every producer snapshot
// goes, the producer and transaction state are empty, the high watermark
// is offset. Errors as for TruncateTo.
func (p *Partition) TruncateFullyAndStartAt(offset int64) error {
	return p.truncate(offset, true)
}

func (p *Partition) truncate(offset int64, full bool) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	if t := p.term.Load(); t.leader {
		return newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is the leader in epoch %d: a leader does not truncate", p.cfg.Topic, p.cfg.Partition, t.epoch)
	}
	keep := offset
	if full {
		keep = -1
	}
	if err := p.removeSnapshotsAbove(keep); err != nil {
		return storageError(err, "remove producer snapshots")
	}
	var err error
	if full {
		err = p.store.TruncateFullyAndStartAt(offset)
	} else {
		err = p.store.TruncateTo(offset)
	}
	if err != nil {
		return storageError(err, "truncate")
	}
	p.producers = newProducerStateManager()
	p.txns.mu.Lock()
	p.txns.ongoing, p.txns.completed, p.txns.aborted = nil, nil, nil
	p.txns.mu.Unlock()
	p.bytesSinceSnapshot = 0
	if err := p.loadProducerState(); err != nil {
		return fmt.Errorf("partition %s-%d: %w", p.cfg.Topic, p.cfg.Partition, err)
	}
	leo := p.store.LogEndOffset()
	for {
		cur := p.highWatermark.Load()
		hw := min(cur, leo)
		if full {
			hw = leo
		}
		if p.highWatermark.CompareAndSwap(cur, hw) {
			p.store.SetHighWatermark(hw)
			break
		}
	}
	p.hwChanged()
	return nil
}

// removeSnapshotsAbove deletes the producer snapshots above offset (all of
// them for -1) and makes the deletion durable.
func (p *Partition) removeSnapshotsAbove(offset int64) error {
	offs, err := listSnapshots(p.cfg.FS, p.store.Dir())
	if err != nil {
		return err
	}
	removed := false
	for _, off := range offs {
		if offset < 0 || off > offset {
			if err := p.removeSnapshot(off); err != nil {
				return err
			}
			removed = true
		}
	}
	if !removed {
		return nil
	}
	return syncDir(p.cfg.FS, p.store.Dir())
}

func syncDir(fsys vfs.FS, dir string) error {
	if err := fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
