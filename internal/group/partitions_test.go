package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// gatedStorage is the harness's storage with a Replay that can be held
// (until release) or made to fail.
type gatedStorage struct {
	*coordinator.MemStorage
	mu      sync.Mutex
	gate    chan struct{} // non-nil: Replay waits until it is closed
	entered chan int32    // Replay sends its partition here before waiting
	fail    error
}

func (s *gatedStorage) Replay(ctx context.Context, p int32, fn func(Record) error) error {
	s.mu.Lock()
	gate, fail := s.gate, s.fail
	s.mu.Unlock()
	if fail != nil {
		return fail
	}
	if gate != nil {
		s.entered <- p
		<-gate
	}
	return s.MemStorage.Replay(ctx, p, fn)
}

// hold makes the next replays wait; the returned func lets them go.
func (s *gatedStorage) hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gate := make(chan struct{})
	s.gate, s.entered = gate, make(chan int32, 8)
	return func() {
		s.mu.Lock()
		s.gate = nil
		s.mu.Unlock()
		close(gate)
	}
}

// unloaded replaces the harness's coordinator with a new one over the same
// records that has loaded no partition; its storage can be gated.
func (h *harness) unloaded() *gatedStorage {
	h.t.Helper()
	h.c.Close()
	st := &gatedStorage{MemStorage: h.store}
	c, err := New(Options{Config: h.cfg, Storage: st, Clock: h.clock, Topics: h.topics, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		h.t.Fatal(err)
	}
	h.c = c
	h.t.Cleanup(c.Close)
	return st
}

// groupIn is a group id of partition p of __consumer_offsets.
func (h *harness) groupIn(p int32, prefix string) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if PartitionFor(id, h.cfg.OffsetsTopicNumPartitions) == p {
			return id
		}
	}
}

func (h *harness) load(p, epoch int32) {
	h.t.Helper()
	if err := h.c.LoadPartition(context.Background(), p, epoch); err != nil {
		h.t.Fatal(err)
	}
}

func listGroupsCode(c *Coordinator) int16 {
	return c.ListGroups(&kmsg.ListGroupsRequest{Version: 5}).ErrorCode
}

// TestPartitionOwnership: a coordinator serves only the groups of the
// partitions it has loaded: others get NOT_COORDINATOR, those of a
// partition being loaded COORDINATOR_LOAD_IN_PROGRESS (and ListGroups too,
// while any partition loads); a loaded partition's groups come back with
// their offsets, and a new group of it can be created.
func TestPartitionOwnership(t *testing.T) {
	h := newHarness(t, nil)
	g0, g1 := h.groupIn(0, "g"), h.groupIn(1, "g")
	h.commit(g0, "", -1, "t", map[int32]int64{0: 7})
	st := h.unloaded()

	wantCode(t, "heartbeat before any load", h.heartbeat(g0, "m", 1), kerr.NotCoordinator.Code)
	wantCode(t, "commit before any load", h.commit(g0, "", -1, "t", map[int32]int64{0: 8})[0], kerr.NotCoordinator.Code)
	wantCode(t, "join before any load", h.join(g1, "").get(t).ErrorCode, kerr.NotCoordinator.Code)
	wantCode(t, "list before any load", listGroupsCode(h.c), 0)
	if h.c.getGroup(g1) != nil {
		t.Fatal("a join created a group in a partition not loaded")
	}

	release := st.hold()
	done := make(chan error, 1)
	go func() { done <- h.c.LoadPartition(context.Background(), 0, 3) }()
	<-st.entered
	wantCode(t, "heartbeat while loading", h.heartbeat(g0, "m", 1), kerr.CoordinatorLoadInProgress.Code)
	wantCode(t, "list while loading", listGroupsCode(h.c), kerr.CoordinatorLoadInProgress.Code)
	wantCode(t, "another partition while loading", h.heartbeat(g1, "m", 1), kerr.NotCoordinator.Code)
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := h.c.LoadedPartitions(); !slices.Equal(got, []int32{0}) {
		t.Fatalf("loaded partitions %v", got)
	}
	if got := h.fetch(g0, "t", 0); got[0] != 7 {
		t.Fatalf("offset after load: %v", got)
	}
	wantCode(t, "list once loaded", listGroupsCode(h.c), 0)
	wantCode(t, "new group of the loaded partition", h.join(h.groupIn(0, "new"), "").get(t).ErrorCode, kerr.MemberIDRequired.Code)
	wantCode(t, "group of another partition", h.join(g1, "").get(t).ErrorCode, kerr.NotCoordinator.Code)
}

// TestUnloadPartition: unloading a partition drops its groups, as Kafka's
// onGroupUnloaded does: a member waiting in JoinGroup and one waiting in
// SyncGroup get NOT_COORDINATOR, later requests too, and their timers stop
// (no session expires and no write happens while unloaded). Other
// partitions' groups are untouched. Loading the partition again brings
// the groups back from their records: members, generation, offsets.
func TestUnloadPartition(t *testing.T) {
	h := newHarness(t, nil)
	p := PartitionFor("g", h.cfg.OffsetsTopicNumPartitions)
	other := h.groupIn((p+1)%h.cfg.OffsetsTopicNumPartitions, "other")
	ids, gen := h.stableGroup("g", 2)
	h.commit("g", ids[0], gen, "t", map[int32]int64{0: 5})
	h.commit(other, "", -1, "t", map[int32]int64{0: 6})

	// A third member joins: the group rebalances and the join waits for
	// the others to rejoin.
	newID, waitingJoin := h.joinNew("g")
	if !waitingJoin.pending() {
		t.Fatalf("join answered at once: %+v", waitingJoin.get(t))
	}
	records := h.store.Len()
	if !h.c.UnloadPartition(p, 1) {
		t.Fatal("unload not applied")
	}
	wantCode(t, "waiting join", waitingJoin.get(t).ErrorCode, kerr.NotCoordinator.Code)
	wantCode(t, "heartbeat", h.heartbeat("g", ids[0], gen), kerr.NotCoordinator.Code)
	wantCode(t, "join", h.join("g", newID).get(t).ErrorCode, kerr.NotCoordinator.Code)
	wantCode(t, "other partition", h.heartbeat(other, "m", 1), kerr.UnknownMemberID.Code)
	if got := h.fetch(other, "t", 0); got[0] != 6 {
		t.Fatalf("offset of a group of another partition: %v", got)
	}
	h.clock.Advance(time.Minute) // sessions and the rebalance timeout would have expired
	if h.store.Len() != records {
		t.Fatal("an unloaded group wrote records")
	}
	if slices.Contains(h.c.LoadedPartitions(), p) {
		t.Fatal("partition still loaded")
	}

	h.load(p, 2)
	if got := h.state("g"); got != StateStable {
		t.Fatalf("state after reload: %v", got)
	}
	wantCode(t, "heartbeat after reload", h.heartbeat("g", ids[1], gen), 0)
	if got := h.fetch("g", "t", 0); got[0] != 5 {
		t.Fatalf("offset after reload: %v", got)
	}

	// A follower waiting in SyncGroup is told too.
	h2 := newHarness(t, nil)
	a, wa := h2.joinNew("s")
	b, wb := h2.joinNew("s")
	h2.clock.Advance(2 * time.Duration(h2.cfg.GroupInitialRebalanceDelayMs) * time.Millisecond)
	ra, rb := wa.get(t), wb.get(t)
	follower := a
	if ra.LeaderID == a {
		follower = b
	}
	waitingSync := h2.sync("s", follower, rb.Generation, nil)
	if !waitingSync.pending() {
		t.Fatal("follower's sync answered before the leader's")
	}
	h2.c.UnloadPartition(PartitionFor("s", h2.cfg.OffsetsTopicNumPartitions), 1)
	wantCode(t, "waiting sync", waitingSync.get(t).ErrorCode, kerr.NotCoordinator.Code)
}

// TestStaleLoadsAndUnloads: loads and unloads carry the partition's leader
// epoch and one not newer than the last applied does nothing: a load for
// epoch e after an unload for e or later, an unload older than the load, a
// repeated load. An unload without an epoch always applies and forgets it
// (the partition may be created again from epoch 0). A load of a loaded
// partition in a newer epoch keeps it loaded.
func TestStaleLoadsAndUnloads(t *testing.T) {
	h := newHarness(t, nil)
	g := h.groupIn(0, "g")
	h.commit(g, "", -1, "t", map[int32]int64{0: 1})
	h.unloaded()
	loaded := func(want bool) {
		t.Helper()
		if got := slices.Contains(h.c.LoadedPartitions(), 0); got != want {
			t.Fatalf("partition 0 loaded: %v, want %v", got, want)
		}
		code := int16(kerr.NotCoordinator.Code)
		if want {
			code = kerr.UnknownMemberID.Code
		}
		wantCode(t, "heartbeat", h.heartbeat(g, "m", 1), code)
	}
	h.load(0, 5)
	loaded(true)
	if h.c.UnloadPartition(0, 4) || h.c.UnloadPartition(0, 5) {
		t.Fatal("an unload not newer than the load applied")
	}
	loaded(true)
	h.load(0, 6) // newer epoch, same leader: stays loaded
	loaded(true)
	if !h.c.UnloadPartition(0, 8) {
		t.Fatal("unload at a newer epoch not applied")
	}
	loaded(false)
	h.load(0, 7) // stale: the unload at 8 came after
	h.load(0, 8)
	loaded(false)
	h.load(0, 9)
	loaded(true)
	if got := h.fetch(g, "t", 0); got[0] != 1 {
		t.Fatalf("offset: %v", got)
	}
	if !h.c.UnloadPartition(0, -1) {
		t.Fatal("unload without an epoch not applied")
	}
	loaded(false)
	h.load(0, 0) // the partition starts over
	loaded(true)
}

// TestUnloadDuringLoad: an unload that comes while the partition replays
// wins: the load ends without serving the partition.
func TestUnloadDuringLoad(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.GroupInitialRebalanceDelayMs = 0 })
	h.stableGroup("g", 1)
	p := PartitionFor("g", h.cfg.OffsetsTopicNumPartitions)
	st := h.unloaded()
	release := st.hold()
	done := make(chan error, 1)
	go func() { done <- h.c.LoadPartition(context.Background(), p, 1) }()
	<-st.entered
	h.c.UnloadPartition(p, 2)
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(h.c.LoadedPartitions()) != 0 || h.c.getGroup("g") != nil {
		t.Fatalf("partition served after its unload: %v", h.c.LoadedPartitions())
	}
	h.clock.Advance(time.Hour) // the replayed member's session timer was stopped
	h.load(p, 3)
	if got := h.state("g"); got != StateStable {
		t.Fatalf("state after the next load: %v", got)
	}
}

// TestLoadFailure: a replay that fails leaves the partition as it was,
// and the same load can be tried again.
func TestLoadFailure(t *testing.T) {
	h := newHarness(t, nil)
	g := h.groupIn(0, "g")
	h.commit(g, "", -1, "t", map[int32]int64{0: 4})
	st := h.unloaded()
	st.fail = errors.New("disk on fire")
	if err := h.c.LoadPartition(context.Background(), 0, 1); err == nil {
		t.Fatal("load succeeded over a failing replay")
	}
	wantCode(t, "after a failed load", h.heartbeat(g, "m", 1), kerr.NotCoordinator.Code)
	st.fail = nil
	h.load(0, 1)
	if got := h.fetch(g, "t", 0); got[0] != 4 {
		t.Fatalf("offset after the retried load: %v", got)
	}
	h.c.Close()
	if err := h.c.LoadPartition(context.Background(), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("load after Close: %v", err)
	}
}
