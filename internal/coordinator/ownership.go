package coordinator

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A coordinator serves the keys of the partitions of its internal topic
// that it has loaded, which are those its node leads, as Kafka's group and
// transaction coordinators do: it loads a partition (replays it into
// memory) when the node becomes the partition's leader and unloads it
// (drops its state from memory) when the node stops leading it. Requests
// for a key of a partition being loaded get COORDINATOR_LOAD_IN_PROGRESS,
// of any other partition not loaded NOT_COORDINATOR.
//
// Every load and unload carries the partition's leader epoch, and one
// whose epoch is not newer than the last the partition saw is stale and
// ignored (Kafka's scheduleLoadOperation and scheduleUnloadOperation): a
// load for epoch e after an unload for epoch e or later does nothing. An
// unload without an epoch (-1: the partition is gone) always applies and
// forgets the epoch, since a partition created again starts over.

// PartitionState is a partition's state in a coordinator.
type PartitionState int8

const (
	NotOwned PartitionState = iota // requests get NOT_COORDINATOR
	Loading                        // COORDINATOR_LOAD_IN_PROGRESS
	Active                         // its keys are served
)

// Ownership tracks the partitions a coordinator serves. It is not safe for
// concurrent use: a coordinator guards it with the mutex of its in-memory
// state, so that a key's state and its partition's ownership change
// together.
type Ownership struct {
	parts map[int32]*ownedPartition
}

type ownedPartition struct {
	state PartitionState
	epoch int32  // of the latest load or unload applied; -1: none
	gen   uint64 // bumped by every load and unload: a load that finds it moved was overtaken
}

// LoadTicket is a load in progress, for FinishLoad.
type LoadTicket struct {
	p         int32
	gen       uint64
	prevEpoch int32
}

// LoadDecision is what BeginLoad decided.
type LoadDecision int8

const (
	LoadStale     LoadDecision = iota // not newer than the partition's epoch: ignore it
	LoadEpochOnly                     // already loaded: the partition takes the new epoch, nothing to replay
	LoadStart                         // Loading now: replay, then FinishLoad
)

// NewOwnership returns an Ownership that owns no partition.
func NewOwnership() *Ownership { return &Ownership{parts: map[int32]*ownedPartition{}} }

func (o *Ownership) part(p int32) *ownedPartition {
	op := o.parts[p]
	if op == nil {
		op = &ownedPartition{epoch: -1}
		o.parts[p] = op
	}
	return op
}

// BeginLoad starts a load of partition p for leader epoch epoch (>= 0).
func (o *Ownership) BeginLoad(p, epoch int32) (LoadTicket, LoadDecision) {
	op := o.part(p)
	switch {
	case epoch <= op.epoch:
		return LoadTicket{}, LoadStale
	case op.state == Active:
		op.epoch = epoch
		return LoadTicket{}, LoadEpochOnly
	}
	t := LoadTicket{p: p, prevEpoch: op.epoch}
	op.state, op.epoch = Loading, epoch
	op.gen++
	t.gen = op.gen
	return t, LoadStart
}

// FinishLoad ends a load that BeginLoad started: the partition becomes
// Active if the replay succeeded (ok) and no unload or other load came in
// between (overtaken). A failed replay leaves the partition as it was
// before the load, its epoch included, so the same load may be retried.
func (o *Ownership) FinishLoad(t LoadTicket, ok bool) (active, overtaken bool) {
	op := o.part(t.p)
	if op.gen != t.gen {
		return false, true
	}
	if !ok {
		op.state, op.epoch = NotOwned, t.prevEpoch
		op.gen++
		return false, false
	}
	op.state = Active
	return true, false
}

// Unload stops serving partition p as of leader epoch epoch (-1: without
// an epoch). It reports whether it applied (false: stale) and the state
// the partition was in.
func (o *Ownership) Unload(p, epoch int32) (applied bool, was PartitionState) {
	op := o.part(p)
	if epoch >= 0 && epoch <= op.epoch {
		return false, op.state
	}
	was = op.state
	op.state, op.epoch = NotOwned, epoch
	op.gen++
	return true, was
}

// State is partition p's state.
func (o *Ownership) State(p int32) PartitionState {
	if op := o.parts[p]; op != nil {
		return op.state
	}
	return NotOwned
}

// Code is the error a request for a key of partition p gets: 0 when the
// partition is Active, else COORDINATOR_LOAD_IN_PROGRESS or
// NOT_COORDINATOR.
func (o *Ownership) Code(p int32) int16 {
	switch o.State(p) {
	case Active:
		return 0
	case Loading:
		return kerr.CoordinatorLoadInProgress.Code
	}
	return kerr.NotCoordinator.Code
}

// Epoch is the leader epoch of partition p's latest load or unload, -1 if
// none.
func (o *Ownership) Epoch(p int32) int32 {
	if op := o.parts[p]; op != nil {
		return op.epoch
	}
	return -1
}

// AnyLoading reports whether some partition is Loading.
func (o *Ownership) AnyLoading() bool {
	for _, op := range o.parts {
		if op.state == Loading {
			return true
		}
	}
	return false
}

// ActivePartitions lists the Active partitions in order.
func (o *Ownership) ActivePartitions() []int32 {
	var out []int32
	for p, op := range o.parts {
		if op.state == Active {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
