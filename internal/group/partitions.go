package group

import (
	"context"
	"errors"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is partition ownership (see coordinator.Ownership for the
// rules, which are Kafka's): the coordinator serves the groups of the
// __consumer_offsets partitions it has loaded, which are those this node
// leads. The replica manager calls LoadPartition when the node becomes the
// leader of a partition and UnloadPartition when it stops being the
// leader.

// ownerCodeLocked is 0 when the group's partition is loaded, else
// COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR. Called with c.mu held.
func (c *Coordinator) ownerCodeLocked(groupID string) int16 {
	return c.parts.Code(c.PartitionFor(groupID))
}

// listCheck is the check of requests about every group (ListGroups): the
// coordinator must be open and load no partition, as Kafka answers
// COORDINATOR_LOAD_IN_PROGRESS while any is loading.
func (c *Coordinator) listCheck() int16 {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.parts.AnyLoading() {
		return kerr.CoordinatorLoadInProgress.Code
	}
	return 0
}

// ErrClosed is LoadPartition's error once the coordinator is closed.
var ErrClosed = errors.New("group coordinator closed")

// LoadPartition makes the coordinator serve the groups of partition p of
// __consumer_offsets, which this node leads in leader epoch epoch (>= 0):
// it replays the partition (replayPartition) and then serves its groups;
// meanwhile their requests get COORDINATOR_LOAD_IN_PROGRESS. A stale load
// (an epoch not newer than the partition's last load or unload) does
// nothing, and one for a partition already loaded only takes the new
// epoch. A load overtaken by an UnloadPartition while it replays leaves
// the partition unloaded. It returns an error only when the replay fails
// (the partition is then as before, and the same load may be retried) or
// the coordinator is closed. Loads and unloads of one partition must be
// called in order, one at a time; different partitions may load
// concurrently.
func (c *Coordinator) LoadPartition(ctx context.Context, p, epoch int32) error {
	if p < 0 || p >= c.numPartitions() {
		return fmt.Errorf("%s has no partition %d", OffsetsTopic, p)
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
		c.logger.Info("ignoring a stale load of a __consumer_offsets partition", "partition", p, "epoch", epoch, "current_epoch", current)
		return nil
	case coordinator.LoadEpochOnly:
		return nil
	}

	groups, err := c.replayPartition(ctx, p)

	c.mu.Lock()
	active, overtaken := c.parts.FinishLoad(ticket, err == nil && !c.closed.Load())
	if active {
		for id, g := range groups {
			c.groups[id] = g
		}
	}
	c.mu.Unlock()
	if !active {
		for _, g := range groups {
			g.mu.Lock()
			g.stopTimersLocked()
			g.mu.Unlock()
		}
	}
	switch {
	case err != nil:
		return err
	case c.closed.Load():
		return ErrClosed
	case overtaken:
		c.logger.Info("load of a __consumer_offsets partition overtaken by its unload", "partition", p, "epoch", epoch)
		return nil
	}
	c.logger.Info("group coordinator loaded a partition", "partition", p, "epoch", epoch, "groups", len(groups))
	return nil
}

// UnloadPartition stops serving the groups of partition p of
// __consumer_offsets, which this node no longer leads as of leader epoch
// epoch (-1 when the partition is gone): they are dropped from memory, as
// Kafka's onGroupUnloaded does, their timers stopped, and members waiting
// for a JoinGroup or SyncGroup answer get NOT_COORDINATOR and look for the
// new coordinator. Their state stays in the partition. A stale unload (an
// epoch not newer than the partition's last load or unload) does nothing;
// it reports whether it applied. It waits for requests already acting on
// the partition's groups (their storage writes) to finish.
func (c *Coordinator) UnloadPartition(p, epoch int32) bool {
	c.mu.Lock()
	current := c.parts.Epoch(p)
	applied, was := c.parts.Unload(p, epoch)
	var gone []*group
	if applied {
		for id, g := range c.groups {
			if g.partition == p {
				gone = append(gone, g)
				delete(c.groups, id)
			}
		}
	}
	c.mu.Unlock()
	if !applied {
		c.logger.Info("ignoring a stale unload of a __consumer_offsets partition", "partition", p, "epoch", epoch, "current_epoch", current)
		return false
	}
	for _, g := range gone {
		g.mu.Lock()
		g.unloadLocked()
		g.mu.Unlock()
	}
	if was != coordinator.NotOwned {
		c.logger.Info("group coordinator unloaded a partition", "partition", p, "epoch", epoch, "groups", len(gone))
	}
	return true
}

// unloadLocked makes a group of an unloaded partition Dead: its timers
// stop and waiting members are told NOT_COORDINATOR.
func (g *group) unloadLocked() {
	g.markDeadLocked()
	for _, m := range g.members {
		if m.joinCb != nil {
			m.joinCb(joinError(kerr.NotCoordinator.Code, m.id))
			m.joinCb = nil
		}
		if m.syncCb != nil {
			m.syncCb(&kmsg.SyncGroupResponse{ErrorCode: kerr.NotCoordinator.Code})
			m.syncCb = nil
		}
	}
}

// LoadedPartitions lists the partitions of __consumer_offsets whose groups
// the coordinator serves, in order.
func (c *Coordinator) LoadedPartitions() []int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.parts.ActivePartitions()
}
