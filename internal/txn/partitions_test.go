package txn

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// gatedStorage holds Replay until released.
type gatedStorage struct {
	*coordinator.MemStorage
	mu      sync.Mutex
	gate    chan struct{}
	entered chan int32
}

func (s *gatedStorage) Replay(ctx context.Context, p int32, fn func(Record) error) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		s.entered <- p
		<-gate
	}
	return s.MemStorage.Replay(ctx, p, fn)
}

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

// idIn is a transactional id of partition p (of 5).
func idIn(p int32, prefix string) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if PartitionFor(id, 5) == p {
			return id
		}
	}
}

func (e *env) load(p, epoch int32) {
	e.t.Helper()
	if err := e.c.LoadPartition(context.Background(), p, epoch); err != nil {
		e.t.Fatal(err)
	}
}

// TestTxnPartitionOwnership: a coordinator serves only the ids of the
// partitions it has loaded: others get NOT_COORDINATOR, those of a
// partition being loaded COORDINATOR_LOAD_IN_PROGRESS (and
// ListTransactions too while any loads); a loaded partition's ids come
// back with their producer ids and epochs.
func TestTxnPartitionOwnership(t *testing.T) {
	e := newEnv(t)
	a, b := idIn(0, "a"), idIn(1, "b")
	pid, epoch := e.mustInit(a)
	e.c.Close()
	st := &gatedStorage{MemStorage: e.store}
	e.c = e.build(st)

	wantCode(t, "init before any load", e.init(a, 4, 60000, -1, -1).ErrorCode, kerr.NotCoordinator)
	wantCode(t, "add before any load", e.add(a, pid, epoch, tpA), kerr.NotCoordinator)
	wantCode(t, "end before any load", e.end(a, 3, pid, epoch, true), kerr.NotCoordinator)
	if r := e.c.ListTransactions(kmsg.NewPtrListTransactionsRequest()); r.ErrorCode != 0 || len(r.TransactionStates) != 0 {
		t.Fatalf("list before any load: %v, %d ids", kerr.ErrorForCode(r.ErrorCode), len(r.TransactionStates))
	}

	release := st.hold()
	done := make(chan error, 1)
	go func() { done <- e.c.LoadPartition(context.Background(), 0, 4) }()
	<-st.entered
	wantCode(t, "init while loading", e.init(a, 4, 60000, -1, -1).ErrorCode, kerr.CoordinatorLoadInProgress)
	wantCode(t, "list while loading", e.c.ListTransactions(kmsg.NewPtrListTransactionsRequest()).ErrorCode, kerr.CoordinatorLoadInProgress)
	desc := e.c.DescribeTransactions(&kmsg.DescribeTransactionsRequest{TransactionalIDs: []string{a, b}})
	wantCode(t, "describe while loading", desc.TransactionStates[0].ErrorCode, kerr.CoordinatorLoadInProgress)
	wantCode(t, "describe of another partition", desc.TransactionStates[1].ErrorCode, kerr.NotCoordinator)
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.c.LoadedPartitions(); !slices.Equal(got, []int32{0}) {
		t.Fatalf("loaded partitions %v", got)
	}
	if got := e.c.CoordinatorEpoch(a); got != 4 {
		t.Fatalf("coordinator epoch %d, want the load's epoch 4", got)
	}
	if r := e.init(a, 4, 60000, -1, -1); r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != epoch+1 {
		t.Fatalf("init after load: %v, %d/%d", kerr.ErrorForCode(r.ErrorCode), r.ProducerID, r.ProducerEpoch)
	}
	wantCode(t, "init of another partition", e.init(b, 4, 60000, -1, -1).ErrorCode, kerr.NotCoordinator)
}

// TestTxnUnloadPartition: unloading a partition drops its ids: requests
// get NOT_COORDINATOR, the prepared transaction whose markers failed is
// not retried here any more, and nothing is written for it. The
// partition's next load, in a newer leader epoch, completes it with
// markers carrying that epoch as the coordinator epoch.
func TestTxnUnloadPartition(t *testing.T) {
	e := newEnv(t)
	id := idIn(2, "t")
	pid, epoch := e.mustInit(id)
	e.add(id, pid, epoch, tpA)
	e.markers.failing[tpA] = true
	wantCode(t, "commit", e.end(id, 3, pid, epoch, true), nil)
	if got := e.state(id); got != PrepareCommit {
		t.Fatalf("state with failing markers: %v", got)
	}
	if !e.c.UnloadPartition(2, 3) {
		t.Fatal("unload not applied")
	}
	wantCode(t, "end after unload", e.end(id, 3, pid, epoch, true), kerr.NotCoordinator)
	if _, ok := e.c.Transaction(id); ok {
		t.Fatal("id of an unloaded partition still known")
	}
	delete(e.markers.failing, tpA)
	records, markers := e.store.Len(), len(e.markers.all())
	e.clock.advance(time.Hour)
	e.c.Tick(context.Background())
	if e.store.Len() != records || len(e.markers.all()) != markers {
		t.Fatal("the unloaded partition's transaction was worked on")
	}

	e.load(2, 7)
	if got := e.state(id); got != CompleteCommit {
		t.Fatalf("state after the reload: %v", got)
	}
	ms := e.markers.all()[markers:]
	if len(ms) != 1 || !ms[0].Commit || ms[0].CoordinatorEpoch != 7 || ms[0].ProducerID != pid {
		t.Fatalf("markers of the reload: %+v", ms)
	}
}

// TestTxnUnloadDuringMarkers: a partition unloaded while a transaction's
// markers are being written gets nothing more written by this
// coordinator: not the completion, whatever the markers did. The next
// load completes the transaction.
func TestTxnUnloadDuringMarkers(t *testing.T) {
	e := newEnv(t)
	id := idIn(3, "t")
	pid, epoch := e.mustInit(id)
	e.add(id, pid, epoch, tpA)
	var once sync.Once
	e.markers.before = func(Marker) {
		once.Do(func() {
			go e.c.UnloadPartition(3, 1) // waits for the request holding the id
			deadline := time.Now().Add(5 * time.Second)
			for slices.Contains(e.c.LoadedPartitions(), 3) {
				if time.Now().After(deadline) {
					t.Error("partition not unloaded")
					return
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	wantCode(t, "commit", e.end(id, 3, pid, epoch, true), nil) // the prepare was written
	records := e.store.Len()
	e.markers.before = nil
	e.load(3, 2)
	if got := e.state(id); got != CompleteCommit {
		t.Fatalf("state after the reload: %v", got)
	}
	if e.store.Len() != records+1 {
		t.Fatalf("%d records written by the reload, want the completion only", e.store.Len()-records)
	}
	if ms := e.markers.all(); ms[len(ms)-1].CoordinatorEpoch != 2 {
		t.Fatalf("markers of the reload: %+v", ms)
	}
}

// TestTxnStaleLoadsAndUnloads: a load or unload whose epoch is not newer
// than the partition's last does nothing; a load of a loaded partition
// in a newer epoch makes that epoch the coordinator epoch.
func TestTxnStaleLoadsAndUnloads(t *testing.T) {
	e := newEnv(t)
	id := idIn(0, "t")
	e.mustInit(id)
	e.c.Close()
	e.c = e.build(e.store)
	serving := func(want bool) {
		t.Helper()
		_, ok := e.c.Transaction(id)
		if ok != want {
			t.Fatalf("id served: %v, want %v", ok, want)
		}
	}
	e.load(0, 5)
	serving(true)
	if e.c.UnloadPartition(0, 5) || e.c.UnloadPartition(0, 2) {
		t.Fatal("stale unload applied")
	}
	serving(true)
	e.load(0, 6)
	if got := e.c.CoordinatorEpoch(id); got != 6 {
		t.Fatalf("coordinator epoch %d after a load in epoch 6", got)
	}
	e.c.UnloadPartition(0, 9)
	serving(false)
	if got := e.c.CoordinatorEpoch(id); got != -1 {
		t.Fatalf("coordinator epoch %d of an unloaded partition", got)
	}
	e.load(0, 8)
	e.load(0, 9)
	serving(false)
	e.load(0, 10)
	serving(true)
}
