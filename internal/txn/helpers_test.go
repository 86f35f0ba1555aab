package txn

import (
	"context"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeMarkers records markers; partitions in failing fail. before, if
// set, runs first (without the lock).
type fakeMarkers struct {
	mu      sync.Mutex
	written []Marker
	failing map[TopicPartition]bool
	before  func(Marker)
}

func (f *fakeMarkers) WriteMarkers(_ context.Context, m Marker) []TopicPartition {
	f.mu.Lock()
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(m)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ok, failed []TopicPartition
	for _, tp := range m.Partitions {
		if f.failing[tp] {
			failed = append(failed, tp)
		} else {
			ok = append(ok, tp)
		}
	}
	if len(ok) > 0 {
		m.Partitions = ok
		f.written = append(f.written, m)
	}
	return failed
}

func (f *fakeMarkers) all() []Marker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Marker(nil), f.written...)
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	t       *testing.T
	c       *Coordinator
	store   *coordinator.MemStorage
	markers *fakeMarkers
	clock   *fakeClock
	nextPID int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, store: coordinator.NewMemStorage(), markers: &fakeMarkers{failing: map[TopicPartition]bool{}},
		clock: &fakeClock{now: time.UnixMilli(1_700_000_000_000)}, nextPID: 1000}
	e.c = e.open()
	return e
}

// open builds a coordinator over the env's storage and loads every
// partition (a restart of a node that leads them all).
func (e *env) open() *Coordinator {
	e.t.Helper()
	c := e.build(e.store)
	for p := int32(0); p < c.cfg.TransactionStateLogNumPartitions; p++ {
		if err := c.LoadPartition(context.Background(), p, 0); err != nil {
			e.t.Fatal(err)
		}
	}
	return c
}

// build builds a coordinator over st that has loaded no partition.
func (e *env) build(st Storage) *Coordinator {
	e.t.Helper()
	cfg := DefaultConfig()
	cfg.TransactionStateLogNumPartitions = 5
	c, err := New(Options{
		Config:  cfg,
		Storage: st,
		Markers: e.markers,
		ProducerIDs: func(context.Context) (int64, error) {
			e.nextPID++
			return e.nextPID, nil
		},
		PartitionExists:  func(tp TopicPartition) bool { return tp.Topic != "missing" },
		OffsetsPartition: func(group string) TopicPartition { return TopicPartition{"__consumer_offsets", int32(len(group))} },
		Now:              e.clock.Now,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(c.Close)
	return c
}

func (e *env) init(id string, version int16, timeoutMs int32, pid int64, epoch int16) *kmsg.InitProducerIDResponse {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = version
	req.TransactionalID = &id
	req.TransactionTimeoutMillis = timeoutMs
	req.ProducerID, req.ProducerEpoch = pid, epoch
	return e.c.InitProducerID(context.Background(), req)
}

// mustInit initialises id and returns its producer id and epoch.
func (e *env) mustInit(id string) (int64, int16) {
	e.t.Helper()
	r := e.init(id, 4, 60000, -1, -1)
	if r.ErrorCode != 0 {
		e.t.Fatalf("init %s: %v", id, kerr.ErrorForCode(r.ErrorCode))
	}
	return r.ProducerID, r.ProducerEpoch
}

func (e *env) add(id string, pid int64, epoch int16, tps ...TopicPartition) int16 {
	return e.c.AddPartitions(context.Background(), id, pid, epoch, tps)
}

func (e *env) end(id string, version int16, pid int64, epoch int16, commit bool) int16 {
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = version
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	return e.c.EndTxn(context.Background(), req).ErrorCode
}

func (e *env) state(id string) State {
	e.t.Helper()
	m, ok := e.c.Transaction(id)
	if !ok {
		e.t.Fatalf("transactional id %s unknown", id)
	}
	return m.State
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	w := int16(0)
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Fatalf("%s: got %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(w))
	}
}

var (
	tpA = TopicPartition{"a", 0}
	tpB = TopicPartition{"b", 1}
)
