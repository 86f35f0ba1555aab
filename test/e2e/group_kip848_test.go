package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFranzKIP848RegexSubscription: two franz-go members of a KIP-848
// group subscribe with a regular expression; they consume every matching
// topic, including one created while they run, and nothing else. The group
// is described through ConsumerGroupDescribe.
func TestFranzKIP848RegexSubscription(t *testing.T) {
	b := startGroupBroker(t)
	const group = "regex-g"
	for _, topic := range []string{"orders-eu", "orders-us", "payments"} {
		createTopic(t, b, topic, 3, nil)
		produceN(t, b, topic, 300)
	}
	var mu sync.Mutex
	got := map[string]map[int32]map[int64]bool{}
	count := func(topic string) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, offs := range got[topic] {
			n += len(offs)
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		cl := b.client(
			kgo.ConsumerGroup(group),
			kgo.ConsumeRegex(), kgo.ConsumeTopics("orders-.*"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer(),
			kgo.MetadataMinAge(250*time.Millisecond), kgo.MetadataMaxAge(time.Second),
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := cl.PollFetches(ctx)
				mu.Lock()
				fs.EachRecord(func(r *kgo.Record) {
					if got[r.Topic] == nil {
						got[r.Topic] = map[int32]map[int64]bool{}
					}
					if got[r.Topic][r.Partition] == nil {
						got[r.Topic][r.Partition] = map[int64]bool{}
					}
					got[r.Topic][r.Partition][r.Offset] = true
				})
				mu.Unlock()
			}
		}()
	}
	defer wg.Wait()
	defer cancel()
	waitFor(t, "both matching topics consumed", time.Minute, func() bool { return count("orders-eu") == 300 && count("orders-us") == 300 })

	createTopic(t, b, "orders-apac", 2, nil)
	produceN(t, b, "orders-apac", 200)
	waitFor(t, "the new matching topic consumed", time.Minute, func() bool { return count("orders-apac") == 200 })
	if n := count("payments"); n != 0 {
		t.Fatalf("consumed %d records of a topic the regex does not match", n)
	}

	described, err := kadm.NewClient(b.client()).DescribeConsumerGroups(testContext(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	d := described[group]
	if d.Err != nil || len(d.Members) != 2 || d.AssignorName != "uniform" {
		t.Fatalf("describe: %+v", d)
	}
	parts := 0
	for _, m := range d.Members {
		if m.SubscribedTopicRegex == nil {
			t.Fatalf("member %s has no regex", m.MemberID)
		}
		for _, ps := range m.Assignment {
			parts += len(ps)
		}
	}
	if parts != 8 {
		t.Fatalf("%d partitions assigned, want 8 (3+3+2)", parts)
	}
}
