package broker

// OffsetFetch, versions 0 to 9.
//
// One group per request up to v7 (null topics from v2 meaning every
// committed offset), a batch of groups from v8, the member id and epoch of
// KIP-848 members from v9 (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH). A
// partition without a committed offset answers offset -1. With
// require_stable (v7+) a partition whose offset is pending in an open
// transaction answers UNSTABLE_OFFSET_COMMIT, so the client retries until the
// transaction ends. v10 (topic ids) is not served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(9, 0, 9, handleOffsetFetch) }

func handleOffsetFetch(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetFetchRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = code
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group = g.Group
			rg.ErrorCode = code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil
	}
	return c.OffsetFetch(req), nil
}
