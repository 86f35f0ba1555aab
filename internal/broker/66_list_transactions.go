package broker

// ListTransactions, versions 0 to 2.
//
// Lists the transactional ids this node coordinates, filtered by state
// (unknown state names are echoed in UnknownStateFilters), producer id,
// duration (v1: transactions running longer than this many ms) and a
// transactional id regular expression (v2, KIP-1152).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(66, 0, 2, handleListTransactions) }

func handleListTransactions(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ListTransactionsRequest)
	c, code := b.txnsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.ListTransactions(req), nil
}
