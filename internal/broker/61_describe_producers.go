package broker

// DescribeProducers, version 0.
//
// Lists the idempotent producers with state on each requested partition:
// producer id, epoch, last sequence, last timestamp, coordinator epoch (-1
// until transaction markers exist) and the open transaction's first offset
// (-1). Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION, partitions this
// node does not lead NOT_LEADER_OR_FOLLOWER.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(61, 0, 0, handleDescribeProducers) }

func handleDescribeProducers(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return describeProducers(b, r.(*kmsg.DescribeProducersRequest)), nil
}

func describeProducers(env *Broker, req *kmsg.DescribeProducersRequest) *kmsg.DescribeProducersResponse {
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, idx := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = idx
			p, code := env.localPartition(rt.Topic, idx)
			if code != nil {
				sp.ErrorCode = code.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, ps := range p.ActiveProducers() {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID = ps.ProducerID
				ap.ProducerEpoch = int32(ps.ProducerEpoch)
				ap.LastSequence = ps.LastSequence
				ap.LastTimestamp = ps.LastTimestamp
				ap.CoordinatorEpoch = ps.CoordinatorEpoch
				ap.CurrentTxnStartOffset = ps.CurrentTxnStartOffset
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
