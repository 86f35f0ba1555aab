package txn

import (
	"context"
	"errors"
	"fmt"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Storage persists the coordinator's records in the partitions of
// __transaction_state (see coordinator.Storage for the contract); it creates
// the topic on first use. The coordinator serialises Append calls per
// transactional id but may call Append for different ids concurrently.
type Storage = coordinator.Storage

// Marker is a transaction marker to write to the partitions of a
// transaction: a control batch ending the producer's transaction there.
type Marker struct {
	TransactionalID  string
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	Partitions       []TopicPartition
}

// MarkerWriter writes transaction markers to partition leaders (in process
// to the partitions of the coordinator's node, WriteTxnMarkers requests to
// the others: the replica manager's marker channel). WriteMarkers returns
// once each marker is durable, with the
// partitions where writing failed and should be retried; a partition that
// no longer exists counts as done, as Kafka drops its markers. It is
// called with the transaction's lock held and must not call back into the
// coordinator for the same transactional id.
type MarkerWriter interface {
	WriteMarkers(ctx context.Context, m Marker) (failed []TopicPartition)
}

// Options configure New.
type Options struct {
	Config  Config
	Storage Storage      // required
	Markers MarkerWriter // required
	// ProducerIDs allocates a fresh, never used producer id (required).
	ProducerIDs func(ctx context.Context) (int64, error)
	// PartitionExists tells whether a partition may join a transaction;
	// nil accepts every partition.
	PartitionExists func(TopicPartition) bool
	// OffsetsPartition is the __consumer_offsets partition of a group,
	// added to the transaction by AddOffsetsToTxn (required).
	OffsetsPartition func(group string) TopicPartition
	// NumPartitions is the number of partitions of __transaction_state
	// that transactional ids map to: the topic's in the cluster metadata
	// once it exists, as Kafka's coordinator reads it, so that every node
	// maps an id to the same partition whatever its own
	// transaction.state.log.num.partitions. Nil, or an answer below 1,
	// means Config.TransactionStateLogNumPartitions.
	NumPartitions func() int32
	// TransactionVersion is the cluster's finalized transaction.version
	// feature level, read at each request: at 2, EndTxn v5+ runs
	// transaction protocol version 2 (KIP-890 part 2). Nil means 2.
	TransactionVersion func() int16
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Coordinator is the transaction coordinator of one node: it owns the
// transactional ids of the __transaction_state partitions it has loaded
// (LoadPartition), which are the partitions this node leads.
type Coordinator struct {
	opts   Options
	cfg    Config
	logger *slog.Logger
	ctx    context.Context // cancelled by Close; bounds storage and marker writes
	cancel context.CancelFunc
	closed atomic.Bool

	// mu guards txns and parts; it is taken after an entry's mu, never
	// before.
	mu    sync.Mutex
	txns  map[string]*entry      // the ids of the partitions loaded
	parts *coordinator.Ownership // of the __transaction_state partitions (partitions.go)
}

// entry is one transactional id. Its mutex is held across the storage
// writes and marker writes of a transition, so requests for one id are
// served one at a time.
type entry struct {
	mu        sync.Mutex
	meta      Metadata
	persisted bool             // meta has been written (not a fresh id awaiting its first write)
	removed   bool             // expired, or its partition unloaded, and dropped from the map: look the id up again
	pending   []TopicPartition // markers still to write in a Prepare state
}

// New builds a coordinator. It owns no partition, and answers every
// transactional id NOT_COORDINATOR, until LoadPartition has loaded the id's
// partition.
func New(opts Options) (*Coordinator, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("transaction coordinator config: %w", err)
	}
	switch {
	case opts.Storage == nil:
		return nil, errors.New("transaction coordinator: no storage")
	case opts.Markers == nil:
		return nil, errors.New("transaction coordinator: no marker writer")
	case opts.ProducerIDs == nil:
		return nil, errors.New("transaction coordinator: no producer id allocator")
	case opts.OffsetsPartition == nil:
		return nil, errors.New("transaction coordinator: no offsets partition function")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PartitionExists == nil {
		opts.PartitionExists = func(TopicPartition) bool { return true }
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TransactionVersion == nil {
		opts.TransactionVersion = func() int16 { return 2 }
	}
	c := &Coordinator{opts: opts, cfg: opts.Config, logger: opts.Logger, txns: map[string]*entry{}, parts: coordinator.NewOwnership()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Config returns the coordinator's configuration.
func (c *Coordinator) Config() Config { return c.cfg }

// Close stops further storage and marker writes; requests get
// COORDINATOR_NOT_AVAILABLE. State already written stays in storage; a
// prepared transaction is completed by the next load of its partition.
func (c *Coordinator) Close() {
	c.closed.Store(true)
	c.cancel()
}

func (c *Coordinator) nowMs() int64 { return c.opts.Now().UnixMilli() }

// entries snapshots the entries.
func (c *Coordinator) entries() []*entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*entry, 0, len(c.txns))
	for _, e := range c.txns {
		out = append(out, e)
	}
	return out
}

// numPartitions is the number of partitions of __transaction_state that
// ids map to (Options.NumPartitions).
func (c *Coordinator) numPartitions() int32 {
	if c.opts.NumPartitions != nil {
		if n := c.opts.NumPartitions(); n > 0 {
			return n
		}
	}
	return c.cfg.TransactionStateLogNumPartitions
}

// PartitionFor is the __transaction_state partition of a transactional
// id, over the topic's partition count (Options.NumPartitions).
func (c *Coordinator) PartitionFor(id string) int32 {
	return PartitionFor(id, c.numPartitions())
}

// ownerCodeLocked is 0 when the id's partition is loaded, else
// COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR. Called with c.mu held.
func (c *Coordinator) ownerCodeLocked(id string) int16 {
	return c.parts.Code(c.PartitionFor(id))
}

// ownerCode is the check every request for a transactional id starts
// with: the coordinator must be open and own the id's partition.
func (c *Coordinator) ownerCode(id string) int16 {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ownerCodeLocked(id)
}

// lock returns the locked entry of an id, or nil if the id is unknown (or
// known but never written), with code 0; or the ownerCode of an id this
// coordinator does not serve. Ownership is checked again once the entry
// is locked, so a request never acts on an id that an unload of its
// partition took away.
func (c *Coordinator) lock(id string) (*entry, int16) {
	e, code := c.lockOrCreate(id, false)
	if e != nil && !e.persisted {
		e.mu.Unlock()
		return nil, 0
	}
	return e, code
}

// lockOrCreate returns the locked entry of an id, creating an unpersisted
// one (producer id -1) if there is none and create is set, or the
// ownerCode of an id this coordinator does not serve.
func (c *Coordinator) lockOrCreate(id string, create bool) (*entry, int16) {
	for {
		if c.closed.Load() {
			return nil, kerr.CoordinatorNotAvailable.Code
		}
		c.mu.Lock()
		if code := c.ownerCodeLocked(id); code != 0 {
			c.mu.Unlock()
			return nil, code
		}
		e := c.txns[id]
		if e == nil && create {
			e = &entry{meta: Metadata{
				TransactionalID: id, ProducerID: -1, ProducerEpoch: noEpoch,
				LastProducerID: -1, LastProducerEpoch: noEpoch, NextProducerID: -1, State: Empty, StartTimestamp: -1,
			}}
			c.txns[id] = e
		}
		c.mu.Unlock()
		if e == nil {
			return nil, 0
		}
		e.mu.Lock()
		if !e.removed {
			c.mu.Lock()
			cur, code := c.txns[id], c.ownerCodeLocked(id)
			c.mu.Unlock()
			switch {
			case code != 0:
				e.mu.Unlock()
				return nil, code
			case cur == e:
				return e, 0
			}
		}
		e.mu.Unlock()
	}
}

// writeLocked persists next and makes it the entry's state.
func (c *Coordinator) writeLocked(ctx context.Context, e *entry, next Metadata) error {
	if _, ok := c.entryEpoch(e); !ok {
		return errUnloaded
	}
	next.LastUpdateTimestamp = c.nowMs()
	p := c.PartitionFor(next.TransactionalID)
	rec := Record{Key: encodeKey(next.TransactionalID), Value: encodeValue(&next)}
	if err := c.opts.Storage.Append(ctx, p, []Record{rec}); err != nil {
		return err
	}
	e.meta = next
	e.persisted = true
	return nil
}

// storageCode is the Kafka error for a failed state write, as Kafka's
// coordinator answers: the client looks for the coordinator again.
func storageCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) && (ke == kerr.NotLeaderForPartition || ke == kerr.NotCoordinator) {
		return kerr.NotCoordinator.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// prepareEndLocked writes PrepareCommit or PrepareAbort for the open
// transaction and then completes it (markers, then the Complete state).
// epochBump bumps the producer epoch in the prepared state, so the markers
// carry the new epoch: the fence of a timed-out or re-initialised
// transaction (the old producer can neither write nor end it), and every
// end of a transaction version 2 (tv 2) transaction. A version 2 end with
// the epoch exhausted also picks the next producer id, which the producer
// gets with epoch 0 at the completion. A failed state write returns its
// code; failed markers leave the transaction prepared, to be retried by
// Tick.
func (c *Coordinator) prepareEndLocked(ctx context.Context, e *entry, commit, epochBump bool, tv int16) int16 {
	next := e.meta.clone()
	next.ClientTransactionVersion = tv
	next.NextProducerID = -1
	if tv >= 2 && epochBump && epochExhausted(next.ProducerEpoch) {
		pid, err := c.opts.ProducerIDs(ctx)
		if err != nil {
			c.logger.Warn("cannot allocate a producer id", "transactional_id", next.TransactionalID, "err", err)
			return kerr.CoordinatorNotAvailable.Code
		}
		next.NextProducerID = pid
	}
	if epochBump {
		next.LastProducerEpoch = next.ProducerEpoch
		next.ProducerEpoch++
	}
	next.State = PrepareAbort
	if commit {
		next.State = PrepareCommit
	}
	if len(next.Partitions) == 0 {
		// A version 2 abort with no partition added: the transaction's
		// start is when it ends.
		next.StartTimestamp = c.nowMs()
	}
	if err := c.writeLocked(ctx, e, next); err != nil {
		c.logger.Warn("cannot write transaction state", "transactional_id", next.TransactionalID, "state", next.State, "err", err)
		return storageCode(err)
	}
	e.pending = append([]TopicPartition(nil), next.Partitions...)
	c.completeLocked(ctx, e)
	return 0
}

// abortLocked aborts the open transaction, fencing the producer when
// fence is set.
func (c *Coordinator) abortLocked(ctx context.Context, e *entry, fence bool) int16 {
	return c.prepareEndLocked(ctx, e, false, fence, e.meta.ClientTransactionVersion)
}

// completeLocked writes the pending markers of a prepared transaction and,
// once all are written, the CompleteCommit or CompleteAbort state.
func (c *Coordinator) completeLocked(ctx context.Context, e *entry) {
	m := &e.meta
	if m.State != PrepareCommit && m.State != PrepareAbort {
		return
	}
	coordinatorEpoch, ok := c.entryEpoch(e)
	if !ok {
		return // unloaded: the partition's next coordinator completes it
	}
	if len(e.pending) > 0 {
		failed := c.opts.Markers.WriteMarkers(ctx, Marker{
			TransactionalID:  m.TransactionalID,
			ProducerID:       m.ProducerID,
			ProducerEpoch:    m.ProducerEpoch,
			Commit:           m.State == PrepareCommit,
			CoordinatorEpoch: coordinatorEpoch,
			Partitions:       e.pending,
		})
		e.pending = append([]TopicPartition(nil), failed...)
		if len(e.pending) > 0 {
			c.logger.Warn("transaction markers not written; will retry", "transactional_id", m.TransactionalID, "partitions", len(e.pending))
			return
		}
	}
	next := m.clone()
	next.State = CompleteAbort
	if m.State == PrepareCommit {
		next.State = CompleteCommit
	}
	next.Partitions = nil
	next.StartTimestamp = -1
	if m.NextProducerID >= 0 {
		// Epoch overflow under transaction version 2: the producer
		// continues with the next producer id at epoch 0; the last epoch
		// stays the one it used, so a retried EndTxn is recognised.
		next.LastProducerID = m.ProducerID
		next.ProducerID, next.ProducerEpoch = m.NextProducerID, 0
		next.NextProducerID = -1
	}
	if err := c.writeLocked(ctx, e, next); err != nil {
		c.logger.Warn("cannot write transaction completion; will retry", "transactional_id", m.TransactionalID, "err", err)
	}
}

// Tick does the coordinator's periodic work: it aborts (and fences)
// transactions open longer than their timeout, retries unfinished
// completions, and forgets transactional ids idle for
// transactional.id.expiration.ms. The broker calls it every
// transaction.abort.timed.out.transaction.cleanup.interval.ms; tests call
// it after moving the clock.
func (c *Coordinator) Tick(ctx context.Context) {
	if c.closed.Load() {
		return
	}
	now := c.nowMs()
	for _, e := range c.entries() {
		e.mu.Lock()
		if e.removed || !e.persisted {
			e.mu.Unlock()
			continue
		}
		m := &e.meta
		switch m.State {
		case Ongoing:
			if m.StartTimestamp >= 0 && now-m.StartTimestamp > int64(m.TimeoutMs) {
				c.logger.Info("aborting timed-out transaction", "transactional_id", m.TransactionalID,
					"producer_id", m.ProducerID, "producer_epoch", m.ProducerEpoch)
				c.abortLocked(ctx, e, !epochExhausted(m.ProducerEpoch))
			}
		case PrepareCommit, PrepareAbort:
			c.completeLocked(ctx, e)
		case Empty, CompleteCommit, CompleteAbort:
			if now-m.LastUpdateTimestamp >= c.cfg.TransactionalIDExpirationMs {
				c.expireLocked(ctx, e)
			}
		}
		e.mu.Unlock()
	}
}

// expireLocked writes a tombstone for an idle transactional id and drops it.
func (c *Coordinator) expireLocked(ctx context.Context, e *entry) {
	id := e.meta.TransactionalID
	p := c.PartitionFor(id)
	if _, ok := c.entryEpoch(e); !ok {
		return
	}
	if err := c.opts.Storage.Append(ctx, p, []Record{{Key: encodeKey(id)}}); err != nil {
		c.logger.Warn("cannot expire transactional id", "transactional_id", id, "err", err)
		return
	}
	e.removed = true
	e.meta.State = Dead
	c.mu.Lock()
	if c.txns[id] == e {
		delete(c.txns, id)
	}
	c.mu.Unlock()
	c.logger.Info("transactional id expired", "transactional_id", id)
}

// Transactions lists the metadata of every known transactional id of the
// partitions loaded, sorted by id.
func (c *Coordinator) Transactions() []Metadata {
	var out []Metadata
	for _, e := range c.entries() {
		e.mu.Lock()
		if e.persisted && !e.removed {
			out = append(out, e.meta.clone())
		}
		e.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TransactionalID < out[j].TransactionalID })
	return out
}

// Transaction returns the metadata of one transactional id of a partition
// loaded.
func (c *Coordinator) Transaction(id string) (Metadata, bool) {
	e, _ := c.lock(id)
	if e == nil {
		return Metadata{}, false
	}
	defer e.mu.Unlock()
	return e.meta.clone(), true
}
