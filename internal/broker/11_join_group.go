package broker

// JoinGroup, versions 0 to 9.
//
// The request waits in the group coordinator until the rebalance completes
// (all members rejoined, the rebalance timeout, or the initial delay of a
// new group), so it holds its connection as Kafka does; clients send it on
// a connection of their own. From v4 a member without an id first gets
// MEMBER_ID_REQUIRED with one (KIP-394); v5 adds group.instance.id (static
// membership, KIP-345). v0 has no rebalance timeout: the session timeout
// is used.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(11, 0, 9, handleJoinGroup) }

func handleJoinGroup(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.JoinGroupRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, req.MemberID
		return resp, nil
	}
	return c.JoinGroup(ctx, req, rc.ClientID, clientHost(rc))
}
