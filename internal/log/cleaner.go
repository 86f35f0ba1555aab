package log

// The log cleaner: compaction for cleanup.policy=compact and
// compact,delete, following Kafka's LogCleaner.
//
// A log is split at two offsets. Below the first dirty offset (from the
// cleaner-offset-checkpoint file) the log is clean: each key appears at
// most once there. From the first dirty offset to the first uncleanable
// offset lies the dirty section the next round cleans; the first
// uncleanable offset is the lowest of the active segment's base, the base
// of the first segment with a record younger than min.compaction.lag.ms,
// the first offset of a transaction still open, and the stable offset the
// partition layer reports (high watermark / last stable offset), always
// rounded down to a segment boundary. A log is cleaned when its dirty
// ratio (dirty bytes / total bytes) exceeds min.cleanable.dirty.ratio, or
// at once when a dirty segment is older than max.compaction.lag.ms; among
// candidates the filthiest goes first.
//
// A round builds an offset map (key hash → latest offset) over the dirty
// section, as far as log.cleaner.dedupe.buffer.size allows, then rewrites
// every segment from the log start up to where the map ends, in groups of
// adjacent segments that fit one segment (segment.bytes and
// segment.index.bytes), keeping for each key only its latest record.
// Offsets never change: a cleaned batch keeps its base offset, its last
// offset delta, and its producer id, epoch and base sequence; records keep
// their offset deltas, so the log has gaps that readers step over. A batch
// whose records all survive is copied byte for byte; others are re-encoded
// with their original codec.
//
// Tombstones (records with a null value) follow Kafka 3.x: the first round
// that keeps a tombstone stamps its batch with a delete horizon (now +
// delete.retention.ms, in the batch's base timestamp, with the
// DeleteHorizon attribute bit); a later round after the horizon drops it.
//
// Producer state survives cleaning as in Kafka: the last batch of each
// producer that has not expired (producer.id.expiration.ms) is kept, empty
// if all its records went, so its sequence numbers and epoch stay in the
// log. Records of aborted transactions are removed and never enter the
// offset map; transaction markers are kept (see docs/compaction.md).
//
// The swap is crash-safe (see swapSegments in cleaner_swap.go): the cleaned
// segment is written as .cleaned files and fsynced, renamed to .swap (the
// commit point), the old segments are renamed to .deleted, and the .swap
// files take their final names. Recovery at open (open.go) deletes .cleaned
// files and completes a swap whose .log.swap file exists.
//
// Locking: one cleaning at a time per Cleaner (Cleaner.mu). Reading and
// writing segments happens without the log's lock; only the swap takes
// Log.mu, briefly, so appends wait at most for a few renames. Readers never
// wait: they keep using the old segments' open handles until Release.

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
)

// CleanerOffsetCheckpointFile is the per-directory file holding each
// compacted log's first dirty offset, in Kafka's offset checkpoint format.
const CleanerOffsetCheckpointFile = "cleaner-offset-checkpoint"

// CleanerConfig holds the broker-wide log.cleaner.* settings. Start from
// DefaultCleanerConfig.
type CleanerConfig struct {
	// DedupeBufferSize (log.cleaner.dedupe.buffer.size): bytes of the
	// offset map; 24 bytes per key. Default 128 MiB (about 5 million keys
	// at the default load factor). Minimum 1 KiB.
	DedupeBufferSize int64
	// DedupeBufferLoadFactor (log.cleaner.io.buffer.load.factor): how full
	// the offset map may get, in (0, 1]. Default 0.9.
	DedupeBufferLoadFactor float64
	// IOBufferSize (log.cleaner.io.buffer.size): bytes read from a segment
	// and written to a cleaned one at a time; grown for larger batches.
	// Default 512 KiB.
	IOBufferSize int
	// Backoff (log.cleaner.backoff.ms): how long the background cleaner
	// sleeps when no log needs cleaning. Default 15 s.
	Backoff time.Duration
	// ProducerIDExpirationMs (producer.id.expiration.ms): a producer whose
	// last batch is older than this no longer needs that batch kept.
	// Default 1 day.
	ProducerIDExpirationMs int64
	// StableOffset, if set, returns the offset the cleaner must not pass
	// for a log (the high watermark or last stable offset, which the
	// partition layer owns). Nil means the log end offset.
	StableOffset func(l *Log) int64
}

// DefaultCleanerConfig returns Kafka's defaults.
func DefaultCleanerConfig() CleanerConfig {
	return CleanerConfig{
		DedupeBufferSize:       128 << 20,
		DedupeBufferLoadFactor: 0.9,
		IOBufferSize:           512 << 10,
		Backoff:                15 * time.Second,
		ProducerIDExpirationMs: 24 * 3600 * 1000,
	}
}

// Validate checks the settings.
func (c CleanerConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.DedupeBufferSize < 1<<10:
		return bad("log.cleaner.dedupe.buffer.size %d must be at least 1024", c.DedupeBufferSize)
	case !(c.DedupeBufferLoadFactor > 0 && c.DedupeBufferLoadFactor <= 1):
		return bad("log.cleaner.io.buffer.load.factor %v must be in (0, 1]", c.DedupeBufferLoadFactor)
	case c.IOBufferSize < 1<<10:
		return bad("log.cleaner.io.buffer.size %d must be at least 1024", c.IOBufferSize)
	case c.Backoff <= 0:
		return bad("log.cleaner.backoff.ms %v must be positive", c.Backoff)
	case c.ProducerIDExpirationMs < 1:
		return bad("producer.id.expiration.ms %d must be at least 1", c.ProducerIDExpirationMs)
	}
	return nil
}

// CleanResult describes one cleaning round of one log.
type CleanResult struct {
	Partition TopicPartition
	// FirstDirtyOffset and EndOffset bound the dirty section the round
	// cleaned; EndOffset is the new first dirty offset.
	FirstDirtyOffset, EndOffset int64
	BytesRead, BytesWritten     int64
	RecordsRead, RecordsKept    int64
	SegmentsBefore              int // segments rewritten
	SegmentsAfter               int // segments they became
	MapKeys                     int
	MapUtilization              float64
	Duration                    time.Duration
}

// Cleaner compacts the logs of one Manager. Create it with
// Manager.NewCleaner (driven by calls to CleanOnce or Clean) or
// Manager.StartCleaner (a background goroutine that stops with the
// Manager). All methods are safe for concurrent use; cleanings are
// serialised.
type Cleaner struct {
	m   *Manager
	cfg CleanerConfig

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when the background loop exits; nil if not started
	wake     chan struct{}

	mu          sync.Mutex // one cleaning at a time; guards what follows
	gen         uint64     // the truncation generation of the log being cleaned, when examined
	omap        *offsetMap
	ckpt        map[TopicPartition]int64
	uncleanable map[TopicPartition]error
	readBuf     []byte
	dec         record.Decoder
	builder     record.Builder
	total       CleanerStats
}

// CleanerStats are totals since the cleaner started.
type CleanerStats struct {
	Rounds                   int64
	BytesRead, BytesWritten  int64
	RecordsRead, RecordsKept int64
	Aborted                  int64 // rounds given up because the log changed or closed
}

// errCleanerAborted: the round stopped (the cleaner or manager is
// stopping, the log closed, or its segments changed under the cleaner).
// Nothing is lost; the log is cleaned again later.
var errCleanerAborted = errors.New("log cleaning aborted")

// NewCleaner returns a cleaner for the manager's logs that runs only when
// asked (CleanOnce, Clean). It reads the cleaner-offset-checkpoint file.
func (m *Manager) NewCleaner(cfg CleanerConfig) (*Cleaner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Cleaner{
		m: m, cfg: cfg,
		stop: make(chan struct{}), wake: make(chan struct{}, 1),
		uncleanable: map[TopicPartition]error{},
	}
	c.ckpt = m.readCheckpoint(CleanerOffsetCheckpointFile)
	return c, nil
}

// StartCleaner starts a background cleaner that cleans the filthiest log
// whenever one qualifies and sleeps cfg.Backoff otherwise. It stops at
// Manager.Close (which waits for it) or Cleaner.Stop.
func (m *Manager) StartCleaner(cfg CleanerConfig) (*Cleaner, error) {
	c, err := m.NewCleaner(cfg)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	c.done = make(chan struct{})
	m.wg.Add(1)
	m.mu.Unlock()
	go c.run()
	return c, nil
}

func (c *Cleaner) run() {
	defer c.m.wg.Done()
	defer close(c.done)
	timer := time.NewTimer(c.cfg.Backoff)
	defer timer.Stop()
	for {
		_, cleaned, err := c.CleanOnce()
		if err != nil && !errors.Is(err, errCleanerAborted) {
			c.m.logger.Error("log cleaner", "err", err)
		}
		if c.stopping() {
			return
		}
		if cleaned {
			continue
		}
		timer.Reset(c.cfg.Backoff)
		select {
		case <-c.stop:
			return
		case <-c.m.stop:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

// Wake makes a sleeping background cleaner look for work now.
func (c *Cleaner) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Stop aborts any cleaning in progress (leaving the log as it was) and
// stops the background loop, waiting for it.
func (c *Cleaner) Stop() {
	c.stopOnce.Do(func() { close(c.stop) })
	if c.done != nil {
		<-c.done
	}
}

// stopping reports whether the cleaner or its manager is stopping.
func (c *Cleaner) stopping() bool {
	select {
	case <-c.stop:
		return true
	case <-c.m.stop:
		return true
	default:
		return false
	}
}

// Stats returns the totals so far.
func (c *Cleaner) Stats() CleanerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// FirstDirtyOffset is where the next cleaning of l starts (the log start
// offset if it was never cleaned).
func (c *Cleaner) FirstDirtyOffset(l *Log) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.firstDirtyLocked(l)
}

func (c *Cleaner) firstDirtyLocked(l *Log) int64 {
	lso, leo := l.LogStartOffset(), l.LogEndOffset()
	off, ok := c.ckpt[l.tp]
	if !ok || off < lso || off > leo {
		// Never cleaned, or the checkpoint is stale (the log was truncated
		// or recreated): start over from the log start, as Kafka does.
		return lso
	}
	return off
}

// cleanable is what the cleaner knows about a log before cleaning it.
type cleanable struct {
	log              *Log
	segs             []*segment // snapshot; the last is the active segment
	gen              uint64     // the log's truncation generation at the snapshot
	firstDirty       int64
	firstUncleanable int64 // a segment base
	cleanBytes       int64
	dirtyBytes       int64
	needNow          bool // a dirty segment passed max.compaction.lag.ms
}

func (ct *cleanable) ratio() float64 {
	total := ct.cleanBytes + ct.dirtyBytes
	if total == 0 {
		return 0
	}
	return float64(ct.dirtyBytes) / float64(total)
}

// examine computes a log's dirty section from a snapshot of its segments.
func (c *Cleaner) examine(l *Log, nowMs int64) (*cleanable, error) {
	cfg := l.cfg.Load()
	segs, gen, err := c.snapshot(l)
	if err != nil {
		return nil, err
	}
	ct := &cleanable{log: l, segs: segs, gen: gen, firstDirty: c.firstDirtyLocked(l)}
	active := segs[len(segs)-1]
	bound := active.base
	if c.cfg.StableOffset != nil {
		bound = min(bound, c.cfg.StableOffset(l))
	}
	bound = min(bound, l.LogEndOffset())
	firstDirtySeg := floorSegment(segs, ct.firstDirty)
	earliest := int64(math.MaxInt64)
	for i := firstDirtySeg; i < len(segs)-1 && segs[i].base < bound; i++ {
		s := segs[i]
		if cfg.MinCompactionLagMs > 0 {
			ts, _, err := s.largestTimestamp(c.m.files, cfg)
			if err != nil {
				return nil, err
			}
			if ts > nowMs-cfg.MinCompactionLagMs {
				bound = min(bound, s.base)
				break
			}
		}
		if cfg.MaxCompactionLagMs < math.MaxInt64 {
			if ts, ok := c.firstBatchTimestamp(s); ok && ts > 0 {
				earliest = min(earliest, ts)
			}
		}
	}
	// Round down to a segment boundary: only whole segments are cleanable.
	ct.firstUncleanable = segs[floorSegment(segs, bound)].base
	if bound < segs[0].base {
		ct.firstUncleanable = segs[0].base
	}
	for i, s := range segs[:len(segs)-1] {
		switch {
		case s.base >= ct.firstUncleanable:
		case i < firstDirtySeg:
			ct.cleanBytes += s.size.Load()
		default:
			ct.dirtyBytes += s.size.Load()
		}
	}
	if ct.firstUncleanable <= ct.firstDirty {
		ct.dirtyBytes = 0
	}
	if earliest != math.MaxInt64 && cfg.MaxCompactionLagMs < math.MaxInt64 && nowMs-cfg.MaxCompactionLagMs > earliest {
		ct.needNow = true
	}
	return ct, nil
}

// snapshot returns the log's segments at a moment when no rolled segment
// is still being finished in the background: every segment but the last
// (active) one then has its final index files, and a later roll only
// finishes segments from the snapshot's active one on, which the cleaner
// never touches. Finishing takes one fsync, so the wait is short.
func (c *Cleaner) snapshot(l *Log) ([]*segment, uint64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		l.mu.Lock()
		segs, busy, closed, gen := l.segments(), l.finishing.Load() != 0, l.closed, l.truncGen.Load()
		l.mu.Unlock()
		switch {
		case closed:
			return nil, 0, fmt.Errorf("%w: log closed", errCleanerAborted)
		case !busy:
			return segs, gen, nil
		case time.Now().After(deadline):
			return nil, 0, fmt.Errorf("%w: rolled segments of %s still being finished", errCleanerAborted, l.tp)
		}
		select {
		case <-c.stop:
			return nil, 0, errCleanerAborted
		case <-c.m.stop:
			return nil, 0, errCleanerAborted
		case <-time.After(time.Millisecond):
		}
	}
}

// firstBatchTimestamp reads the max timestamp of a segment's first batch
// (Kafka's clock for max.compaction.lag.ms).
func (c *Cleaner) firstBatchTimestamp(s *segment) (int64, bool) {
	if s.size.Load() < record.HeaderSize {
		return 0, false
	}
	f, err := c.m.files.acquire(s)
	if err != nil {
		return 0, false
	}
	defer c.m.files.release(s)
	h, err := newHeaderReader(f).at(0, s.size.Load())
	if err != nil {
		return 0, false
	}
	return h.MaxTimestamp, true
}

// CleanOnce cleans the filthiest compacted log, if any qualifies: one whose
// dirty ratio exceeds its min.cleanable.dirty.ratio, or that has a dirty
// segment older than max.compaction.lag.ms. cleaned=false when none did.
func (c *Cleaner) CleanOnce() (res CleanResult, cleaned bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.m.nowMs()
	var best *cleanable
	for _, l := range c.m.Logs() {
		cfg := l.cfg.Load()
		if !cfg.Compacts() || l.isClosed.Load() || l.isFailed.Load() {
			continue
		}
		if _, bad := c.uncleanable[l.tp]; bad {
			continue
		}
		ct, err := c.examine(l, now)
		if err != nil {
			c.m.logger.Warn("log cleaner: examine", "partition", l.tp.String(), "err", err)
			continue
		}
		if ct.dirtyBytes == 0 || !(ct.needNow || ct.ratio() > cfg.MinCleanableDirtyRatio) {
			continue
		}
		if best == nil || (ct.needNow && !best.needNow) || (ct.needNow == best.needNow && ct.ratio() > best.ratio()) {
			best = ct
		}
	}
	if best == nil {
		return CleanResult{}, false, nil
	}
	res, err = c.cleanLocked(best, now)
	if err != nil && !errors.Is(err, errCleanerAborted) {
		// As Kafka does, a log that fails to clean is left alone until the
		// cleaner restarts, so one bad log cannot stall the others.
		c.uncleanable[best.log.tp] = err
		return res, false, fmt.Errorf("clean %s: %w", best.log.tp, err)
	}
	return res, err == nil, err
}

// Clean cleans l now, whatever its dirty ratio (min.compaction.lag.ms and
// the other bounds still apply). It fails for a log whose cleanup.policy
// does not compact, and gives up (leaving the log as it was) when the log
// changed or closed meanwhile.
func (c *Cleaner) Clean(l *Log) (CleanResult, error) {
	if !l.cfg.Load().Compacts() {
		return CleanResult{}, fmt.Errorf("log %s: cleanup.policy %q does not compact", l.tp, l.cfg.Load().CleanupPolicy)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.m.nowMs()
	ct, err := c.examine(l, now)
	if err != nil {
		return CleanResult{}, err
	}
	return c.cleanLocked(ct, now)
}

// writeCheckpointLocked writes cleaner-offset-checkpoint for the logs that
// still exist.
func (c *Cleaner) writeCheckpointLocked() error {
	out := map[TopicPartition]int64{}
	for _, l := range c.m.Logs() {
		if off, ok := c.ckpt[l.tp]; ok {
			out[l.tp] = off
		}
	}
	c.ckpt = out
	return writeFileAtomic(c.m.fsys, filepath.Join(c.m.dir, CleanerOffsetCheckpointFile), FormatOffsetCheckpoint(out))
}
