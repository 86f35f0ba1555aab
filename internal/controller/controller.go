package controller

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// Config configures a node's controller.
type Config struct {
	// SessionTimeout is broker.session.timeout.ms: a broker not heard from
	// for this long is fenced.
	SessionTimeout time.Duration
	// CheckInterval is how often sessions are checked; 0 means 250 ms.
	CheckInterval time.Duration
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds:
	// how often the active controller gives partitions back to their
	// preferred leaders (metadata.Store.BalanceLeaders). 0 turns it off
	// (auto.leader.rebalance.enable=false).
	LeaderImbalanceCheckInterval time.Duration
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage: the share of a broker's
	// preferred partitions that may be led elsewhere before a check moves
	// them back.
	LeaderImbalancePerBrokerPercentage int
	// AfterBalance, if set, is called after each balancing round with the
	// partitions it moved and its error (tests wait on it).
	AfterBalance func(moved int, err error)
}

// Controller is the broker lifecycle half of the active controller
// (KIP-631): it registers brokers, takes their heartbeats, unfences those
// that caught up with the metadata log and fences those whose heartbeats
// stopped. Every voter runs one; only the active controller (the Raft
// leader, see metadata.Store.Active) acts.
//
// Who is alive is soft state, as in Kafka's BrokerHeartbeatManager: it
// lives only on the active controller, and a newly active controller gives
// every registered broker a full session before fencing it.
type Controller struct {
	store *metadata.Store
	cfg   Config
	log   *slog.Logger

	mu       sync.Mutex
	sessions map[int32]*session

	stop chan struct{}
	wg   sync.WaitGroup
}

// session is the soft state of one registered broker.
type session struct {
	epoch          int64
	lastHeartbeat  time.Time
	metadataOffset int64 // the last metadata offset the broker reported
}

// New starts a node's controller over its metadata store. Close stops it.
func New(store *metadata.Store, cfg Config) *Controller {
	if cfg.CheckInterval == 0 {
		cfg.CheckInterval = 250 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{store: store, cfg: cfg, log: cfg.Logger, sessions: map[int32]*session{},
		stop: make(chan struct{})}
	store.WatchLeadership(c.leadership)
	c.wg.Add(1)
	go c.loop()
	if cfg.LeaderImbalanceCheckInterval > 0 {
		c.wg.Add(1)
		go c.balanceLoop()
	}
	return c
}

// Close stops the session checks and the leader balancing.
func (c *Controller) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	c.wg.Wait()
}

// leadership resets the soft state whenever this node becomes (or stops
// being) the active controller: a new controller does not know when each
// broker last sent a heartbeat, so each gets a full session from now.
func (c *Controller) leadership(active bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions = map[int32]*session{}
	if !active {
		return
	}
	now := c.cfg.Now()
	for id, br := range c.store.Image().Brokers {
		c.sessions[id] = &session{epoch: br.Epoch, lastHeartbeat: now, metadataOffset: -1}
	}
}

func (c *Controller) loop() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if c.store.Active() {
				c.fenceExpired()
			}
		}
	}
}

// fenceExpired fences every unfenced broker whose session ran out.
func (c *Controller) fenceExpired() {
	now := c.cfg.Now()
	type expired struct {
		id    int32
		epoch int64
		since time.Duration
	}
	var due []expired
	im := c.store.Image()
	c.mu.Lock()
	for id, br := range im.Brokers {
		if br.Fenced {
			continue
		}
		s := c.sessions[id]
		if s == nil || s.epoch != br.Epoch {
			// Registered by an earlier controller's term, or never
			// heard from: it gets a session from now.
			c.sessions[id] = &session{epoch: br.Epoch, lastHeartbeat: now, metadataOffset: -1}
			continue
		}
		if since := now.Sub(s.lastHeartbeat); since > c.cfg.SessionTimeout {
			due = append(due, expired{id, br.Epoch, since})
		}
	}
	c.mu.Unlock()
	for _, e := range due {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := c.store.FenceBroker(ctx, e.id, e.epoch)
		cancel()
		if err != nil {
			c.log.Warn("fencing a broker whose session expired failed", "broker", e.id, "epoch", e.epoch, "err", err)
			continue
		}
		c.log.Info("fenced a broker whose heartbeats stopped", "broker", e.id, "epoch", e.epoch, "silent_for", e.since.Round(time.Millisecond))
	}
}

// Register handles a BrokerRegistration. A node id held by a live
// registration of another incarnation is refused with
// DUPLICATE_BROKER_REGISTRATION, as Kafka does, until its session expires.
func (c *Controller) Register(ctx context.Context, req *kmsg.BrokerRegistrationRequest) *kmsg.BrokerRegistrationResponse {
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.BrokerEpoch = -1
	fail := func(err error) *kmsg.BrokerRegistrationResponse {
		code, _ := metadata.ErrorCode(err)
		resp.ErrorCode = code
		return resp
	}
	if !c.store.Active() {
		return fail(kerr.NotController)
	}
	if req.ClusterID != c.store.ClusterID() {
		c.log.Warn("a broker of another cluster tried to register", "broker", req.BrokerID, "its_cluster", req.ClusterID, "cluster", c.store.ClusterID())
		return fail(kerr.InconsistentClusterID)
	}
	reg := metadata.BrokerRegistration{ID: req.BrokerID, IncarnationID: req.IncarnationID}
	if len(req.LogDirs) > 0 {
		reg.DirectoryID = req.LogDirs[0]
	}
	if req.Rack != nil {
		reg.Rack = *req.Rack
	}
	// The first listener is the inter-broker one: the endpoint other
	// brokers and clients are given.
	if len(req.Listeners) == 0 {
		return fail(metadata.NewError(kerr.InvalidRequest, "a broker registers at least one listener"))
	}
	reg.Host, reg.Port = req.Listeners[0].Host, int32(req.Listeners[0].Port)
	now := c.cfg.Now()
	im := c.store.Image()
	// A new incarnation on the node's own directory is the node
	// restarted: the old epoch is fenced at once. Another directory while
	// the old registration is alive is a second node claiming the id.
	if old, ok := im.Brokers[req.BrokerID]; ok && old.IncarnationID != req.IncarnationID && !old.Fenced &&
		old.DirectoryID != reg.DirectoryID && old.DirectoryID != (metadata.Uuid{}) {
		c.mu.Lock()
		s := c.sessions[req.BrokerID]
		alive := s != nil && s.epoch == old.Epoch && now.Sub(s.lastHeartbeat) <= c.cfg.SessionTimeout
		c.mu.Unlock()
		if alive {
			c.log.Warn("refused a second node registering a live node id from another directory", "broker", req.BrokerID, "epoch", old.Epoch)
			return fail(kerr.DuplicateBrokerRegistration)
		}
	}
	epoch, err := c.store.RegisterBrokerIncarnation(ctx, reg)
	if err != nil {
		return fail(err)
	}
	if !c.store.IsVoter(req.BrokerID) {
		// A broker-only node follows the metadata log as a Raft
		// non-voter, reached on its inter-broker listener: it cannot
		// catch up with its registration before it is one.
		if err := c.store.AddNonvoter(ctx, req.BrokerID, net.JoinHostPort(reg.Host, strconv.Itoa(int(reg.Port)))); err != nil {
			return fail(err)
		}
	}
	c.mu.Lock()
	c.sessions[req.BrokerID] = &session{epoch: epoch, lastHeartbeat: now, metadataOffset: -1}
	c.mu.Unlock()
	c.log.Info("registered a broker", "broker", req.BrokerID, "epoch", epoch, "endpoint", reg.Host, "port", reg.Port, "rack", reg.Rack)
	resp.BrokerEpoch = epoch
	return resp
}

// Heartbeat handles a BrokerHeartbeat: it renews the session, unfences a
// fenced broker once its metadata offset reached its registration, and
// runs a controlled shutdown when the broker asks for one.
func (c *Controller) Heartbeat(ctx context.Context, req *kmsg.BrokerHeartbeatRequest) *kmsg.BrokerHeartbeatResponse {
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.IsFenced = true
	fail := func(err error) *kmsg.BrokerHeartbeatResponse {
		code, _ := metadata.ErrorCode(err)
		resp.ErrorCode = code
		return resp
	}
	if !c.store.Active() {
		return fail(kerr.NotController)
	}
	im := c.store.Image()
	br, ok := im.Brokers[req.BrokerID]
	if !ok {
		return fail(kerr.BrokerIDNotRegistered)
	}
	if br.Epoch != req.BrokerEpoch {
		return fail(kerr.StaleBrokerEpoch)
	}
	c.mu.Lock()
	c.sessions[req.BrokerID] = &session{epoch: br.Epoch, lastHeartbeat: c.cfg.Now(), metadataOffset: req.CurrentMetadataOffset}
	c.mu.Unlock()

	caughtUp := req.CurrentMetadataOffset >= br.Epoch
	resp.IsCaughtUp = caughtUp
	switch {
	case req.WantShutdown:
		done, err := c.store.BeginControlledShutdown(ctx, req.BrokerID, br.Epoch)
		if err != nil {
			return fail(err)
		}
		resp.ShouldShutdown = done
	case req.WantFence:
		if err := c.store.FenceBroker(ctx, req.BrokerID, br.Epoch); err != nil {
			return fail(err)
		}
	case br.Fenced && caughtUp && !br.InControlledShutdown:
		if err := c.store.UnfenceBroker(ctx, req.BrokerID, br.Epoch); err != nil {
			return fail(err)
		}
		c.log.Info("unfenced a broker that caught up", "broker", req.BrokerID, "epoch", br.Epoch, "metadata_offset", req.CurrentMetadataOffset)
	}
	if now, ok := c.store.Image().Brokers[req.BrokerID]; ok && now.Epoch == br.Epoch {
		resp.IsFenced = now.Fenced
	}
	return resp
}

// reportedOffsets returns, for each broker heard from in this term, the
// last metadata offset it reported and when (DescribeQuorum's observers).
func (c *Controller) reportedOffsets() map[int32]session {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int32]session, len(c.sessions))
	for id, s := range c.sessions {
		out[id] = *s
	}
	return out
}
