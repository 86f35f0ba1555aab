package broker

// CreatePartitions, versions 0 to 3.
//
// Grows each topic to count partitions (metadata.Store.CreatePartitions),
// with an optional explicit assignment of the new partitions' replicas.
// validate_only checks and changes nothing. Errors with messages:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (fewer or as many
// partitions as now), INVALID_REPLICA_ASSIGNMENT, INVALID_REPLICATION_FACTOR,
// INVALID_REQUEST for a topic named twice, POLICY_VIOLATION for more new
// partitions than samsa.max.partitions.per.request over all the request's
// topics or than max.broker.partitions on a broker. After a real change the
// handler waits, up to timeout_ms, until this node's new partitions exist.

import (
	"context"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/metadata"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return createPartitions(ctx, b, r.(*kmsg.CreatePartitionsRequest)), nil
}

func createPartitions(ctx context.Context, env *Broker, req *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := timeoutCtx(ctx, req.TimeoutMillis)
	defer cancel()

	count := map[string]int{}
	for _, t := range req.Topics {
		count[t.Topic]++
	}
	reported := map[string]bool{}
	changed := false
	tooMany := newPartitionsOverLimit(env, req)
	for _, t := range req.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		if count[t.Topic] > 1 {
			if reported[t.Topic] {
				continue
			}
			reported[t.Topic] = true
			rt.ErrorCode = kerr.InvalidRequest.Code
			rt.ErrorMessage = strPtr("Duplicate topic name.")
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		var assignments [][]int32
		if t.Assignment != nil {
			assignments = make([][]int32, len(t.Assignment))
			for i, a := range t.Assignment {
				assignments[i] = a.Replicas
			}
		}
		err := tooMany
		if err == nil {
			err = env.meta.CreatePartitions(ctx, t.Topic, t.Count, assignments, req.ValidateOnly)
		}
		rt.ErrorCode, rt.ErrorMessage = errCode(err)
		if err == nil && !req.ValidateOnly {
			changed = true
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if changed && req.TimeoutMillis > 0 && env.replicas != nil {
		if err := env.replicas.AwaitImage(ctx, env.meta.Image().Epoch); err != nil {
			for i := range resp.Topics {
				if resp.Topics[i].ErrorCode == 0 {
					resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
				}
			}
		}
	}
	return resp
}

// newPartitionsOverLimit refuses a whole request whose topics together
// grow by more than samsa.max.partitions.per.request partitions.
func newPartitionsOverLimit(env *Broker, req *kmsg.CreatePartitionsRequest) error {
	im := env.meta.Image()
	var total int64
	for _, t := range req.Topics {
		if cur := im.Topics[t.Topic]; cur != nil && int(t.Count) > len(cur.Partitions) {
			total += int64(int(t.Count) - len(cur.Partitions))
		}
	}
	if limit := int64(env.cfg.MaxPartitionsPerRequest); limit > 0 && total > limit {
		return &metadata.Error{Code: kerr.PolicyViolation, Message: fmt.Sprintf("%s: %d partitions in one request, more than samsa.max.partitions.per.request (%d).", metadata.ExcessiveBatchMessage, total, limit)}
	}
	return nil
}
