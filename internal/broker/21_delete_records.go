package broker

// DeleteRecords, versions 0 to 2.
//
// Moves each partition's log start offset up to the requested offset,
// deleting whole segments below it (partition.DeleteRecordsBefore); -1
// means the high watermark. The answer is the new low watermark (log start
// offset). An offset above the high watermark, or below -1, gets
// OFFSET_OUT_OF_RANGE; an offset below the current log start changes
// nothing. Unknown topics and partitions get UNKNOWN_TOPIC_OR_PARTITION, a
// partition this node does not lead NOT_LEADER_OR_FOLLOWER, a storage
// failure KAFKA_STORAGE_ERROR. With one replica the deletion is complete
// when the call returns, so timeout_ms is not waited on.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(21, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return deleteRecords(b, r.(*kmsg.DeleteRecordsRequest)), nil
}

func deleteRecords(env *Broker, req *kmsg.DeleteRecordsRequest) *kmsg.DeleteRecordsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			p, code := env.localPartition(rt.Topic, rp.Partition)
			switch {
			case code != nil:
				sp.ErrorCode = code.Code
			case rp.Offset < -1:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			default:
				start, err := p.DeleteRecordsBefore(rp.Offset)
				if err != nil {
					sp.ErrorCode, _ = errCode(err)
				} else {
					sp.LowWatermark = start
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
