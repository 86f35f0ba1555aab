package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is the partition's side of transactions: which producers have
// a transaction open here and from which offset, the last stable offset
// that follows from them, transaction markers, and the aborted-transaction
// index (.txnindex files, format in docs/format/txnindex.md).

// AbortedTxn is one entry of the aborted-transaction index: a producer's
// transaction that spans [FirstOffset, LastOffset] (LastOffset is the
// abort marker) and the last stable offset once it was aborted.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// txnIndexEntrySize is Kafka's AbortedTxn.TotalSize: version (int16),
// producer id, first offset, last offset, last stable offset (int64s).
const txnIndexEntrySize = 2 + 8 + 8 + 8 + 8

// completedTxn is a transaction whose marker is in the log but not yet
// below the high watermark: it still holds the last stable offset back.
type completedTxn struct {
	firstOffset  int64
	markerOffset int64
}

// txnTracker is the transaction state the last stable offset needs. It
// is changed under the partition's append lock and read under its own
// mutex (LastStableOffset runs on every fetch).
type txnTracker struct {
	mu        sync.Mutex
	ongoing   map[int64]int64 // producer id → first offset of its open transaction
	completed []completedTxn  // markers not yet below the high watermark
	aborted   []AbortedTxn    // ordered by LastOffset
}

// firstUnstableOffset is the smallest offset of a transaction that is open
// or whose marker is not yet committed, or -1.
func (t *txnTracker) firstUnstableOffset(hw int64) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := int64(-1)
	keep := t.completed[:0]
	for _, c := range t.completed {
		if c.markerOffset < hw {
			continue
		}
		keep = append(keep, c)
		if first < 0 || c.firstOffset < first {
			first = c.firstOffset
		}
	}
	t.completed = keep
	for _, off := range t.ongoing {
		if first < 0 || off < first {
			first = off
		}
	}
	return first
}

// lastStableOffset computes the LSO for a high watermark.
func (t *txnTracker) lastStableOffset(hw int64) int64 {
	if f := t.firstUnstableOffset(hw); f >= 0 && f < hw {
		return f
	}
	return hw
}

func (t *txnTracker) begin(pid, firstOffset int64) {
	t.mu.Lock()
	t.ongoing[pid] = firstOffset
	t.mu.Unlock()
}

// end closes a producer's open transaction with a marker at markerOffset;
// for an abort it returns the index entry to persist.
func (t *txnTracker) end(pid, markerOffset int64, commit bool) (AbortedTxn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first, ok := t.ongoing[pid]
	if !ok {
		return AbortedTxn{}, false
	}
	delete(t.ongoing, pid)
	t.completed = append(t.completed, completedTxn{firstOffset: first, markerOffset: markerOffset})
	if commit {
		return AbortedTxn{}, false
	}
	lso := markerOffset + 1
	for _, off := range t.ongoing {
		if off < lso {
			lso = off
		}
	}
	a := AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: markerOffset, LastStableOffset: lso}
	t.aborted = append(t.aborted, a)
	return a, true
}

// LastStableOffset bounds read_committed fetches: the first offset of the
// earliest transaction that is open or whose marker is not yet committed,
// capped at the high watermark.
func (p *Partition) LastStableOffset() int64 {
	return p.txns.lastStableOffset(p.HighWatermark())
}

// AbortedTransactions lists the aborted transactions that overlap the
// offsets [from, to), as a read_committed Fetch returns them, ordered by
// first offset.
func (p *Partition) AbortedTransactions(from, to int64) []AbortedTxn {
	p.txns.mu.Lock()
	defer p.txns.mu.Unlock()
	var out []AbortedTxn
	for _, a := range p.txns.aborted {
		if a.LastOffset >= from && a.FirstOffset < to {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FirstOffset < out[j].FirstOffset })
	return out
}

// WriteTxnMarker appends a transaction marker (a control batch) for the
// producer, ending its transaction on this partition, and waits until
// the marker is committed (below the high watermark). It answers as
// Kafka's partition does: INVALID_PRODUCER_EPOCH when the marker's epoch
// is older than the producer's, TRANSACTION_COORDINATOR_FENCED when the
// coordinator epoch is older than one already seen; a marker for a
// producer with no open transaction here is still written (it is
// harmless, and a retried marker may find its transaction already ended).
func (p *Partition) WriteTxnMarker(ctx context.Context, pid int64, epoch int16, coordinatorEpoch int32, commit bool) error {
	off, leaderEpoch, err := p.appendTxnMarker(pid, epoch, coordinatorEpoch, commit)
	if err != nil {
		return err
	}
	return p.WaitHighWatermarkInEpoch(ctx, off+1, leaderEpoch)
}

func (p *Partition) appendTxnMarker(pid int64, epoch int16, coordinatorEpoch int32, commit bool) (int64, int32, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return 0, 0, newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	t := p.term.Load()
	if !t.leader {
		return 0, 0, p.notLeader(t)
	}
	e, ok := p.producers.entry(pid)
	if ok {
		if epoch < e.Epoch {
			return 0, 0, newError(kerr.InvalidProducerEpoch, nil, "marker epoch %d of producer %d is older than %d", epoch, pid, e.Epoch)
		}
		if coordinatorEpoch < e.CoordinatorEpoch {
			return 0, 0, newError(kerr.TransactionCoordinatorFenced, nil, "marker coordinator epoch %d of producer %d is older than %d", coordinatorEpoch, pid, e.CoordinatorEpoch)
		}
	}
	typ := record.ControlAbort
	if commit {
		typ = record.ControlCommit
	}
	nowMs := p.cfg.Now().UnixMilli()
	batch, err := record.EncodeControlBatch(record.ControlSpec{
		ProducerID: pid, ProducerEpoch: epoch, Type: typ, CoordinatorEpoch: coordinatorEpoch, Timestamp: nowMs,
	})
	if err != nil {
		return 0, 0, newError(kerr.UnknownServerError, err, "encode marker")
	}
	res, err := p.store.Append(batch, t.epoch, -1)
	if err != nil {
		return 0, 0, storageError(err, "append marker")
	}
	if !ok {
		e = newProducerEntry(pid)
		p.producers.producers[pid] = e
	}
	delete(p.verification, pid)
	e.maybeUpdateEpoch(epoch)
	e.CoordinatorEpoch = coordinatorEpoch
	e.CurrentTxnFirstOffset = -1
	e.LastTimestamp = nowMs
	p.bytesSinceSnapshot += int64(len(batch))
	if a, aborted := p.txns.end(pid, res.BaseOffset, commit); aborted {
		if err := p.writeTxnIndexEntry(a); err != nil {
			// The entry is rebuilt from the log at the next load.
			p.logger.Warn("cannot write the aborted transaction index", "err", err)
		}
	}
	p.maybeSnapshotLocked()
	return res.BaseOffset, t.epoch, nil
}

// TxnVerificationGuard is the first step of KIP-890's produce verification
// for a transactional write of the producer: it returns the producer's
// current verification guard (to pass in AppendOptions.VerificationGuard
// once the transaction coordinator confirmed the partition is in the
// transaction) and whether a transaction of the producer at this epoch is
// already open here (the coordinator need not be asked then). A marker for
// the producer invalidates its guard.
func (p *Partition) TxnVerificationGuard(pid int64, epoch int16) (guard uint64, open bool) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.verification == nil {
		p.verification = map[int64]uint64{}
	}
	guard, ok := p.verification[pid]
	if !ok {
		p.lastGuard++
		guard = p.lastGuard
		p.verification[pid] = guard
	}
	if e, ok := p.producers.entry(pid); ok {
		open = e.CurrentTxnFirstOffset >= 0 && e.Epoch == epoch
	}
	return guard, open
}

// ClearTxnVerification forgets a producer's guard if it is still guard
// (the coordinator refused the partition, so no write will use it).
func (p *Partition) ClearTxnVerification(pid int64, guard uint64) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.verification[pid] == guard {
		delete(p.verification, pid)
	}
}

// trackTxnsLocked registers the transactions opened by an append's
// batches (after appendCheck.commit).
func (p *Partition) trackTxnsLocked(c *appendCheck) {
	for _, b := range c.pending {
		if !b.txn {
			continue
		}
		if e, ok := p.producers.entry(b.pid); ok && e.CurrentTxnFirstOffset >= 0 {
			p.txns.mu.Lock()
			if _, open := p.txns.ongoing[b.pid]; !open {
				p.txns.ongoing[b.pid] = e.CurrentTxnFirstOffset
			}
			p.txns.mu.Unlock()
		}
	}
}

// replayedMarker is a marker met while rebuilding producer state that
// ended a transaction open at that point.
type replayedMarker struct {
	pid, firstOffset, markerOffset int64
}

// loadTxnState rebuilds the transaction state after the producer state
// is loaded: open transactions from the producers, aborted ones from the
// .txnindex files, completed by the markers replayed from the log whose
// index entries a crash may have lost.
func (p *Partition) loadTxnState(markers []replayedMarker) error {
	t := &p.txns
	t.ongoing = map[int64]int64{}
	for pid, e := range p.producers.producers {
		if e.CurrentTxnFirstOffset >= 0 {
			t.ongoing[pid] = e.CurrentTxnFirstOffset
		}
	}
	entries, err := readTxnIndexes(p.cfg.FS, p.store.Dir())
	if err != nil {
		return err
	}
	logStart, logEnd := p.store.LogStartOffset(), p.store.LogEndOffset()
	known := map[[2]int64]bool{}
	for _, a := range entries {
		// An entry for a marker beyond the log end was written before a
		// crash took the marker back.
		if a.LastOffset >= logEnd || a.LastOffset < logStart {
			continue
		}
		known[[2]int64{a.ProducerID, a.FirstOffset}] = true
		t.aborted = append(t.aborted, a)
	}
	for _, m := range markers {
		if known[[2]int64{m.pid, m.firstOffset}] {
			continue
		}
		commit, ok := p.markerIsCommit(m.markerOffset)
		if !ok || commit {
			continue
		}
		a := AbortedTxn{ProducerID: m.pid, FirstOffset: m.firstOffset, LastOffset: m.markerOffset, LastStableOffset: m.markerOffset + 1}
		t.aborted = append(t.aborted, a)
		if err := p.writeTxnIndexEntry(a); err != nil {
			p.logger.Warn("cannot write the aborted transaction index", "err", err)
		}
	}
	sort.Slice(t.aborted, func(i, j int) bool { return t.aborted[i].LastOffset < t.aborted[j].LastOffset })
	return nil
}

// markerIsCommit reads the control batch at offset.
func (p *Partition) markerIsCommit(offset int64) (commit, ok bool) {
	c, ok := p.readMarker(offset)
	return ok && c.Type == record.ControlCommit, ok
}

// readMarker reads the control record of the control batch at offset.
func (p *Partition) readMarker(offset int64) (record.ControlRecord, bool) {
	rr, err := p.store.Read(offset, log.ReadOptions{MaxBytes: 4096, MaxOffset: offset + 1, MinOneBatch: true})
	if err != nil {
		return record.ControlRecord{}, false
	}
	buf, err := rr.AppendTo(nil)
	rr.Release()
	if err != nil {
		return record.ControlRecord{}, false
	}
	it := record.Batches(buf)
	for it.Next() {
		h := it.Header()
		if h.BaseOffset != offset || !h.IsControl() {
			continue
		}
		c, err := record.ParseControlBatch(h, it.Batch())
		if err != nil {
			return record.ControlRecord{}, false
		}
		return c, true
	}
	return record.ControlRecord{}, false
}

// writeTxnIndexEntry appends an entry to the .txnindex file of the
// segment holding the marker and syncs it.
func (p *Partition) writeTxnIndexEntry(a AbortedTxn) error {
	dir := p.store.Dir()
	base, err := segmentBaseFor(p.cfg.FS, dir, a.LastOffset)
	if err != nil {
		return err
	}
	name := filepath.Join(dir, fmt.Sprintf("%020d%s", base, log.TxnIndexFileSuffix))
	f, err := p.cfg.FS.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	if _, err := f.Write(encodeAbortedTxn(a)); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", name, err)
	}
	return f.Close()
}

func encodeAbortedTxn(a AbortedTxn) []byte {
	b := make([]byte, txnIndexEntrySize)
	be := binary.BigEndian
	be.PutUint16(b, 0)
	be.PutUint64(b[2:], uint64(a.ProducerID))
	be.PutUint64(b[10:], uint64(a.FirstOffset))
	be.PutUint64(b[18:], uint64(a.LastOffset))
	be.PutUint64(b[26:], uint64(a.LastStableOffset))
	return b
}

// errCorruptTxnIndex reports a .txnindex entry that cannot be trusted.
var errCorruptTxnIndex = errors.New("corrupt transaction index")

// DecodeTxnIndex decodes the entries of a .txnindex file. A trailing
// partial entry (a write cut short by a crash) is ignored; an entry of an
// unknown version is an error.
func DecodeTxnIndex(b []byte) ([]AbortedTxn, error) {
	be := binary.BigEndian
	var out []AbortedTxn
	for len(b) >= txnIndexEntrySize {
		if v := int16(be.Uint16(b)); v != 0 {
			return out, fmt.Errorf("%w: entry %d has version %d", errCorruptTxnIndex, len(out), v)
		}
		a := AbortedTxn{
			ProducerID:       int64(be.Uint64(b[2:])),
			FirstOffset:      int64(be.Uint64(b[10:])),
			LastOffset:       int64(be.Uint64(b[18:])),
			LastStableOffset: int64(be.Uint64(b[26:])),
		}
		if a.FirstOffset < 0 || a.LastOffset < a.FirstOffset {
			return out, fmt.Errorf("%w: entry %d spans %d to %d", errCorruptTxnIndex, len(out), a.FirstOffset, a.LastOffset)
		}
		out = append(out, a)
		b = b[txnIndexEntrySize:]
	}
	return out, nil
}

// segmentFiles lists the base offsets of the files with suffix in dir.
func segmentFiles(fsys vfs.FS, dir, suffix string) ([]int64, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var bases []int64
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() || !strings.HasSuffix(name, suffix) {
			continue
		}
		digits := strings.TrimSuffix(name, suffix)
		if len(digits) != 20 {
			continue
		}
		if n, err := strconv.ParseInt(digits, 10, 64); err == nil && n >= 0 {
			bases = append(bases, n)
		}
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	return bases, nil
}

// segmentBaseFor is the base offset of the segment holding offset: the
// largest .log base at or below it (0 when there is none).
func segmentBaseFor(fsys vfs.FS, dir string, offset int64) (int64, error) {
	bases, err := segmentFiles(fsys, dir, log.LogFileSuffix)
	if err != nil {
		return 0, err
	}
	base := int64(0)
	for _, b := range bases {
		if b <= offset {
			base = b
		}
	}
	return base, nil
}

// readTxnIndexes reads every .txnindex file of the partition directory.
func readTxnIndexes(fsys vfs.FS, dir string) ([]AbortedTxn, error) {
	bases, err := segmentFiles(fsys, dir, log.TxnIndexFileSuffix)
	if err != nil {
		return nil, err
	}
	var out []AbortedTxn
	for _, base := range bases {
		name := filepath.Join(dir, fmt.Sprintf("%020d%s", base, log.TxnIndexFileSuffix))
		f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", name, err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		entries, err := DecodeTxnIndex(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, entries...)
	}
	return out, nil
}
