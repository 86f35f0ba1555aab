package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

func txnTestClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// tv1Client is a client that speaks transaction protocol version 1: the
// request versions before KIP-890 part 2 (Produce v11, EndTxn v4,
// TxnOffsetCommit v4).
func tv1Client(t *testing.T, addr string) *kgo.Client {
	t.Helper()
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 11)
	v.SetMaxKeyVersion(int16(kmsg.EndTxn), 4)
	v.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	return txnTestClient(t, addr, kgo.MaxVersions(v))
}

// consumeAll reads topic from the start up to end offsets under an
// isolation level and returns the values.
func consumeAll(t *testing.T, addr, topic string, committed bool, want int) []string {
	t.Helper()
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl := txnTestClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out []string
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

func TestTransactionsEndToEnd(t *testing.T) {
	addr, _ := startNodeIn(t, t.TempDir(), map[string]string{"transaction.max.timeout.ms": "60000"})
	ctx := context.Background()
	adm := kadm.NewClient(txnTestClient(t, addr))
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}

	p := txnTestClient(t, addr, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("t"), kgo.TransactionTimeout(30*time.Second))
	produce := func(cl *kgo.Client, vals ...string) {
		t.Helper()
		for _, v := range vals {
			if err := cl.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Committed, then aborted, then committed.
	for i, commit := range []bool{true, false, true} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		produce(p, fmt.Sprintf("%d-a", i), fmt.Sprintf("%d-b", i))
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end %d: %v", i, err)
		}
	}
	committed := consumeAll(t, addr, "t", true, 4)
	if fmt.Sprint(committed) != "[0-a 0-b 2-a 2-b]" {
		t.Fatalf("read_committed: %v", committed)
	}
	all := consumeAll(t, addr, "t", false, 6)
	if fmt.Sprint(all) != "[0-a 0-b 1-a 1-b 2-a 2-b]" {
		t.Fatalf("read_uncommitted: %v", all)
	}

	// An open transaction holds the last stable offset back.
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(p, "open")
	offs, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	hw, _ := offs.Lookup("t", 0)
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.IsolationLevel = 1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, txnTestClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	lso := lresp.Topics[0].Partitions[0].Offset
	if lso != hw.Offset-1 {
		t.Fatalf("LSO %d with a transaction open at %d (HW %d)", lso, hw.Offset-1, hw.Offset)
	}
	// DescribeProducers shows the open transaction.
	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{"t": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	dp.EachPartition(func(pp kadm.DescribedProducersPartition) {
		if len(pp.ActiveProducers) != 1 || pp.ActiveProducers[0].CurrentTxnStartOffset != lso {
			t.Errorf("describe producers: %+v", pp.ActiveProducers)
		}
	})
	// Describe/List transactions.
	dt, err := adm.DescribeTransactions(ctx, "tx-1")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := dt.On("tx-1", nil); d.State != "Ongoing" || len(d.Topics) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	lt2, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil || len(lt2.TransactionalIDs()) != 1 {
		t.Fatalf("list: %v %v", lt2, err)
	}

	// A second instance fences the first and aborts its transaction.
	p2 := txnTestClient(t, addr, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("t"))
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(p2, "new")
	if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	err = p.EndTransaction(ctx, kgo.TryCommit)
	if err == nil {
		t.Fatal("the fenced instance committed")
	}
	t.Logf("zombie commit: %v", err)
	committed = consumeAll(t, addr, "t", true, 5)
	if fmt.Sprint(committed) != "[0-a 0-b 2-a 2-b new]" {
		t.Fatalf("read_committed after fencing: %v", committed)
	}
}

func TestInitProducerIDTransactionTimeout(t *testing.T) {
	addr, _ := startNodeIn(t, t.TempDir(), map[string]string{"transaction.max.timeout.ms": "1000"})
	id := "x"
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 5000
	resp, err := req.RequestWith(context.Background(), txnTestClient(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("code %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}
