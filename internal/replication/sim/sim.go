package sim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Options configure a Sim.
type Options struct {
	// Seed drives every random choice (delays, drops, faults, workload).
	Seed int64
	// Nodes is the replication factor (default 3).
	Nodes int
	// MinISR is the topic's min.insync.replicas (default 2).
	MinISR int
	// Random makes the network delay, drop and reorder messages by the
	// seed; otherwise (scripts) every message waits in the queue until a
	// command delivers it.
	Random bool
	// Trace, if set, hears of every event, one line each.
	Trace func(string)
}

// Timing, in simulated milliseconds.
const (
	lagMax        = 100 * time.Millisecond // replica.lag.time.max.ms
	fetchTimeout  = 60                     // a lost fetch is retried after this
	alterTimeout  = 80                     // a lost AlterPartition fails after this
	fetchBackoff  = 20                     // replica.fetch.backoff.ms
	retrySoon     = 5                      // after UNKNOWN_LEADER_EPOCH
	produceExpiry = 400                    // a produce not acknowledged by then times out
	sessionExpiry = 40                     // the controller fences a silent broker after this
)

var topic = log.TopicPartition{Topic: "sim", Partition: 0}

var epoch0 = time.UnixMilli(1_700_000_000_000)

// Sim is one replicated partition on Nodes nodes, a model controller and
// the network between them. It is not safe for concurrent use: one
// goroutine drives it, which is what makes a run a function of its seed.
type Sim struct {
	opts   Options
	rng    *rand.Rand
	now    int64 // simulated milliseconds since epoch0
	step   int
	nodes  []*node // index id-1
	ctrl   *controller
	events []*event
	seq    int64
	quiet  *slog.Logger

	producers []*produce
	fetchIDs  int64
	nextValue int
	model     model // what the invariants remember
	// Stats counts what a run did, to see that runs do something.
	Stats Stats
	// Violations found so far ("step N: ...").
	Violations []string
	out        *strings.Builder // script output, nil in random runs
}

// Stats are a run's tallies.
type Stats struct {
	AckedAll, AckedOne, Failed      int
	Crashes, Elections, Truncations int
	MaxHW                           int64
}

func (st Stats) String() string {
	return fmt.Sprintf("acked all=%d one=%d failed=%d, crashes=%d, elections=%d, truncations=%d, max hw=%d",
		st.AckedAll, st.AckedOne, st.Failed, st.Crashes, st.Elections, st.Truncations, st.MaxHW)
}

// event is a message in flight or a timer.
type event struct {
	at       int64
	seq      int64
	kind     string // fetch, fetch-resp, alter, alter-resp, image, timer
	from, to int32  // node ids, 0 the controller
	inc      int    // the incarnation of the node it is addressed to
	desc     string
	run      func()
}

// node is one broker hosting a replica.
type node struct {
	s           *Sim
	id          int32
	disk        *vfs.MemFS
	mgr         *log.Manager
	l           *log.Log
	p           *partition.Partition
	up, paused  bool
	isolated    bool
	inc         int   // incarnation: bumped at every restart
	brokerEpoch int64 // the controller's registration of this incarnation
	image       image // the newest metadata image applied

	// The fetcher: the leader and epoch it follows (gen changes with
	// them), the fetch in flight, the appends waiting to be durable.
	follow      int32
	followEpoch int32
	gen         int
	inflight    int64 // fetch id, 0 if none
	nextFetch   int64
	waits       []durableWait
	syncAt      int64 // next group-commit round, -1 none scheduled
	shrinkAt    int64
}

// durableWait is the fetcher's WaitDurable before it adopts the leader's
// high watermark and fetches again.
type durableWait struct {
	gen    int
	leo    int64
	leader int64 // the leader's high watermark in the response
	empty  bool  // the response had no records
}

// produce is a produce request waiting for its acknowledgement.
type produce struct {
	node     int32
	inc      int
	epoch    int32
	base     int64
	end      int64
	acks     int16
	value    string
	deadline int64
}

func (s *Sim) quietLogger() *slog.Logger { return s.quiet }

// New builds a Sim: Nodes empty replicas, every broker registered and
// unfenced, node 1 the leader of epoch 0 with every replica in the ISR,
// the image applied everywhere.
func New(opts Options) (*Sim, error) {
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.MinISR == 0 {
		opts.MinISR = 2
	}
	s := &Sim{opts: opts, rng: rand.New(rand.NewSource(opts.Seed)),
		quiet: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.model.init()
	s.ctrl = newController(s)
	for i := 1; i <= opts.Nodes; i++ {
		n := &node{s: s, id: int32(i), disk: vfs.NewMem(), syncAt: -1}
		s.nodes = append(s.nodes, n)
		if err := n.open(); err != nil {
			return nil, err
		}
		s.ctrl.register(n)
		s.ctrl.brokers[n.id].fenced = false
	}
	s.ctrl.leader, s.ctrl.leaderEpoch = 1, 0
	s.ctrl.isr = s.ctrl.replicas()
	s.events = nil // the registrations' images: superseded
	im := s.ctrl.image()
	for _, n := range s.nodes {
		n.applyImage(im)
	}
	s.ctrl.published = im.version
	return s, nil
}

// Close releases every node.
func (s *Sim) Close() {
	for _, n := range s.nodes {
		if n.up {
			n.close()
		}
	}
}

func (s *Sim) clock() time.Time { return epoch0.Add(time.Duration(s.now) * time.Millisecond) }

func (s *Sim) node(id int32) *node { return s.nodes[id-1] }

func (s *Sim) tracef(format string, args ...any) {
	line := fmt.Sprintf("t=%d ", s.now) + fmt.Sprintf(format, args...)
	if s.opts.Trace != nil {
		s.opts.Trace(line)
	}
}

// printf writes to a script's output.
func (s *Sim) printf(format string, args ...any) {
	if s.out != nil {
		fmt.Fprintf(s.out, format, args...)
	}
}

// delay is a message's time on the network: random in random runs, none
// in scripts (where messages wait for deliver).
func (s *Sim) delay() int64 {
	if !s.opts.Random {
		return 0
	}
	return 1 + s.rng.Int63n(12)
}

// send queues a message from → to (0 is the controller); it is lost when
// either end is cut off at delivery, or the receiver is down or restarted.
func (s *Sim) send(kind string, from, to int32, desc string, run func()) {
	if s.lossy(kind) {
		s.tracef("%s %s: dropped", kind, desc)
		return
	}
	inc := 0
	if to > 0 {
		inc = s.node(to).inc
	}
	s.schedule(&event{at: s.now + s.delay(), kind: kind, from: from, to: to, inc: inc, desc: desc, run: run})
}

// timer runs fn on node id (its current incarnation) at time at.
func (s *Sim) timer(id int32, at int64, desc string, fn func()) {
	s.schedule(&event{at: at, kind: "timer", from: id, to: id, inc: s.node(id).inc, desc: desc, run: fn})
}

func (s *Sim) schedule(e *event) {
	s.seq++
	e.seq = s.seq
	s.events = append(s.events, e)
}

// cut reports whether the link between a and b (0 the controller) is down.
func (s *Sim) cut(a, b int32) bool {
	if a == b {
		return false
	}
	return (a > 0 && s.node(a).isolated) || (b > 0 && s.node(b).isolated)
}

// deliver runs e if its receiver can take it now; it reports false when
// the receiver is paused (the event stays queued).
func (s *Sim) deliver(e *event) bool {
	if e.to > 0 {
		n := s.node(e.to)
		if n.paused && n.up && n.inc == e.inc {
			return false
		}
		if !n.up || n.inc != e.inc {
			s.tracef("%s %s: n%d is gone", e.kind, e.desc, e.to)
			return true
		}
	}
	if e.kind != "timer" && s.cut(e.from, e.to) {
		s.tracef("%s %s: lost (cut off)", e.kind, e.desc)
		s.printf("lost %s %s\n", e.kind, e.desc)
		return true
	}
	if e.kind != "timer" {
		s.tracef("%s %s", e.kind, e.desc)
	}
	e.run()
	return true
}

// open opens (recovers) the node's log manager, log and partition from its
// disk, as a follower with no epoch: the image decides its role.
func (n *node) open() error {
	s := n.s
	m, err := log.OpenManager(log.ManagerOptions{FS: n.disk, Dir: "data", Now: s.clock, Logger: s.quietLogger(),
		RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, HighWatermarkCheckpointInterval: 1 << 40,
		FlushCheckInterval: 1 << 40, SyncParallelism: 1, ManualCommit: true})
	if err != nil {
		return fmt.Errorf("n%d: open log dir: %w", n.id, err)
	}
	cfg := log.DefaultConfig()
	cfg.SegmentBytes = 2048 // rolls now and then
	l, err := m.Create(topic, [16]byte{7}, cfg)
	if err != nil {
		m.Close()
		return fmt.Errorf("n%d: open log: %w", n.id, err)
	}
	id := n.id
	p, err := partition.New(partition.Config{Log: l, FS: n.disk, Topic: topic.Topic, TopicID: [16]byte{7},
		Partition: topic.Partition, LeaderEpoch: -1, Follower: true, Now: s.clock, Logger: s.quietLogger(),
		TruncatedBelowHighWatermark: func() { s.violate("n%d truncated below the high watermark it exposed", id) }})
	if err != nil {
		m.Close()
		return fmt.Errorf("n%d: open partition: %w", n.id, err)
	}
	n.mgr, n.l, n.p = m, l, p
	n.up, n.paused = true, false
	n.image = image{version: -1}
	n.follow, n.followEpoch, n.inflight, n.waits = -1, -1, 0, nil
	n.gen++
	n.syncAt, n.shrinkAt = -1, -1
	return nil
}

// close shuts the node's partition and log manager down (after a crash,
// on the disk the crash left behind, which no longer matters).
func (n *node) close() {
	n.p.Close()
	n.mgr.Close()
	n.up = false
}

// crash cuts the node's power: its disk keeps what was fsynced (and a
// random prefix of what was not: torn writes), everything in memory and
// in flight to it is lost.
func (s *Sim) crash(n *node) {
	crashed := n.disk.CrashClone(vfs.CrashOptions{TornWrites: true, Seed: s.rng.Int63()})
	n.close()
	n.disk = crashed
	n.inc++
	s.Stats.Crashes++
	s.tracef("n%d crashed", n.id)
}

// restart reopens a crashed node from its disk (or, with wipe, an empty
// one: a replaced disk) and registers it with the controller again.
func (s *Sim) restart(n *node, wipe bool) error {
	if wipe {
		n.disk = vfs.NewMem()
	}
	n.inc++
	if err := n.open(); err != nil {
		return err
	}
	s.tracef("n%d restarted (log end %d, hw %d)", n.id, n.p.LogEndOffset(), n.p.HighWatermark())
	s.ctrl.register(n)
	return nil
}

// commitRound runs the node's group-commit round (its fsyncs), then the
// fetcher's durability waits it satisfies.
func (n *node) commitRound() {
	n.mgr.CommitRound()
	n.checkWaits()
}

// dirty reports whether the node has appends not yet durable.
func (n *node) dirty() bool { return n.up && n.l.DurableOffset() < n.l.LogEndOffset() }

// applyImage puts the replica in the role the image gives it, as the
// replica manager's applyRole does.
func (n *node) applyImage(im image) {
	if im.version <= n.image.version {
		return
	}
	changed := n.image.version < 0 || !im.samePartition(n.image) || !im.sameBrokers(n.image)
	n.image = im
	p := n.p
	if im.leader == n.id {
		wasLeader := p.IsLeader() && p.LeaderEpoch() == im.leaderEpoch
		if !wasLeader {
			n.stopFollowing()
			if err := p.BecomeLeaderWith(im.leaderEpoch, im.assignment(n.id, n.s.opts.MinISR), n.s.clock()); err != nil {
				n.s.tracef("n%d cannot become leader in epoch %d: %v", n.id, im.leaderEpoch, err)
				return
			}
			n.s.tracef("n%d became leader in epoch %d at %d", n.id, im.leaderEpoch, p.EpochStartOffset())
		}
		if wasLeader && changed {
			p.SetAssignment(im.assignment(n.id, n.s.opts.MinISR), n.s.clock())
		}
		if n.shrinkAt < 0 {
			n.scheduleShrink()
		}
		return
	}
	if err := p.BecomeFollower(im.leaderEpoch); err != nil {
		n.s.tracef("n%d cannot follow in epoch %d: %v", n.id, im.leaderEpoch, err)
		return
	}
	if im.leader != n.follow || im.leaderEpoch != n.followEpoch {
		n.stopFollowing()
		n.follow, n.followEpoch = im.leader, im.leaderEpoch
		if im.leader > 0 {
			n.scheduleFetch(n.s.now)
		}
	}
}

func (n *node) stopFollowing() {
	n.follow, n.followEpoch, n.inflight = -1, -1, 0
	n.gen++
}

// scheduleFetch makes the fetcher send its next fetch at time at.
func (n *node) scheduleFetch(at int64) {
	if n.follow <= 0 {
		return
	}
	n.nextFetch = at
	if !n.s.opts.Random {
		return // scripts fetch on command
	}
	gen := n.gen
	n.s.timer(n.id, at, "fetch", func() {
		if n.gen == gen && n.inflight == 0 && !n.waiting() && n.nextFetch <= n.s.now {
			n.sendFetch()
		}
	})
}

func (n *node) scheduleShrink() {
	if !n.s.opts.Random {
		return
	}
	n.shrinkAt = n.s.now + int64(lagMax/time.Millisecond/2)
	n.s.timer(n.id, n.shrinkAt, "isr-expiration", func() {
		n.shrinkAt = -1
		if !n.p.IsLeader() {
			return
		}
		if c := n.p.MaybeShrinkISR(n.s.clock(), lagMax); c != nil {
			n.s.tracef("n%d proposes to shrink the ISR to %v", n.id, c.IDs())
			n.sendAlter(c)
		}
		n.scheduleShrink()
	})
}

// fetchReq is a follower's Fetch for the partition.
type fetchReq struct {
	id          int64
	from        int32
	brokerEpoch int64
	epoch       int32 // current leader epoch
	offset      int64
	lastEpoch   int32
	maxBytes    int64
}

// sendFetch sends the follower's fetch to its leader, as the replica
// fetcher builds it from FetchPosition.
func (n *node) sendFetch() {
	s := n.s
	s.fetchIDs++
	req := fetchReq{id: s.fetchIDs, from: n.id, brokerEpoch: n.brokerEpoch, epoch: n.followEpoch, maxBytes: 1 << 20}
	req.offset, req.lastEpoch = n.p.FetchPosition()
	if s.opts.Random {
		req.maxBytes = 100 + s.rng.Int63n(1500)
	}
	n.inflight = req.id
	gen, leader := n.gen, n.follow
	desc := fmt.Sprintf("n%d→n%d offset=%d last-epoch=%d epoch=%d", n.id, leader, req.offset, req.lastEpoch, req.epoch)
	s.send("fetch", n.id, leader, desc, func() { s.node(leader).handleFetch(req) })
	if s.opts.Random {
		s.timer(n.id, s.now+fetchTimeout, "fetch-timeout", func() {
			if n.gen == gen && n.inflight == req.id {
				n.inflight = 0
				n.scheduleFetch(s.now)
			}
		})
	}
}

// handleFetch answers a follower's fetch on the leader, as the Fetch
// handler does: Read with FromFollower, then FollowerFetched, whose ISR
// proposal goes to the controller.
func (n *node) handleFetch(req fetchReq) {
	s := n.s
	res, err := n.p.Read(partition.ReadOptions{Offset: req.offset, MaxBytes: req.maxBytes, MinOneBatch: true,
		CurrentLeaderEpoch: req.epoch, LastFetchedEpoch: req.lastEpoch, FromFollower: true})
	f := partition.Fetched{HighWatermark: res.HighWatermark, LogStartOffset: res.LogStartOffset, DivergingEpoch: -1, DivergingEndOffset: -1}
	var what string
	switch {
	case err != nil:
		f.Err, _ = partition.KafkaError(err)
		what = f.Err.Message
	case res.Diverging:
		f.DivergingEpoch, f.DivergingEndOffset = res.DivergingEpoch.Epoch, res.DivergingEpoch.EndOffset
		what = fmt.Sprintf("diverging epoch=%d end=%d", f.DivergingEpoch, f.DivergingEndOffset)
	default:
		b, rerr := res.Records.AppendTo(nil)
		res.Records.Release()
		if rerr != nil {
			s.violate("n%d: read for a follower: %v", n.id, rerr)
			return
		}
		f.Records = b
		if c := n.p.FollowerFetched(req.from, req.brokerEpoch, req.offset, s.clock()); c != nil {
			s.tracef("n%d proposes the ISR %v", n.id, c.IDs())
			n.sendAlter(c)
		}
		f.HighWatermark = n.p.HighWatermark()
		what = fmt.Sprintf("records=%d", countRecords(b))
	}
	follower := s.node(req.from)
	desc := fmt.Sprintf("n%d→n%d %s hw=%d", n.id, req.from, what, f.HighWatermark)
	s.send("fetch-resp", n.id, req.from, desc, func() { follower.applyFetched(req, f) })
}

// applyFetched is the fetcher's handling of its leader's answer.
func (n *node) applyFetched(req fetchReq, f partition.Fetched) {
	s := n.s
	if n.inflight != req.id {
		return // an answer to a fetch the fetcher gave up on, or to another leader's
	}
	n.inflight = 0
	outcome, err := n.p.ApplyFetched(f)
	if err != nil {
		s.tracef("n%d: apply fetched: %v", n.id, err)
	}
	switch outcome {
	case partition.FetchAppended:
		n.waits = append(n.waits, durableWait{gen: n.gen, leo: n.p.LogEndOffset(), leader: f.HighWatermark, empty: len(f.Records) == 0})
		n.checkWaits()
		if len(n.waits) > 0 {
			n.scheduleSync()
		}
	case partition.FetchTruncated:
		s.Stats.Truncations++
		s.tracef("n%d truncated to %d", n.id, n.p.LogEndOffset())
		n.scheduleFetch(s.now)
	case partition.FetchRetrySoon:
		n.scheduleFetch(s.now + retrySoon)
	default:
		n.scheduleFetch(s.now + fetchBackoff)
	}
}

// checkWaits completes the fetcher's durability waits the log satisfies:
// the follower adopts its leader's high watermark, capped by its log end
// offset, and fetches again.
func (n *node) checkWaits() {
	for len(n.waits) > 0 {
		w := n.waits[0]
		leo := n.p.LogEndOffset()
		if leo < w.leo {
			n.waits = n.waits[1:] // truncated meanwhile (log.ErrTruncated)
			continue
		}
		if n.l.DurableOffset() < w.leo {
			return
		}
		n.waits = n.waits[1:]
		n.p.SetHighWatermark(min(w.leader, w.leo))
		if w.gen == n.gen {
			next := n.s.now
			if w.empty {
				next += 10 // the leader would have held the fetch (replica.fetch.wait.max.ms)
			}
			n.scheduleFetch(next)
		}
	}
}

// waiting reports whether the fetcher of the current leader waits for
// its appends to be durable.
func (n *node) waiting() bool {
	for _, w := range n.waits {
		if w.gen == n.gen {
			return true
		}
	}
	return false
}

// scheduleSync schedules the node's next group-commit round (random
// runs; scripts sync on command or with fetch).
func (n *node) scheduleSync() {
	s := n.s
	if !s.opts.Random || n.syncAt >= 0 {
		return
	}
	n.syncAt = s.now + 1 + s.rng.Int63n(15)
	s.timer(n.id, n.syncAt, "commit", func() {
		n.syncAt = -1
		n.commitRound()
		if n.dirty() {
			n.scheduleSync()
		}
	})
}

// sendAlter sends a leader's ISR proposal to the controller as
// AlterPartition; the answer goes back to the partition.
func (n *node) sendAlter(c *partition.ISRChange) {
	s := n.s
	req := alterReq{from: n.id, brokerEpoch: n.brokerEpoch, change: *c}
	req.change.ISR = slices.Clone(c.ISR)
	for i := range req.change.ISR {
		if req.change.ISR[i].ID == n.id {
			req.change.ISR[i].BrokerEpoch = n.brokerEpoch
		}
	}
	p, inc := n.p, n.inc
	done := false
	complete := func(isr []int32, pe int32, ok bool) {
		if done || n.inc != inc {
			return
		}
		done = true
		p.CompleteISRChange(c, isr, pe, ok)
	}
	desc := fmt.Sprintf("n%d isr=%v leader-epoch=%d partition-epoch=%d", n.id, c.IDs(), c.LeaderEpoch, c.PartitionEpoch)
	s.send("alter", n.id, 0, desc, func() {
		isr, pe, err := s.ctrl.alterPartition(req)
		rdesc := fmt.Sprintf("n%d isr=%v partition-epoch=%d", n.id, isr, pe)
		if err != nil {
			rdesc = fmt.Sprintf("n%d refused: %s", n.id, err.Message)
		}
		s.send("alter-resp", 0, n.id, rdesc, func() { complete(isr, pe, err == nil) })
	})
	if s.opts.Random {
		s.timer(n.id, s.now+alterTimeout, "alter-timeout", func() { complete(nil, 0, false) })
	}
}

// Produce appends records to node id as leader with acks (-1 or 1) and
// queues the produce for its acknowledgement (checkProduces).
func (s *Sim) Produce(id int32, records int, acks int16) (string, error) {
	n := s.node(id)
	if !n.up {
		return "", fmt.Errorf("n%d is down", id)
	}
	var recs []record.Record
	first := s.nextValue
	for i := 0; i < records; i++ {
		s.nextValue++
		recs = append(recs, record.Record{OffsetDelta: int32(i), Value: fmt.Appendf(nil, "v%d", s.nextValue)})
	}
	spec := record.DefaultBatchSpec()
	spec.BaseTimestamp = s.clock().UnixMilli()
	b, err := record.EncodeBatch(spec, recs)
	if err != nil {
		return "", err
	}
	res, err := n.p.AppendAsLeaderAsync(b, partition.AppendOptions{RequiredAcks: acks, MinInsyncReplicas: int32(s.opts.MinISR)})
	if err != nil {
		code, _ := partition.KafkaError(err)
		s.tracef("produce to n%d refused: %v", id, code)
		return fmt.Sprintf("refused: %s", code.Message), nil
	}
	value := fmt.Sprintf("v%d-v%d", first+1, s.nextValue)
	s.producers = append(s.producers, &produce{node: id, inc: n.inc, epoch: res.LeaderEpoch, base: res.BaseOffset,
		end: res.LastOffset + 1, acks: acks, value: value, deadline: s.now + produceExpiry})
	s.tracef("produce %s acks=%d to n%d: offsets %d-%d in epoch %d", value, acks, id, res.BaseOffset, res.LastOffset, res.LeaderEpoch)
	n.scheduleSync()
	return fmt.Sprintf("offsets %d-%d epoch %d", res.BaseOffset, res.LastOffset, res.LeaderEpoch), nil
}

// expired is a context already done: WaitAcked then answers at once
// whether the produce may be acknowledged now (nil), must fail (the term
// ended, the ISR shrank) or has to wait (REQUEST_TIMED_OUT).
var expired = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// checkProduces acknowledges or fails the produces waiting, with the
// partition's own WaitAcked (its term check is WaitHighWatermarkInEpoch's).
func (s *Sim) checkProduces() {
	keep := s.producers[:0]
	for _, pr := range s.producers {
		n := s.node(pr.node)
		if !n.up || n.inc != pr.inc {
			s.tracef("produce %s: connection lost", pr.value)
			s.printf("produce %s: connection lost\n", pr.value)
			continue
		}
		if n.paused {
			keep = append(keep, pr)
			continue
		}
		err := n.p.WaitAcked(expired, pr.end, pr.epoch, pr.acks, int32(s.opts.MinISR))
		code, _ := partition.KafkaError(err)
		switch {
		case err == nil:
			s.acked(n, pr)
		case code == kerr.RequestTimedOut && s.now < pr.deadline:
			keep = append(keep, pr)
		default:
			s.Stats.Failed++
			s.tracef("produce %s: %v", pr.value, code)
			s.printf("produce %s: %s\n", pr.value, code.Message)
		}
	}
	s.producers = keep
}

func countRecords(b []byte) int64 {
	var n int64
	for it := record.Batches(b); it.Next(); {
		h := it.Header()
		n += int64(h.LastOffsetDelta) + 1
	}
	return n
}

// ackedKinds names acks for output.
func acksName(acks int16) string {
	if acks == -1 {
		return "all"
	}
	return fmt.Sprint(acks)
}
