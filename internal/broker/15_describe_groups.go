package broker

// DescribeGroups, versions 0 to 6.
//
// Classic groups with their state, protocol and members (metadata and
// assignments while Stable). An unknown group is reported Dead, with
// GROUP_ID_NOT_FOUND from v6; KIP-848 groups are described by
// ConsumerGroupDescribe. Authorized operations are not computed (no ACLs
// yet): the field keeps Kafka's "not requested" value.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(15, 0, 6, handleDescribeGroups) }

func handleDescribeGroups(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.DescribeGroupsRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
		for _, g := range req.Groups {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group, dg.ErrorCode = g, code
			resp.Groups = append(resp.Groups, dg)
		}
		return resp, nil
	}
	return c.DescribeGroups(req), nil
}
