package broker

// AddOffsetsToTxn, versions 0 to 4.
//
// The group's __consumer_offsets partition joins the producer's
// transaction, so that offsets sent with TxnOffsetCommit are committed
// with it. Errors as for AddPartitionsToTxn.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(25, 0, 4, handleAddOffsetsToTxn) }

func handleAddOffsetsToTxn(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.AddOffsetsToTxnRequest)
	c, code := b.txnsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.AddOffsetsToTxn(ctx, req), nil
}
