package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestListTransactions: the transactional ids with their producer ids and
// states, filtered by state (unknown state names echoed back), producer
// id and transactional id pattern (v2); an invalid pattern gets
// INVALID_REGULAR_EXPRESSION. Without a transaction coordinator the
// answer is COORDINATOR_NOT_AVAILABLE. Other APIs it uses: CreateTopics,
// InitProducerID, AddPartitionsToTxn.
func TestListTransactions(t *testing.T) {
	env := newCoordinatorEnv(t)
	createTopic(t, env, "t", 1, nil)
	pidA, epochA := initTxn(t, env, "app-a")
	pidB, _ := initTxn(t, env, "app-b")
	initTxn(t, env, "other")
	if p := serveReq(t, env, addPartitionsReq("app-a", pidA, epochA, "t", 0)).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("add partitions: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	list := func(states []string, pids []int64, pattern *string) *kmsg.ListTransactionsResponse {
		t.Helper()
		req := kmsg.NewPtrListTransactionsRequest()
		req.SetVersion(2)
		req.StateFilters, req.ProducerIDFilters, req.TransactionalIDPattern = states, pids, pattern
		req.DurationFilterMillis = -1
		return serveReq(t, env, req).(*kmsg.ListTransactionsResponse)
	}
	ids := func(resp *kmsg.ListTransactionsResponse) map[string]string {
		t.Helper()
		if resp.ErrorCode != 0 {
			t.Fatalf("list: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		out := map[string]string{}
		for _, s := range resp.TransactionStates {
			out[s.TransactionalID] = s.TransactionState
		}
		return out
	}
	all := list(nil, nil, nil)
	if got := ids(all); len(got) != 3 || got["app-a"] != "Ongoing" || got["app-b"] != "Empty" || got["other"] != "Empty" {
		t.Fatalf("all: %v", got)
	}
	if s := all.TransactionStates[0]; s.TransactionalID != "app-a" || s.ProducerID != pidA {
		t.Fatalf("first listed: %+v", s)
	}
	ongoing := list([]string{"Ongoing", "Sleeping"}, nil, nil)
	if got := ids(ongoing); len(got) != 1 || got["app-a"] == "" || len(ongoing.UnknownStateFilters) != 1 || ongoing.UnknownStateFilters[0] != "Sleeping" {
		t.Fatalf("Ongoing: %v, unknown filters %v", got, ongoing.UnknownStateFilters)
	}
	if got := ids(list(nil, []int64{pidB}, nil)); len(got) != 1 || got["app-b"] == "" {
		t.Fatalf("producer %d: %v", pidB, got)
	}
	if got := ids(list(nil, nil, strPtr("app-.*"))); len(got) != 2 || got["other"] != "" {
		t.Fatalf("app-.*: %v", got)
	}
	if r := list(nil, nil, strPtr("app-(")); r.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Fatalf("invalid pattern: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	env.replicas.CloseTxns()
	if r := list(nil, nil, nil); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
