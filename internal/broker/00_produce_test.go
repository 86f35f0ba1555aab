package broker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceConsumeRoundTrip produces 300 records to three partitions and
// consumes them all back, in offset order per partition. Other APIs it
// uses: Metadata (the topic is auto-created), Fetch (in a fetch session).
func TestProduceConsumeRoundTrip(t *testing.T) {
	n := startNode(t, map[string]string{"num.partitions": "3"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prod := n.client(t, kgo.DefaultProduceTopic("events"), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	const count = 300
	want := map[string]string{}
	for i := 0; i < count; i++ {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d", i)
		want[k] = v
		prod.Produce(ctx, &kgo.Record{Key: []byte(k), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cons := n.client(t, kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	lastOffset := map[int32]int64{}
	for len(got) < count {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(got), count, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if prev, ok := lastOffset[r.Partition]; ok && r.Offset != prev+1 {
				t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
			}
			lastOffset[r.Partition] = r.Offset
			got[string(r.Key)] = string(r.Value)
		})
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %s: got %q want %q", k, got[k], v)
		}
	}
	if len(lastOffset) != 3 {
		t.Errorf("records in %d partitions, want 3", len(lastOffset))
	}
	if n.b.sessions.len() == 0 {
		t.Errorf("the consumer fetched without a fetch session")
	}
}

// TestLargeProduceFramesRecycled produces requests big enough that their
// frames are read into recycled buffers (which race-enabled builds overwrite
// as they are recycled), pipelined on one connection with acks=1 and acks=all,
// and reads every record back: nothing of a request may be used after the
// server reuses its frame. Every produce request of 16 KiB or more (each of
// a pooled size) must be recycled, and most read into a reused buffer.
//
// Other APIs it uses: Metadata (the topics are auto-created), Fetch.
func TestLargeProduceFramesRecycled(t *testing.T) {
	n := startNode(t, map[string]string{"num.partitions": "4"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const count, size = 2000, 3000
	value := func(i int) []byte {
		v := bytes.Repeat([]byte{byte(i)}, size)
		copy(v, fmt.Sprintf("record-%d|", i))
		return v
	}
	var bigProduces atomic.Int64
	hook := produceSizeHook(func(size int) {
		if size >= 16<<10 {
			bigProduces.Add(1)
		}
	})
	recycled0, reused0 := server.FrameStats()
	for _, level := range []int{1, -1} {
		acks, topic := kgo.AllISRAcks(), fmt.Sprintf("recycled-%d", level)
		if level == 1 {
			acks = kgo.LeaderAck()
		}
		opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(acks),
			kgo.ProducerLinger(5 * time.Millisecond), kgo.ProducerBatchMaxBytes(32 << 10),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.WithHooks(hook)}
		if level == 1 {
			opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
		}
		prod := n.client(t, opts...)
		for i := 0; i < count; i++ {
			prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: value(i)}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cons := n.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen := map[int]bool{}
		for len(seen) < count {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("acks %d: consumed %d of %d: %v", level, len(seen), count, err)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				i, err := strconv.Atoi(string(r.Key))
				if err != nil || !bytes.Equal(r.Value, value(i)) || seen[i] {
					t.Fatalf("acks %d: record at %d/%d (key %q) is wrong or repeated", level, r.Partition, r.Offset, r.Key)
				}
				seen[i] = true
			})
		}
	}
	recycled1, reused1 := server.FrameStats()
	recycled, reused, big := recycled1-recycled0, reused1-reused0, bigProduces.Load()
	t.Logf("%d produce requests of 16 KiB or more, %d frames recycled, %d read into a reused buffer", big, recycled, reused)
	if big < 20 {
		t.Fatalf("only %d produce requests of 16 KiB or more: the test does not exercise the frame pool", big)
	}
	if recycled < big {
		t.Errorf("%d frames recycled for %d produce requests of pooled sizes", recycled, big)
	}
	// The race detector drops a quarter of what is put in a sync.Pool,
	// and a collection empties the pools: allow for both.
	if reused < big/2 {
		t.Errorf("%d of %d produce requests of pooled sizes were read into a reused buffer", reused, big)
	}
}

// produceSizeHook calls fn with the frame size (size prefix excluded) of
// every Produce request the client writes.
type produceSizeHook func(size int)

func (h produceSizeHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, written int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		h(written - 4)
	}
}

// TestProduceVerifiesTransaction: KIP-890 part 1. A transactional write to
// a partition never added to the transaction gets INVALID_TXN_STATE and
// opens nothing there; after the transaction ends, a write needs the
// partition added again.
//
// Other APIs it uses: CreateTopics, InitProducerID, AddPartitionsToTxn,
// EndTxn.
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

// TestProduceAcksOnlyDurableRecords: a produce with acks=1 is answered
// once its records are fsynced, not once they are written. When the fsync
// fails the partition answers KAFKA_STORAGE_ERROR, never success, and the
// records stay invisible to consumers.
func TestProduceAcksOnlyDurableRecords(t *testing.T) {
	ff := vfs.NewFaulty(vfs.OS)
	n := startNodeWith(t, nil, Options{FS: ff})
	cl := n.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "durable"); err != nil {
		t.Fatal(err)
	}
	// Every fsync of a segment fails from here on (the metadata log is
	// raft.wal, not matched).
	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log"})

	spec := record.DefaultBatchSpec()
	spec.BaseTimestamp = time.Now().UnixMilli()
	batch, err := record.EncodeBatch(spec, []record.Record{{Value: []byte("lost")}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "durable"
	if tt := n.b.meta.Image().Topic("durable"); tt != nil {
		rt.TopicID = tt.ID // v13+ names topics by id
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce whose fsync failed: %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
	}

	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := lo.Lookup("durable", 0); !ok || o.Err != nil || o.Offset != 0 {
		t.Fatalf("end offset after the failed produce: %+v, want 0 (nothing committed)", o)
	}
}
