package broker

// AddPartitionsToTxn, versions 0 to 5.
//
// Versions 0 to 3 come from producers: the partitions join the producer's
// transaction (opening it). Versions 4 and 5 batch several transactions,
// each possibly VerifyOnly, as partition leaders send them to check that a
// transactional produce belongs to an open transaction (KIP-890 part 1).
// Answers follow Kafka's transaction coordinator (internal/txn): unknown
// partitions get UNKNOWN_TOPIC_OR_PARTITION and the rest of the request
// OPERATION_NOT_ATTEMPTED; a stale epoch PRODUCER_FENCED
// (INVALID_PRODUCER_EPOCH before v2); a transaction still being completed
// CONCURRENT_TRANSACTIONS.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(24, 0, 5, handleAddPartitionsToTxn) }

func handleAddPartitionsToTxn(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.AddPartitionsToTxnRequest)
	c, code := b.txnsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		if req.Version >= 4 {
			resp.ErrorCode = code
			return resp, nil
		}
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	return c.AddPartitionsToTxn(ctx, req), nil
}
