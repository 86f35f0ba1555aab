package broker

// DescribeTransactions, version 0.
//
// The state, timeout, start time, producer id and epoch and partitions of
// each transactional id; TRANSACTIONAL_ID_NOT_FOUND for unknown ones.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(65, 0, 0, handleDescribeTransactions) }

func handleDescribeTransactions(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DescribeTransactionsRequest)
	c, code := b.txnsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
		for _, id := range req.TransactionalIDs {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode = id, code
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
		return resp, nil
	}
	return c.DescribeTransactions(req), nil
}
