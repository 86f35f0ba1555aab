package sim

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/partition"
)

// brokerReg is a broker's registration at the controller.
type brokerReg struct {
	epoch  int64
	fenced bool
}

// image is a metadata image as a node sees it: the partition and the
// brokers' registrations.
type image struct {
	version        int
	leader         int32 // -1: offline
	leaderEpoch    int32
	partitionEpoch int32
	replicas       []int32
	isr            []int32
	brokers        map[int32]brokerReg
}

func (im image) samePartition(o image) bool {
	return im.leader == o.leader && im.leaderEpoch == o.leaderEpoch && im.partitionEpoch == o.partitionEpoch &&
		slices.Equal(im.isr, o.isr) && slices.Equal(im.replicas, o.replicas)
}

func (im image) sameBrokers(o image) bool { return maps.Equal(im.brokers, o.brokers) }

// assignment is what the replica manager gives a leader from the image.
func (im image) assignment(self int32, minISR int) partition.Assignment {
	brokers := im.brokers
	return partition.Assignment{
		Self:              self,
		Replicas:          slices.Clone(im.replicas),
		ISR:               slices.Clone(im.isr),
		PartitionEpoch:    im.partitionEpoch,
		MinInsyncReplicas: minISR,
		Eligible: func(id int32, brokerEpoch int64) bool {
			b, ok := brokers[id]
			return ok && !b.fenced && (brokerEpoch < 0 || b.epoch == brokerEpoch)
		},
	}
}

func (im image) String() string {
	return fmt.Sprintf("leader=%d leader-epoch=%d partition-epoch=%d isr=%v", im.leader, im.leaderEpoch, im.partitionEpoch, im.isr)
}

// controller is a model of the active controller for one partition, with
// KRaft's rules:
//
//   - a leader is elected only from the ISR (no unclean election), among
//     unfenced brokers; every leader change bumps the leader epoch, every
//     change of leader or ISR the partition epoch;
//   - a fenced broker leaves the ISR, unless it is its last member (then
//     the partition goes offline and waits for it);
//   - AlterPartition is a compare-and-set: it must come from the leader
//     with its current broker epoch, name the current leader epoch and
//     partition epoch, keep the leader in the ISR and add only eligible
//     brokers (registered with the broker epoch they fetched with,
//     unfenced: KIP-903).
//
// Every change publishes an image, which reaches each node after a delay
// (in order: the metadata log is one log).
type controller struct {
	s              *Sim
	leader         int32
	leaderEpoch    int32
	partitionEpoch int32
	isr            []int32
	brokers        map[int32]*brokerReg
	nextEpoch      int64
	version        int
	published      int // the newest version sent to the nodes
}

func newController(s *Sim) *controller {
	return &controller{s: s, leader: -1, brokers: map[int32]*brokerReg{}, nextEpoch: 100}
}

func (c *controller) replicas() []int32 {
	var ids []int32
	for _, n := range c.s.nodes {
		ids = append(ids, n.id)
	}
	return ids
}

// image is the controller's current state as a new image.
func (c *controller) image() image {
	c.version++
	return c.snapshot()
}

// snapshot is the current state at the current image version.
func (c *controller) snapshot() image {
	im := image{version: c.version, leader: c.leader, leaderEpoch: c.leaderEpoch, partitionEpoch: c.partitionEpoch,
		replicas: c.replicas(), isr: slices.Clone(c.isr), brokers: map[int32]brokerReg{}}
	for id, b := range c.brokers {
		im.brokers[id] = *b
	}
	return im
}

// publish sends the current image to every node, behind the images sent
// before.
func (c *controller) publish(why string) {
	im := c.image()
	c.published = im.version
	c.s.tracef("controller: %s: %s", why, im)
	for _, n := range c.s.nodes {
		n := n
		c.s.send("image", 0, n.id, fmt.Sprintf("v%d to n%d: %s", im.version, n.id, im), func() { n.applyImage(im) })
	}
}

// publishTo sends the current image to a node that just started (it
// replays the metadata log up to it).
func (c *controller) publishTo(n *node) {
	im := c.snapshot()
	c.s.send("image", 0, n.id, fmt.Sprintf("v%d to n%d: %s", im.version, n.id, im), func() { n.applyImage(im) })
}

// register records a broker's (new) registration: a new broker epoch,
// fenced until it has caught up (unfence). A registration of a broker
// whose previous incarnation was not fenced fences that one first.
func (c *controller) register(n *node) {
	if b := c.brokers[n.id]; b != nil && !b.fenced {
		c.fence(n.id)
	}
	c.nextEpoch++
	c.brokers[n.id] = &brokerReg{epoch: c.nextEpoch, fenced: true}
	n.brokerEpoch = c.nextEpoch
	c.publish(fmt.Sprintf("n%d registered with broker epoch %d", n.id, c.nextEpoch))
}

// fence fences a broker (its session expired, or it registered again):
// it leaves the ISR unless it is the last member, and a leader is
// elected if it led.
func (c *controller) fence(id int32) {
	b := c.brokers[id]
	if b == nil || b.fenced {
		return
	}
	b.fenced = true
	changed := false
	if slices.Contains(c.isr, id) && len(c.isr) > 1 {
		c.isr = slices.DeleteFunc(slices.Clone(c.isr), func(x int32) bool { return x == id })
		changed = true
	}
	if c.leader == id {
		c.elect(-1)
		return
	}
	if changed {
		c.partitionEpoch++
	}
	c.publish(fmt.Sprintf("n%d fenced", id))
}

// unfence lets a registered broker back: it may lead again (an offline
// partition whose ISR holds it gets it as leader) and join ISRs.
func (c *controller) unfence(id int32) {
	b := c.brokers[id]
	if b == nil || !b.fenced {
		return
	}
	b.fenced = false
	if c.leader < 0 && slices.Contains(c.isr, id) {
		c.elect(id)
		return
	}
	c.publish(fmt.Sprintf("n%d unfenced", id))
}

// eligible lists the ISR members that may lead.
func (c *controller) eligible() []int32 {
	var out []int32
	for _, id := range c.isr {
		if b := c.brokers[id]; b != nil && !b.fenced {
			out = append(out, id)
		}
	}
	return out
}

// elect makes prefer (or, for -1, an eligible ISR member: the first in
// scripts, a random one in random runs) the leader in a new leader epoch,
// or takes the partition offline when none is eligible. It reports an
// error when prefer is not eligible.
func (c *controller) elect(prefer int32) error {
	cands := c.eligible()
	next := int32(-1)
	switch {
	case prefer > 0 && !slices.Contains(cands, prefer):
		return fmt.Errorf("n%d is not an unfenced member of the ISR %v", prefer, c.isr)
	case prefer > 0:
		next = prefer
	case len(cands) > 0 && c.s.opts.Random:
		next = cands[c.s.rng.Intn(len(cands))]
	case len(cands) > 0:
		next = cands[0]
	}
	c.leader = next
	c.s.Stats.Elections++
	c.leaderEpoch++
	c.partitionEpoch++
	c.publish(fmt.Sprintf("leader n%d", next))
	return nil
}

// alterReq is an AlterPartition for the partition.
type alterReq struct {
	from        int32
	brokerEpoch int64
	change      partition.ISRChange
}

// alterPartition validates and applies a leader's ISR proposal, as the
// controller's AlterPartition handler does.
func (c *controller) alterPartition(r alterReq) ([]int32, int32, *kerr.Error) {
	if b := c.brokers[r.from]; b == nil || b.epoch != r.brokerEpoch {
		return nil, 0, kerr.StaleBrokerEpoch
	}
	switch {
	case r.change.LeaderEpoch < c.leaderEpoch:
		return nil, 0, kerr.FencedLeaderEpoch
	case r.change.LeaderEpoch > c.leaderEpoch:
		return nil, 0, kerr.UnknownLeaderEpoch
	case r.from != c.leader:
		return nil, 0, kerr.NotLeaderForPartition
	case r.change.PartitionEpoch != c.partitionEpoch:
		return nil, 0, kerr.InvalidUpdateVersion
	}
	ids := r.change.IDs()
	if !slices.Contains(ids, c.leader) {
		return nil, 0, kerr.InvalidRequest
	}
	for _, m := range r.change.ISR {
		if m.ID == r.from {
			continue // the sender's epoch was checked above
		}
		b := c.brokers[m.ID]
		if b == nil || b.fenced || (m.BrokerEpoch >= 0 && m.BrokerEpoch != b.epoch) {
			return nil, 0, kerr.IneligibleReplica
		}
	}
	c.isr = slices.Clone(ids)
	c.partitionEpoch++
	c.publish(fmt.Sprintf("AlterPartition from n%d", r.from))
	return slices.Clone(c.isr), c.partitionEpoch, nil
}
