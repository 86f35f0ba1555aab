package broker

// WriteTxnMarkers, version 1.
//
// Writes commit or abort markers to this node's partitions: those of the
// transaction coordinators of other nodes (batched per destination by
// their marker channel, internal/replica/markers.go), and the Java admin
// client's abortTransaction; this node's own coordinator writes its
// markers in process. Each partition gets its own code:
// UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, INVALID_PRODUCER_EPOCH
// (the marker's epoch is older than the producer's),
// TRANSACTION_COORDINATOR_FENCED (the marker's coordinator epoch is older
// than one the partition has seen for the producer: a coordinator that
// has lost the transaction's __transaction_state partition since), or a
// storage error. A marker to a __consumer_offsets partition commits or
// drops the producer's pending transactional offsets there; when the
// group coordinator cannot take them yet the answer is
// NOT_LEADER_OR_FOLLOWER, as Kafka translates COORDINATOR_NOT_AVAILABLE,
// COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR, so the transaction
// coordinator retries.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(27, 1, 1, handleWriteTxnMarkers) }

func handleWriteTxnMarkers(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.WriteTxnMarkersRequest)
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	im := b.meta.Image()
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = p
				if _, ok := im.Partition(t.Topic, p); !ok {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				} else {
					rp.ErrorCode = b.replicas.WriteMarker(ctx, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, t.Topic, p)
					switch rp.ErrorCode {
					case kerr.CoordinatorNotAvailable.Code, kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code:
						rp.ErrorCode = kerr.NotLeaderForPartition.Code
					}
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp, nil
}
