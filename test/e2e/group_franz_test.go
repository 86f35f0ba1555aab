package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franzMember is one group consumer process: it processes records between
// PollFetches and AllowRebalance (so revocation never interrupts
// processing), marks them for commit after processing, and reports its
// partitions to the ownership checker.
type franzMember struct {
	name   string
	cl     *kgo.Client
	dialer *cuttableDialer
	cancel context.CancelFunc
	done   chan struct{}
	killed atomic.Bool
}

func startFranzMember(t *testing.T, b *broker, name, group, topic string, own *ownership, proc *processed, opts ...kgo.Opt) *franzMember {
	t.Helper()
	m := &franzMember{name: name, dialer: &cuttableDialer{}, done: make(chan struct{})}
	all := []kgo.Opt{
		kgo.SeedBrokers(b.seeds()...),
		kgo.Dialer(m.dialer.dial),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(300 * time.Millisecond),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			own.assign(name, a[topic])
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			if err := cl.CommitMarkedOffsets(ctx); err != nil && !m.killed.Load() {
				t.Logf("%s: commit on revoke: %v", name, err)
			}
			own.release(name, r[topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			own.release(name, l[topic])
		}),
	}
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollRecords(ctx, 500)
			if m.killed.Load() || ctx.Err() != nil {
				cl.AllowRebalance()
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				proc.add(r.Partition, r.Offset)
			})
			cl.MarkCommitRecords(fs.Records()...)
			cl.AllowRebalance()
		}
	}()
	return m
}

// leave stops the member gracefully: it commits and leaves the group.
func (m *franzMember) leave() {
	m.cancel()
	<-m.done
	m.cl.Close()
}

// crash makes the member vanish: its connections are cut mid-flight, it
// stops processing, and the broker learns of it only by session timeout.
func (m *franzMember) crash(own *ownership) {
	m.killed.Store(true)
	m.dialer.sever()
	m.cancel()
	<-m.done
	own.releaseAll(m.name)
	go m.cl.Close() // its leave request cannot get through
}

type groupMode struct {
	name string
	opts []kgo.Opt
}

var franzModes = []groupMode{
	{"eager", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}},
	{"cooperative-sticky", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}},
	{"kip848", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer()}},
}

// TestFranzGroupMembershipChurn: three members consume a 12-partition
// topic of 100,000 records while members join, leave gracefully and
// crash; every record is processed, no partition has two owners, and the
// committed offsets end at the log end. Consumption then resumes exactly
// at the committed offsets, after a consumer restart and after a broker
// restart.
func TestFranzGroupMembershipChurn(t *testing.T) {
	for _, mode := range franzModes {
		t.Run(mode.name, func(t *testing.T) {
			b := startGroupBroker(t)
			topic, group := "churn-"+mode.name, "g-"+mode.name
			createTopic(t, b, topic, 12, nil)
			const total = 100000
			produceN(t, b, topic, total)

			own, proc := newOwnership(t), newProcessed()
			var mu sync.Mutex
			members := map[string]*franzMember{}
			start := func(name string) {
				mu.Lock()
				defer mu.Unlock()
				members[name] = startFranzMember(t, b, name, group, topic, own, proc, mode.opts...)
			}
			// Slow processing a little so the churn lands mid-stream.
			start("m1")
			start("m2")
			start("m3")
			waitFor(t, "20% processed", time.Minute, func() bool { return proc.distinct() >= total/5 })
			start("m4") // join
			waitFor(t, "40% processed", time.Minute, func() bool { return proc.distinct() >= 2*total/5 })
			members["m1"].leave() // graceful leave
			waitFor(t, "60% processed", time.Minute, func() bool { return proc.distinct() >= 3*total/5 })
			members["m2"].crash(own) // killed: session timeout
			last := time.Now()
			progress := func() {
				if time.Since(last) > 10*time.Second {
					last = time.Now()
					logGroupProgress(t, b, group, topic, own, proc)
				}
			}
			waitFor(t, "every record processed", 2*time.Minute, func() bool { progress(); return proc.distinct() >= total })
			// Records the crashed member processed but did not commit are
			// processed again by their new owner (at least once): wait
			// until the commits reach the end of every partition.
			waitFor(t, "commits at the log end", time.Minute, func() bool { progress(); return committedAtEnd(b, group, topic) })
			// Let the last marks be committed, then leave.
			for _, n := range []string{"m3", "m4"} {
				members[n].leave()
			}
			own.check()
			committed := committedEqualsEnd(t, b, group, topic)

			// Restart of the consumers: new records are read from exactly
			// the committed offsets.
			produceN(t, b, topic, 1200)
			resumeFrom(t, b, group, topic, committed, 1200, mode.opts...)
			committed = committedEqualsEnd(t, b, group, topic)

			// Restart of the broker (graceful, then killed).
			b.stop()
			b.restart()
			produceN(t, b, topic, 1200)
			resumeFrom(t, b, group, topic, committed, 1200, mode.opts...)
			committed = committedEqualsEnd(t, b, group, topic)
			b.kill()
			b.restart()
			produceN(t, b, topic, 1200)
			resumeFrom(t, b, group, topic, committed, 1200, mode.opts...)
			committedEqualsEnd(t, b, group, topic)
		})
	}
}

// resumeFrom starts one member and checks that the first record it gets
// of every partition is at the committed offset, and that it reads the n
// new records; it then leaves, committing.
func resumeFrom(t *testing.T, b *broker, group, topic string, committed map[int32]int64, n int, opts ...kgo.Opt) {
	t.Helper()
	own, proc := newOwnership(t), newProcessed()
	var mu sync.Mutex
	first := map[int32]int64{}
	m := startFranzMember(t, b, "resumer", group, topic, own, proc, append(opts, kgo.WithHooks(firstOffsetHook{mu: &mu, first: first}))...)
	waitFor(t, fmt.Sprintf("%d new records", n), time.Minute, func() bool { return proc.distinct() >= n })
	m.leave()
	mu.Lock()
	defer mu.Unlock()
	for p, want := range committed {
		got, ok := first[p]
		if !ok {
			continue // nothing new in this partition
		}
		if got != want {
			t.Errorf("partition %d: resumed at %d, committed %d", p, got, want)
		}
	}
	if proc.distinct() != n {
		t.Errorf("processed %d records after resuming, want exactly the %d new ones", proc.distinct(), n)
	}
}

// firstOffsetHook records the first offset fetched per partition.
type firstOffsetHook struct {
	mu    *sync.Mutex
	first map[int32]int64
}

func (h firstOffsetHook) OnFetchRecordBuffered(r *kgo.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.first[r.Partition]; !ok {
		h.first[r.Partition] = r.Offset
	}
}

// logGroupProgress logs where a slow group test stands: members and their
// assignments, committed and end offsets, and the test's view of owners.
func logGroupProgress(t *testing.T, b *broker, group, topic string, own *ownership, proc *processed) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	adm := b.admin()
	t.Logf("processed %d distinct records", proc.distinct())
	if d, err := adm.DescribeGroups(ctx, group); err == nil {
		t.Logf("group state %s", d[group].State)
		for _, m := range d[group].Members {
			if a, ok := m.Assigned.AsConsumer(); ok {
				t.Logf("member %s assigned %+v", m.MemberID, a.Topics)
			}
		}
	}
	o, _ := adm.FetchOffsets(ctx, group)
	e, _ := adm.ListEndOffsets(ctx, topic)
	e.Each(func(l kadm.ListedOffset) {
		c, _ := o.Lookup(topic, l.Partition)
		t.Logf("partition %d: committed %d, end %d", l.Partition, c.At, l.Offset)
	})
	own.mu.Lock()
	t.Logf("owners %v", own.owner)
	own.mu.Unlock()
}
