package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnOffsetsClient drives one transactional id with raw requests of
// transaction protocol version 1 (AddOffsetsToTxn, EndTxn v4).
type txnOffsetsClient struct {
	t     *testing.T
	cl    *kgo.Client
	id    string
	pid   int64
	epoch int16
}

func newTxnOffsetsClient(t *testing.T, cl *kgo.Client, id string) *txnOffsetsClient {
	t.Helper()
	c := &txnOffsetsClient{t: t, cl: cl, id: id}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	c.pid, c.epoch = resp.ProducerID, resp.ProducerEpoch
	return c
}

// commitOffset adds the group to the transaction and sends one offset.
func (c *txnOffsetsClient) commitOffset(groupID, topic string, offset int64) {
	c.t.Helper()
	ctx := context.Background()
	areq := kmsg.NewPtrAddOffsetsToTxnRequest()
	areq.TransactionalID, areq.ProducerID, areq.ProducerEpoch, areq.Group = c.id, c.pid, c.epoch, groupID
	aresp, err := areq.RequestWith(ctx, c.cl)
	if err != nil || aresp.ErrorCode != 0 {
		c.t.Fatalf("add offsets: %v %v", err, kerr.ErrorForCode(aresp.ErrorCode))
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 4 // v5 belongs to transaction protocol version 2
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group, req.Generation = c.id, c.pid, c.epoch, groupID, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Offset, rp.LeaderEpoch = offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		c.t.Fatalf("txn offset commit: %v %+v", err, resp)
	}
}

func (c *txnOffsetsClient) end(commit bool) {
	c.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.Version = 4 // v5 belongs to transaction protocol version 2
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = c.id, c.pid, c.epoch, commit
	resp, err := req.RequestWith(context.Background(), c.cl)
	if err != nil || resp.ErrorCode != 0 {
		c.t.Fatalf("end txn: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestTxnOffsetsCommitAtMarker: transactional offsets are pending (an
// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT, one
// without does not see them) until the commit marker; an aborted
// transaction's offsets never apply; both survive a restart (the
// replay resolves them by their markers).
//
// Other APIs it uses: CreateTopics, InitProducerID, AddOffsetsToTxn,
// EndTxn, OffsetFetch.
func TestTxnOffsetsCommitAtMarker(t *testing.T) {
	dir := t.TempDir()
	_, addr, stop := startBrokerIn(t, dir, nil)
	ctx := context.Background()
	cl := tv1Client(t, addr)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	c := newTxnOffsetsClient(t, cl, "offsets-tx")
	c.commitOffset("g", "in", 10)
	if code, _ := fetchOffset(t, cl, "g", "in", true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable with a pending offset: %v", kerr.ErrorForCode(code))
	}
	if code, off := fetchOffset(t, cl, "g", "in", false); code != 0 || off != -1 {
		t.Fatalf("without require_stable: %v offset %d, want no offset", kerr.ErrorForCode(code), off)
	}
	if code, _ := fetchOffset(t, cl, "other", "in", true); code != 0 {
		t.Fatalf("require_stable for another group: %v", kerr.ErrorForCode(code))
	}
	c.end(true)
	waitOffset(t, cl, "g", "in", 10)

	c.commitOffset("g", "in", 20)
	c.end(false)
	waitOffset(t, cl, "g", "in", 10)

	stop()
	_, addr, _ = startBrokerIn(t, dir, nil)
	cl = tv1Client(t, addr)
	waitOffset(t, cl, "g", "in", 10)
}

// TestTxnOffsetsCrashBeforeMarker: the broker stops after the transaction
// is prepared to commit but before its marker reaches __consumer_offsets;
// after the restart the coordinator completes it and the offsets are
// committed.
//
// Other APIs it uses: CreateTopics, InitProducerID, AddOffsetsToTxn,
// EndTxn, OffsetFetch, DescribeTransactions.
func TestTxnOffsetsCrashBeforeMarker(t *testing.T) {
	dir := t.TempDir()
	b, addr, stop := startBrokerIn(t, dir, nil)
	b.replicas.FailMarkers(func(topic string, _ int32) bool { return topic == group.OffsetsTopic })
	ctx := context.Background()
	cl := tv1Client(t, addr)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "in"); err != nil {
		t.Fatal(err)
	}
	c := newTxnOffsetsClient(t, cl, "crash-tx")
	c.commitOffset("g", "in", 42)
	c.end(true) // PrepareCommit written; the offsets marker fails
	dt, err := kadm.NewClient(cl).DescribeTransactions(ctx, "crash-tx")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := dt.On("crash-tx", nil); d.State != "PrepareCommit" {
		t.Fatalf("state %q, want PrepareCommit", d.State)
	}
	if code, _ := fetchOffset(t, cl, "g", "in", true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable before the marker: %v", kerr.ErrorForCode(code))
	}
	stop()

	_, addr, _ = startBrokerIn(t, dir, nil)
	cl = tv1Client(t, addr)
	waitOffset(t, cl, "g", "in", 42)
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(20 * time.Second)
	for {
		dt, err := adm.DescribeTransactions(ctx, "crash-tx")
		if err == nil {
			if d, _ := dt.On("crash-tx", nil); d.State == "CompleteCommit" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction not completed after restart: %v %v", dt, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
