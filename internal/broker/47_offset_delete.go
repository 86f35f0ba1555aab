package broker

// OffsetDelete, version 0: deletes a group's committed offsets of topics
// it does not subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for the others;
// NON_EMPTY_GROUP for an active group whose subscriptions are unknown).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetDeleteRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.OffsetDelete(req), nil
}
