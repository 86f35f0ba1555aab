package broker

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAddPartitionsToTxn: a producer's partitions join its transaction,
// which is then Ongoing with them; an unknown partition gets
// UNKNOWN_TOPIC_OR_PARTITION and the rest of the request
// OPERATION_NOT_ATTEMPTED; an older epoch PRODUCER_FENCED
// (INVALID_PRODUCER_EPOCH before v2). A partition leader's verify-only
// request (v4+) answers whether each partition is in the transaction
// (INVALID_TXN_STATE if not). Without a transaction coordinator the
// answer is COORDINATOR_NOT_AVAILABLE, per partition (v0-v3) or for the
// request (v4+). Other APIs it uses: CreateTopics, InitProducerID.
func TestAddPartitionsToTxn(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 3, nil)
	pid, epoch := initTxn(t, env, "tx")
	codes := func(resp *kmsg.AddPartitionsToTxnResponse) map[string]int16 {
		out := map[string]int16{}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				out[txn.TopicPartition{Topic: rt.Topic, Partition: p.Partition}.String()] = p.ErrorCode
			}
		}
		return out
	}

	resp := serveReq(t, env, addPartitionsReq("tx", pid, epoch, "t", 0, 1)).(*kmsg.AddPartitionsToTxnResponse)
	if got := codes(resp); len(got) != 2 || got["t-0"] != 0 || got["t-1"] != 0 {
		t.Fatalf("add: %v", got)
	}
	c, err := env.replicas.Txns()
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := c.Transaction("tx"); !ok || m.State != txn.Ongoing || len(m.Partitions) != 2 {
		t.Fatalf("transaction after the add: %+v", m)
	}

	unknown := addPartitionsReq("tx", pid, epoch, "t", 2)
	nope := kmsg.NewAddPartitionsToTxnRequestTopic()
	nope.Topic, nope.Partitions = "nope", []int32{0}
	unknown.Topics = append(unknown.Topics, nope)
	got := codes(serveReq(t, env, unknown).(*kmsg.AddPartitionsToTxnResponse))
	if got["t-2"] != kerr.OperationNotAttempted.Code || got["nope-0"] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("with an unknown partition: %v", got)
	}

	verify := kmsg.NewPtrAddPartitionsToTxnRequest()
	verify.SetVersion(4)
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "tx", pid, epoch, true
	vt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	vt.Topic, vt.Partitions = "t", []int32{0, 2}
	tx.Topics = append(tx.Topics, vt)
	verify.Transactions = append(verify.Transactions, tx)
	vresp := serveReq(t, env, verify).(*kmsg.AddPartitionsToTxnResponse)
	if vresp.ErrorCode != 0 || len(vresp.Transactions) != 1 {
		t.Fatalf("verify: %+v", vresp)
	}
	if ps := vresp.Transactions[0].Topics[0].Partitions; ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("verify t-0 (added) and t-2 (not): %+v", ps)
	}

	// A second initialisation bumps the epoch of an id with no open
	// transaction: requests at the old epoch are fenced.
	pid2, epoch2 := initTxn(t, env, "tx2")
	if p, e := initTxn(t, env, "tx2"); p != pid2 || e != epoch2+1 {
		t.Fatalf("second initialisation: producer %d/%d", p, e)
	}
	old := addPartitionsReq("tx2", pid2, epoch2, "t", 0)
	if got := codes(serveReq(t, env, old).(*kmsg.AddPartitionsToTxnResponse)); got["t-0"] != kerr.ProducerFenced.Code {
		t.Fatalf("v3 at an old epoch: %v", kerr.ErrorForCode(got["t-0"]))
	}
	old.SetVersion(1)
	if got := codes(serveReq(t, env, old).(*kmsg.AddPartitionsToTxnResponse)); got["t-0"] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("v1 at an old epoch: %v", kerr.ErrorForCode(got["t-0"]))
	}

	env.replicas.CloseTxns()
	if got := codes(serveReq(t, env, addPartitionsReq("tx", pid, epoch, "t", 2)).(*kmsg.AddPartitionsToTxnResponse)); got["t-2"] != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("v3 without a coordinator: %v", got)
	}
	if r := serveReq(t, env, verify).(*kmsg.AddPartitionsToTxnResponse); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("v4 without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
