package cluster

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Fault kinds, as the figures name them.
const (
	FaultKillLeader     = "kill -9 leader"
	FaultPauseFollower  = "SIGSTOP follower"
	FaultPauseLeader    = "SIGSTOP leader"
	FaultCutLeader      = "leader cut from followers"
	FaultKillController = "kill -9 controller"
	FaultRollingRestart = "rolling restart, per node"
	FaultKillAll        = "kill -9 all, restart all"
)

// A Fault is one fault a Workload lived through, with its times.
type Fault struct {
	Kind string
	// Node is the node faulted; 0 for every node.
	Node int
	// Partitions are the partitions the fault affected: those the node
	// led (kills, pauses, cuts, restarts) or followed (a paused follower).
	Partitions []int32
	// Exclude are the nodes whose acknowledgements do not end the fault's
	// gap before Healed: a new leader must answer, or the old one after
	// it is back.
	Exclude []int
	// At is when the fault was injected, Healed when it was undone
	// (restart, SIGCONT, heal), Settled when every partition had its
	// leader and a full ISR again.
	At, Healed, Settled time.Time
	// Measures are what the fault measured besides gap and stall, by
	// name: "left ISR", "rejoined ISR", "new controller".
	Measures map[string]time.Duration
	// Errors are the produce errors that reached the application between
	// At and Settled.
	Errors int
}

func (f *Fault) String() string {
	return fmt.Sprintf("%s (node %d, partitions %v)", f.Kind, f.Node, f.Partitions)
}

// firstBatchAfter: see Workload.firstBatchAfter.
func firstBatchAfter(batches []BatchAck, p int32, t, healed time.Time, excl []int) (time.Time, bool) {
	for _, b := range batches {
		if b.Partition != p || !b.At.After(t) {
			continue
		}
		if slices.Contains(excl, b.Node) && (healed.IsZero() || b.At.Before(healed)) {
			continue
		}
		return b.At, true
	}
	return time.Time{}, false
}

// Gap is the time from the fault to the first acknowledgement on every
// affected partition (the slowest of them), from a node the fault did not
// hit or from that node once healed. Without affected partitions it is
// measured over all of them.
func (h *History) Gap(f *Fault) (time.Duration, error) {
	var worst time.Duration
	for _, p := range h.affected(f) {
		at, ok := firstBatchAfter(h.Batches, p, f.At, f.Healed, f.Exclude)
		if !ok {
			return 0, fmt.Errorf("%s: no acknowledgement on partition %d after the fault", f, p)
		}
		worst = max(worst, at.Sub(f.At))
	}
	return worst, nil
}

// Stall is the longest time without an acknowledgement on an affected
// partition between the fault and its settling (from the fault to the first
// acknowledgement counting as one such time).
func (h *History) Stall(f *Fault) time.Duration {
	end := f.Settled
	if end.IsZero() {
		end = f.Healed
	}
	var worst time.Duration
	for _, p := range h.affected(f) {
		last := f.At
		for _, b := range h.Batches {
			if b.Partition != p || !b.At.After(f.At) {
				continue
			}
			worst = max(worst, b.At.Sub(last))
			last = b.At
			if b.At.After(end) {
				break
			}
		}
		worst = max(worst, end.Sub(last)) // silent until the end
	}
	return worst
}

func (h *History) affected(f *Fault) []int32 {
	if len(f.Partitions) > 0 {
		return f.Partitions
	}
	all := make([]int32, h.Partitions)
	for i := range all {
		all[i] = int32(i)
	}
	return all
}

// PartitionState is one partition as a node's Metadata shows it.
type PartitionState struct {
	Leader      int
	LeaderEpoch int32
	Replicas    []int
	ISR         []int
}

// Partitions asks node n for the topic's partitions.
func (n *Node) Partitions(ctx context.Context, topic string) (map[int32]PartitionState, error) {
	m, err := n.Metadata(ctx, topic)
	if err != nil {
		return nil, err
	}
	if len(m.Topics) != 1 {
		return nil, fmt.Errorf("node %d: metadata of %s: %d topics", n.id, topic, len(m.Topics))
	}
	if err := kerr.ErrorForCode(m.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("node %d: metadata of %s: %w", n.id, topic, err)
	}
	ints := func(s []int32) []int {
		out := make([]int, len(s))
		for i, v := range s {
			out[i] = int(v)
		}
		slices.Sort(out)
		return out
	}
	out := map[int32]PartitionState{}
	for _, p := range m.Topics[0].Partitions {
		out[p.Partition] = PartitionState{Leader: int(p.Leader), LeaderEpoch: p.LeaderEpoch, Replicas: ints(p.Replicas), ISR: ints(p.ISR)}
	}
	return out, nil
}

// up are the nodes that run and are not paused.
func (c *Cluster) up() []*Node {
	var up []*Node
	for _, n := range c.nodes {
		if n.Running() && !n.Paused() {
			up = append(up, n)
		}
	}
	return up
}

// Settle is Cluster.Settle for the workload's topic.
func (w *Workload) Settle(timeout time.Duration) (map[int32]PartitionState, error) {
	return w.c.Settle(w.opts.Topic, w.opts.Partitions, w.opts.RF, timeout)
}

// Settle waits, at most timeout, until every running node is ready and
// they all show each of the topic's partitions with the same leader, a
// running node, rf replicas and a full ISR; it returns the partitions as
// they then are.
func (c *Cluster) Settle(topic string, partitions, rf int, timeout time.Duration) (map[int32]PartitionState, error) {
	var states map[int32]PartitionState
	err := Poll(timeout, func() error {
		up := c.up()
		if err := c.waitReady(up, up, time.Second); err != nil {
			return err
		}
		states = nil
		for _, n := range up {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			got, err := n.Partitions(ctx, topic)
			cancel()
			if err != nil {
				return err
			}
			if len(got) != partitions {
				return fmt.Errorf("node %d shows %d partitions of %s, want %d", n.id, len(got), topic, partitions)
			}
			for p, s := range got {
				if s.Leader < 1 || s.Leader > len(c.nodes) || !c.nodes[s.Leader-1].Running() {
					return fmt.Errorf("node %d: partition %d has leader %d", n.id, p, s.Leader)
				}
				if len(s.Replicas) != rf || !slices.Equal(s.ISR, s.Replicas) {
					return fmt.Errorf("node %d: partition %d has replicas %v and ISR %v", n.id, p, s.Replicas, s.ISR)
				}
				if states != nil && states[p].Leader != s.Leader {
					return fmt.Errorf("nodes disagree on partition %d's leader: %d and node %d's %d", p, states[p].Leader, n.id, s.Leader)
				}
			}
			if states == nil {
				states = got
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %s did not settle: %w", topic, err)
	}
	return states, nil
}

// Chaos injects faults into a Workload's cluster, one at a time, each
// healed and settled before it returns, and keeps them for the figures.
// Its methods fail the test on the test's goroutine.
type Chaos struct {
	w      *Workload
	c      *Cluster
	Faults []*Fault
	turn   int // rotates the partition a fault picks
}

// NewChaos is a Chaos over w's cluster.
func NewChaos(w *Workload) *Chaos { return &Chaos{w: w, c: w.c} }

// settleTimeout bounds the wait for a fault's settling: a session timeout
// and a restart, generously.
func (ch *Chaos) settleTimeout() time.Duration {
	return time.Duration(ch.c.opts.SessionMs)*time.Millisecond + 90*time.Second
}

func (ch *Chaos) settle() map[int32]PartitionState {
	ch.c.t.Helper()
	states, err := ch.w.Settle(ch.settleTimeout())
	if err != nil {
		ch.c.t.Fatal(err)
	}
	return states
}

// controller is the active controller, -1 when the nodes do not agree on
// one within 30 s.
func (ch *Chaos) controller() int {
	var ctrl int
	err := Poll(30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		ctrl, err = ch.c.ActiveController(ctx)
		return err
	})
	if err != nil {
		return -1
	}
	return ctrl
}

// pickLeader picks a node leading some partition, the next partition in
// turn, avoiding the active controller when another node leads one; it
// returns the node and the partitions it leads.
func (ch *Chaos) pickLeader(states map[int32]PartitionState) (int, []int32) {
	ctrl := ch.controller()
	parts := slices.Sorted(maps.Keys(states))
	ch.turn++
	node := 0
	for i := range parts {
		l := states[parts[(ch.turn+i)%len(parts)]].Leader
		if l != ctrl {
			node = l
			break
		}
	}
	if node == 0 {
		node = states[parts[ch.turn%len(parts)]].Leader
	}
	return node, led(states, node)
}

func led(states map[int32]PartitionState, node int) []int32 {
	var out []int32
	for _, p := range slices.Sorted(maps.Keys(states)) {
		if states[p].Leader == node {
			out = append(out, p)
		}
	}
	return out
}

// begin starts a fault's record.
func (ch *Chaos) begin(kind string, node int, parts []int32) *Fault {
	f := &Fault{Kind: kind, Node: node, Partitions: parts, Measures: map[string]time.Duration{}}
	if node > 0 {
		f.Exclude = []int{node}
	}
	ch.c.t.Logf("fault %d: %s", len(ch.Faults)+1, f)
	ch.Faults = append(ch.Faults, f)
	return f
}

// end settles the cluster and closes the fault's record.
func (ch *Chaos) end(f *Fault, errsBefore int) {
	ch.c.t.Helper()
	ch.settle()
	f.Settled = time.Now()
	f.Errors = ch.w.Errors() - errsBefore
	ch.c.t.Logf("fault %d settled %v after it began", len(ch.Faults), f.Settled.Sub(f.At).Round(time.Millisecond))
}

// waitFailover waits until every affected partition has an
// acknowledgement from a node the fault did not hit (with RF 1 there is
// none: it returns at once).
func (ch *Chaos) waitFailover(f *Fault) {
	ch.c.t.Helper()
	if ch.w.opts.RF < 2 {
		return
	}
	err := Poll(ch.settleTimeout(), func() error {
		for _, p := range f.Partitions {
			if _, ok := ch.w.firstBatchAfter(p, f.At, time.Time{}, f.Exclude); !ok {
				return fmt.Errorf("no acknowledgement on partition %d from a node other than %v", p, f.Exclude)
			}
		}
		return nil
	})
	if err != nil {
		ch.c.t.Fatalf("%s: %v", f, err)
	}
	f.Measures["failover"] = time.Since(f.At)
}

// KillLeader kills the leader of a partition (not the active controller
// when another node leads one) with SIGKILL, waits until its partitions
// are acknowledged by their new leaders, and restarts it.
func (ch *Chaos) KillLeader() *Fault {
	ch.c.t.Helper()
	return ch.leaderFault(FaultKillLeader, (*Node).Kill, (*Node).Restart)
}

// PauseLeader stops the leader of a partition with SIGSTOP, waits until
// its partitions are acknowledged by new leaders, and continues it.
func (ch *Chaos) PauseLeader() *Fault {
	ch.c.t.Helper()
	return ch.leaderFault(FaultPauseLeader, (*Node).Pause, (*Node).Resume)
}

// CutLeader drops every packet between the leader of a partition and the
// other nodes (the clients still reach it), waits until its partitions are
// acknowledged by new leaders, and heals.
func (ch *Chaos) CutLeader() *Fault {
	ch.c.t.Helper()
	RequirePartitions(ch.c.t)
	cut := func(n *Node) {
		var others []int
		for _, o := range ch.c.nodes {
			if o != n {
				others = append(others, o.id)
			}
		}
		ch.c.Partition([]int{n.id}, others)
	}
	return ch.leaderFault(FaultCutLeader, cut, func(*Node) { ch.c.Heal() })
}

// leaderFault injects a fault into the leader pickLeader picks, waits
// until its partitions have failed over, and heals it.
func (ch *Chaos) leaderFault(kind string, inject, heal func(*Node)) *Fault {
	ch.c.t.Helper()
	node, parts := ch.pickLeader(ch.settle())
	errs := ch.w.Errors()
	f := ch.begin(kind, node, parts)
	f.At = time.Now()
	inject(ch.c.Node(node))
	ch.waitFailover(f)
	f.Healed = time.Now()
	heal(ch.c.Node(node))
	ch.end(f, errs)
	return f
}

// KillController kills the active controller with SIGKILL, waits until
// the others agree on a new one and its partitions (if it led any) are
// acknowledged by new leaders, and restarts it.
func (ch *Chaos) KillController() *Fault {
	ch.c.t.Helper()
	states := ch.settle()
	ctrl := ch.controller()
	if ctrl < 1 {
		ch.c.t.Fatal("chaos: no active controller the nodes agree on")
	}
	errs := ch.w.Errors()
	f := ch.begin(FaultKillController, ctrl, led(states, ctrl))
	f.At = time.Now()
	ch.c.Node(ctrl).Kill()
	if err := Poll(ch.settleTimeout(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		got, err := ch.c.ActiveController(ctx)
		if err == nil && got == ctrl {
			err = fmt.Errorf("the survivors still name node %d", ctrl)
		}
		return err
	}); err != nil {
		ch.c.t.Fatalf("%s: no new controller: %v", f, err)
	}
	f.Measures["new controller"] = time.Since(f.At)
	ch.waitFailover(f)
	f.Healed = time.Now()
	ch.c.Node(ctrl).Restart()
	ch.end(f, errs)
	return f
}

// PauseFollower stops with SIGSTOP a node that follows partitions (one
// leading none and not the active controller when there is one, else the
// one leading fewest), waits until it has left the ISR of every partition
// it follows, continues it and waits until it is back in all of them. It
// measures "left ISR" (from SIGSTOP) and "rejoined ISR" (from SIGCONT),
// and counts in "ISR exits" how often it was seen leaving an ISR (1 a
// partition when it leaves once and stays out until it is continued).
func (ch *Chaos) PauseFollower() *Fault {
	ch.c.t.Helper()
	if ch.w.opts.RF < 2 {
		ch.c.t.Fatal("chaos: a paused follower needs a replication factor of 2 or more")
	}
	states := ch.settle()
	ctrl := ch.controller()
	node := 0
	fewest := math.MaxInt
	for _, n := range ch.c.nodes {
		k := len(led(states, n.id))
		if n.id == ctrl {
			k += len(states) // only if nothing else will do
		}
		if k < fewest {
			node, fewest = n.id, k
		}
	}
	var parts []int32
	for _, p := range slices.Sorted(maps.Keys(states)) {
		if s := states[p]; s.Leader != node && slices.Contains(s.Replicas, node) {
			parts = append(parts, p)
		}
	}
	errs := ch.w.Errors()
	f := ch.begin(FaultPauseFollower, node, parts)
	f.Exclude = nil // the leaders are untouched
	watch := newISRWatch(ch.c, ch.w.opts.Topic, node, parts)
	f.At = time.Now()
	ch.c.Node(node).Pause()
	if err := Poll(ch.settleTimeout(), func() error { return watch.poll(false) }); err != nil {
		ch.c.t.Fatalf("%s: %v", f, err)
	}
	f.Measures["left ISR"] = time.Since(f.At)
	f.Healed = time.Now()
	ch.c.Node(node).Resume()
	if err := Poll(ch.settleTimeout(), func() error { return watch.poll(true) }); err != nil {
		ch.c.t.Fatalf("%s: %v", f, err)
	}
	f.Measures["rejoined ISR"] = time.Since(f.Healed)
	ch.end(f, errs)
	f.Measures["ISR exits"] = time.Duration(watch.exits) // a count, not a time
	if watch.exits > len(parts) {
		ch.c.t.Errorf("%s: seen leaving an ISR %d times over %d partitions: it left more than once", f, watch.exits, len(parts))
	}
	return f
}

// isrWatch follows one node's membership in the ISRs of some partitions
// through a node that is not it.
type isrWatch struct {
	c     *Cluster
	topic string
	node  int
	parts []int32
	in    map[int32]bool
	exits int
}

func newISRWatch(c *Cluster, topic string, node int, parts []int32) *isrWatch {
	in := map[int32]bool{}
	for _, p := range parts {
		in[p] = true
	}
	return &isrWatch{c: c, topic: topic, node: node, parts: parts, in: in}
}

// poll looks once and is nil when the node is in (want true) or out of
// every ISR.
func (iw *isrWatch) poll(want bool) error {
	var observer *Node
	for _, n := range iw.c.up() {
		if n.id != iw.node {
			observer = n
			break
		}
	}
	if observer == nil {
		return fmt.Errorf("no node to ask")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	states, err := observer.Partitions(ctx, iw.topic)
	if err != nil {
		return err
	}
	var wrong []int32
	for _, p := range iw.parts {
		in := slices.Contains(states[p].ISR, iw.node)
		if iw.in[p] && !in {
			iw.exits++
		}
		iw.in[p] = in
		if in != want {
			wrong = append(wrong, p)
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("node %d: in the ISR of partitions %v is %v (node %d's view), want %v", iw.node, wrong, !want, observer.id, want)
	}
	return nil
}

// RollingRestart stops every node in turn with SIGTERM, restarts it and
// waits until the cluster has settled (every ISR full) before the next:
// one fault a node, whose partitions are those it led.
func (ch *Chaos) RollingRestart() []*Fault {
	ch.c.t.Helper()
	var out []*Fault
	for _, n := range ch.c.nodes {
		states := ch.settle()
		errs := ch.w.Errors()
		f := ch.begin(FaultRollingRestart, n.id, led(states, n.id))
		f.At = time.Now()
		if err := n.Stop(); err != nil {
			ch.c.t.Errorf("node %d after SIGTERM: %v", n.id, err)
		}
		if err := n.Start(); err != nil {
			ch.c.t.Fatal(err)
		}
		if err := n.WaitReady(0); err != nil {
			ch.c.t.Fatal(err)
		}
		f.Healed = time.Now()
		ch.end(f, errs)
		out = append(out, f)
	}
	return out
}

// KillAll kills every node with SIGKILL at once and starts them all again.
func (ch *Chaos) KillAll() *Fault {
	ch.c.t.Helper()
	ch.settle()
	errs := ch.w.Errors()
	f := ch.begin(FaultKillAll, 0, nil)
	f.Exclude = ch.c.IDs()
	f.At = time.Now()
	ch.c.KillAll()
	f.Healed = time.Now()
	for _, n := range ch.c.nodes {
		if err := n.Start(); err != nil {
			ch.c.t.Fatal(err)
		}
	}
	ch.c.WaitReady(ch.c.t, 0)
	ch.end(f, errs)
	return f
}

// Figures are the measures of faults of one kind: percentiles by nearest
// rank over the faults.
type Figures struct {
	Kind   string
	Faults int
	Gap    []time.Duration // per fault, Gap
	Stall  []time.Duration
	Other  map[string][]time.Duration
	Errors int
}

// Measure computes the figures of faults (of one kind) over the history.
// A fault whose gap cannot be measured is an error.
func Measure(h *History, faults []*Fault) (*Figures, error) {
	if len(faults) == 0 {
		return nil, fmt.Errorf("no faults")
	}
	fg := &Figures{Kind: faults[0].Kind, Faults: len(faults), Other: map[string][]time.Duration{}}
	for _, f := range faults {
		gap, err := h.Gap(f)
		if err != nil {
			return nil, err
		}
		fg.Gap = append(fg.Gap, gap)
		fg.Stall = append(fg.Stall, h.Stall(f))
		for k, v := range f.Measures {
			fg.Other[k] = append(fg.Other[k], v)
		}
		fg.Errors += f.Errors
	}
	return fg, nil
}

// Percentile is the nearest-rank q-th percentile (0 < q <= 100) of ds.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	rank := int(math.Ceil(q / 100 * float64(len(s))))
	return s[max(rank, 1)-1]
}

// FiguresHeader is the header of the Markdown table Row writes.
const FiguresHeader = "| fault | faults | gap p50 | gap p99 | stall p50 | stall p99 | other (p50 / p99) | errors to the app |\n|---|---|---|---|---|---|---|---|"

// Row is the figures as a row of a Markdown table (FiguresHeader).
func (fg *Figures) Row() string {
	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	var other []string
	for _, k := range slices.Sorted(maps.Keys(fg.Other)) {
		ds := fg.Other[k]
		if k == "ISR exits" {
			other = append(other, fmt.Sprintf("%s max %d", k, int64(Percentile(ds, 100))))
			continue
		}
		other = append(other, fmt.Sprintf("%s %s / %s", k, sec(Percentile(ds, 50)), sec(Percentile(ds, 99))))
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %s | %d |", fg.Kind, fg.Faults,
		sec(Percentile(fg.Gap, 50)), sec(Percentile(fg.Gap, 99)), sec(Percentile(fg.Stall, 50)), sec(Percentile(fg.Stall, 99)),
		strings.Join(other, "; "), fg.Errors)
}
