package broker

// SyncGroup, versions 0 to 5.
//
// The leader's request carries the assignment; followers' requests wait in
// the group coordinator until it arrives (or the group rebalances again:
// REBALANCE_IN_PROGRESS). v5 checks the protocol type and name
// (INCONSISTENT_GROUP_PROTOCOL).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(14, 0, 5, handleSyncGroup) }

func handleSyncGroup(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.SyncGroupRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = code
		return resp, nil
	}
	return c.SyncGroup(ctx, req)
}
