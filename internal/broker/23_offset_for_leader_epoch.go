package broker

// OffsetForLeaderEpoch, versions 0 to 4.
//
// For each partition, the end offset of the requested leader epoch from the
// log's leader-epoch cache: the largest epoch <= the requested one and the
// first offset after it (the log end offset for the current epoch), or
// epoch -1 and offset -1 when the log knows no such epoch (v1+ return the
// epoch found). From v2 the request carries the client's current leader
// epoch: older than ours gets FENCED_LEADER_EPOCH, newer
// UNKNOWN_LEADER_EPOCH (-1 skips the check). Unknown partitions get
// UNKNOWN_TOPIC_OR_PARTITION, partitions this node does not lead
// NOT_LEADER_OR_FOLLOWER. The replica id (v3+) is accepted from consumers
// (-1) and followers alike; this node always answers as the leader.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(23, 0, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return offsetForLeaderEpoch(b, r.(*kmsg.OffsetForLeaderEpochRequest)), nil
}

func offsetForLeaderEpoch(env *Broker, req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition, sp.LeaderEpoch, sp.EndOffset = rp.Partition, -1, -1
			p, code := env.localPartition(rt.Topic, rp.Partition)
			if code != nil {
				sp.ErrorCode = code.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			current := int32(-1)
			if req.Version >= 2 {
				current = rp.CurrentLeaderEpoch
			}
			if err := p.CheckLeaderEpoch(current); err != nil {
				sp.ErrorCode, _ = errCode(err)
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			sp.LeaderEpoch, sp.EndOffset = p.EndOffsetForEpoch(rp.LeaderEpoch)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
