package broker

// InitProducerId, versions 0 to 5, for idempotent producers (no
// transactional.id).
//
// Hands out a fresh producer id with epoch 0. Ids come from blocks of 1000
// reserved in the metadata log (metadata.Store.AllocateProducerIDs), so they
// are unique cluster-wide and never reused after a restart. As in Kafka's
// transaction coordinator, a request without a transactional id always gets
// a new id: the producer id and epoch a v3+ client sends to recover (KIP-360)
// are not bumped but replaced, which resets the client's sequences just the
// same (Java producers bump the epoch of an idempotent producer themselves).
// A v3+ request where exactly one of producer id and epoch is -1 gets
// INVALID_REQUEST. A request with a transactional id goes to the
// transaction coordinator (internal/txn), which bumps the id's epoch and
// fences older instances.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(22, 0, 5, handleInitProducerID) }

func handleInitProducerID(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.InitProducerIDRequest)
	if req.TransactionalID != nil {
		c, code := b.txnsOrCode(rc)
		if code != 0 {
			resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
			resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
			return resp, nil
		}
		return c.InitProducerID(ctx, req), nil
	}
	return initProducerID(ctx, b, req), nil
}

func initProducerID(ctx context.Context, env *Broker, req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if req.Version >= 3 && (req.ProducerID == -1) != (req.ProducerEpoch == -1) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	id, err := env.replicas.AllocateProducerID(ctx)
	if err != nil {
		resp.ErrorCode, _ = errCode(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
