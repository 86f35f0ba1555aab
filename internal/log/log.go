package log

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TopicPartition names a partition; its directory is "<topic>-<partition>".
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) }

func (tp TopicPartition) less(o TopicPartition) bool {
	if tp.Topic != o.Topic {
		return tp.Topic < o.Topic
	}
	return tp.Partition < o.Partition
}

// ParseTopicPartition reads a partition directory name "<topic>-<partition>".
// Topic names may contain '-', so the partition is after the last one.
func ParseTopicPartition(name string) (TopicPartition, bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return TopicPartition{}, false
	}
	p, err := strconv.ParseInt(name[i+1:], 10, 32)
	if err != nil || p < 0 || name[i+1] == '+' {
		return TopicPartition{}, false
	}
	return TopicPartition{Topic: name[:i], Partition: int32(p)}, true
}

// AppendOptions say how Append stamps the batches.
type AppendOptions struct {
	// LeaderEpoch is written into each batch's partition leader epoch and
	// feeds the leader-epoch cache (when >= 0).
	LeaderEpoch int32
	// LogAppendTime, if > 0, stamps batches with this LogAppendTime: max
	// timestamp and timestamp-type attribute set, CRC recomputed.
	LogAppendTime int64
}

// AppendResult describes what Append wrote.
type AppendResult struct {
	BaseOffset, LastOffset int64 // offsets assigned to the first and last record
	LogStartOffset         int64
	MaxTimestamp           int64 // max timestamp over the appended batches, -1 if none

	gen uint64 // the log's truncation generation when the batches went in
}

// Log is one partition's log: an ordered list of segments, the last of
// which (the active segment) takes appends. See the package documentation
// for the model and the locking rules.
type Log struct {
	m       *Manager
	tp      TopicPartition
	dir     string
	topicID atomic.Pointer[[16]byte]
	cfg     atomic.Pointer[Config]

	// mu is the appender lock: appends, rolls, retention deletion,
	// DeleteRecordsBefore and close. Readers never take it.
	mu               sync.Mutex
	active           *segment
	failed           error // sticky: set after a failed write or fsync
	closed           bool
	unflushedMsgs    int64
	firstUnflushedMs int64 // when the oldest unflushed append happened, 0 if none

	segs          atomic.Pointer[[]*segment] // copy-on-write, sorted by base offset
	leo           atomic.Int64
	lso           atomic.Int64
	recoveryPoint atomic.Int64
	isFailed      atomic.Bool
	isClosed      atomic.Bool

	epochs epochCache

	notifyMu sync.Mutex
	notify   chan struct{}

	// durable is the offset below which appended data is durable by the
	// log's policy (see DurableOffset). It grows, but for a truncation
	// below it.
	durable       atomic.Int64
	durableMu     sync.Mutex
	durableNotify chan struct{} // closed when durable advances or the log fails; nil if nobody waits

	// truncGen counts the truncations (TruncateTo, TruncateFullyAndStartAt)
	// of this log. It changes, under mu and durableMu, before a truncation
	// touches anything a reader could see, and every advance of the
	// durable offset or the recovery point carries the generation its data
	// was written in: an fsync round or a flush that finishes after a
	// truncation never moves them past the cut (advanceDurableAt). cuts
	// remembers where the recent truncations cut (cuts[g%len(cuts)] for
	// generation g; durableMu), so a durability wait can tell whether its
	// records survived (truncatedBelow).
	truncGen atomic.Uint64
	cuts     [16]int64

	// hw is the high watermark the partition layer last reported
	// (SetHighWatermark), read at open from replication-offset-checkpoint;
	// HighWatermark clamps it into the log.
	hw atomic.Int64
	// What the per-directory checkpoint files last recorded for this log
	// (what the next open would start from): recovery point, log start
	// offset, high watermark. A truncation below them writes the files
	// again.
	ckptRecoveryPoint  atomic.Int64
	ckptLogStartOffset atomic.Int64
	ckptHighWatermark  atomic.Int64
	onDurable          atomic.Pointer[func()]
	closeDone          atomic.Bool // close has finished: no offset becomes durable any more

	// dirsDurable: the partition directory's entry in the log directory,
	// the partition directory's own entries and partition.metadata are on
	// disk. Creating a partition costs no fsync (a topic of 20,000
	// partitions would otherwise cost 100,000 of them before it serves);
	// the log's first data fsync makes them durable first (syncDirs), so
	// no acknowledged record lives in a directory a power cut could take
	// away. Kafka defers partition.metadata's flush to the first append
	// the same way.
	dirsMu      sync.Mutex
	dirsDurable atomic.Bool

	bg sync.WaitGroup // finishing rolled segments
	// finishing counts rolled segments whose indexes are still being
	// written in the background; incremented under mu. The cleaner swaps
	// segments only when it is zero, so a late index write never lands on
	// a cleaned segment's files.
	finishing atomic.Int32
}

func (l *Log) segments() []*segment { return *l.segs.Load() }

func (l *Log) setSegments(s []*segment) { l.segs.Store(&s) }

// LogStartOffset is the first offset a consumer can read.
func (l *Log) LogStartOffset() int64 { return l.lso.Load() }

// LogEndOffset is the offset the next appended record gets.
func (l *Log) LogEndOffset() int64 { return l.leo.Load() }

// RecoveryPoint is the offset below which everything is flushed (with its
// indexes); recovery after a crash starts from the segment holding it.
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint.Load() }

// HighWatermark is the high watermark the partition layer last set
// (SetHighWatermark), or, until it does, the one replication-offset-checkpoint
// recorded when the log was opened; always within [LogStartOffset,
// LogEndOffset], as Kafka's UnifiedLog keeps it. The Manager writes it to
// replication-offset-checkpoint periodically and at Close, so a replica
// that restarts as a follower starts from it.
func (l *Log) HighWatermark() int64 {
	return min(max(l.hw.Load(), l.lso.Load()), l.leo.Load())
}

// SetHighWatermark records the partition's high watermark for the
// checkpoint. It is a store (the partition layer owns the rules: it never
// goes back within a leader epoch); a truncation lowers it to the new log
// end offset.
func (l *Log) SetHighWatermark(hw int64) { l.hw.Store(hw) }

// TopicPartition names the log.
func (l *Log) TopicPartition() TopicPartition { return l.tp }

// TopicID is the topic ID from partition.metadata.
func (l *Log) TopicID() [16]byte { return *l.topicID.Load() }

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// Config returns the log's settings.
func (l *Log) Config() Config { return *l.cfg.Load() }

// SetConfig changes the settings; they apply from the next append and
// retention pass.
func (l *Log) SetConfig(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	l.cfg.Store(&cfg)
	return nil
}

// Size is the bytes of all segments' .log files.
func (l *Log) Size() int64 {
	var n int64
	for _, s := range l.segments() {
		n += s.size.Load()
	}
	return n
}

// NumSegments reports how many segments the log has.
func (l *Log) NumSegments() int { return len(l.segments()) }

// Failed returns the sticky error that makes the log refuse appends, or nil.
func (l *Log) Failed() error {
	if !l.isFailed.Load() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed
}

// failLocked makes the log refuse appends until reopened.
func (l *Log) failLocked(err error) error {
	err = storageErr("log "+l.tp.String(), err)
	if l.failed == nil {
		l.failed = err
		l.isFailed.Store(true)
		l.m.logger.Error("log failed; refusing appends until reopened", "partition", l.tp.String(), "err", err)
	}
	return err
}

func (l *Log) fail(err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failLocked(err)
}

// AppendNotify returns a channel closed at the next append (for Fetch long
// polling). Check the log end offset after taking the channel.
func (l *Log) AppendNotify() <-chan struct{} {
	l.notifyMu.Lock()
	defer l.notifyMu.Unlock()
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	return l.notify
}

func (l *Log) wakeReaders() {
	l.notifyMu.Lock()
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	l.notifyMu.Unlock()
}

// batchSpan is what Append learns from a pre-pass over its input.
type batchSpan struct {
	count   int
	offsets int64 // number of offsets the batches take
	firstTs int64
	largest int64
}

func scanInput(batches []byte) (batchSpan, error) {
	var sp batchSpan
	if len(batches) == 0 {
		return sp, fmt.Errorf("%w: no batches", ErrInvalidBatch)
	}
	for pos := 0; pos < len(batches); {
		if len(batches)-pos < record.HeaderSize {
			return sp, fmt.Errorf("%w: %d trailing bytes at %d", ErrInvalidBatch, len(batches)-pos, pos)
		}
		h, _ := record.ParseHeader(batches[pos:])
		switch {
		case h.Magic != record.CurrentMagic:
			return sp, fmt.Errorf("%w: magic %d at %d", ErrInvalidBatch, h.Magic, pos)
		case h.BatchLength < record.HeaderSize-record.LogOverhead || h.Size() > int64(len(batches)-pos):
			return sp, fmt.Errorf("%w: batch length %d at %d", ErrInvalidBatch, h.BatchLength, pos)
		case h.LastOffsetDelta < 0:
			return sp, fmt.Errorf("%w: last offset delta %d at %d", ErrInvalidBatch, h.LastOffsetDelta, pos)
		}
		if sp.count == 0 {
			sp.firstTs = h.MaxTimestamp
		}
		sp.count++
		sp.offsets += int64(h.LastOffsetDelta) + 1
		sp.largest = max(sp.largest, h.Size())
		pos += int(h.Size())
	}
	return sp, nil
}

// Append is AppendAsync followed, with DurabilitySync, by WaitDurable
// for the appended records: it returns only after they are fsynced (group
// commit). With DurabilityPageCache it returns once they are written.
//
// Errors: those of AppendAsync, and those of WaitDurable (ErrStorage after a
// failed fsync, ErrClosed when the log closed first, ErrTruncated when a
// truncation removed the records first).
func (l *Log) Append(batches []byte, opts AppendOptions) (AppendResult, error) {
	res, err := l.AppendAsync(batches, opts)
	if err != nil {
		return res, err
	}
	if err := l.waitDurable(context.Background(), res.LastOffset+1, res.gen); err != nil {
		return res, err
	}
	return res, nil
}

// AppendAsync takes one or more concatenated, validated magic-2 batches,
// assigns offsets by patching each batch's base offset in place (and its
// leader epoch, and LogAppendTime if asked), writes them to the active
// segment (rolling first if needed), updates the indexes and returns,
// without waiting for an fsync: the records are readable at once (bounded
// by the log end offset) but durable only when DurableOffset passes them.
// With DurabilitySync the append is registered with the group committer,
// which fsyncs it in its next round and then advances the durable offset;
// with DurabilityPageCache the durable offset moves to the log end offset
// before AppendAsync returns. Safe for concurrent use; appends to one log
// are serialised and get increasing offsets in the order they took the
// appender lock.
//
// Errors: ErrInvalidBatch or ErrBatchTooLarge for bad input (nothing is
// written); ErrClosed; ErrStorage-wrapped errors for I/O failures, after
// which the log refuses appends until reopened.
func (l *Log) AppendAsync(batches []byte, opts AppendOptions) (AppendResult, error) {
	sp, err := scanInput(batches)
	if err != nil {
		return AppendResult{}, err
	}
	cfg := l.cfg.Load()
	if sp.largest > cfg.SegmentBytes {
		return AppendResult{}, fmt.Errorf("%w: %d bytes > %d", ErrBatchTooLarge, sp.largest, cfg.SegmentBytes)
	}

	l.mu.Lock()
	if err := l.writableLocked(); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	nowMs := l.m.nowMs()
	base := l.leo.Load()
	seg, err := l.maybeRollLocked(int64(len(batches)), base+sp.offsets-1, nowMs, cfg)
	if err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}

	// Stamp offsets, epoch and LogAppendTime into the batches.
	next := base
	maxTs := int64(-1)
	for pos := 0; pos < len(batches); {
		b := batches[pos:]
		record.SetBaseOffset(b, next)
		record.SetPartitionLeaderEpoch(b, opts.LeaderEpoch)
		h, _ := record.ParseHeader(b)
		if opts.LogAppendTime > 0 {
			record.SetLogAppendTime(b[:h.Size()], opts.LogAppendTime)
			h.MaxTimestamp = opts.LogAppendTime
		}
		maxTs = max(maxTs, h.MaxTimestamp)
		next = h.NextOffset()
		pos += int(h.Size())
	}

	if err := l.writeRunLocked(seg, batches, base, next, nowMs, cfg); err != nil {
		l.mu.Unlock()
		return AppendResult{}, err
	}
	l.leo.Store(next) // publishes the batches to readers
	gen := l.truncGen.Load()

	res := AppendResult{BaseOffset: base, LastOffset: next - 1, LogStartOffset: l.lso.Load(), MaxTimestamp: maxTs, gen: gen}
	if opts.LeaderEpoch >= 0 {
		if err := l.epochs.assign(opts.LeaderEpoch, base); err != nil {
			l.m.logger.Warn("write leader-epoch-checkpoint", "partition", l.tp.String(), "err", err)
		}
	}
	flushNow := l.appendedLocked(seg, next, sp.offsets, nowMs, cfg)
	l.mu.Unlock()
	l.wakeReaders()

	if cfg.Durability == DurabilityPageCache {
		l.advanceDurableAt(gen, next)
		if flushNow {
			if err := l.Flush(); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// writeRunLocked writes batches (whole, their offsets final: first to
// next-1, gaps allowed) at the end of segment seg, which takes them
// without a roll, and indexes them. It publishes the segment's size and
// next offset; the caller publishes the log end offset. On success the
// caller holds a reference on seg's file, which appendedLocked hands to
// the group committer or releases. A failed write is cut back off the file
// and fails the log.
func (l *Log) writeRunLocked(seg *segment, batches []byte, first, next, nowMs int64, cfg *Config) error {
	f, err := l.m.files.acquire(seg)
	if err != nil {
		return err
	}
	start := seg.size.Load()
	if _, err := f.WriteAt(batches, start); err != nil {
		// Cut off whatever part was written so nothing follows garbage.
		f.Truncate(start)
		l.m.files.release(seg)
		return l.failLocked(fmt.Errorf("write segment %d at position %d (offset %d): %w", seg.base, start, first, err))
	}
	x := seg.x
	for pos := 0; pos < len(batches); {
		h, _ := record.ParseHeader(batches[pos:])
		x.add(start+int64(pos), h)
		pos += int(h.Size())
	}
	if seg.rollTs < 0 {
		// segment.ms runs from the first append; Kafka takes the first
		// batch's timestamp, which rolls on every append when producers
		// send old timestamps, so the broker's clock is used here.
		seg.rollTs = nowMs
	}
	if p := seg.maxTs.Load(); p == nil || p.ts != x.maxTs || p.offset != x.maxTsOffset {
		seg.maxTs.Store(&tsPair{ts: x.maxTs, offset: x.maxTsOffset})
	}
	seg.next.Store(next)
	seg.size.Store(start + int64(len(batches)))
	return nil
}

// appendedLocked does the durability bookkeeping of a run written to seg
// (writeRunLocked) ending at offset end and holding n offsets: with
// DurabilitySync it registers seg with the group committer, under l.mu so
// rounds see this log's appends in offset order, handing over the file
// reference; with DurabilityPageCache it releases the reference, counts the
// messages for flush.messages and flush.ms, and reports whether a flush is
// due (the caller advances the durable offset after unlocking).
func (l *Log) appendedLocked(seg *segment, end, n, nowMs int64, cfg *Config) (flushNow bool) {
	if cfg.Durability != DurabilityPageCache {
		l.m.committer.registerLocked(l, seg, end)
		return false
	}
	l.unflushedMsgs += n
	if l.firstUnflushedMs == 0 {
		l.firstUnflushedMs = nowMs
	}
	l.m.files.release(seg)
	return l.unflushedMsgs >= cfg.FlushMessages
}

// DurableOffset is the offset below which appended records count as
// durable under the log's durability policy: fsynced with DurabilitySync;
// written (to the page cache) with DurabilityPageCache, where it follows
// the log end offset as each append returns. It never decreases but for a
// truncation (TruncateTo, TruncateFullyAndStartAt), which sets it to the
// new log end offset, and it equals the log end offset after open, after
// Flush and after a truncation. Switching a log from DurabilitySync to
// DurabilityPageCache counts every write made so far as durable at the
// next append.
func (l *Log) DurableOffset() int64 { return l.durable.Load() }

// DurableNotify returns a channel closed the next time the durable offset
// advances or the log fails. Check DurableOffset after taking the channel.
func (l *Log) DurableNotify() <-chan struct{} {
	l.durableMu.Lock()
	defer l.durableMu.Unlock()
	if l.durableNotify == nil {
		l.durableNotify = make(chan struct{})
	}
	return l.durableNotify
}

// SetDurableListener installs fn, called each time the durable offset
// advances or the log fails (nil removes it). fn runs on the committer's or
// an appender's goroutine, possibly while the log's appender lock is held:
// it must be quick, must not block and may only use the log's lock-free
// reads (DurableOffset, LogEndOffset, LogStartOffset).
func (l *Log) SetDurableListener(fn func()) {
	if fn == nil {
		l.onDurable.Store(nil)
		return
	}
	l.onDurable.Store(&fn)
}

// WaitDurable returns nil once DurableOffset() >= offset (everything below
// offset is durable), the log's sticky error if it fails first (the data
// may be lost), ErrClosed if the log closed first, ErrTruncated if a
// truncation below offset happened while it waited (the records it waits
// for are gone, and the durable offset reaching offset again would be
// other records'), or ctx's error. Append, which waits for its own
// records, also fails with ErrTruncated for a truncation between its
// write and the wait.
func (l *Log) WaitDurable(ctx context.Context, offset int64) error {
	return l.waitDurable(ctx, offset, l.truncGen.Load())
}

// waitDurable is WaitDurable for records written in truncation generation
// gen.
func (l *Log) waitDurable(ctx context.Context, offset int64, gen uint64) error {
	for {
		ch := l.DurableNotify()
		// The durable offset is read before the truncations: a value a
		// later truncation's appends produced comes with that truncation.
		d := l.durable.Load()
		if err := l.truncatedBelow(gen, offset); err != nil {
			return err
		}
		if d >= offset {
			return nil
		}
		if err := l.DurabilityErr(); err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// truncatedBelow returns ErrTruncated when a truncation after generation
// gen cut the log below offset. With more truncations since gen than the
// log remembers the cuts of, it assumes the worst.
func (l *Log) truncatedBelow(gen uint64, offset int64) error {
	if l.truncGen.Load() == gen {
		return nil
	}
	l.durableMu.Lock()
	defer l.durableMu.Unlock()
	cur := l.truncGen.Load()
	if cur-gen > uint64(len(l.cuts)) {
		return fmt.Errorf("%w: %s: %d truncations while waiting for offset %d", ErrTruncated, l.tp, cur-gen, offset)
	}
	for g := gen + 1; g <= cur; g++ {
		if cut := l.cuts[g%uint64(len(l.cuts))]; cut < offset {
			return fmt.Errorf("%w: %s truncated to %d while waiting for offset %d", ErrTruncated, l.tp, cut, offset)
		}
	}
	return nil
}

// DurabilityErr reports why the durable offset may never reach an offset
// it has not reached yet: the log's sticky storage error, or ErrClosed once
// the log is closed (or deleted). nil otherwise.
func (l *Log) DurabilityErr() error {
	if l.isFailed.Load() {
		return l.Failed()
	}
	if l.closeDone.Load() {
		return ErrClosed
	}
	return nil
}

// advanceDurableAt moves the durable offset up to off, for data written
// in truncation generation gen, and wakes waiters. After a later
// truncation it does nothing: off may lie beyond the cut.
func (l *Log) advanceDurableAt(gen uint64, off int64) {
	l.durableMu.Lock()
	if l.truncGen.Load() != gen || off <= l.durable.Load() {
		l.durableMu.Unlock()
		return
	}
	l.durable.Store(off)
	l.durableMu.Unlock()
	l.durableChanged()
}

// durableChanged wakes durability waiters and the listener.
func (l *Log) durableChanged() {
	l.durableMu.Lock()
	if l.durableNotify != nil {
		close(l.durableNotify)
		l.durableNotify = nil
	}
	l.durableMu.Unlock()
	if fn := l.onDurable.Load(); fn != nil {
		(*fn)()
	}
}

// maybeRollLocked returns the segment to append size bytes ending at offset
// last to, rolling to a new one on segment.bytes, segment.ms, a full
// index, or relative offsets that would not fit in 32 bits.
func (l *Log) maybeRollLocked(size, last int64, nowMs int64, cfg *Config) (*segment, error) {
	seg := l.active
	if err := l.activateLocked(seg, cfg); err != nil {
		return nil, err
	}
	cur := seg.size.Load()
	if cur == 0 {
		return seg, nil
	}
	roll := cur+size > cfg.SegmentBytes ||
		(seg.rollTs >= 0 && nowMs-seg.rollTs >= cfg.SegmentMs) ||
		seg.offIdx.full() || seg.timeIdx.full() ||
		last-seg.base > math.MaxInt32
	if !roll {
		return seg, nil
	}
	return l.rollLocked(nowMs, cfg)
}

// activateLocked makes a segment ready to take appends: indexes loaded and
// the indexer primed with what is already in the segment.
func (l *Log) activateLocked(seg *segment, cfg *Config) error {
	if seg.x != nil {
		seg.x.interval = int64(cfg.IndexIntervalBytes)
		return nil
	}
	if err := seg.ensureLoaded(l.m.files, cfg); err != nil {
		return l.failLocked(err)
	}
	if seg.rollTs < 0 && seg.size.Load() > 0 {
		f, err := l.m.files.acquire(seg)
		if err != nil {
			return err
		}
		h, err := newHeaderReader(f).at(0, seg.size.Load())
		l.m.files.release(seg)
		now := l.m.nowMs()
		seg.rollTs = now
		if err == nil && h.MaxTimestamp > 0 && h.MaxTimestamp < now {
			seg.rollTs = h.MaxTimestamp
		}
	}
	p := seg.maxTs.Load()
	seg.x = &indexer{
		base: seg.base, off: seg.offIdx, time: seg.timeIdx,
		bytesSince: seg.bytesSinceIndex, maxTs: p.ts, maxTsOffset: p.offset,
		interval: int64(cfg.IndexIntervalBytes),
	}
	return nil
}

// rollLocked starts a new active segment at the log end offset. The new
// file's directory entry is made durable before any data goes in; the old
// segment's indexes are trimmed and everything flushed in the background,
// after which the recovery point moves to the new segment.
//
// With DurabilitySync the old segment is fsynced first, under the lock:
// appends do not wait for their fsync, so the old segment may still hold
// data the committer has not synced, and a new segment file that survives
// a crash while that tail is lost would leave a hole in the offsets.
func (l *Log) rollLocked(nowMs int64, cfg *Config) (*segment, error) {
	old := l.active
	base := l.leo.Load()
	gen := l.truncGen.Load()
	if cfg.Durability == DurabilitySync {
		if err := l.syncDirs(); err != nil {
			return nil, l.failLocked(err)
		}
		f, err := l.m.files.acquire(old)
		if err != nil {
			return nil, l.failLocked(err)
		}
		err = syncData(f)
		l.m.files.release(old)
		if err != nil {
			return nil, l.failLocked(fmt.Errorf("sync segment %d before roll: %w", old.base, err))
		}
	}
	seg, err := createSegment(l.m.fsys, l.dir, base, cfg, nowMs)
	if err != nil {
		return nil, err
	}
	if err := l.m.fsys.SyncDir(l.dir); err != nil {
		return nil, storageErr("sync partition dir", err)
	}
	old.appendFinalTimeEntry()
	old.x = nil
	segs := append(append([]*segment(nil), l.segments()...), seg)
	l.setSegments(segs)
	l.active = seg
	if err := l.activateLocked(seg, cfg); err != nil {
		return nil, err
	}
	l.bg.Add(1)
	l.finishing.Add(1)
	go func() {
		defer l.bg.Done()
		defer l.finishing.Add(-1)
		if err := l.finishSegment(old, cfg); err != nil {
			l.fail(err)
			return
		}
		l.advanceRecoveryPointAt(gen, base)
	}()
	return seg, nil
}

// finishSegment writes a segment's indexes trimmed and fsyncs it all.
func (l *Log) finishSegment(s *segment, cfg *Config) error {
	if err := s.writeIndexes(cfg, true); err != nil {
		return err
	}
	f, err := l.m.files.acquire(s)
	if errors.Is(err, errSegmentGone) {
		return nil
	}
	if err != nil {
		return err
	}
	defer l.m.files.release(s)
	return storageErr(fmt.Sprintf("sync segment %d", s.base), syncData(f))
}

// advanceRecoveryPointAt moves the recovery point up to off, for data
// flushed in truncation generation gen; after a later truncation it does
// nothing.
func (l *Log) advanceRecoveryPointAt(gen uint64, off int64) {
	l.durableMu.Lock()
	defer l.durableMu.Unlock()
	if l.truncGen.Load() == gen && off > l.recoveryPoint.Load() {
		l.recoveryPoint.Store(off)
	}
}

// Flush fsyncs everything written so far and moves the recovery point to
// the log end offset as it was when Flush began.
func (l *Log) Flush() error {
	l.mu.Lock()
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return err
	}
	leo := l.leo.Load()
	rp := l.recoveryPoint.Load()
	gen := l.truncGen.Load()
	segs := l.segments()
	l.unflushedMsgs = 0
	l.firstUnflushedMs = 0
	l.mu.Unlock()
	if leo <= rp {
		return nil // nothing written since the last flush
	}
	if err := l.syncDirs(); err != nil {
		return l.fail(err)
	}
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].base <= rp {
			continue
		}
		f, err := l.m.files.acquire(s)
		if errors.Is(err, errSegmentGone) {
			continue
		}
		if err != nil {
			return err
		}
		err = syncData(f)
		l.m.files.release(s)
		if err != nil {
			return l.fail(fmt.Errorf("sync segment %d: %w", s.base, err))
		}
	}
	l.advanceRecoveryPointAt(gen, leo)
	l.advanceDurableAt(gen, leo)
	return nil
}

// flushIfDue runs flush.ms for DurabilityPageCache logs.
func (l *Log) flushIfDue(nowMs int64) error {
	cfg := l.cfg.Load()
	if cfg.Durability != DurabilityPageCache {
		return nil
	}
	l.mu.Lock()
	due := l.firstUnflushedMs != 0 && nowMs-l.firstUnflushedMs >= cfg.FlushMs
	l.mu.Unlock()
	if !due {
		return nil
	}
	return l.Flush()
}

// writableLocked is nil when the log takes writes: ErrClosed once closed,
// the sticky storage error once failed. The caller holds l.mu.
func (l *Log) writableLocked() error {
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// close flushes the log, writes the active segment's indexes trimmed and
// closes its files. The log refuses every call afterwards.
func (l *Log) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.isClosed.Store(true)
	l.mu.Unlock()
	l.bg.Wait()
	var err error
	if l.Failed() == nil {
		err = l.Flush()
		// An empty active segment has no index entries to write: the next
		// open finds it empty, and a node closing with many unwritten
		// partitions does not pay two fsyncs for each.
		if act := l.active; act.size.Load() > 0 {
			act.appendFinalTimeEntry()
			if werr := act.writeIndexes(l.cfg.Load(), true); err == nil {
				err = werr
			}
		}
	}
	for _, s := range l.segments() {
		l.m.files.forget(s)
	}
	l.closeDone.Store(true)
	l.wakeReaders()
	l.durableChanged()
	return err
}

// syncDirs makes the log's directory entries durable (see dirsDurable):
// partition.metadata's contents, the partition directory, and its entry in
// the log directory, in that order. Every data fsync calls it first; after
// the first success it costs an atomic load.
func (l *Log) syncDirs() error {
	if l.dirsDurable.Load() {
		return nil
	}
	l.dirsMu.Lock()
	defer l.dirsMu.Unlock()
	if l.dirsDurable.Load() {
		return nil
	}
	fsys := l.m.fsys
	if f, err := fsys.OpenFile(filepath.Join(l.dir, PartitionMetadataFile), os.O_RDONLY, 0); err == nil {
		err = f.Sync()
		f.Close()
		if err != nil {
			return storageErr("sync partition.metadata", err)
		}
	} else if !isNotExist(err) {
		return storageErr("open partition.metadata", err)
	}
	if err := fsys.SyncDir(l.dir); err != nil {
		return storageErr("sync partition dir", err)
	}
	if err := fsys.SyncDir(l.m.dir); err != nil {
		return storageErr("sync log dir", err)
	}
	l.dirsDurable.Store(true)
	return nil
}

// syncData fsyncs a file's data (fdatasync on a real file).
func syncData(f vfs.File) error {
	if of, ok := vfs.OSFile(f); ok {
		return fdatasync(of)
	}
	return f.Sync()
}
