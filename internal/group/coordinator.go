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
}

// Coordinator is the group coordinator of one node: it owns every group
// whose __consumer_offsets partition this node leads (all of them in a
// cluster of one).
type Coordinator struct {
	cfg      Config
	store    Storage
	clock    Clock
	topics   TopicSource
	logger   *slog.Logger
	ctx      context.Context // cancelled by Close; bounds storage writes
	cancel   context.CancelFunc
	loaded   atomic.Bool
	closed   atomic.Bool
	expiryMu sync.Mutex
	expiryT  Timer // guarded by expiryMu

	pendingMu sync.Mutex
	pendingFn PendingOffsetsFunc // guarded by pendingMu

	mu     sync.RWMutex // guards groups; may be taken while holding a group's mu, never the reverse
	groups map[string]*group
}

// New builds a coordinator. It serves nothing (COORDINATOR_LOAD_IN_PROGRESS)
// until Load has replayed the storage.
func New(opts Options) (*Coordinator, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("group coordinator config: %w", err)
	}
	c := &Coordinator{
		cfg:    opts.Config,
		store:  opts.Storage,
		clock:  opts.Clock,
		topics: opts.Topics,
		logger: opts.Logger,
		groups: map[string]*group{},
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
	return c, nil
}

// Config returns the coordinator's configuration.
func (c *Coordinator) Config() Config { return c.cfg }

// Loaded reports whether Load has finished.
func (c *Coordinator) Loaded() bool { return c.loaded.Load() }

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

// getOrCreateGroup returns the group, creating an empty one.
func (c *Coordinator) getOrCreateGroup(id string) *group {
	if g := c.getGroup(id); g != nil {
		return g
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.groups[id]; g != nil {
		return g
	}
	g := newGroup(c, id)
	c.groups[id] = g
	return g
}

// lockLiveGroup returns the group locked, creating it when create is set.
// A group found Dead (removed concurrently) is looked up again. It returns
// nil when the group does not exist and create is false.
func (c *Coordinator) lockLiveGroup(id string, create bool) *group {
	for {
		var g *group
		if create {
			g = c.getOrCreateGroup(id)
		} else if g = c.getGroup(id); g == nil {
			return nil
		}
		g.mu.Lock()
		if g.state != StateDead {
			return g
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
// coordinator is not available (clients look for it again and retry).
func storageErrorCode(err error) int16 {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.NotLeaderForPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend,
			kerr.RequestTimedOut, kerr.UnknownTopicOrPartition:
			return kerr.CoordinatorNotAvailable.Code
		case kerr.MessageTooLarge, kerr.RecordListTooLarge, kerr.InvalidFetchSize:
			return kerr.UnknownServerError.Code
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// preCheck is the coordinator-wide check every group request starts with.
func (c *Coordinator) preCheck(groupID string) int16 {
	switch {
	case c.closed.Load():
		return kerr.CoordinatorNotAvailable.Code
	case !c.loaded.Load():
		return kerr.CoordinatorLoadInProgress.Code
	}
	return 0
}

type noTopics struct{}

func (noTopics) Topic(string) (TopicInfo, bool)    { return TopicInfo{}, false }
func (noTopics) TopicByID([16]byte) (string, bool) { return "", false }
func (noTopics) TopicNames() []string              { return nil }

// FindCoordinator answers for groups (key type 0): this node. Transaction
// coordinators (key type 1) are answered by the transaction coordinator;
// here they get COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) FindCoordinator(req *kmsg.FindCoordinatorRequest, host string, port int32) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	one := func(key string) kmsg.FindCoordinatorResponseCoordinator {
		out := kmsg.NewFindCoordinatorResponseCoordinator()
		out.Key = key
		out.NodeID, out.Host, out.Port = -1, "", -1
		var code int16
		switch {
		case req.CoordinatorType != 0:
			code = kerr.CoordinatorNotAvailable.Code
		case c.closed.Load():
			code = kerr.CoordinatorNotAvailable.Code
		default:
			out.NodeID, out.Host, out.Port = c.cfg.NodeID, host, port
		}
		out.ErrorCode = code
		if code != 0 {
			out.ErrorMessage = strPtr(kerr.ErrorForCode(code).Error())
		}
		return out
	}
	if req.Version >= 4 {
		for _, k := range req.CoordinatorKeys {
			resp.Coordinators = append(resp.Coordinators, one(k))
		}
		return resp
	}
	o := one(req.CoordinatorKey)
	resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = o.ErrorCode, o.NodeID, o.Host, o.Port
	if req.Version >= 1 {
		resp.ErrorMessage = o.ErrorMessage
	}
	return resp
}
