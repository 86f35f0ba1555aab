package replica

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// The broker lifecycle (KIP-631), from the broker's side: register an
// incarnation, wait until this node's metadata image has caught up with
// the registration, heartbeat until the controller unfences the broker,
// then keep heartbeating; at shutdown, ask the controller to move this
// broker's leaderships away before closing (controlled shutdown). On a
// cluster of one the controller is in this process and the same steps are
// calls.

// lifecycle is the broker's registration.
type lifecycle struct {
	epoch    atomic.Int64 // the broker epoch, -1 before registration
	fenced   atomic.Bool
	shutdown sync.Once // the controlled shutdown, run once
}

// register registers this incarnation, waits for the image to catch up
// with it and heartbeats until unfenced, within
// initial.broker.registration.timeout.ms. It then starts the heartbeats.
func (m *Manager) register(parent context.Context, host string, port int32) error {
	if parent == nil {
		parent = context.Background()
	}
	m.life.epoch.Store(-1)
	m.life.fenced.Store(true)
	timeout := time.Duration(m.cfg.InitialBrokerRegistrationTimeoutMs) * time.Millisecond
	if !m.cfg.Clustered() {
		timeout = min(timeout, 10*time.Second) // the controller is in this process
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID = m.cfg.NodeID
	req.ClusterID = m.meta.ClusterID()
	if _, err := rand.Read(req.IncarnationID[:]); err != nil {
		return err
	}
	req.LogDirs = []metadata.Uuid{m.meta.DirectoryID()}
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = m.cfg.InterBrokerListenerName, host, uint16(port)
	l.SecurityProtocol = 0 // PLAINTEXT
	req.Listeners = append(req.Listeners, l)
	if m.cfg.BrokerRack != "" {
		req.Rack = &m.cfg.BrokerRack
	}
	// Another registration of this id with a live session is either a
	// second node claiming it or this node's previous incarnation from
	// another directory (its disk replaced) whose session has not run out:
	// as Kafka's brokers do, keep trying until the timeout; the second
	// case resolves itself within broker.session.timeout.ms.
	var epoch int64
	var err error
	warned := false
	for {
		epoch, err = m.client.Register(ctx, req)
		if !errors.Is(err, kerr.DuplicateBrokerRegistration) || ctx.Err() != nil {
			break
		}
		if !warned {
			m.logger.Warn("another node is registered with this node.id and still sends heartbeats; retrying until its session expires or initial.broker.registration.timeout.ms passes", "node_id", m.cfg.NodeID)
			warned = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		if errors.Is(err, kerr.DuplicateBrokerRegistration) {
			return fmt.Errorf("another live node is registered with node.id %d: %w", m.cfg.NodeID, err)
		}
		if errors.Is(err, kerr.InconsistentClusterID) {
			return fmt.Errorf("the controller quorum belongs to another cluster than samsa.cluster.id %s: %w", req.ClusterID, err)
		}
		return fmt.Errorf("within initial.broker.registration.timeout.ms (%s): %w", timeout, err)
	}
	m.life.epoch.Store(epoch)
	m.logger.Info("registered with the controller", "broker_epoch", epoch)
	if err := m.meta.WaitApplied(ctx, uint64(epoch)); err != nil {
		return fmt.Errorf("catch up with the metadata log to offset %d: %w", epoch, err)
	}
	// The replicas too: the metadata store applies the log before the
	// replica manager opens what it names, and what this node does next
	// (stray logs, unfencing) must see every partition it holds.
	if err := m.AwaitImage(ctx, epoch); err != nil {
		return fmt.Errorf("open the replicas of the metadata log up to offset %d: %w", epoch, err)
	}
	// Heartbeat until unfenced: the first heartbeat after catching up
	// unfences, so retry quickly while fenced.
	for {
		resp, err := m.heartbeat(ctx, false)
		if err == nil && !resp.IsFenced {
			break
		}
		if ctx.Err() != nil {
			if err == nil {
				err = errors.New("still fenced")
			}
			return fmt.Errorf("within initial.broker.registration.timeout.ms (%s) the controller did not unfence this broker: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	m.life.fenced.Store(false)
	m.bg.Add(1)
	go m.heartbeatLoop()
	return nil
}

// heartbeat sends one heartbeat with this node's metadata offset.
func (m *Manager) heartbeat(ctx context.Context, wantShutdown bool) (*kmsg.BrokerHeartbeatResponse, error) {
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID = m.cfg.NodeID
	req.BrokerEpoch = m.life.epoch.Load()
	req.CurrentMetadataOffset = int64(m.meta.AppliedIndex())
	req.WantShutdown = wantShutdown
	return m.client.Heartbeat(ctx, req)
}

// heartbeatLoop sends a heartbeat every broker.heartbeat.interval.ms until
// the manager closes. A heartbeat in flight when it closes is cancelled: a
// node whose quorum is gone must not wait out its heartbeats to stop.
func (m *Manager) heartbeatLoop() {
	defer m.bg.Done()
	interval := time.Duration(m.cfg.BrokerHeartbeatIntervalMs) * time.Millisecond
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		select {
		case <-m.stop:
			return // the ticker and stop were both ready
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		go func() {
			select {
			case <-m.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		resp, err := m.heartbeat(ctx, false)
		cancel()
		switch {
		case err != nil:
			m.logger.Debug("heartbeat failed", "err", err)
		case resp.IsFenced != m.life.fenced.Load():
			m.life.fenced.Store(resp.IsFenced)
			if resp.IsFenced {
				m.logger.Warn("the controller fenced this broker")
			} else {
				m.logger.Info("the controller unfenced this broker")
			}
		}
	}
}

// BeginShutdown is the first step of a node's shutdown, before it stops
// serving: the controlled shutdown. The controller moves this broker's
// leaderships to other in-sync replicas and takes it out of the ISRs; once
// this node has applied that, produces waiting here for acknowledgement
// end with NOT_LEADER_OR_FOLLOWER (clients retry at the new leader) and
// followers fetch from the new leaders, so the requests in flight finish
// and no producer waits for a replica that is going away. Later calls, and
// Close, do nothing more.
func (m *Manager) BeginShutdown() {
	m.life.shutdown.Do(m.controlledShutdown)
}

// controlledShutdown asks the controller to move this broker's
// leaderships away and waits until it says the broker may stop, bounded
// by a fifth of samsa.shutdown.timeout.ms. A cluster of one skips it:
// there is nowhere to move leadership to.
func (m *Manager) controlledShutdown() {
	if !m.cfg.Clustered() || m.client == nil || m.life.epoch.Load() < 0 {
		return
	}
	timeout := time.Duration(m.cfg.ShutdownTimeoutMs) * time.Millisecond / 5
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		resp, err := m.heartbeat(ctx, true)
		if err == nil && resp.ShouldShutdown {
			m.logger.Info("controlled shutdown: the controller moved this broker's leaderships away")
			m.awaitNoLeaderships(ctx)
			return
		}
		select {
		case <-ctx.Done():
			m.logger.Warn("controlled shutdown did not finish in time; stopping anyway", "timeout", timeout, "err", err)
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// awaitNoLeaderships waits until this node leads no partition in the
// image it applied, or ctx ends.
func (m *Manager) awaitNoLeaderships(ctx context.Context) {
	for {
		changed := m.imageChanged()
		if len(metadata.LedBy(m.meta.Image(), m.cfg.NodeID)) == 0 {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}
