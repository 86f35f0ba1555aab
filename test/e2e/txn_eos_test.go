package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The transformer child: when SAMSA_E2E_TXN_TRANSFORMER names the brokers
// (comma-separated), TestTxnTransformerChild runs a consume-transform-produce
// loop with a GroupTransactSession until it is killed.
const txnTransformerEnv = "SAMSA_E2E_TXN_TRANSFORMER"

func TestTxnTransformerChild(t *testing.T) {
	addr := os.Getenv(txnTransformerEnv)
	if addr == "" {
		t.Skip("runs only as the transformer child of TestTxnExactlyOnceWithKilledTransformer")
	}
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(strings.Split(addr, ",")...),
		kgo.TransactionalID("eos-transformer"),
		kgo.TransactionTimeout(10*time.Second),
		kgo.ConsumerGroup("eos"),
		kgo.ConsumeTopics("eos-in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.SessionTimeout(6*time.Second),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.DefaultProduceTopic("eos-out"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	ctx := context.Background()
	for {
		fs := sess.PollRecords(ctx, 100) // small transactions: kills land mid-stream
		if fs.IsClientClosed() {
			return
		}
		fs.EachError(func(topic string, p int32, err error) { fmt.Fprintf(os.Stderr, "fetch %s-%d: %v\n", topic, p, err) })
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out := &kgo.Record{Key: r.Key, Value: []byte("out-" + string(r.Value)), Partition: r.Partition}
			sess.Produce(ctx, out, func(_ *kgo.Record, err error) {
				if err != nil {
					fmt.Fprintf(os.Stderr, "produce: %v\n", err)
				}
			})
		})
		if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
			fmt.Fprintf(os.Stderr, "end: %v\n", err)
		}
	}
}

// TestTxnExactlyOnceWithKilledTransformer: a consume-transform-produce
// process copies an input topic to an output topic in transactions while
// it is killed (SIGKILL) and restarted several times; read_committed, the
// output holds each input's result exactly once.
func TestTxnExactlyOnceWithKilledTransformer(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	b := startBroker(t, "SAMSA_GROUP_INITIAL_REBALANCE_DELAY_MS=0")
	ctx := testContext(t, 10*time.Minute)
	adm := b.admin()
	for _, topic := range []string{"eos-in", "eos-out"} {
		createTopic(t, b, topic, 3, nil)
	}
	prod := b.client(kgo.DefaultProduceTopic("eos-in"), kgo.ProducerLinger(5*time.Millisecond))
	for i := 0; i < n; i++ {
		prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce input: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	committed := func() int64 {
		offs, err := adm.FetchOffsets(ctx, "eos")
		if err != nil {
			return 0
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	var childOut strings.Builder
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTxnTransformerChild$", "-test.v")
		cmd.Env = append(os.Environ(), txnTransformerEnv+"="+strings.Join(b.seeds(), ","))
		cmd.Stdout, cmd.Stderr = &childOut, &childOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	waitCommitted := func(target int64, limit time.Duration) bool {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			if committed() >= target {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	// A kill counts as landing mid-transaction when the transformer's
	// transaction is Ongoing just before it and the same transaction (same
	// producer epoch and start time) is still Ongoing once the process is
	// gone: nobody else ends it, so it was open when the process died.
	describe := func() (kadm.DescribedTransaction, bool) {
		dt, err := adm.DescribeTransactions(ctx, "eos-transformer")
		if err != nil {
			return kadm.DescribedTransaction{}, false
		}
		d, err := dt.On("eos-transformer", nil)
		return d, err == nil && d.Err == nil
	}
	// killMidTxn waits (up to limit) for an Ongoing transaction, kills the
	// transformer and reports whether the kill landed in that transaction.
	killMidTxn := func(cmd *exec.Cmd, limit time.Duration) bool {
		for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
			if d, ok := describe(); ok && d.State == "Ongoing" {
				cmd.Process.Kill()
				cmd.Wait()
				after, ok := describe()
				return ok && after.State == "Ongoing" && after.ProducerID == d.ProducerID &&
					after.ProducerEpoch == d.ProducerEpoch && after.StartTimestamp == d.StartTimestamp
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		return false
	}
	// Each kill is placed again, in a new transformer, if it missed an open
	// transaction; every one of the kills must land in one.
	const kills, placements = 3, 5
	midTxn := 0
	for k := 1; k <= kills; k++ {
		target := int64(n) * int64(k) / (kills + 1)
		for try := 1; try <= placements; try++ {
			cmd := start()
			if !waitCommitted(target, 3*time.Minute) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("kill %d: committed %d, never reached %d\n%s", k, committed(), target, childOut.String())
			}
			landed := killMidTxn(cmd, 30*time.Second)
			t.Logf("killed transformer %d (placement %d) at %d committed input offsets, mid-transaction: %v", k, try, committed(), landed)
			if landed {
				midTxn++
				break
			}
		}
	}
	if midTxn != kills {
		t.Fatalf("%d of %d kills landed while a transaction was open (%d placements each)", midTxn, kills, placements)
	}
	cmd := start()
	ok := waitCommitted(int64(n), 5*time.Minute)
	cmd.Process.Kill()
	cmd.Wait()
	if !ok {
		t.Fatalf("committed %d of %d\n%s", committed(), n, childOut.String())
	}

	seen := map[string]int{}
	cons := b.client(kgo.ConsumeTopics("eos-out"), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	total := 0
	for total < n {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fs := cons.PollFetches(fctx)
		cancel()
		if fctx.Err() != nil && fs.NumRecords() == 0 {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Key)]++
			total++
			if string(r.Value) != "out-"+string(r.Key) {
				t.Errorf("record %q has value %q", r.Key, r.Value)
			}
		})
	}
	// Read on briefly: duplicates would come after the first n.
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	fs := cons.PollFetches(fctx)
	cancel()
	fs.EachRecord(func(r *kgo.Record) { seen[string(r.Key)]++; total++ })
	missing, dups := 0, 0
	for i := 0; i < n; i++ {
		switch c := seen[strconv.Itoa(i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups++
		}
	}
	if missing > 0 || dups > 0 || total != n {
		t.Fatalf("read_committed output: %d records, %d inputs missing, %d duplicated (of %d)", total, missing, dups, n)
	}
	// The aborted attempts of killed transformers are in the log.
	uncommitted := 0
	raw := b.client(kgo.ConsumeTopics("eos-out"), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for {
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		fs := raw.PollFetches(fctx)
		cancel()
		if fs.NumRecords() == 0 {
			break
		}
		uncommitted += fs.NumRecords()
	}
	t.Logf("%d inputs, %d committed outputs, %d records in the log with aborted ones", n, total, uncommitted)
}
