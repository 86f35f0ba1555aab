package group

import (
	"context"
	"errors"
	"fmt"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicInfo is what the coordinator needs to know of a topic.
type TopicInfo struct {
	ID         [16]byte
	Partitions int32
}

// TopicSource answers topic questions from the current metadata. Methods
// may be called with a group's lock held, so they must be quick and must
// not call back into the coordinator.
type TopicSource interface {
	Topic(name string) (TopicInfo, bool)
	TopicByID(id [16]byte) (string, bool)
	// TopicNames lists every topic (for regex subscriptions).
	TopicNames() []string
}

// Options configure New.
type Options struct {
	Config  Config
	Storage Storage      // nil: offsets are kept in memory only
	Clock   Clock        // nil: the wall clock
	Topics  TopicSource  // nil: no topics (KIP-848 subscriptions match nothing)
	Logger  *slog.Logger // nil: slog.Default()
	// NumPartitions is the number of partitions of __consumer_offsets
	// that groups map to: the topic's in the cluster metadata once it
	// exists, as Kafka's coordinator reads it, so that every node maps a
	// group to the same partition whatever its own
	// offsets.topic.num.partitions. Nil, or an answer below 1, means
	// Config.OffsetsTopicNumPartitions.
	NumPartitions func() int32
}

// Coordinator is the group coordinator of one node: it owns the groups of
// the __consumer_offsets partitions it has loaded (LoadPartition), which
// are the partitions this node leads.
type Coordinator struct {
	cfg      Config
	nparts   func() int32 // Options.NumPartitions; may be nil
	store    Storage
	clock    Clock
	topics   TopicSource
	logger   *slog.Logger
	ctx      context.Context // cancelled by Close; bounds storage writes
	cancel   context.CancelFunc
	closed   atomic.Bool
	expiryMu sync.Mutex
	expiryT  Timer // guarded by expiryMu

	pendingMu sync.Mutex
	pendingFn PendingOffsetsFunc // guarded by pendingMu

	// mu guards groups and parts; it may be taken while holding a group's
	// mu, never the reverse.
	mu     sync.RWMutex
	groups map[string]*group      // the groups of the partitions loaded
	parts  *coordinator.Ownership // of the __consumer_offsets partitions (partitions.go)
}

// New builds a coordinator. It owns no partition, and answers every group
// NOT_COORDINATOR, until LoadPartition has loaded the group's partition.
func New(opts Options) (*Coordinator, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("group coordinator config: %w", err)
	}
	c := &Coordinator{
		cfg:    opts.Config,
		nparts: opts.NumPartitions,
		store:  opts.Storage,
		clock:  opts.Clock,
		topics: opts.Topics,
		logger: opts.Logger,
		groups: map[string]*group{},
		parts:  coordinator.NewOwnership(),
	}
	if c.store == nil {
		c.store = coordinator.NewMemStorage()
	}
	if c.clock == nil {
		c.clock = RealClock{}
	}
	if c.topics == nil {
		c.topics = noTopics{}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.scheduleExpiry()
	return c, nil
}

// Config returns the coordinator's configuration.
func (c *Coordinator) Config() Config { return c.cfg }

// numPartitions is the number of partitions of __consumer_offsets that
// groups map to (Options.NumPartitions).
func (c *Coordinator) numPartitions() int32 {
	if c.nparts != nil {
		if n := c.nparts(); n > 0 {
			return n
		}
	}
	return c.cfg.OffsetsTopicNumPartitions
}

// PartitionFor is the __consumer_offsets partition of a group, over the
// topic's partition count (Options.NumPartitions).
func (c *Coordinator) PartitionFor(groupID string) int32 {
	return PartitionFor(groupID, c.numPartitions())
}

// Close stops the timers and answers waiting joins and syncs with
// COORDINATOR_NOT_AVAILABLE so their clients look for the coordinator
// again. State already written to storage stays there.
func (c *Coordinator) Close() {
	if c.closed.Swap(true) {
		return
	}
	c.cancel()
	c.expiryMu.Lock()
	if c.expiryT != nil {
		c.expiryT.Stop()
	}
	c.expiryMu.Unlock()
	for _, g := range c.snapshotGroups() {
		g.mu.Lock()
		g.stopTimersLocked()
		for _, m := range g.members {
			if m.joinCb != nil {
				m.joinCb(joinError(kerr.CoordinatorNotAvailable.Code, m.id))
				m.joinCb = nil
			}
			if m.syncCb != nil {
				m.syncCb(&kmsg.SyncGroupResponse{ErrorCode: kerr.CoordinatorNotAvailable.Code})
				m.syncCb = nil
			}
		}
		g.mu.Unlock()
	}
}

func (g *group) stopTimersLocked() {
	g.timerSeq++
	if g.rebalTimer != nil {
		g.rebalTimer.Stop()
		g.rebalTimer = nil
	}
	for _, m := range g.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	for _, t := range g.pending {
		t.Stop()
	}
	if g.cg != nil {
		g.cg.stopTimers()
	}
}

func (c *Coordinator) snapshotGroups() []*group {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		out = append(out, g)
	}
	return out
}

// getGroup returns the group or nil.
func (c *Coordinator) getGroup(id string) *group {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.groups[id]
}

// lookupGroup returns the group, creating an empty one when create is set,
// or the code of a group whose partition this coordinator does not serve.
// A nil group with code 0 means it does not exist.
func (c *Coordinator) lookupGroup(id string, create bool) (*group, int16) {
	c.mu.RLock()
	g, code := c.groups[id], c.ownerCodeLocked(id)
	c.mu.RUnlock()
	if code != 0 || g != nil || !create {
		return g, code
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if code := c.ownerCodeLocked(id); code != 0 {
		return nil, code
	}
	if g := c.groups[id]; g != nil {
		return g, 0
	}
	g = newGroup(c, id)
	c.groups[id] = g
	return g, 0
}

// lockLiveGroup returns the group locked, creating it when create is set.
// A group found Dead (removed concurrently) is looked up again. It returns
// no group and code 0 when the group does not exist and create is false,
// and NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS when its partition is
// not loaded here: checked again once the group is locked, so a request
// never acts on a group that an unload of its partition took away.
func (c *Coordinator) lockLiveGroup(id string, create bool) (*group, int16) {
	for {
		g, code := c.lookupGroup(id, create)
		if g == nil {
			return nil, code
		}
		g.mu.Lock()
		if g.state != StateDead {
			c.mu.RLock()
			cur, code := c.groups[id], c.ownerCodeLocked(id)
			c.mu.RUnlock()
			switch {
			case code != 0:
				g.mu.Unlock()
				return nil, code
			case cur == g:
				return g, 0
			}
			// Unloaded and loaded again meanwhile: take the new one.
			g.mu.Unlock()
			continue
		}
		g.mu.Unlock()
		c.removeGroup(g)
	}
}

// removeGroup drops a Dead group from the map (if it is still the one
// there). Called without g.mu held.
func (c *Coordinator) removeGroup(g *group) {
	c.mu.Lock()
	if c.groups[g.id] == g {
		delete(c.groups, g.id)
	}
	c.mu.Unlock()
}

// markDeadLocked makes the group Dead; the caller removes it from the map
// after releasing its lock.
func (g *group) markDeadLocked() {
	g.stopTimersLocked()
	g.transitionLocked(StateDead)
}

// appendLocked writes records for the group to its partition.
func (g *group) appendLocked(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(g.c.ctx, 30*time.Second)
	defer cancel()
	return g.c.store.Append(ctx, g.partition, recs)
}

// storageErrorCode maps a failed append to what Kafka answers: the
// coordinator is not available, or no longer this node once it does not
// lead the partition (clients look for it again and retry).
func storageErrorCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotLeaderForPartition, kerr.KafkaStorageError, kerr.NotCoordinator:
			return kerr.NotCoordinator.Code
		case kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend,
			kerr.RequestTimedOut, kerr.UnknownTopicOrPartition:
			return kerr.CoordinatorNotAvailable.Code
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			return kerr.UnknownServerError.Code
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// preCheck is the check every request for a group starts with: the
// coordinator must be open and own the group's partition. An empty group
// id passes (the callers refuse it with INVALID_GROUP_ID, which Kafka
// checks first).
func (c *Coordinator) preCheck(groupID string) int16 {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code
	}
	if groupID == "" {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.ownerCodeLocked(groupID)
}

type noTopics struct{}

func (noTopics) Topic(string) (TopicInfo, bool)    { return TopicInfo{}, false }
func (noTopics) TopicByID([16]byte) (string, bool) { return "", false }
func (noTopics) TopicNames() []string              { return nil }
