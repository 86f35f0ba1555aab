package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeTransactions: a transactional id's state, timeout, start
// time, producer id and epoch and partitions, before and after its
// transaction opens; an unknown id gets TRANSACTIONAL_ID_NOT_FOUND.
// Without a transaction coordinator each id gets
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics,
// InitProducerID, AddPartitionsToTxn.
func TestDescribeTransactions(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 2, nil)
	pid, epoch := initTxn(t, env, "tx")
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.SetVersion(0)
	req.TransactionalIDs = []string{"tx", "nope"}
	describe := func() []kmsg.DescribeTransactionsResponseTransactionState {
		t.Helper()
		states := serveReq(t, env, req).(*kmsg.DescribeTransactionsResponse).TransactionStates
		if len(states) != 2 || states[0].TransactionalID != "tx" || states[1].TransactionalID != "nope" {
			t.Fatalf("states %+v", states)
		}
		return states
	}
	states := describe()
	if s := states[0]; s.ErrorCode != 0 || s.State != "Empty" || s.ProducerID != pid || s.ProducerEpoch != epoch || s.TimeoutMillis != 60000 || len(s.Topics) != 0 {
		t.Fatalf("before the transaction: %+v", s)
	}
	if s := states[1]; s.ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("unknown id: %v", kerr.ErrorForCode(s.ErrorCode))
	}

	add := addPartitionsReq("tx", pid, epoch, "t", 1, 0)
	if p := serveReq(t, env, add).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions; p[0].ErrorCode != 0 || p[1].ErrorCode != 0 {
		t.Fatalf("add partitions: %+v", p)
	}
	s := describe()[0]
	if s.ErrorCode != 0 || s.State != "Ongoing" || s.StartTimestamp <= 0 || len(s.Topics) != 1 || s.Topics[0].Topic != "t" ||
		len(s.Topics[0].Partitions) != 2 || s.Topics[0].Partitions[0] != 0 || s.Topics[0].Partitions[1] != 1 {
		t.Fatalf("ongoing: %+v", s)
	}

	env.replicas.CloseTxns()
	for _, s := range serveReq(t, env, req).(*kmsg.DescribeTransactionsResponse).TransactionStates {
		if s.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("without a coordinator: %s %v", s.TransactionalID, kerr.ErrorForCode(s.ErrorCode))
		}
	}
}
