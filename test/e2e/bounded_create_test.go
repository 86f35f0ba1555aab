package e2e

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A careless create is bounded: a million partitions are refused with the
// limit named, twenty thousand are created quickly with one log line (per
// node, in a cluster), and SIGTERM in the middle of another twenty thousand
// stops the node (every node) within its shutdown timeout with every
// acknowledged record intact.
func TestLargeTopicCreateBoundedAndInterruptible(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 40,000 partitions")
	}
	const shutdownTimeout = 10 * time.Second
	b := startBroker(t, "SAMSA_SHUTDOWN_TIMEOUT_MS=10000")
	createTopic(t, b, "orders", 3, nil)
	acked := produceKeyed(t, b.client(kgo.DefaultProduceTopic("orders")), "orders", "v", 3000)

	adm := b.admin()
	ctx := testContext(t, 3*time.Minute)
	resp, err := adm.CreateTopic(ctx, 1_000_000, 1, nil, "huge")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.PolicyViolation) || !strings.Contains(resp.ErrMessage, "samsa.max.partitions.per.request (50000)") {
		t.Fatalf("create of 1,000,000 partitions: %v %q, want POLICY_VIOLATION naming samsa.max.partitions.per.request", err, resp.ErrMessage)
	}

	cl := b.client(kgo.RequestTimeoutOverhead(2 * time.Minute))
	many := kadm.NewClient(cl)
	many.SetTimeoutMillis(120_000)
	began := time.Now()
	resp, err = many.CreateTopic(ctx, 20_000, 1, nil, "many")
	t.Logf("created 20,000 partitions in %v", time.Since(began).Round(time.Millisecond))
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create of 20,000 partitions: %v %s", err, resp.ErrMessage)
	}
	// The log reaches the test through a pipe: wait for the summary line
	// of every node (each creates the partitions it leads). In a cluster
	// CreateTopics answers once the controller has committed the topic, as
	// Kafka's does, and every node creates its thousands of directories
	// afterwards, which takes tens of seconds on a slow disk.
	for _, n := range b.nodes {
		for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(n.output(), "topic=many") && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if c := strings.Count(n.output(), "topic=many"); c != 1 {
			t.Fatalf("node %d logged %d lines about topic many, want one summary line", n.id, c)
		}
	}

	// SIGTERM while the next 20,000 are being created.
	go func() {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		many.CreateTopic(c, 20_000, 1, nil, "more")
	}()
	waitForDir(t, b.dataDirs(), "more-")
	start := time.Now()
	if err := b.stopWithin(shutdownTimeout + 5*time.Second); err != nil {
		t.Fatalf("%v (shutdown timeout %v)", err, shutdownTimeout)
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	b.restart()
	compareExact(t, acked, consumeAll(t, b, "orders"))
	td, err := b.admin().ListTopics(testContext(t, time.Minute), "many", "more")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["many"].Partitions); n != 20_000 {
		t.Fatalf("topic many has %d partitions after restart", n)
	}
}

// waitForDir polls dirs until an entry starting with prefix appears in one.
func waitForDir(t *testing.T, dirs []string, prefix string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, dir := range dirs {
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), prefix) {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s* directory in %s within a minute", prefix, strings.Join(dirs, ", "))
}
