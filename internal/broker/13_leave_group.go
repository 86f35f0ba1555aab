package broker

// LeaveGroup, versions 0 to 5.
//
// v0-v2 name one member; v3+ a batch of members by member id and/or
// group.instance.id, each with its own error code (UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(13, 0, 5, handleLeaveGroup) }

func handleLeaveGroup(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.LeaveGroupRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.LeaveGroup(req), nil
}
