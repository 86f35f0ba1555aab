package broker

// OffsetFetch, versions 0 to 9.
//
// One group per request up to v7 (null topics from v2 meaning every
// committed offset), a batch of groups from v8, the member id and epoch of
// KIP-848 members from v9 (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH). A
// partition without a committed offset answers offset -1. With
// require_stable (v7+) a partition whose offset is pending in an open
// transaction answers UNSTABLE_OFFSET_COMMIT, so the client retries until the
// transaction ends. v10 (topic ids) is not served. Without a group
// coordinator every group, and in v0-v1 every partition asked for, gets
// COORDINATOR_NOT_AVAILABLE.

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
		// v0 and v1 have no top-level error code: the error goes on every
		// partition asked for, as Kafka answers them.
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.ErrorCode = p, -1, -1, code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
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
