package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// staticMember is a franz-go consumer with a group.instance.id that counts
// its assignment callbacks.
type staticMember struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned int
	revoked  int
	cancel   context.CancelFunc
	done     chan struct{}
}

func startStaticMember(t *testing.T, b *broker, instance, group, topic string) *staticMember {
	t.Helper()
	m := &staticMember{done: make(chan struct{})}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.seeds()...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.InstanceID(instance),
		kgo.SessionTimeout(20*time.Second),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			m.mu.Lock()
			m.assigned++
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {
			m.mu.Lock()
			m.revoked++
			m.mu.Unlock()
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	return m
}

func (m *staticMember) counts() (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assigned, m.revoked
}

func (m *staticMember) stop() {
	m.cancel()
	<-m.done
	m.cl.Close() // a static member does not leave the group on close
}

// TestFranzStaticMemberRestartKeepsGeneration: a static member that
// restarts within its session timeout gets its partitions back without a
// rebalance; the generation does not change and the other member is not
// disturbed.
func TestFranzStaticMemberRestartKeepsGeneration(t *testing.T) {
	b := startGroupBroker(t)
	const topic, group = "static", "static-g"
	createTopic(t, b, topic, 6, nil)
	produceN(t, b, topic, 600)

	a := startStaticMember(t, b, "instance-a", group, topic)
	bm := startStaticMember(t, b, "instance-b", group, topic)
	defer bm.stop()
	var gen int32
	waitFor(t, "a stable group of two", time.Minute, func() bool {
		_, ga := a.cl.GroupMetadata()
		_, gb := bm.cl.GroupMetadata()
		if na, _ := a.counts(); na == 0 {
			return false
		}
		if nb, _ := bm.counts(); nb == 0 {
			return false
		}
		d, err := b.admin().DescribeGroups(context.Background(), group)
		if err != nil || d[group].State != "Stable" || len(d[group].Members) != 2 || ga != gb || ga <= 0 {
			return false
		}
		gen = ga
		return true
	})
	oldMember, _ := a.cl.GroupMetadata()
	bAssigned, bRevoked := bm.counts()

	a.stop()
	a2 := startStaticMember(t, b, "instance-a", group, topic)
	defer a2.stop()
	waitFor(t, "the restarted member's assignment", time.Minute, func() bool {
		n, _ := a2.counts()
		return n > 0
	})
	newMember, gen2 := a2.cl.GroupMetadata()
	if gen2 != gen {
		t.Fatalf("generation moved from %d to %d on a static restart", gen, gen2)
	}
	if newMember == oldMember {
		t.Fatalf("the restarted member kept member id %s; want a new one", newMember)
	}
	d, err := b.admin().DescribeGroups(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if d[group].State != "Stable" || len(d[group].Members) != 2 {
		t.Fatalf("group %s with %d members after the restart", d[group].State, len(d[group].Members))
	}
	if _, gb := bm.cl.GroupMetadata(); gb != gen {
		t.Fatalf("the other member moved to generation %d", gb)
	}
	if n, r := bm.counts(); n != bAssigned || r != bRevoked {
		t.Fatalf("the other member was rebalanced: assigned %d→%d, revoked %d→%d", bAssigned, n, bRevoked, r)
	}
}
