package broker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// requestCountFrom is samsa_requests_total of an API at version from or
// above, summed over the nodes.
func requestCountFrom(t *testing.T, nodes []*clusterNode, api string, from int) float64 {
	t.Helper()
	var n float64
	for _, node := range nodes {
		families, err := node.metrics.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != "samsa_requests_total" {
				continue
			}
			for _, s := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range s.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if v, err := strconv.Atoi(labels["version"]); labels["api"] == api && err == nil && v >= from {
					n += s.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// txnRound writes one record to every partition of topic in a
// transaction of cl and ends it (commit or abort).
func txnRound(t *testing.T, cl *kgo.Client, topic string, partitions int, tag string, commit bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range partitions {
		r := &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprintf("%s-%d", tag, p))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("%s: produce to %s-%d: %v", tag, topic, p, err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("%s: end (commit %v): %v", tag, commit, err)
	}
}

// TestClusterTransactions runs transactions on a cluster of three nodes,
// each leading some partitions of the topic, so that most of a
// transaction's partitions are led by another node than its coordinator:
// the commit and abort markers travel as WriteTxnMarkers between nodes,
// and so do the partition leaders' questions to the coordinator
// (AddPartitionsToTxn v4+: the implicit add of transaction protocol
// version 2, the VerifyOnly check of version 1). read_committed
// consumers see every record of the committed transactions and none of
// the aborted ones. Transactional offsets committed on a group
// coordinator on another node than the transaction coordinator become
// the group's at the commit.
func TestClusterTransactions(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	all := kgo.SeedBrokers(seeds(nodes)...)
	adm := kadm.NewClient(txnTestClient(t, nodes[0].addr, all))
	const topic = "orders"
	leaders := createSpreadTopic(t, adm, topic, len(nodes))
	n := len(leaders)

	var want []string
	expect := func(tag string) {
		for p := range n {
			want = append(want, fmt.Sprintf("%s-%d", tag, p))
		}
	}
	check := func(after string) {
		t.Helper()
		got := consumeAll(t, nodes[1].addr, topic, true, len(want)+1)
		slices.Sort(got)
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(got, w) {
			t.Fatalf("after %s, read_committed sees %d records %v, want %d %v", after, len(got), got, len(w), w)
		}
	}

	// Transaction protocol version 2 (franz-go's default against a
	// cluster at transaction.version 2): partitions join implicitly.
	v2 := txnTestClient(t, nodes[0].addr, all, kgo.TransactionalID("tx-v2"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	markers := requestCountFrom(t, nodes, "WriteTxnMarkers", 1)
	txnRound(t, v2, topic, n, "v2-commit", true)
	expect("v2-commit")
	if got := requestCountFrom(t, nodes, "WriteTxnMarkers", 1); got <= markers {
		t.Fatal("a commit over partitions of three nodes sent no WriteTxnMarkers")
	}
	if got := requestCountFrom(t, nodes, "AddPartitionsToTxn", 5); got == 0 {
		t.Fatal("no partition leader asked another node's coordinator to add its partition (AddPartitionsToTxn v5)")
	}
	check("a committed transaction (version 2)")
	txnRound(t, v2, topic, n, "v2-abort", false)
	check("an aborted transaction (version 2)")

	// Transaction protocol version 1: the producer adds the partitions,
	// the leaders verify their first writes with the coordinator.
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	vs.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	vs.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	v1 := txnTestClient(t, nodes[0].addr, all, kgo.MaxVersions(vs), kgo.TransactionalID("tx-v1"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	verifies := requestCountFrom(t, nodes, "AddPartitionsToTxn", 4)
	txnRound(t, v1, topic, n, "v1-commit", true)
	expect("v1-commit")
	if got := requestCountFrom(t, nodes, "AddPartitionsToTxn", 4); got <= verifies {
		t.Fatal("no partition leader verified a write with another node's coordinator (AddPartitionsToTxn v4+)")
	}
	check("a committed transaction (version 1)")
	txnRound(t, v1, topic, n, "v1-abort", false)
	check("an aborted transaction (version 1)")

	// Transactional offsets: the group's coordinator and the
	// transactional id's are on different nodes.
	ctx := context.Background()
	const id = "tx-offsets"
	// The first ask creates the internal topics; their partitions may
	// have no leader for a moment.
	find := func(find func(context.Context, ...string) kadm.FindCoordinatorResponses, key string) int32 {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			co := find(ctx, key)[key]
			if co.Err == nil {
				return co.NodeID
			}
			if time.Now().After(deadline) {
				t.Fatalf("coordinator of %s: %v", key, co.Err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	txnCo := find(adm.FindTxnCoordinators, id)
	var groupID string
	for i := 0; groupID == ""; i++ {
		if g := fmt.Sprintf("group-%d", i); find(adm.FindGroupCoordinators, g) != txnCo {
			groupID = g
		}
	}
	cl := txnTestClient(t, nodes[2].addr, all, kgo.MaxVersions(vs)) // the raw requests below are of version 1
	c := newTxnOffsetsClient(t, cl, id)
	c.commitOffset(groupID, topic, 42)
	c.end(true)
	waitOffset(t, cl, groupID, topic, 42)
	c.commitOffset(groupID, topic, 43)
	c.end(false)
	waitOffset(t, cl, groupID, topic, 42)
}

// TestClusterMarkersWaitForTheLeader: a node that leads some partitions of
// a transaction stops (a controlled shutdown: its partitions, with one
// replica, are left without a leader) before the transaction commits.
// The commit is decided at once, the markers of the stopped node's
// partitions wait, and once the node is back and leads its partitions
// again they are written: read_committed consumers see the whole
// transaction and the coordinator records CompleteCommit.
func TestClusterMarkersWaitForTheLeader(t *testing.T) {
	nodes := startCluster(t, 3, map[string]string{"transaction.abort.timed.out.transaction.cleanup.interval.ms": "500"})
	all := kgo.SeedBrokers(seeds(nodes)...)
	adm := kadm.NewClient(txnTestClient(t, nodes[0].addr, all))
	const topic, id = "orders", "tx-restart"
	leaders := createSpreadTopic(t, adm, topic, len(nodes))
	n := len(leaders)

	cl := txnTestClient(t, nodes[0].addr, all, kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for p := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprint(p))}).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, p, err)
		}
	}
	co := adm.FindTxnCoordinators(ctx, id)[id]
	if co.Err != nil {
		t.Fatal(co.Err)
	}
	var victim *clusterNode
	for _, node := range nodes {
		if node.id != co.NodeID {
			victim = node
			break
		}
	}
	victim.stop(t)

	start := time.Now()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit while node %d is down: %v", victim.id, err)
	}
	t.Logf("commit answered in %v with node %d down", time.Since(start).Round(time.Millisecond), victim.id)
	if d, err := adm.DescribeTransactions(ctx, id); err == nil {
		if s, err := d.On(id, nil); err == nil {
			t.Logf("state after the commit: %s", s.State)
		}
	}
	start = time.Now()
	victim.restart(t)
	t.Logf("node %d back in %v", victim.id, time.Since(start).Round(time.Millisecond))
	start = time.Now()

	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		got = consumeAll(t, nodes[co.NodeID-1].addr, topic, true, n)
	}
	if len(got) != n {
		t.Fatalf("read_committed sees %d of the %d records: %v", len(got), n, got)
	}
	for {
		d, err := adm.DescribeTransactions(ctx, id)
		if err == nil {
			if s, err := d.On(id, nil); err == nil && s.State == "CompleteCommit" {
				t.Logf("CompleteCommit %v after the restart", time.Since(start).Round(time.Millisecond))
				break
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the transaction did not complete: %+v %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
