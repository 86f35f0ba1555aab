package broker

// EndTxn, versions 0 to 5.
//
// Commits or aborts the producer's transaction: the coordinator records
// PrepareCommit or PrepareAbort in __transaction_state, writes the markers
// to every partition of the transaction (in process: this node leads them
// all) and records the completion before answering. Ending an already
// ended transaction the same way succeeds (a retry); the other way is
// INVALID_TXN_STATE. Version 5 answers with the producer id and epoch,
// unchanged (transaction protocol version 2, which bumps the epoch with
// every transaction, is not served).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(26, 0, 5, handleEndTxn) }

func handleEndTxn(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.EndTxnRequest)
	c, code := b.txnsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
		return resp, nil
	}
	return c.EndTxn(ctx, req), nil
}
