package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// DefaultProducerIDExpirationMs is Kafka's producer.id.expiration.ms: one day.
const DefaultProducerIDExpirationMs = 24 * 3600 * 1000

// TimestampType is a topic's message.timestamp.type.
type TimestampType int8

const (
	// CreateTime keeps the producer's timestamps (Kafka's default).
	CreateTime TimestampType = iota
	// LogAppendTime stamps each batch with the broker's clock on append.
	LogAppendTime
)

// ParseTimestampType reads a message.timestamp.type value.
func ParseTimestampType(s string) (TimestampType, error) {
	switch s {
	case "CreateTime", "":
		return CreateTime, nil
	case "LogAppendTime":
		return LogAppendTime, nil
	}
	return CreateTime, fmt.Errorf("message.timestamp.type %q is neither CreateTime nor LogAppendTime", s)
}

// Config describes one partition replica to New.
type Config struct {
	// Log is the partition's log (required).
	Log *log.Log
	// FS is the file system the producer snapshots are written with; nil
	// means the real one (vfs.OS). It must be the one the log uses.
	FS vfs.FS
	// Topic, TopicID and Partition name the partition (for messages).
	Topic     string
	TopicID   [16]byte
	Partition int32
	// LeaderEpoch is the partition's leader epoch from the metadata image;
	// it is written into every appended batch.
	LeaderEpoch int32
	// Follower opens the replica as a follower of LeaderEpoch (it appends
	// only through AppendAsFollower) with the high watermark the log
	// checkpointed; otherwise it opens as the leader, its high watermark
	// the log's durable offset.
	Follower bool
	// ProducerIDExpirationMs (producer.id.expiration.ms): producers idle this
	// long are forgotten by ExpireProducers and at load. 0 means the default,
	// one day.
	ProducerIDExpirationMs int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Appended, if set, hears of every append as leader that wrote records
	// (a duplicate does not), with the batches' size in bytes and their
	// record count, for metrics. It runs under the append lock and must be
	// quick.
	Appended func(bytes int, records int64)
	// TruncatedBelowHighWatermark, if set, hears of a follower truncation
	// below the high watermark it had exposed (ApplyFetched), for metrics.
	TruncatedBelowHighWatermark func()

	// storage replaces Log in tests.
	storage storage
}

// Validate checks the config.
func (c *Config) Validate() error {
	if c.Log == nil && c.storage == nil {
		return errors.New("partition: config has no log")
	}
	if c.Partition < 0 {
		return fmt.Errorf("partition: negative partition index %d", c.Partition)
	}
	if c.ProducerIDExpirationMs < 0 {
		return fmt.Errorf("partition: producer.id.expiration.ms %d is negative", c.ProducerIDExpirationMs)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.FS == nil {
		c.FS = vfs.OS
	}
	if c.ProducerIDExpirationMs == 0 {
		c.ProducerIDExpirationMs = DefaultProducerIDExpirationMs
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// AppendOptions carry the produce request's and the topic's settings that
// govern one leader append.
type AppendOptions struct {
	// RequiredAcks is the request's acks (-1, 0 or 1). With -1 the append
	// fails with NOT_ENOUGH_REPLICAS when the in-sync replicas are fewer
	// than MinInsyncReplicas.
	RequiredAcks int16
	// MinInsyncReplicas is the topic's min.insync.replicas; 0 means 1.
	MinInsyncReplicas int32
	// TimestampType is the topic's message.timestamp.type.
	TimestampType TimestampType
	// MaxMessageBytes is the topic's max.message.bytes: the largest batch
	// accepted, in bytes, including its 12-byte offset and length prefix.
	// 0 means no limit.
	MaxMessageBytes int32
	// TimestampBeforeMaxMs and TimestampAfterMaxMs are the topic's
	// message.timestamp.before.max.ms and message.timestamp.after.max.ms:
	// with CreateTime, batches whose first or max timestamp lies further in
	// the past or future get INVALID_TIMESTAMP. 0 (or less) means no limit.
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	// Now is the clock for LogAppendTime and timestamp checks; nil means
	// the partition's clock.
	Now func() time.Time
	// Coordinator marks an append by a coordinator of this broker (the
	// group coordinator's transactional offset commits), as Kafka's
	// AppendOrigin.COORDINATOR: its batches all start at sequence 0, so
	// the duplicate and sequence checks are skipped; epochs and the
	// verification guard are still checked.
	Coordinator bool
	// VerificationGuard, when not 0, is what TxnVerificationGuard returned
	// before the transaction coordinator confirmed that this partition is
	// part of the producer's transaction (KIP-890 part 1). Transactional
	// batches are then refused with INVALID_TXN_STATE if a marker ended the
	// producer's transaction here since, so a late write cannot open a
	// transaction the coordinator no longer knows.
	VerificationGuard uint64
}

// AppendResult is what a Produce response reports for the partition.
type AppendResult struct {
	BaseOffset     int64 // offset of the first appended record
	LastOffset     int64 // offset of the last appended record
	LogAppendTime  int64 // broker timestamp with LogAppendTime, else -1
	LogStartOffset int64
	// Duplicate is set when the batch was a retry of one already in the
	// log: nothing was appended and the offsets are the original ones.
	Duplicate bool
	// LeaderEpoch is the leader epoch the partition appended in (for a
	// duplicate: the one it answered in); WaitHighWatermarkInEpoch waits
	// for the records in it.
	LeaderEpoch int32
}

// Partition is a replica of one partition on this node, as leader or as
// follower: the log plus the state Kafka keeps beside it (high watermark,
// leader epoch, idempotent producer state).
//
// Concurrency: AppendAsLeader(Async), AppendAsFollower, TruncateTo,
// TruncateFullyAndStartAt, the role changes (BecomeLeader, BecomeFollower,
// SetLeaderEpoch), DeleteRecordsBefore, Snapshot, Close and
// ExpireProducers are serialised by one mutex (appendMu), which makes the
// producer checks and the log append atomic per partition. HighWatermark,
// LeaderEpoch, IsLeader and Log read atomics and may be called from any
// goroutine at any time; ActiveProducers takes appendMu.
// WaitHighWatermark takes no lock but hwMu, briefly.
type Partition struct {
	cfg    Config
	store  storage
	logger *slog.Logger

	// term is the role and leader epoch the partition is in; a new one
	// replaces it at every change (roles.go). Written under appendMu.
	term             atomic.Pointer[term]
	epochStartOffset atomic.Int64 // the log end offset at BecomeLeader; -1 otherwise
	// replicated: the in-sync replicas include followers, and the high
	// watermark moves only through SetHighWatermark.
	replicated    atomic.Bool
	highWatermark atomic.Int64

	// repMu guards the leader's replication bookkeeping (isr.go); repTerm
	// is the leader term it was reset for.
	repMu   sync.Mutex
	rep     replicationState
	repTerm *term

	hwMu       sync.Mutex
	hwNotify   chan struct{}     // closed when the high watermark advances; nil if nobody waits
	hwWatchers []chan<- struct{} // signalled, without blocking, when it advances

	appendMu           sync.Mutex
	producers          *producerStateManager // guarded by appendMu
	bytesSinceSnapshot int64                 // guarded by appendMu
	lastSnapshotOffset int64                 // guarded by appendMu
	closed             bool                  // guarded by appendMu
	scratch            appendCheck           // guarded by appendMu; reused so appends do not allocate
	txns               txnTracker            // changed under appendMu; read under its own mutex
	verification       map[int64]uint64      // guarded by appendMu: producer id → current verification guard
	lastGuard          uint64                // guarded by appendMu
}

// New opens the partition over its log: it loads the producer state from the
// newest valid snapshot and replays the batch headers after it (or the whole
// log when there is no snapshot), and sets the high watermark to the log end
// offset (a single replica is always in sync).
func New(cfg Config) (*Partition, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	store := cfg.storage
	if store == nil {
		store = logStorage{cfg.Log}
	}
	p := &Partition{
		cfg:       cfg,
		store:     store,
		logger:    cfg.Logger.With("topic", cfg.Topic, "partition", cfg.Partition),
		producers: newProducerStateManager(),
	}
	p.term.Store(&term{epoch: cfg.LeaderEpoch, leader: !cfg.Follower, ended: make(chan struct{})})
	p.epochStartOffset.Store(-1)
	if err := p.loadProducerState(); err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", cfg.Topic, cfg.Partition, err)
	}
	if cfg.Follower {
		// A follower starts from the high watermark it checkpointed; the
		// leader's fetch responses move it on.
		p.highWatermark.Store(min(p.store.HighWatermark(), p.store.DurableOffset()))
	} else {
		p.highWatermark.Store(p.store.DurableOffset())
	}
	p.store.SetHighWatermark(p.highWatermark.Load())
	p.store.SetDurableListener(p.durableChanged)
	return p, nil
}

// Topic is the partition's topic name.
func (p *Partition) Topic() string { return p.cfg.Topic }

// TopicID is the partition's topic id.
func (p *Partition) TopicID() [16]byte { return p.cfg.TopicID }

// Index is the partition's index within its topic.
func (p *Partition) Index() int32 { return p.cfg.Partition }

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 { return p.term.Load().epoch }

// CheckLeaderEpoch applies Kafka's current-leader-epoch check to an epoch a
// client sent (-1 means the client did not send one): FENCED_LEADER_EPOCH
// when it is older than ours, UNKNOWN_LEADER_EPOCH when newer.
func (p *Partition) CheckLeaderEpoch(current int32) error {
	if current < 0 {
		return nil
	}
	ours := p.LeaderEpoch()
	switch {
	case current < ours:
		return newError(kerr.FencedLeaderEpoch, nil, "leader epoch %d is older than the current %d", current, ours)
	case current > ours:
		return newError(kerr.UnknownLeaderEpoch, nil, "leader epoch %d is newer than the current %d", current, ours)
	}
	return nil
}

// storageLog is the partition's log, for this package's tests (nil with
// the in-memory Storage). Callers outside reach data through Read and the
// append methods only.
func (p *Partition) storageLog() *log.Log { return p.cfg.Log }

// LogStartOffset is the log's first offset.
func (p *Partition) LogStartOffset() int64 { return p.store.LogStartOffset() }

// LogEndOffset is the next offset the log will assign.
func (p *Partition) LogEndOffset() int64 { return p.store.LogEndOffset() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the largest leader epoch
// <= epoch known to the log and the offset where it ended (the log end
// offset for the current epoch); (-1, -1) when the log knows no such epoch.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return p.store.EndOffsetForEpoch(epoch)
}

// ActiveProducers lists the producers with state on this partition, by id.
func (p *Partition) ActiveProducers() []ProducerState {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.producers.active()
}

// AppendAsLeader is AppendAsLeaderAsync followed by WaitHighWatermark for
// the appended records (without a deadline): it returns once they are
// committed, which with the log's DurabilitySync means fsynced. A retried
// batch waits for its original records the same way.
func (p *Partition) AppendAsLeader(batches []byte, opts AppendOptions) (AppendResult, error) {
	res, err := p.AppendAsLeaderAsync(batches, opts)
	if err != nil {
		return res, err
	}
	if err := p.WaitHighWatermarkInEpoch(context.Background(), res.LastOffset+1, res.LeaderEpoch); err != nil {
		return AppendResult{}, err
	}
	return res, nil
}

// AppendAsLeaderAsync validates a produce request's record set for this
// partition and appends it. batches must be whole magic-2 batches; they are
// modified in place (base offsets, leader epoch, LogAppendTime) and may be
// retained by the log until AppendAsLeaderAsync returns.
//
// It returns once the records are written, not once they are committed:
// with DurabilitySync the high watermark passes them only after the group
// commit fsynced them. A caller that acknowledges (a produce with acks 1
// or all, on a single replica) waits with WaitHighWatermark(ctx,
// LastOffset+1); appends of one partition keep the order of their calls,
// so a connection may append its next request meanwhile.
//
// Errors are *Error values carrying the Kafka code for the response:
// CORRUPT_MESSAGE (framing, CRC), INVALID_RECORD (record rules, control
// batches from clients, no batch at all), INVALID_TIMESTAMP,
// UNSUPPORTED_COMPRESSION_TYPE, MESSAGE_TOO_LARGE (a batch over
// max.message.bytes), RECORD_LIST_TOO_LARGE (over segment.bytes),
// NOT_ENOUGH_REPLICAS, INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER,
// KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER (the partition is closed).
//
// A batch that repeats one of the producer's last five (same producer id,
// epoch and sequence range) is not appended: the result carries its
// original offsets and Duplicate, as Kafka answers a retried batch.
func (p *Partition) AppendAsLeaderAsync(batches []byte, opts AppendOptions) (AppendResult, error) {
	now := p.cfg.Now
	if opts.Now != nil {
		now = opts.Now
	}
	nowMs := now().UnixMilli()

	// Validate every batch before touching any state.
	var (
		n         int
		totalRecs int64
	)
	it := record.Batches(batches)
	for it.Next() {
		batch := it.Batch()
		if opts.MaxMessageBytes > 0 && len(batch) > int(opts.MaxMessageBytes) {
			return AppendResult{}, newError(kerr.MessageTooLarge, nil,
				"batch %d is %d bytes, larger than max.message.bytes %d", n, len(batch), opts.MaxMessageBytes)
		}
		h, err := record.Validate(batch)
		if err != nil {
			return AppendResult{}, newError(record.KafkaError(err), err, "batch %d", n)
		}
		if h.IsControl() {
			return AppendResult{}, newError(kerr.InvalidRecord, nil, "batch %d: clients may not write control batches", n)
		}
		if opts.TimestampType == CreateTime {
			if err := checkTimestamps(h, nowMs, opts); err != nil {
				return AppendResult{}, newError(kerr.InvalidTimestamp, nil, "batch %d: %v", n, err)
			}
		}
		totalRecs += int64(h.LastOffsetDelta) + 1
		n++
	}
	if err := it.Err(); err != nil {
		return AppendResult{}, newError(record.KafkaError(err), err, "record set")
	}
	if n == 0 {
		return AppendResult{}, newError(kerr.InvalidRecord, nil, "a produce request must hold at least one record batch per partition")
	}

	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return AppendResult{}, newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	t := p.term.Load()
	if !t.leader {
		return AppendResult{}, p.notLeader(t)
	}
	// After the leadership check, as Kafka does: a follower answers
	// NOT_LEADER_OR_FOLLOWER, which sends the client to the leader.
	if opts.RequiredAcks == -1 && opts.MinInsyncReplicas > 1 {
		if n := p.isrSize(); n < int(opts.MinInsyncReplicas) {
			return AppendResult{}, newError(kerr.NotEnoughReplicas, nil,
				"the in-sync replicas (%d) are fewer than min.insync.replicas (%d)", n, opts.MinInsyncReplicas)
		}
	}

	// Producer checks, against the state as of the current log end.
	predictedBase := p.store.LogEndOffset()
	check := &p.scratch
	check.init(p.producers)
	var rel int64
	it = record.Batches(batches)
	for it.Next() {
		h := it.Header()
		if opts.VerificationGuard != 0 && h.IsTransactional() && p.verification[h.ProducerID] != opts.VerificationGuard {
			return AppendResult{}, newError(kerr.InvalidTxnState, nil,
				"the transaction of producer %d ended on %s-%d after the partition was verified to be part of it", h.ProducerID, p.cfg.Topic, p.cfg.Partition)
		}
		if opts.Coordinator {
			// No sequences: nothing is a duplicate.
		} else if dup, ok := check.duplicate(h); ok {
			res := AppendResult{
				BaseOffset:     dup.firstOffset(),
				LastOffset:     dup.LastOffset,
				LogAppendTime:  -1,
				LogStartOffset: p.store.LogStartOffset(),
				Duplicate:      true,
				LeaderEpoch:    t.epoch,
			}
			if opts.TimestampType == LogAppendTime {
				res.LogAppendTime = dup.Timestamp
			}
			return res, nil
		}
		rel += int64(h.LastOffsetDelta)
		if err := check.check(h, rel, predictedBase+rel-int64(h.LastOffsetDelta), !opts.Coordinator); err != nil {
			return AppendResult{}, err
		}
		rel++
	}

	logAppendTime := int64(-1)
	if opts.TimestampType == LogAppendTime {
		logAppendTime = nowMs
	}
	res, err := p.store.Append(batches, t.epoch, logAppendTime)
	if err != nil {
		return AppendResult{}, storageError(err, "append")
	}
	check.commit(res.BaseOffset, logAppendTime)
	p.trackTxnsLocked(check)
	p.bytesSinceSnapshot += int64(len(batches))
	p.maybeSnapshotLocked()
	if p.cfg.Appended != nil {
		p.cfg.Appended(len(batches), totalRecs)
	}
	if p.replicated.Load() {
		// Followers' fetches wait on the same notification for records.
		p.hwChanged()
	}

	return AppendResult{
		BaseOffset:     res.BaseOffset,
		LastOffset:     res.LastOffset,
		LogAppendTime:  logAppendTime,
		LogStartOffset: res.LogStartOffset,
		LeaderEpoch:    t.epoch,
	}, nil
}

// checkTimestamps applies message.timestamp.before/after.max.ms to the
// batch's first and max timestamps (-1, "no timestamp", is not checked).
func checkTimestamps(h record.Header, nowMs int64, opts AppendOptions) error {
	for _, ts := range [2]int64{h.BaseTimestamp, h.MaxTimestamp} {
		if ts < 0 {
			continue
		}
		if opts.TimestampBeforeMaxMs > 0 && nowMs-ts > opts.TimestampBeforeMaxMs {
			return fmt.Errorf("timestamp %d is more than message.timestamp.before.max.ms (%d) before the broker's time %d", ts, opts.TimestampBeforeMaxMs, nowMs)
		}
		if opts.TimestampAfterMaxMs > 0 && ts-nowMs > opts.TimestampAfterMaxMs {
			return fmt.Errorf("timestamp %d is more than message.timestamp.after.max.ms (%d) after the broker's time %d", ts, opts.TimestampAfterMaxMs, nowMs)
		}
	}
	return nil
}

// DeleteRecordsBefore moves the log start offset up to offset, as the
// DeleteRecords API asks; offset -1 means the high watermark. An offset
// above the high watermark gets OFFSET_OUT_OF_RANGE. It returns the new
// log start offset (the low watermark of the response). Producers whose
// records are all gone are forgotten.
func (p *Partition) DeleteRecordsBefore(offset int64) (int64, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return -1, newError(kerr.NotLeaderForPartition, nil, "partition %s-%d is closed", p.cfg.Topic, p.cfg.Partition)
	}
	hw := p.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, newError(kerr.OffsetOutOfRange, nil,
			"cannot delete records before offset %d: the high watermark is %d", offset, hw)
	}
	start, err := p.store.DeleteRecordsBefore(offset)
	if err != nil {
		return -1, storageError(err, "delete records")
	}
	p.producers.removeBefore(start)
	return start, nil
}

// ExpireProducers forgets producers idle for producer.id.expiration.ms (the
// broker calls it every producer.id.expiration.check.interval.ms). It
// returns how many were removed.
func (p *Partition) ExpireProducers() int {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.producers.expire(p.cfg.Now().UnixMilli(), p.cfg.ProducerIDExpirationMs)
}

// Snapshot writes the producer state as of the log end offset to
// "<offset>.snapshot" and keeps only the newest two snapshots.
func (p *Partition) Snapshot() error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return nil
	}
	return p.snapshotLocked()
}

// Close writes a final producer snapshot and refuses further appends. The
// log itself is closed by its manager.
func (p *Partition) Close() error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.snapshotLocked()
}

// maybeSnapshotLocked takes a snapshot once about a segment's worth of
// bytes was appended since the last one, so a restart replays at most about
// one segment of headers (Kafka snapshots on every segment roll).
func (p *Partition) maybeSnapshotLocked() {
	if p.bytesSinceSnapshot < p.store.SegmentBytes() {
		return
	}
	if err := p.snapshotLocked(); err != nil {
		// Not fatal: the state is rebuilt from the log on restart.
		p.logger.Warn("producer snapshot failed", "err", err)
	}
}

func (p *Partition) snapshotLocked() error {
	offset := p.store.LogEndOffset()
	if offset == p.lastSnapshotOffset && p.bytesSinceSnapshot == 0 {
		return nil
	}
	if err := writeSnapshotFile(p.cfg.FS, p.store.Dir(), offset, encodeSnapshot(p.producers.producers)); err != nil {
		return err
	}
	p.lastSnapshotOffset = offset
	p.bytesSinceSnapshot = 0
	return p.pruneSnapshots()
}

// pruneSnapshots keeps the newest snapshotsToKeep snapshot files.
func (p *Partition) pruneSnapshots() error {
	offs, err := listSnapshots(p.cfg.FS, p.store.Dir())
	if err != nil {
		return err
	}
	for len(offs) > snapshotsToKeep {
		if err := p.removeSnapshot(offs[0]); err != nil {
			return err
		}
		offs = offs[1:]
	}
	return nil
}

func (p *Partition) removeSnapshot(offset int64) error {
	if err := p.cfg.FS.Remove(joinDir(p.store.Dir(), snapshotName(offset))); err != nil {
		return fmt.Errorf("remove producer snapshot %d: %w", offset, err)
	}
	return nil
}

// loadProducerState rebuilds the producer state at open: newest valid
// snapshot at or below the log end offset, then the batches after it.
func (p *Partition) loadProducerState() error {
	fs, dir := p.cfg.FS, p.store.Dir()
	if err := removeStrayTmp(fs, dir); err != nil {
		return err
	}
	offs, err := listSnapshots(fs, dir)
	if err != nil {
		return err
	}
	logStart, logEnd := p.store.LogStartOffset(), p.store.LogEndOffset()
	from := logStart
	loaded := int64(-1)
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		if off > logEnd {
			// The log was truncated below the snapshot (unflushed data
			// lost in a crash): the snapshot describes records that no
			// longer exist.
			if err := p.removeSnapshot(off); err != nil {
				return err
			}
			continue
		}
		producers, err := readSnapshotFile(fs, dir, off)
		if err != nil {
			p.logger.Warn("ignoring damaged producer snapshot", "offset", off, "err", err)
			if err := p.removeSnapshot(off); err != nil {
				return err
			}
			continue
		}
		p.producers.producers = producers
		loaded = off
		if off > from {
			from = off
		}
		break
	}
	scanned := 0
	var markers []replayedMarker
	lastMarker := map[int64]int64{} // producer id → offset of its last transaction marker replayed
	err = p.store.ScanHeaders(from, func(h record.Header) error {
		if h.LastOffset() < from {
			return nil
		}
		if e, ok := p.producers.entry(h.ProducerID); ok && h.IsControl() && e.CurrentTxnFirstOffset >= 0 {
			markers = append(markers, replayedMarker{pid: h.ProducerID, firstOffset: e.CurrentTxnFirstOffset, markerOffset: h.BaseOffset})
		}
		if h.IsControl() && h.ProducerID >= 0 {
			lastMarker[h.ProducerID] = h.BaseOffset
		}
		p.producers.replay(h)
		scanned++
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state from offset %d: %w", from, err)
	}
	// A marker's coordinator epoch is in its record, which the header scan
	// does not read: read each producer's last marker.
	for pid, off := range lastMarker {
		if e, ok := p.producers.entry(pid); ok {
			if c, ok := p.readMarker(off); ok && (c.Type == record.ControlAbort || c.Type == record.ControlCommit) {
				e.CoordinatorEpoch = c.CoordinatorEpoch
			}
		}
	}
	p.producers.removeBefore(logStart)
	p.producers.expire(p.cfg.Now().UnixMilli(), p.cfg.ProducerIDExpirationMs)
	if scanned == 0 {
		// Nothing after the snapshot (or no snapshot and an empty log):
		// the next open rebuilds this same state without a new snapshot,
		// so Close writes none. A node closing with thousands of empty
		// partitions does not write a file into each.
		loaded = logEnd
	}
	p.lastSnapshotOffset = loaded
	if err := p.loadTxnState(markers); err != nil {
		return err
	}
	p.logger.Debug("producer state loaded", "snapshot", loaded, "scan_from", from, "batches_replayed", scanned,
		"producers", len(p.producers.producers))
	return nil
}

// storageError turns a log failure into the Kafka error for the response.
func storageError(err error, op string) error {
	var rec *Error
	if errors.As(err, &rec) {
		return err
	}
	code := classifyLogError(err)
	return newError(code, err, "%s", op)
}
