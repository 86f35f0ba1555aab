package replica

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
)

// This file turns the metadata image into replica roles and carries the
// leaders' ISR proposals to the controller, as Kafka's ReplicaManager
// (applyDelta: makeLeaders, makeFollowers) and its AlterPartitionManager
// do:
//
//   - a partition the image says this node leads becomes leader in the
//     image's leader epoch (its log records the epoch's start first) and
//     learns its replicas, ISR and partition epoch; it stops fetching;
//   - one it follows becomes a follower in that epoch (failing the waits
//     of produces acknowledged in the ended term, before anything can be
//     truncated) and is fetched from the leader once the coordinators have
//     let go of it;
//   - the ISR changes the leaders propose (a follower caught up, or one
//     lagging for replica.lag.time.max.ms) go to the active controller as
//     AlterPartition, batched, one proposal per partition at a time.

// roleChange is a follower role applyImage decided, started after the
// coordinators let go of the partition (watchImage).
type roleChange struct {
	r           *Replica
	leader      int32 // -1: no leader to fetch from
	leaderEpoch int32
}

// assignment is the partition's replication assignment in im, for its
// leader on this node.
func (m *Manager) assignment(im *metadata.Image, p metadata.Partition, minISR int32) partition.Assignment {
	return partition.Assignment{
		Self:              m.cfg.NodeID,
		Replicas:          slices.Clone(p.Replicas),
		ISR:               slices.Clone(p.ISR),
		PartitionEpoch:    p.PartitionEpoch,
		MinInsyncReplicas: int(minISR),
		Eligible: func(id int32, brokerEpoch int64) bool {
			b, ok := im.Brokers[id]
			return ok && b.Usable() && (brokerEpoch < 0 || b.Epoch == brokerEpoch)
		},
	}
}

// applyRole puts replica r in the role the image gives it: leader or
// follower in the image's leader epoch. A follower's fetch is returned to
// start after the coordinators moved; a leader stops fetching at once.
func (m *Manager) applyRole(r *Replica, im *metadata.Image, p metadata.Partition, settings *topicSettings, changed bool) *roleChange {
	part := r.part
	if p.Leader == m.cfg.NodeID {
		wasLeader := part.IsLeader() && part.LeaderEpoch() == p.LeaderEpoch
		if !wasLeader {
			r.followMu.Lock()
			r.followLeader, r.followEpoch = -1, -1
			r.followMu.Unlock()
			m.unfollow(r.tp)
			if err := part.BecomeLeaderWith(p.LeaderEpoch, m.assignment(im, p, settings.minInsyncReplicas), time.Now()); err != nil {
				m.logger.Error("cannot become leader", "topic", r.tp.Topic, "partition", r.tp.Partition, "epoch", p.LeaderEpoch, "err", err)
				r.leader.Store(false)
				return nil
			}
		} else if changed {
			part.SetAssignment(m.assignment(im, p, settings.minInsyncReplicas), time.Now())
		}
		r.leader.Store(true)
		return nil
	}
	r.leader.Store(false)
	if err := part.BecomeFollower(p.LeaderEpoch); err != nil {
		m.logger.Error("cannot become follower", "topic", r.tp.Topic, "partition", r.tp.Partition, "epoch", p.LeaderEpoch, "err", err)
		return nil
	}
	r.followMu.Lock()
	same := r.followLeader == p.Leader && r.followEpoch == p.LeaderEpoch
	r.followLeader, r.followEpoch = p.Leader, p.LeaderEpoch
	r.followMu.Unlock()
	if same {
		return nil
	}
	return &roleChange{r: r, leader: p.Leader, leaderEpoch: p.LeaderEpoch}
}

// roleDiffers reports whether replica r's role or epoch is not yet the
// one partition p gives it (so applyRole has something to do).
func (m *Manager) roleDiffers(r *Replica, p metadata.Partition) bool {
	if p.Leader == m.cfg.NodeID {
		return !r.part.IsLeader() || r.part.LeaderEpoch() != p.LeaderEpoch
	}
	r.followMu.Lock()
	defer r.followMu.Unlock()
	return r.part.IsLeader() || r.part.LeaderEpoch() != p.LeaderEpoch || r.followLeader != p.Leader || r.followEpoch != p.LeaderEpoch
}

// roleWorkers bounds the role changes applyImage runs at once.
const roleWorkers = 16

// rolePool runs applyRole calls on at most n goroutines and gathers the
// fetches they start.
type rolePool struct {
	sem chan struct{}
	wg  sync.WaitGroup
	mu  sync.Mutex
	out []*roleChange
}

func newRolePool(n int) *rolePool { return &rolePool{sem: make(chan struct{}, n)} }

// run starts fn once a goroutine is free.
func (p *rolePool) run(fn func() *roleChange) {
	p.sem <- struct{}{}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.sem; p.wg.Done() }()
		if c := fn(); c != nil {
			p.mu.Lock()
			p.out = append(p.out, c)
			p.mu.Unlock()
		}
	}()
}

// wait waits for every started call and returns the fetches to start
// (each once).
func (p *rolePool) wait() []*roleChange {
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.out
	p.out = nil
	return out
}

// startFollowing starts (or moves) the fetches applyImage decided.
func (m *Manager) startFollowing(changes []*roleChange) {
	for _, c := range changes {
		if c.leader < 0 {
			m.unfollow(c.r.tp)
			continue
		}
		m.follow(c.r, c.leader, c.leaderEpoch)
	}
}

// isrProposal is a leader's ISR change on its way to the controller.
type isrProposal struct {
	part   *partition.Partition
	change *partition.ISRChange
}

// AlterISR queues a leader's ISR proposal for the controller; the answer
// goes back to the partition (Partition.CompleteISRChange).
func (m *Manager) AlterISR(p *partition.Partition, c *partition.ISRChange) {
	select {
	case m.isrQueue <- isrProposal{p, c}:
	default:
		// A full queue: drop it; the partition proposes again at the next
		// fetch or shrink check.
		p.CompleteISRChange(c, nil, 0, false)
	}
}

// startISRManagement runs, until Close, the sender of ISR proposals and
// the periodic check for lagging followers (every half
// replica.lag.time.max.ms, as Kafka's isr-expiration task).
func (m *Manager) startISRManagement() {
	lag := time.Duration(m.cfg.ReplicaLagTimeMaxMs) * time.Millisecond
	m.bg.Add(2)
	go func() {
		defer m.bg.Done()
		t := time.NewTicker(max(lag/2, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case now := <-t.C:
				m.shrinkISRs(now, lag)
			}
		}
	}()
	go func() {
		defer m.bg.Done()
		for {
			var batch []isrProposal
			select {
			case <-m.stop:
				m.drainISRQueue()
				return
			case p := <-m.isrQueue:
				batch = append(batch, p)
			}
		more:
			for {
				select {
				case p := <-m.isrQueue:
					batch = append(batch, p)
				default:
					break more
				}
			}
			m.sendISRChanges(batch)
		}
	}()
}

// drainISRQueue fails the proposals left at Close.
func (m *Manager) drainISRQueue() {
	for {
		select {
		case p := <-m.isrQueue:
			p.part.CompleteISRChange(p.change, nil, 0, false)
		default:
			return
		}
	}
}

// shrinkISRs asks every replicated partition this node leads whether a
// follower has lagged too long.
func (m *Manager) shrinkISRs(now time.Time, lag time.Duration) {
	m.replicas.mu.RLock()
	var led []*Replica
	for _, r := range m.replicas.byTP {
		if r.leader.Load() {
			led = append(led, r)
		}
	}
	m.replicas.mu.RUnlock()
	for _, r := range led {
		if c := r.part.MaybeShrinkISR(now, lag); c != nil {
			m.logger.Info("proposing to shrink the ISR", "topic", r.tp.Topic, "partition", r.tp.Partition, "isr", c.IDs())
			m.AlterISR(r.part, c)
		}
	}
}

// sendISRChanges sends one AlterPartition for the proposals and hands
// each partition its answer.
func (m *Manager) sendISRChanges(batch []isrProposal) {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.BrokerID = m.cfg.NodeID
	req.BrokerEpoch = m.life.epoch.Load()
	self := req.BrokerEpoch
	topicIdx := map[[16]byte]int{}
	for _, p := range batch {
		id := p.part.TopicID()
		i, ok := topicIdx[id]
		if !ok {
			i = len(req.Topics)
			topicIdx[id] = i
			t := kmsg.NewAlterPartitionRequestTopic()
			t.TopicID = id
			t.Topic = p.part.Topic()
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition = p.part.Index()
		rp.LeaderEpoch = p.change.LeaderEpoch
		rp.PartitionEpoch = p.change.PartitionEpoch
		for _, mem := range p.change.ISR {
			e := mem.BrokerEpoch
			if mem.ID == m.cfg.NodeID {
				e = self
			}
			rp.NewISR = append(rp.NewISR, mem.ID)
			rp.NewEpochISR = append(rp.NewEpochISR, kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{BrokerID: mem.ID, BrokerEpoch: e})
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	resp, err := m.client.AlterPartition(ctx, req)
	// Each answer goes to the proposal for its partition, in request
	// order; a partition has one proposal at a time.
	waiting := make(map[partitionKey][]isrProposal, len(batch))
	for _, p := range batch {
		k := partitionKey{p.part.TopicID(), p.part.Index()}
		waiting[k] = append(waiting[k], p)
	}
	answered := map[*partition.ISRChange]bool{}
	if err == nil && resp.ErrorCode != 0 {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		m.logger.Warn("AlterPartition failed", "partitions", len(batch), "err", err)
	} else {
		for _, t := range resp.Topics {
			for _, rp := range t.Partitions {
				k := partitionKey{t.TopidID, rp.Partition}
				ps := waiting[k]
				if len(ps) == 0 {
					continue
				}
				p := ps[0]
				waiting[k] = ps[1:]
				answered[p.change] = true
				if rp.ErrorCode != 0 {
					m.logger.Info("the controller refused an ISR change", "topic", p.part.Topic(), "partition", rp.Partition,
						"isr", p.change.IDs(), "err", kerr.ErrorForCode(rp.ErrorCode))
					p.part.CompleteISRChange(p.change, nil, 0, false)
					continue
				}
				m.logger.Info("ISR changed", "topic", p.part.Topic(), "partition", rp.Partition, "isr", rp.ISR, "partition_epoch", rp.PartitionEpoch)
				p.part.CompleteISRChange(p.change, rp.ISR, rp.PartitionEpoch, true)
			}
		}
	}
	for _, p := range batch {
		if !answered[p.change] {
			p.part.CompleteISRChange(p.change, nil, 0, false)
		}
	}
}
