package broker

// OffsetCommit, versions 0 to 9.
//
// The group coordinator checks the member and generation (member epoch for
// KIP-848 groups), writes the offsets to __consumer_offsets and answers
// per partition: UNKNOWN_TOPIC_OR_PARTITION for partitions the metadata
// does not have, OFFSET_METADATA_TOO_LARGE beyond offset.metadata.max.bytes,
// ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
// REBALANCE_IN_PROGRESS as Kafka does. v1 carries a commit timestamp per
// partition, v2-v4 a retention time, v6+ the leader epoch. v10 (topic ids)
// is not served.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(8, 0, 9, handleOffsetCommit) }

func handleOffsetCommit(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.OffsetCommitRequest)
	c, code := b.groupsOrCode(rc)
	if code != 0 {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	return c.OffsetCommit(req), nil
}
