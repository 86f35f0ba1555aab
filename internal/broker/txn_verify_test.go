package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnProduce sends one transactional batch of one record to topic-0 and
// returns the partition's error code. The client picks the Produce
// version: v11 for tv1Client (transaction protocol version 1), v13 for an
// uncapped client.
func txnProduce(t *testing.T, b *Broker, cl *kgo.Client, id, topic string, pid int64, epoch int16, seq int32) int16 {
	t.Helper()
	spec := record.DefaultBatchSpec()
	spec.Transactional, spec.ProducerID, spec.ProducerEpoch, spec.BaseSequence = true, pid, epoch, seq
	spec.BaseTimestamp = time.Now().UnixMilli()
	bld := record.NewBuilder(spec)
	if err := bld.Append(record.Record{Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	batch, err := bld.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic // v13+ names topics by id
	if tt := b.meta.Image().Topic(topic); tt != nil {
		rt.TopicID = tt.ID
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// TestProduceVerifiesTransaction: KIP-890 part 1. A transactional write to
// a partition never added to the transaction gets INVALID_TXN_STATE and
// opens nothing there; after the transaction ends, a write needs the
// partition added again.
func TestProduceVerifiesTransaction(t *testing.T) {
	b, addr, _ := startBrokerIn(t, t.TempDir(), nil)
	ctx := context.Background()
	cl := tv1Client(t, addr)
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "added", "other"); err != nil {
		t.Fatal(err)
	}
	id := "verify"
	ireq := kmsg.NewPtrInitProducerIDRequest()
	ireq.TransactionalID, ireq.TransactionTimeoutMillis = &id, 60000
	iresp, err := ireq.RequestWith(ctx, cl)
	if err != nil || iresp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(iresp.ErrorCode))
	}
	pid, epoch := iresp.ProducerID, iresp.ProducerEpoch

	// Before any AddPartitionsToTxn: no transaction is open.
	if code := txnProduce(t, b, cl, id, "added", pid, epoch, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("write before the transaction began: %v", kerr.ErrorForCode(code))
	}
	areq := kmsg.NewPtrAddPartitionsToTxnRequest()
	areq.Version = 3
	areq.TransactionalID, areq.ProducerID, areq.ProducerEpoch = id, pid, epoch
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "added", []int32{0}
	areq.Topics = append(areq.Topics, at)
	aresp, err := areq.RequestWith(ctx, cl)
	if err != nil || aresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("add partitions: %v %+v", err, aresp)
	}
	if code := txnProduce(t, b, cl, id, "other", pid, epoch, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("write to a partition not in the transaction: %v", kerr.ErrorForCode(code))
	}
	if code := txnProduce(t, b, cl, id, "added", pid, epoch, 0); code != 0 {
		t.Fatalf("write to the added partition: %v", kerr.ErrorForCode(code))
	}
	if code := txnProduce(t, b, cl, id, "added", pid, epoch, 1); code != 0 {
		t.Fatalf("second write to the added partition: %v", kerr.ErrorForCode(code))
	}
	// The refused write opened no transaction on "other".
	other, ok := b.replicas.Partition("other", 0)
	if !ok {
		t.Fatal("no partition other-0")
	}
	if lso, hw := other.LastStableOffset(), other.HighWatermark(); lso != hw || len(other.ActiveProducers()) != 0 {
		t.Fatalf("other-0: LSO %d HW %d producers %+v", lso, hw, other.ActiveProducers())
	}

	ereq := kmsg.NewPtrEndTxnRequest()
	ereq.Version = 4
	ereq.TransactionalID, ereq.ProducerID, ereq.ProducerEpoch, ereq.Commit = id, pid, epoch, true
	eresp, err := ereq.RequestWith(ctx, cl)
	if err != nil || eresp.ErrorCode != 0 {
		t.Fatalf("end txn: %v %v", err, kerr.ErrorForCode(eresp.ErrorCode))
	}
	// The transaction is over: writing again needs AddPartitionsToTxn.
	if code := txnProduce(t, b, cl, id, "added", pid, epoch, 2); code != kerr.InvalidTxnState.Code {
		t.Fatalf("write after the commit: %v", kerr.ErrorForCode(code))
	}
	added, _ := b.replicas.Partition("added", 0)
	if lso, hw := added.LastStableOffset(), added.HighWatermark(); lso != hw || hw != 3 {
		t.Fatalf("added-0: LSO %d HW %d, want both 3 (two records and the marker)", lso, hw)
	}
}
