package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestTransactionsEndToEnd: a franz-go transactional producer commits,
// aborts, holds the last stable offset back with an open transaction and
// is fenced by a second instance; it mainly proves EndTxn. Other APIs it
// uses: CreateTopics, FindCoordinator, InitProducerID, AddPartitionsToTxn,
// Produce, Fetch (read_committed and read_uncommitted), ListOffsets (the
// last stable offset), DescribeProducers, DescribeTransactions,
// ListTransactions.
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
	zpid, zepoch, err := p.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p2 := txnTestClient(t, addr, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("t"))
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	produce(p2, "new")
	if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// The zombie's commit is refused as fenced: franz-go speaks the newest
	// EndTxn version, where Kafka answers PRODUCER_FENCED.
	if err := p.EndTransaction(ctx, kgo.TryCommit); !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("zombie commit: %v, want %v", err, kerr.ProducerFenced)
	}
	// Over the wire with the zombie's producer id and epoch: EndTxn v0-v1
	// predate PRODUCER_FENCED (KIP-588) and get INVALID_PRODUCER_EPOCH, as
	// Kafka answers them.
	for v, want := range map[int16]*kerr.Error{0: kerr.InvalidProducerEpoch, 1: kerr.InvalidProducerEpoch,
		2: kerr.ProducerFenced, 3: kerr.ProducerFenced, 4: kerr.ProducerFenced} {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(int16(kmsg.EndTxn), v)
		raw := txnTestClient(t, addr, kgo.MaxVersions(vs))
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tx-1", zpid, zepoch, true
		resp, err := req.RequestWith(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := kerr.ErrorForCode(resp.ErrorCode); got != want {
			t.Errorf("zombie EndTxn v%d: %v, want %v", v, got, want)
		}
	}
	committed = consumeAll(t, addr, "t", true, 5)
	if fmt.Sprint(committed) != "[0-a 0-b 2-a 2-b new]" {
		t.Fatalf("read_committed after fencing: %v", committed)
	}
}

// Transaction protocol version 2 (KIP-890 part 2) over the wire, with raw
// requests: implicit adds by Produce v12+ and TxnOffsetCommit v5, the
// epoch bump of EndTxn v5 (the feature in ApiVersions is tested in
// 18_api_versions_test.go).

func initTxnID(t *testing.T, cl *kgo.Client, id string) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp.ProducerID, resp.ProducerEpoch
}

func endTxnRaw(t *testing.T, cl *kgo.Client, id string, pid int64, epoch int16, commit bool) *kmsg.EndTxnResponse {
	t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func describeTxn(t *testing.T, cl *kgo.Client, id string) kadm.DescribedTransaction {
	t.Helper()
	dt, err := kadm.NewClient(cl).DescribeTransactions(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dt.On(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTV2ProduceAndEndTxn: a transactional Produce v12+ (the client's
// v13) to a partition
// never added joins the transaction; EndTxn v5 commits with the epoch
// bumped (markers carry it) and answers the new epoch; a late write with
// the old epoch is refused; TxnOffsetCommit v5 needs no AddOffsetsToTxn.
//
// Other APIs it uses: CreateTopics, InitProducerID, Produce,
// TxnOffsetCommit, DescribeTransactions, OffsetFetch, Fetch.
func TestTV2ProduceAndEndTxn(t *testing.T) {
	b, addr, _ := startBrokerIn(t, t.TempDir(), nil)
	ctx := context.Background()
	cl := txnTestClient(t, addr)
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "tv2", "in"); err != nil {
		t.Fatal(err)
	}
	id := "tv2-txn"
	pid, epoch := initTxnID(t, cl, id)

	if code := txnProduce(t, b, cl, id, "tv2", pid, epoch, 0); code != 0 {
		t.Fatalf("produce v13 to an unadded partition: %v", kerr.ErrorForCode(code))
	}
	if code := txnProduce(t, b, cl, id, "tv2", pid, epoch, 1); code != 0 {
		t.Fatalf("second produce: %v", kerr.ErrorForCode(code))
	}
	d := describeTxn(t, cl, id)
	if d.State != "Ongoing" || len(d.Topics["tv2"]) != 1 {
		t.Fatalf("after produce: state %s topics %+v", d.State, d.Topics)
	}
	part, _ := b.replicas.Partition("tv2", 0)
	if lso := part.LastStableOffset(); lso != 0 {
		t.Fatalf("LSO %d with the transaction open, want 0", lso)
	}

	// Offsets of the transaction, without AddOffsetsToTxn.
	oreq := kmsg.NewPtrTxnOffsetCommitRequest()
	oreq.Version = 5
	oreq.TransactionalID, oreq.ProducerID, oreq.ProducerEpoch, oreq.Group, oreq.Generation = id, pid, epoch, "tv2-group", -1
	ot := kmsg.NewTxnOffsetCommitRequestTopic()
	ot.Topic = "in"
	op := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	op.Offset, op.LeaderEpoch = 7, -1
	ot.Partitions = append(ot.Partitions, op)
	oreq.Topics = append(oreq.Topics, ot)
	oresp, err := oreq.RequestWith(ctx, cl)
	if err != nil || oresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("txn offset commit v5: %v %+v", err, oresp)
	}
	d = describeTxn(t, cl, id)
	if len(d.Topics[group.OffsetsTopic]) != 1 {
		t.Fatalf("offsets partition not in the transaction: %+v", d.Topics)
	}

	r := endTxnRaw(t, cl, id, pid, epoch, true)
	if r.Version < 5 || r.ErrorCode != 0 || r.ProducerID != pid || r.ProducerEpoch != epoch+1 {
		t.Fatalf("end txn v%d: %v, producer %d/%d, want %d/%d", r.Version, kerr.ErrorForCode(r.ErrorCode), r.ProducerID, r.ProducerEpoch, pid, epoch+1)
	}
	if lso, hw := part.LastStableOffset(), part.HighWatermark(); lso != 3 || hw != 3 {
		t.Fatalf("after commit: LSO %d HW %d, want 3 (two records and the marker)", lso, hw)
	}
	var markerEpoch int16 = -1
	for _, p := range part.ActiveProducers() {
		if p.ProducerID == pid {
			markerEpoch = p.ProducerEpoch
		}
	}
	if markerEpoch != epoch+1 {
		t.Fatalf("partition's producer epoch %d after the marker, want %d", markerEpoch, epoch+1)
	}
	waitOffset(t, cl, "tv2-group", "in", 7)

	// A late write of the ended transaction is fenced by the marker.
	if code := txnProduce(t, b, cl, id, "tv2", pid, epoch, 2); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("late write with the old epoch: %v", kerr.ErrorForCode(code))
	}
	// A retry of the commit is answered with the new epoch.
	if r := endTxnRaw(t, cl, id, pid, epoch, true); r.ErrorCode != 0 || r.ProducerEpoch != epoch+1 {
		t.Fatalf("retried commit: %v epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch)
	}
	// The next transaction runs at the new epoch, from sequence 0, and
	// aborts with another bump.
	epoch++
	if code := txnProduce(t, b, cl, id, "tv2", pid, epoch, 0); code != 0 {
		t.Fatalf("next transaction's write: %v", kerr.ErrorForCode(code))
	}
	if r := endTxnRaw(t, cl, id, pid, epoch, false); r.ErrorCode != 0 || r.ProducerEpoch != epoch+1 {
		t.Fatalf("abort: %v epoch %d", kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch)
	}
	if got := consumeAll(t, addr, "tv2", true, 3); len(got) != 2 {
		t.Fatalf("read_committed sees %d records, want the 2 committed", len(got))
	}
}

// TestTV2Disabled: with samsa.transaction.version=1 the feature is
// finalized at 1, a Produce v13 to an unadded partition is refused
// (part 1 verification) and EndTxn v5 keeps the epoch.
//
// Other APIs it uses: ApiVersions, CreateTopics, InitProducerID, Produce,
// AddPartitionsToTxn.
func TestTV2Disabled(t *testing.T) {
	b, addr, _ := startBrokerIn(t, t.TempDir(), map[string]string{"samsa.transaction.version": "1"})
	ctx := context.Background()
	cl := txnTestClient(t, addr)
	if _, _, fin, _ := apiFeatures(t, cl); fin != 1 {
		t.Fatalf("finalized transaction.version %d, want 1", fin)
	}
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "tv1"); err != nil {
		t.Fatal(err)
	}
	id := "tv1-txn"
	pid, epoch := initTxnID(t, cl, id)
	if code := txnProduce(t, b, cl, id, "tv1", pid, epoch, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("produce v13 to an unadded partition at level 1: %v", kerr.ErrorForCode(code))
	}
	areq := kmsg.NewPtrAddPartitionsToTxnRequest()
	areq.TransactionalID, areq.ProducerID, areq.ProducerEpoch = id, pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "tv1", []int32{0}
	areq.Topics = append(areq.Topics, at)
	if aresp, err := areq.RequestWith(ctx, cl); err != nil || aresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partitions: %v %+v", err, aresp)
	}
	if code := txnProduce(t, b, cl, id, "tv1", pid, epoch, 0); code != 0 {
		t.Fatalf("produce to the added partition: %v", kerr.ErrorForCode(code))
	}
	if r := endTxnRaw(t, cl, id, pid, epoch, true); r.ErrorCode != 0 || r.ProducerEpoch != epoch {
		t.Fatalf("end txn v%d at level 1: %v epoch %d, want %d", r.Version, kerr.ErrorForCode(r.ErrorCode), r.ProducerEpoch, epoch)
	}
}

// TestTV2FranzGo: franz-go opts into transaction protocol version 2
// against the broker (it reads the finalized transaction.version from
// ApiVersions; its first transaction may still run version 1, after which
// it re-initialises and opts in): from then on each commit bumps the
// epoch by one.
//
// Other APIs it uses: ApiVersions, CreateTopics, FindCoordinator,
// InitProducerID, AddPartitionsToTxn, Produce, DescribeTransactions,
// Fetch.
func TestTV2FranzGo(t *testing.T) {
	_, addr, _ := startBrokerIn(t, t.TempDir(), nil)
	ctx := context.Background()
	if _, err := kadm.NewClient(txnTestClient(t, addr)).CreateTopic(ctx, 1, 1, nil, "fg"); err != nil {
		t.Fatal(err)
	}
	p := txnTestClient(t, addr, kgo.TransactionalID("fg-tx"), kgo.DefaultProduceTopic("fg"))
	epochs := []int16{}
	for i := 0; i < 3; i++ {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceSync(ctx, kgo.StringRecord("v")).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		epochs = append(epochs, describeTxn(t, p, "fg-tx").ProducerEpoch)
	}
	if epochs[2] != epochs[1]+1 {
		t.Fatalf("epochs after three commits %v: want a bump per commit once version 2 runs", epochs)
	}
	if got := consumeAll(t, addr, "fg", true, 3); len(got) != 3 {
		t.Fatalf("read_committed sees %d records", len(got))
	}
}
