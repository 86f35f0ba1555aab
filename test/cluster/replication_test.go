package cluster

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Fault tests of replication: a workload of idempotent acks=all producers,
// a transactional writer and a read_committed consumer group runs on a
// 3-node cluster while faults are injected; Check then holds its history to
// the safety invariants and Measure gives the failover figures. While the
// cluster refuses a replication factor above 1, the replicated tests skip;
// TestWorkloadSurvivesFaultsRF1 runs the same workload and checker on RF 1
// to show them sound, and able to fail.

// startWorkload starts a workload, skipping the test while the cluster
// refuses the replication factor.
func startWorkload(t *testing.T, c *Cluster, opts WorkloadOptions) *Workload {
	t.Helper()
	w, err := StartWorkload(t, c, opts)
	if errors.Is(err, ErrReplicationRefused) {
		t.Skipf("waits for replication: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// stopAndCheck stops the workload and fails the test on any violation.
func stopAndCheck(t *testing.T, w *Workload) *History {
	t.Helper()
	h := w.Stop()
	txn := 0
	for _, a := range h.Acked {
		if strings.HasPrefix(a.ID, "t") {
			txn++
		}
	}
	t.Logf("history: %d acknowledged (%d in committed transactions), %d produce errors, %d aborted, %d group reads, %d in the final read, %d commit observations",
		len(h.Acked), txn, len(h.Errors), len(h.Aborted), len(h.Reads), len(h.Final), len(h.Commits))
	if vs := Check(h); len(vs) > 0 {
		t.Errorf("%s", CheckSummary(vs, 20))
	}
	return h
}

// figures measures the faults of each kind, in the order they first came.
func figures(t *testing.T, h *History, faults []*Fault) []*Figures {
	t.Helper()
	var kinds []string
	byKind := map[string][]*Fault{}
	for _, f := range faults {
		if _, ok := byKind[f.Kind]; !ok {
			kinds = append(kinds, f.Kind)
		}
		byKind[f.Kind] = append(byKind[f.Kind], f)
	}
	var out []*Figures
	for _, k := range kinds {
		fg, err := Measure(h, byKind[k])
		if err != nil {
			t.Errorf("measure %s: %v", k, err)
			continue
		}
		t.Logf("%s: gaps %v, stalls %v, %d produce errors", k, roundAll(fg.Gap), roundAll(fg.Stall), fg.Errors)
		out = append(out, fg)
	}
	return out
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// TestWorkloadSurvivesFaultsRF1 validates the workload, the faults and the
// checker on today's cluster, RF 1: the node holding a partition is killed
// with SIGKILL and restarted, twice; a leader is paused and continued; the
// active controller is killed; every node is restarted in turn; every node
// is killed at once and restarted; a leader is cut off the other nodes and
// healed. With the default sync durability nothing acknowledged may be
// lost, and the history must pass Check. Then the negative control: one acknowledged record taken out
// of the final read must make Check fail, naming it.
func TestWorkloadSurvivesFaultsRF1(t *testing.T) {
	RequireCluster(t)
	if testing.Short() {
		t.Skip("a 3-node cluster through several faults: not in -short")
	}
	c := Start(t, Options{Nodes: 3})
	w := startWorkload(t, c, WorkloadOptions{Topic: "rf1", RF: 1, MinISR: 1, Transactions: true})
	if err := w.WaitReads(200, time.Minute); err != nil {
		t.Fatal(err)
	}
	ch := NewChaos(w)
	faults := []func(){
		func() { ch.KillLeader() },
		func() { ch.KillLeader() },
		func() { ch.PauseLeader() },
		func() { ch.KillController() },
		func() { ch.RollingRestart() },
		func() { ch.KillAll() },
	}
	if ok, _ := PartitionsSupported(); ok {
		faults = append(faults, func() { ch.CutLeader() })
	}
	for _, fault := range faults {
		fault()
		if err := w.WaitAcks(100, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	h := stopAndCheck(t, w)
	figures(t, h, ch.Faults)
	if t.Failed() {
		return
	}

	// The negative control: drop one acknowledged record from the
	// checker's view of the final read.
	victim := h.Acked[len(h.Acked)/2]
	broken := *h
	broken.Final = slices.DeleteFunc(slices.Clone(h.Final), func(r Read) bool { return r.ID == victim.ID })
	vs := Check(&broken)
	want := fmt.Sprintf("%s, acknowledged at partition %d offset %d", victim.ID, victim.Partition, victim.Offset)
	if !slices.ContainsFunc(vs, func(v Violation) bool { return v.Kind == Lost && strings.Contains(v.Detail, want) }) {
		t.Fatalf("Check missed the acknowledged record %s dropped from the final read; it said:\n%s", victim.ID, CheckSummary(vs, 10))
	}
	t.Logf("negative control: %s", CheckSummary(vs, 3))
}

// TestReplicationSmoke is the fault test make test runs: one 3-node
// cluster, RF 3 and min.insync.replicas 2, the workload throughout, and
// three faults: the leader of a partition killed with SIGKILL, a follower
// paused with SIGSTOP past its session timeout, and a rolling restart
// (SIGTERM each node in turn). Nothing acknowledged is lost or duplicated,
// no offset changes, committed offsets never go down, no aborted record is
// read, and no produce error reaches the application in the rolling
// restart.
func TestReplicationSmoke(t *testing.T) {
	RequireCluster(t)
	if testing.Short() {
		t.Skip("a 3-node cluster through several faults: not in -short")
	}
	c := Start(t, Options{Nodes: 3})
	w := startWorkload(t, c, WorkloadOptions{Topic: "smoke", Transactions: true})
	if err := w.WaitReads(200, time.Minute); err != nil {
		t.Fatal(err)
	}
	ch := NewChaos(w)
	ch.KillLeader()
	ch.PauseFollower()
	rolling := ch.RollingRestart()
	if err := w.WaitAcks(200, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	h := stopAndCheck(t, w)
	figures(t, h, ch.Faults)
	for _, f := range rolling {
		if f.Errors > 0 {
			t.Errorf("%s: %d produce errors reached the application", f, f.Errors)
		}
	}
}

// EnvChaos set to 1 runs TestReplicationChaos (make chaos-cluster);
// EnvChaosFaults is the number of faults of each kind (default 20) and
// EnvChaosCatchUpMiB the follower catch-up backlog (default 1024);
// EnvChaosRF the replication factor (default 3; 1 runs the matrix's
// machinery on today's cluster, without the kinds that need followers).
const (
	EnvChaos           = "SAMSA_CHAOS"
	EnvChaosFaults     = "SAMSA_CHAOS_FAULTS"
	EnvChaosCatchUpMiB = "SAMSA_CHAOS_CATCHUP_MIB"
	EnvChaosRF         = "SAMSA_CHAOS_RF"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a whole number above 0", name, v)
	}
	return n
}

// TestReplicationChaos is the full matrix (make chaos-cluster): for each
// fault kind a 3-node cluster (RF 3, min.insync.replicas 2, default
// heartbeat 1 s and session 6 s) under the workload lives through
// SAMSA_CHAOS_FAULTS faults (20 by default; a rolling restart counts a
// fault a node), then Check must pass and the figures must meet the
// targets. It prints the figures as a Markdown table for docs/replication.md.
func TestReplicationChaos(t *testing.T) {
	if os.Getenv(EnvChaos) != "1" {
		t.Skipf("the fault matrix runs with %s=1 (make chaos-cluster)", EnvChaos)
	}
	RequireCluster(t)
	n := envInt(t, EnvChaosFaults, 20)
	rf := envInt(t, EnvChaosRF, 3)
	wopts := WorkloadOptions{Topic: "matrix", RF: rf, MinISR: min(rf, 2), Transactions: true}
	needFollowers := func(t *testing.T) {
		if rf < 2 {
			t.Skipf("%s=%d: no followers", EnvChaosRF, rf)
		}
	}
	kinds := []struct {
		name   string
		inject func(ch *Chaos)
		check  func(t *testing.T, fg *Figures)
	}{
		{FaultKillLeader, func(ch *Chaos) { ch.KillLeader() }, func(t *testing.T, fg *Figures) {
			atMost(t, fg, "gap p99", Percentile(fg.Gap, 99), 8*time.Second)
		}},
		{FaultPauseFollower, func(ch *Chaos) { ch.PauseFollower() }, func(t *testing.T, fg *Figures) {
			atMost(t, fg, "rejoined ISR p99", Percentile(fg.Other["rejoined ISR"], 99), 10*time.Second)
			atMost(t, fg, "stall p99", Percentile(fg.Stall, 99), 7*time.Second)
		}},
		{FaultPauseLeader, func(ch *Chaos) { ch.PauseLeader() }, nil},
		{FaultCutLeader, func(ch *Chaos) { ch.CutLeader() }, nil},
		{FaultKillController, func(ch *Chaos) { ch.KillController() }, func(t *testing.T, fg *Figures) {
			if fg.Errors > 0 {
				t.Errorf("%s: %d produce errors reached the application", fg.Kind, fg.Errors)
			}
		}},
		{FaultRollingRestart, func(ch *Chaos) { ch.RollingRestart() }, func(t *testing.T, fg *Figures) {
			atMost(t, fg, "stall p99", Percentile(fg.Stall, 99), time.Second)
			if fg.Errors > 0 {
				t.Errorf("%s: %d produce errors reached the application", fg.Kind, fg.Errors)
			}
		}},
		{FaultKillAll, func(ch *Chaos) { ch.KillAll() }, nil},
	}
	var rows []string
	for _, k := range kinds {
		t.Run(strings.ReplaceAll(k.name, " ", "_"), func(t *testing.T) {
			if k.name == FaultPauseFollower {
				needFollowers(t)
			}
			c := Start(t, Options{Nodes: 3})
			w := startWorkload(t, c, wopts)
			if err := w.WaitReads(200, time.Minute); err != nil {
				t.Fatal(err)
			}
			ch := NewChaos(w)
			for len(ch.Faults) < n {
				if err := w.WaitAcks(100, time.Minute); err != nil {
					t.Fatal(err)
				}
				k.inject(ch)
			}
			if err := w.WaitAcks(100, time.Minute); err != nil {
				t.Fatal(err)
			}
			h := stopAndCheck(t, w)
			for _, fg := range figures(t, h, ch.Faults) {
				rows = append(rows, fg.Row())
				if k.check != nil {
					k.check(t, fg)
				}
			}
		})
	}
	t.Run("follower_catch_up", func(t *testing.T) {
		needFollowers(t)
		if row := catchUp(t, envInt(t, EnvChaosCatchUpMiB, 1024)); row != "" {
			rows = append(rows, row)
		}
	})
	if len(rows) > 0 {
		fmt.Printf("\nFault matrix, RF %d, %d faults a kind (p50 / p99 by nearest rank; gap: fault to the first ack on every affected partition from a node not hit; stall: longest time without an ack on an affected partition until settled):\n\n%s\n%s\n\n",
			rf, n, FiguresHeader, strings.Join(rows, "\n"))
	}
}

func atMost(t *testing.T, fg *Figures, what string, got, limit time.Duration) {
	t.Helper()
	if got > limit {
		t.Errorf("%s: %s %v, target at most %v", fg.Kind, what, got.Round(time.Millisecond), limit)
	}
}

// catchUp stops a follower (not the active controller) with SIGTERM,
// writes mib MiB to a second topic of RF 3 while the workload runs on its
// own, starts the follower again and measures how long after its start it
// is back in the ISR of every partition of both (target: 15 s for 1 GiB).
// The workload's history must then pass Check. It returns the figures' row.
func catchUp(t *testing.T, mib int) string {
	c := Start(t, Options{Nodes: 3})
	w := startWorkload(t, c, WorkloadOptions{Topic: "catch-up", Producers: 1, Rate: 50})
	ch := NewChaos(w)
	ctx := testContext(t, 30*time.Minute)
	minISR := "2"
	if _, err := c.Admin(t).CreateTopic(ctx, 6, 3, map[string]*string{"min.insync.replicas": &minISR}, "backlog"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Settle("backlog", 6, 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	ch.settle()
	node := c.Node(ch.controller()%3 + 1)
	if err := node.Stop(); err != nil {
		t.Logf("node %d after SIGTERM: %v", node.ID(), err)
	}

	const size = 16 << 10
	cl := c.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedBytes(64<<20))
	value := make([]byte, size)
	start := time.Now()
	var failed atomic.Int64
	for range mib << 20 / size {
		cl.Produce(ctx, &kgo.Record{Topic: "backlog", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil || failed.Load() > 0 {
		t.Fatalf("writing the backlog: %v, %d records failed", err, failed.Load())
	}
	t.Logf("%d MiB written while node %d was down, in %v", mib, node.ID(), time.Since(start).Round(time.Millisecond))

	parts := []int32{0, 1, 2, 3, 4, 5}
	watches := []*isrWatch{newISRWatch(c, "backlog", node.ID(), parts), newISRWatch(c, "catch-up", node.ID(), parts)}
	started := time.Now()
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 5*time.Minute, func() error {
		for _, iw := range watches {
			if err := iw.poll(true); err != nil {
				return err
			}
		}
		return nil
	})
	took := time.Since(started)
	t.Logf("node %d back in every ISR %v after its start", node.ID(), took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("a follower with %d MiB to catch up rejoined the ISR in %v, target at most 15 s", mib, took.Round(time.Millisecond))
	}
	stopAndCheck(t, w)
	return fmt.Sprintf("| restarted follower, %d MiB behind | 1 | | | | | rejoined ISR %.2f s after its start | |", mib, took.Seconds())
}
