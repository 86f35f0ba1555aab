package broker

// Heartbeat, versions 0 to 4 (v3 adds group.instance.id).
//
// Keeps a classic member's session alive; answers REBALANCE_IN_PROGRESS
// while the group prepares a rebalance, ILLEGAL_GENERATION,
// UNKNOWN_MEMBER_ID or FENCED_INSTANCE_ID as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(12, 0, 4, handleHeartbeat) }

func handleHeartbeat(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.HeartbeatRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.Heartbeat(req), nil
}
