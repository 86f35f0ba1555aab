package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupOverrides are the group settings of the group tests' broker: short
// delays so rebalances and expiries happen within a test's patience.
var groupOverrides = []string{
	"group.initial.rebalance.delay.ms=200",
	"group.consumer.heartbeat.interval.ms=500",
	"group.consumer.session.timeout.ms=6000",
}

// startGroupBroker starts a broker with groupOverrides (passed as
// --override flags, since only known keys are read from the environment).
func startGroupBroker(t *testing.T) *broker {
	t.Helper()
	return newBroker(t, nil, groupOverrides)
}

// cuttableDialer lets a test sever every connection of one client at once
// and refuse new ones: a consumer process crashing, as the broker sees it.
type cuttableDialer struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (d *cuttableDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cut {
		return nil, errors.New("network cut")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cuttableDialer) sever() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cut = true
	for _, c := range d.conns {
		c.Close()
	}
}

// ownership records which member owns which partition and fails the test
// when a partition is handed to a member while another still owns it.
type ownership struct {
	t      *testing.T
	mu     sync.Mutex
	owner  map[int32]string
	errors []string
}

func newOwnership(t *testing.T) *ownership { return &ownership{t: t, owner: map[int32]string{}} }

func (o *ownership) assign(member string, parts []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range parts {
		if cur, ok := o.owner[p]; ok && cur != member {
			o.errors = append(o.errors, fmt.Sprintf("partition %d assigned to %s while %s owns it", p, member, cur))
		}
		o.owner[p] = member
	}
}

func (o *ownership) release(member string, parts []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range parts {
		if o.owner[p] == member {
			delete(o.owner, p)
		}
	}
}

func (o *ownership) releaseAll(member string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for p, m := range o.owner {
		if m == member {
			delete(o.owner, p)
		}
	}
}

func (o *ownership) check() {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range o.errors {
		o.t.Error(e)
	}
}

// processed counts how often each (partition, offset) was processed.
type processed struct {
	mu   sync.Mutex
	seen map[int32]map[int64]int
	n    int // distinct records
}

func newProcessed() *processed { return &processed{seen: map[int32]map[int64]int{}} }

func (p *processed) add(part int32, off int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.seen[part]
	if m == nil {
		m = map[int64]int{}
		p.seen[part] = m
	}
	if m[off] == 0 {
		p.n++
	}
	m[off]++
}

func (p *processed) distinct() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committedEqualsEnd checks that the group's committed offsets are the
// topic's end offsets: every record was processed and committed.
func committedEqualsEnd(t *testing.T, b *broker, group, topic string) map[int32]int64 {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	adm := b.admin()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, o.Partition)
		if !ok || c.At != o.Offset {
			t.Errorf("partition %d: committed %d (found %v), end offset %d", o.Partition, c.At, ok, o.Offset)
		}
		out[o.Partition] = c.At
	})
	return out
}

// produceN produces n small keyed records and waits for them.
func produceN(t *testing.T, b *broker, topic string, n int) {
	t.Helper()
	ctx := testContext(t, 2*time.Minute)
	cl := b.client(kgo.ProducerLinger(5 * time.Millisecond))
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	wg.Add(n)
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte("value-" + strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
}

// committedAtEnd reports whether the group has committed every partition's
// end offset.
func committedAtEnd(b *broker, group, topic string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.seeds()...))
	if err != nil {
		return false
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		if c, found := committed.Lookup(topic, o.Partition); !found || c.At != o.Offset {
			ok = false
		}
	})
	return ok
}
