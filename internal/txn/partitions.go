package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kerr"
)

// This file is partition ownership (see coordinator.Ownership for the
// rules, which are Kafka's): the coordinator serves the transactional ids
// of the __transaction_state partitions it has loaded, which are those
// this node leads, and the leader epoch it loaded a partition in is its
// coordinator epoch there, written into the markers of that partition's
// transactions so that partitions refuse the markers of a coordinator
// that lost the partition since (Kafka's TransactionStateManager). The
// replica manager calls LoadPartition when the node becomes the leader of
// a partition and UnloadPartition when it stops being the leader.

// ErrClosed is LoadPartition's error once the coordinator is closed.
var ErrClosed = errors.New("transaction coordinator closed")

// LoadPartition makes the coordinator serve the transactional ids of
// partition p of __transaction_state, which this node leads in leader
// epoch epoch (>= 0, the coordinator epoch of its markers): it replays the
// partition, serves its ids, and then completes the transactions that were
// prepared (PrepareCommit, PrepareAbort: their markers are written again)
// and aborts those that were being fenced; ongoing transactions continue
// and Tick aborts them when they time out. Meanwhile requests for its ids
// get COORDINATOR_LOAD_IN_PROGRESS. A stale load (an epoch not newer than
// the partition's last load or unload) does nothing, and one for a
// partition already loaded only takes the new epoch. A load overtaken by
// an UnloadPartition while it replays leaves the partition unloaded. It
// returns an error only when the replay fails (the partition is then as
// before, and the same load may be retried) or the coordinator is closed.
// Loads and unloads of one partition must be called in order, one at a
// time; different partitions may load concurrently.
func (c *Coordinator) LoadPartition(ctx context.Context, p, epoch int32) error {
	if p < 0 || p >= c.numPartitions() {
		return fmt.Errorf("%s has no partition %d", StateTopic, p)
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return ErrClosed
	}
	current := c.parts.Epoch(p)
	ticket, decision := c.parts.BeginLoad(p, epoch)
	c.mu.Unlock()
	switch decision {
	case coordinator.LoadStale:
		c.logger.Info("ignoring a stale load of a __transaction_state partition", "partition", p, "epoch", epoch, "current_epoch", current)
		return nil
	case coordinator.LoadEpochOnly:
		return nil
	}

	state, err := c.replayPartition(ctx, p)

	var loaded []*entry
	c.mu.Lock()
	active, overtaken := c.parts.FinishLoad(ticket, err == nil && !c.closed.Load())
	if active {
		for id, m := range state {
			e := &entry{meta: *m, persisted: true}
			if m.State == PrepareCommit || m.State == PrepareAbort {
				e.pending = append([]TopicPartition(nil), m.Partitions...)
			}
			c.txns[id] = e
			loaded = append(loaded, e)
		}
	}
	c.mu.Unlock()
	switch {
	case err != nil:
		return err
	case c.closed.Load():
		return ErrClosed
	case overtaken:
		c.logger.Info("load of a __transaction_state partition overtaken by its unload", "partition", p, "epoch", epoch)
		return nil
	}
	c.logger.Info("transaction coordinator loaded a partition", "partition", p, "epoch", epoch, "transactional_ids", len(state))
	for _, e := range loaded {
		e.mu.Lock()
		if !e.removed {
			switch e.meta.State {
			case PrepareCommit, PrepareAbort:
				c.completeLocked(ctx, e)
			case PrepareEpochFence:
				e.meta.State = Ongoing
				c.abortLocked(ctx, e, false)
			}
		}
		e.mu.Unlock()
	}
	return nil
}

// replayPartition reads a partition of __transaction_state: the last
// state of each transactional id, tombstoned ids left out. Records that
// do not decode are skipped with a warning, as Kafka skips what it cannot
// read, and so are ids that do not belong in the partition.
func (c *Coordinator) replayPartition(ctx context.Context, p int32) (map[string]*Metadata, error) {
	state := map[string]*Metadata{}
	err := c.opts.Storage.Replay(ctx, p, func(r Record) error {
		id, m, skip, err := DecodeRecord(r)
		if err != nil {
			c.logger.Warn("skipping unreadable transaction state record", "partition", p, "err", err)
			return nil
		}
		if skip {
			return nil
		}
		if m == nil {
			delete(state, id)
			return nil
		}
		state[id] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay %s-%d: %w", StateTopic, p, err)
	}
	for id := range state {
		if q := c.PartitionFor(id); q != p {
			c.logger.Warn("skipping transactional id found in another partition than its own", "transactional_id", id, "partition", p, "its_partition", q)
			delete(state, id)
		}
	}
	return state, nil
}

// UnloadPartition stops serving the transactional ids of partition p of
// __transaction_state, which this node no longer leads as of leader epoch
// epoch (-1 when the partition is gone): they are dropped from memory, and
// their markers not yet written are left to the partition's next
// coordinator, which completes the prepared transactions when it loads
// the partition. Their requests get NOT_COORDINATOR. A stale unload (an
// epoch not newer than the partition's last load or unload) does nothing;
// it reports whether it applied. It waits for requests already acting on
// the partition's ids (their storage and marker writes) to finish.
func (c *Coordinator) UnloadPartition(p, epoch int32) bool {
	c.mu.Lock()
	current := c.parts.Epoch(p)
	applied, was := c.parts.Unload(p, epoch)
	var gone []*entry
	if applied {
		for id, e := range c.txns {
			if c.PartitionFor(id) == p {
				gone = append(gone, e)
				delete(c.txns, id)
			}
		}
	}
	c.mu.Unlock()
	if !applied {
		c.logger.Info("ignoring a stale unload of a __transaction_state partition", "partition", p, "epoch", epoch, "current_epoch", current)
		return false
	}
	for _, e := range gone {
		e.mu.Lock()
		e.removed = true
		e.pending = nil
		e.mu.Unlock()
	}
	if was != coordinator.NotOwned {
		c.logger.Info("transaction coordinator unloaded a partition", "partition", p, "epoch", epoch, "transactional_ids", len(gone))
	}
	return true
}

// CoordinatorEpoch is the coordinator epoch of a transactional id's
// markers: the leader epoch its partition was loaded in, -1 while the
// partition is not loaded.
func (c *Coordinator) CoordinatorEpoch(id string) int32 {
	p := c.PartitionFor(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts.State(p) != coordinator.Active {
		return -1
	}
	return c.parts.Epoch(p)
}

// entryEpoch is the coordinator epoch of an entry's writes and markers,
// with ok false once its partition was unloaded (or the entry replaced):
// then the entry belongs to the partition's next coordinator and nothing
// may be written for it here, as Kafka's coordinator drops the writes and
// markers of a transaction whose coordinator epoch changed.
func (c *Coordinator) entryEpoch(e *entry) (epoch int32, ok bool) {
	id := e.meta.TransactionalID
	p := c.PartitionFor(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.txns[id] != e || c.parts.State(p) != coordinator.Active {
		return -1, false
	}
	return c.parts.Epoch(p), true
}

// errUnloaded is a write refused because the id's partition was unloaded.
var errUnloaded = fmt.Errorf("transaction state partition unloaded: %w", kerr.NotCoordinator)

// LoadedPartitions lists the partitions of __transaction_state whose
// transactional ids the coordinator serves, in order.
func (c *Coordinator) LoadedPartitions() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parts.ActivePartitions()
}

// listCode is the check of requests about every transactional id
// (ListTransactions): the coordinator must be open and load no partition,
// as Kafka answers COORDINATOR_LOAD_IN_PROGRESS while any is loading.
func (c *Coordinator) listCode() int16 {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts.AnyLoading() {
		return kerr.CoordinatorLoadInProgress.Code
	}
	return 0
}
