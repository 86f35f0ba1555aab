package replica

// The coordinators' partitions follow this node's leadership of the
// internal topics, as Kafka's become-leader and become-follower of
// __consumer_offsets and __transaction_state call the coordinators'
// onElection and onResignation: when an applied metadata image makes this
// node the leader of partition p, the coordinator loads p in the image's
// leader epoch; when this node stops leading it (another leader or none,
// the partition deleted), the coordinator unloads it. Loads replay a
// partition and may take a while, so they run on their own goroutines,
// never under the apply lock: one at a time per partition, in the order
// the images gave them (so in leader-epoch order), partitions in parallel.
// A load that fails is retried while it is still the partition's latest
// task. Closing the node stops the tasks and closes the coordinators,
// which drops every partition.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/coordinator"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// newCoordinators creates the group and transaction coordinators, which
// own no partition until startCoordinators lets their loads run.
func (m *Manager) newCoordinators() error {
	if err := m.newGroups(); err != nil {
		return fmt.Errorf("group coordinator: %w", err)
	}
	if err := m.newTxns(); err != nil {
		return fmt.Errorf("transaction coordinator: %w", err)
	}
	return nil
}

// startCoordinators lets the loads and unloads the images have asked for
// run (Open calls it once the node is registered).
func (m *Manager) startCoordinators() {
	m.groups.tasks.start()
	m.txns.tasks.start()
}

// coordinatorLeadership follows the leadership of the internal topics'
// partitions in an applied image: it schedules the coordinators' loads
// and unloads for the partitions this node started or stopped leading
// (p.Leader == this node). Called from the watch path after the image is
// applied, in image order; it only queues work.
func (m *Manager) coordinatorLeadership(next *metadata.Image) {
	for _, tasks := range []*partitionTasks{m.groups.tasks, m.txns.tasks} {
		if tasks != nil {
			tasks.follow(next)
		}
	}
}

// CoordinatorPartition is the partition of the internal topic that
// coordinates key, as it is in the metadata image: a group id
// (coordinator type 0) in __consumer_offsets, a transactional id (type 1)
// in __transaction_state. The topic is created first if the image lacks
// it. ok is false when the topic cannot be created (err says why) or has
// no such partition.
func (m *Manager) CoordinatorPartition(ctx context.Context, typ int8, key string) (p metadata.Partition, ok bool, err error) {
	var t *internalTopic
	switch typ {
	case 0:
		if st := m.offsetsStore(); st != nil {
			t = &st.topic
		}
	case 1:
		m.txns.mu.Lock()
		st := m.txns.store
		m.txns.mu.Unlock()
		if st != nil {
			t = &st.topic
		}
	}
	if t == nil {
		return metadata.Partition{}, false, fmt.Errorf("no coordinator of type %d", typ)
	}
	if err := t.ensure(ctx); err != nil {
		return metadata.Partition{}, false, err
	}
	im := m.meta.Image()
	topic := im.Topics[t.name]
	if topic == nil || len(topic.Partitions) == 0 {
		return metadata.Partition{}, false, nil
	}
	p, ok = im.Partition(t.name, coordinator.PartitionFor(key, int32(len(topic.Partitions))))
	return p, ok, nil
}

// internalPartitionCount is the number of partitions of an internal topic
// that keys map to: the topic's in the metadata image once it exists, as
// Kafka's coordinators read it from the metadata, else configured (the
// count it will be created with). FindCoordinator (CoordinatorPartition)
// and both coordinators map keys with it, so they agree on every node
// whatever its own offsets.topic.num.partitions or
// transaction.state.log.num.partitions.
func (m *Manager) internalPartitionCount(topic string, configured int32) int32 {
	if t := m.meta.Image().Topics[topic]; t != nil && len(t.Partitions) > 0 {
		return int32(len(t.Partitions))
	}
	return configured
}

// partitionTasks runs one coordinator's loads and unloads of the
// partitions of its internal topic.
type partitionTasks struct {
	topic  string
	node   int32
	logger *slog.Logger
	load   func(ctx context.Context, p, epoch int32) error
	unload func(p, epoch int32)
	ctx    context.Context // cancelled by stop: ends loads in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	topicID metadata.Uuid   // of the topic as last followed
	seen    *metadata.Topic // the topic as last followed (images share unchanged topics)
	led     map[int32]int32 // partitions led as last followed, with their leader epochs
	queues  map[int32][]partitionTask
	running map[int32]bool // a goroutine works through the partition's queue
	started bool
	stopped bool
}

type partitionTask struct {
	load  bool
	epoch int32
}

func newPartitionTasks(topic string, node int32, logger *slog.Logger, load func(context.Context, int32, int32) error, unload func(int32, int32)) *partitionTasks {
	t := &partitionTasks{topic: topic, node: node, logger: logger, load: load, unload: unload,
		led: map[int32]int32{}, queues: map[int32][]partitionTask{}, running: map[int32]bool{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	return t
}

// follow queues the loads and unloads that bring the coordinator's
// partitions in line with the leadership the image gives this node.
func (t *partitionTasks) follow(im *metadata.Image) {
	topic := im.Topics[t.topic]
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || topic == t.seen {
		return
	}
	t.seen = topic
	if topic == nil || topic.ID != t.topicID {
		// Deleted (and maybe created again): what was led is gone.
		for p := range t.led {
			t.enqueueLocked(p, partitionTask{load: false, epoch: -1})
			delete(t.led, p)
		}
	}
	if topic == nil {
		return
	}
	t.topicID = topic.ID
	for _, p := range topic.Partitions {
		epoch, was := t.led[p.ID]
		switch {
		case p.Leader == t.node && (!was || epoch != p.LeaderEpoch):
			t.led[p.ID] = p.LeaderEpoch
			t.enqueueLocked(p.ID, partitionTask{load: true, epoch: p.LeaderEpoch})
		case p.Leader != t.node && was:
			delete(t.led, p.ID)
			t.enqueueLocked(p.ID, partitionTask{load: false, epoch: p.LeaderEpoch})
		}
	}
	for p := range t.led {
		if int(p) >= len(topic.Partitions) {
			delete(t.led, p)
			t.enqueueLocked(p, partitionTask{load: false, epoch: -1})
		}
	}
}

func (t *partitionTasks) enqueueLocked(p int32, task partitionTask) {
	t.queues[p] = append(t.queues[p], task)
	if t.started && !t.running[p] {
		t.running[p] = true
		t.wg.Add(1)
		go t.work(p)
	}
}

// start lets the queued tasks run.
func (t *partitionTasks) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.started || t.stopped {
		return
	}
	t.started = true
	for p, q := range t.queues {
		if len(q) > 0 && !t.running[p] {
			t.running[p] = true
			t.wg.Add(1)
			go t.work(p)
		}
	}
}

// stop drops the queued tasks, ends the loads in progress and waits for
// the tasks running to return.
func (t *partitionTasks) stop() {
	t.mu.Lock()
	t.stopped = true
	t.queues = map[int32][]partitionTask{}
	t.mu.Unlock()
	t.cancel()
	t.wg.Wait()
}

// next takes the partition's next task; ok is false when there is none
// (the goroutine then ends).
func (t *partitionTasks) next(p int32) (partitionTask, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queues[p]
	if t.stopped || len(q) == 0 {
		t.running[p] = false
		delete(t.queues, p)
		return partitionTask{}, false
	}
	t.queues[p] = q[1:]
	return q[0], true
}

// superseded reports whether a load should not be retried: the node is
// closing or the partition has later tasks.
func (t *partitionTasks) superseded(p int32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stopped || len(t.queues[p]) > 0
}

// work runs the partition's tasks in order.
func (t *partitionTasks) work(p int32) {
	defer t.wg.Done()
	for {
		task, ok := t.next(p)
		if !ok {
			return
		}
		if !task.load {
			t.unload(p, task.epoch)
			continue
		}
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := t.load(t.ctx, p, task.epoch)
			if err == nil || t.superseded(p) {
				break
			}
			t.logger.Warn("coordinator partition not loaded; will retry", "topic", t.topic, "partition", p, "epoch", task.epoch, "err", err)
			select {
			case <-t.ctx.Done():
			case <-time.After(backoff):
			}
		}
	}
}
