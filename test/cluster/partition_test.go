package cluster

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionClientsFromNode cuts the clients off the node: a produce
// times out (the packets vanish, nothing is refused), the harness still
// reaches the node, and after Heal the produce goes through.
func TestPartitionClientsFromNode(t *testing.T) {
	RequirePartitions(t)
	c := Start(t, Options{})
	ctx := testContext(t, 90*time.Second)
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, "cut"); err != nil {
		t.Fatal(err)
	}
	cl := c.Client(t)
	produce(t, ctx, cl, "cut", "before", 5)
	impatient := impatientClient(t, func(o ...kgo.Opt) *kgo.Client { return c.Client(t, o...) })
	produce(t, ctx, impatient, "cut", "impatient", 5)

	c.Partition([]int{Clients}, []int{1})
	start := time.Now()
	short, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := impatient.ProduceSync(short, &kgo.Record{Topic: "cut", Value: []byte("cut")}).FirstErr()
	cancel()
	if err == nil {
		t.Fatal("a produce succeeded across the partition")
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("the produce failed after %v (%v): a partition drops packets, it refuses nothing", took, err)
	}
	t.Logf("produce across the partition failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	// The harness's own connection is not cut.
	if _, err := c.Node(1).Metadata(ctx); err != nil {
		t.Fatalf("the harness lost the node during a client partition: %v", err)
	}
	c.WaitReady(t, 10*time.Second)

	c.Heal()
	WaitFor(t, 60*time.Second, func() error {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return cl.ProduceSync(short, &kgo.Record{Topic: "cut", Value: []byte("healed")}).FirstErr()
	})
}

// TestPartitionCutsUnboundDials checks the rule that tells nodes apart
// when they dial without binding a source address: a process running as
// "node 2" (its user id) cannot reach node 1 across Partition({2}, {1}),
// one running as "node 3" can, and after Heal both can. The dialer is
// `samsa cluster info`, which binds nothing, as a node's own dials.
func TestPartitionCutsUnboundDials(t *testing.T) {
	RequirePartitions(t)
	c := Start(t, Options{})
	dial := func(as int) error {
		cmd := exec.Command(c.bin, "cluster", "info", "-b", c.Node(1).Addr(), "--timeout", "2s")
		cmd.SysProcAttr = nodeSysProcAttr(nodeUID(c.x, c.y, as))
		cmd.Env = c.Node(1).env()
		out, err := cmd.CombinedOutput()
		if err == nil && !strings.Contains(string(out), "127.") {
			t.Fatalf("samsa cluster info said: %s", out)
		}
		return err
	}
	if err := dial(2); err != nil {
		t.Fatalf("node 2 cannot reach node 1 before the partition: %v", err)
	}
	// Partition only knows the cluster's nodes: install the rules for a
	// node 2 that does not run.
	if err := c.nft(partitionRules(c.table(), c.x, c.y, []int{2}, []int{1})); err != nil {
		t.Fatal(err)
	}
	if err := dial(2); err == nil {
		t.Fatal("node 2 reached node 1 across the partition")
	}
	if err := dial(3); err != nil {
		t.Fatalf("node 3 cannot reach node 1, which only node 2 is cut off: %v", err)
	}
	c.Heal()
	if err := dial(2); err != nil {
		t.Fatalf("node 2 cannot reach node 1 after Heal: %v", err)
	}
}

func TestPartitionRules(t *testing.T) {
	got := partitionRules("t", 7, 8, []int{1}, []int{2, Clients})
	want := "add rule inet t out ip saddr { 127.7.8.1 } ip daddr { 127.7.8.2, 127.7.8.100 } drop\n" +
		"add rule inet t out meta skuid { 1460801 } ip daddr { 127.7.8.2, 127.7.8.100 } drop\n" +
		"add rule inet t out ip saddr { 127.7.8.2, 127.7.8.100 } ip daddr { 127.7.8.1 } drop\n" +
		"add rule inet t out meta skuid { 1460802 } ip daddr { 127.7.8.1 } drop\n"
	if got != want {
		t.Fatalf("rules:\n%s\nwant:\n%s", got, want)
	}
}
