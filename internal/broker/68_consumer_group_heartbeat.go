package broker

// ConsumerGroupHeartbeat, versions 0 and 1 (KIP-848).
//
// Joins, heartbeats and leaves a consumer-protocol group; the answer
// carries the member's epoch and, when it changed, its assignment, computed
// by the server-side assignor (uniform or range) and reached step by step:
// partitions are revoked before they are handed to another member. v1
// members name themselves (a client-generated member id) and may subscribe
// with a regular expression (RE2, matched against whole topic names).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(68, 0, 1, handleConsumerGroupHeartbeat) }

func handleConsumerGroupHeartbeat(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ConsumerGroupHeartbeatRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.ConsumerGroupHeartbeatResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.ConsumerGroupHeartbeat(req, rc.ClientID, clientHost(rc)), nil
}
