package group

import (
	"context"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock runs timers only when the test advances it, on the test's
// goroutine, in deadline order.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves time forward by d, firing due timers in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var next *fakeTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if !t.done {
				live = append(live, t)
			}
		}
		c.timers = live
		if len(c.timers) > 0 && !c.timers[0].at.After(target) {
			next = c.timers[0]
		}
		if next == nil {
			break
		}
		next.done = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = target
	c.mu.Unlock()
}

type fakeTopics struct {
	mu     sync.Mutex
	topics map[string]TopicInfo
}

func (f *fakeTopics) Topic(name string) (TopicInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.topics[name]
	return t, ok
}

func (f *fakeTopics) TopicByID(id [16]byte) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, t := range f.topics {
		if t.ID == id {
			return n, true
		}
	}
	return "", false
}

func (f *fakeTopics) TopicNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.topics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (f *fakeTopics) add(name string, partitions int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var id [16]byte
	copy(id[:], name)
	id[15] = byte(len(name))
	f.topics[name] = TopicInfo{ID: id, Partitions: partitions}
}

type harness struct {
	t      *testing.T
	c      *Coordinator
	clock  *fakeClock
	store  *coordinator.MemStorage
	topics *fakeTopics
	cfg    Config
}

func newHarness(t *testing.T, mut func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	if mut != nil {
		mut(&cfg)
	}
	h := &harness{t: t, clock: newFakeClock(), store: coordinator.NewMemStorage(), topics: &fakeTopics{topics: map[string]TopicInfo{}}, cfg: cfg}
	h.topics.add("t", 12)
	h.topics.add("u", 3)
	h.start()
	return h
}

// start builds a coordinator over the harness's storage and loads every
// partition, as the coordinator of a node that leads them all.
func (h *harness) start() {
	h.t.Helper()
	c, err := New(Options{Config: h.cfg, Storage: h.store, Clock: h.clock, Topics: h.topics, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		h.t.Fatal(err)
	}
	for p := int32(0); p < h.cfg.OffsetsTopicNumPartitions; p++ {
		if err := c.LoadPartition(context.Background(), p, 0); err != nil {
			h.t.Fatal(err)
		}
	}
	h.c = c
	h.t.Cleanup(c.Close)
}

// restart closes the coordinator and starts a new one over the same storage.
func (h *harness) restart() {
	h.c.Close()
	h.start()
}

// waiter holds a response that may arrive later.
type waiter[T any] struct {
	ch chan T
}

func newWaiter[T any]() *waiter[T] { return &waiter[T]{ch: make(chan T, 1)} }

func (w *waiter[T]) cb(v T) { w.ch <- v }

// get returns the response, failing if none arrived yet.
func (w *waiter[T]) get(t *testing.T) T {
	t.Helper()
	select {
	case v := <-w.ch:
		return v
	default:
		var zero T
		t.Fatalf("no response yet")
		return zero
	}
}

func (w *waiter[T]) pending() bool { return len(w.ch) == 0 }

type joinOpt func(*kmsg.JoinGroupRequest)

func withInstance(id string) joinOpt { return func(r *kmsg.JoinGroupRequest) { r.InstanceID = &id } }
func withProtocols(names ...string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) {
		r.Protocols = nil
		for _, n := range names {
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: consumerMeta("t")})
		}
	}
}
func withSession(ms int32) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = ms }
}
func withVersion(v int16) joinOpt { return func(r *kmsg.JoinGroupRequest) { r.Version = v } }

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 0
	m.Topics = topics
	return m.AppendTo(nil)
}

func (h *harness) join(group, memberID string, opts ...joinOpt) *waiter[*kmsg.JoinGroupResponse] {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = 10000
	req.RebalanceTimeoutMillis = 20000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMeta("t")}}
	for _, o := range opts {
		o(req)
	}
	w := newWaiter[*kmsg.JoinGroupResponse]()
	h.c.joinGroup(req, "client", "/127.0.0.1", w.cb)
	return w
}

// joinNew does the KIP-394 dance and returns the member id and the
// pending second join.
func (h *harness) joinNew(group string, opts ...joinOpt) (string, *waiter[*kmsg.JoinGroupResponse]) {
	h.t.Helper()
	r := h.join(group, "", opts...).get(h.t)
	if r.ErrorCode != kerr.MemberIDRequired.Code {
		h.t.Fatalf("first join: error %v, want MEMBER_ID_REQUIRED", kerr.ErrorForCode(r.ErrorCode))
	}
	return r.MemberID, h.join(group, r.MemberID, opts...)
}

func (h *harness) sync(group, member string, gen int32, assignments map[string]string) *waiter[*kmsg.SyncGroupResponse] {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group = group
	req.MemberID = member
	req.Generation = gen
	for m, a := range assignments {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: m, MemberAssignment: []byte(a)})
	}
	w := newWaiter[*kmsg.SyncGroupResponse]()
	h.c.syncGroup(req, w.cb)
	return w
}

func (h *harness) heartbeat(group, member string, gen int32, instance ...string) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, member, gen
	if len(instance) > 0 {
		req.InstanceID = &instance[0]
	}
	return h.c.Heartbeat(req).ErrorCode
}

func (h *harness) commit(group, member string, gen int32, topic string, offsets map[int32]int64) map[int32]int16 {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.MemberID, req.Generation = group, member, gen
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, o
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp := h.c.OffsetCommit(req)
	out := map[int32]int16{}
	for _, p := range resp.Topics[0].Partitions {
		out[p.Partition] = p.ErrorCode
	}
	return out
}

// fetch returns the committed offsets of a group for a topic (-1: none).
func (h *harness) fetch(group, topic string, parts ...int32) map[int32]int64 {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: parts}}
	req.Groups = append(req.Groups, rg)
	resp := h.c.OffsetFetch(req)
	out := map[int32]int64{}
	for _, p := range resp.Groups[0].Topics[0].Partitions {
		out[p.Partition] = p.Offset
	}
	return out
}

func (h *harness) state(group string) State {
	g := h.c.getGroup(group)
	if g == nil {
		return StateDead
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.typ == TypeConsumer {
		return g.cg.stateLocked()
	}
	return g.state
}

func errName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

func wantCode(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: error %s, want %s", what, errName(got), errName(want))
	}
}
