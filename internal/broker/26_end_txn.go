package broker

// EndTxn, versions 0 to 5.
//
// Commits or aborts the producer's transaction: the coordinator records
// PrepareCommit or PrepareAbort in __transaction_state, writes the markers
// to every partition of the transaction (in process to the partitions this
// node leads, as WriteTxnMarkers to the other leaders) and records the
// completion before answering. Ending an already
// ended transaction the same way succeeds (a retry); the other way is
// INVALID_TXN_STATE. Version 5, while the cluster's transaction.version is
// 2, runs transaction protocol version 2 (KIP-890 part 2): every commit
// and abort bumps the producer epoch (markers carry the new epoch), the
// response carries the producer id and epoch to continue with (a new
// producer id at epoch 0 once the epoch is exhausted), and the request's
// epoch tells a retry from the next transaction (see txn.Coordinator.EndTxn).

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
