package broker

// ListOffsets, versions 0 to 11.
//
// Each partition is answered by Partition.OffsetForTimestamp, which holds
// the rules (Kafka's Partition.fetchOffsetForTimestamp): the latest offset
// by isolation level, the earliest, the max timestamp, the tiered specs,
// and records by timestamp below the last fetchable offset, each with its
// leader epoch (v4+). The handler maps the request and the response.
//
// v0 answers in the old style (a list of offsets, at most MaxNumOffsets).
// Errors per partition: UNSUPPORTED_VERSION for a negative timestamp the
// request's version does not know, UNKNOWN_TOPIC_OR_PARTITION,
// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v4+
// current leader epoch), KAFKA_STORAGE_ERROR when the log cannot be read,
// CORRUPT_MESSAGE when a batch's records cannot be.

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(2, 0, 11, handleListOffsets) }

// listOffsetsMinVersion is the first ListOffsets version that knows each
// special timestamp (Kafka's ReplicaManager.timestampMinSupportedVersion;
// v0, which Kafka answers on a separate path, knows latest and earliest).
var listOffsetsMinVersion = map[int64]int16{
	partition.ListLatest:                0,
	partition.ListEarliest:              0,
	partition.ListMaxTimestamp:          7,
	partition.ListEarliestLocal:         8,
	partition.ListLatestTiered:          9,
	partition.ListEarliestPendingUpload: 11,
}

func handleListOffsets(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	im := b.meta.Image()
	for _, rt := range req.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			// Kafka checks the timestamp before it looks the partition up.
			minVersion, known := listOffsetsMinVersion[rp.Timestamp]
			part := b.hostedPartition(rt.Topic, rp.Partition)
			switch {
			case rp.Timestamp < 0 && (!known || req.Version < minVersion):
				sp.ErrorCode = kerr.UnsupportedVersion.Code
			case part == nil:
				if _, ok := im.Partition(rt.Topic, rp.Partition); ok {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				} else {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
			default:
				b.listOffset(part, req, &rp, &sp)
			}
			if req.Version == 0 {
				if sp.ErrorCode == 0 && sp.Offset >= 0 && rp.MaxNumOffsets > 0 {
					sp.OldStyleOffsets = []int64{sp.Offset}
				} else {
					sp.OldStyleOffsets = []int64{}
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// listOffset answers one partition hosted here.
func (b *Broker) listOffset(part *partition.Partition, req *kmsg.ListOffsetsRequest, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) {
	isolation := partition.ReadUncommitted
	if req.IsolationLevel == 1 {
		isolation = partition.ReadCommitted
	}
	got, err := part.OffsetForTimestamp(rp.Timestamp, isolation, rp.CurrentLeaderEpoch)
	if err != nil {
		code, _ := partition.KafkaError(err)
		if code == kerr.KafkaStorageError || code == kerr.CorruptMessage {
			b.logger.Error("list offsets: reading the log failed", "topic", part.Topic(), "partition", part.Index(), "timestamp", rp.Timestamp, "err", err)
		}
		sp.ErrorCode = code.Code
		return
	}
	sp.Offset, sp.Timestamp, sp.LeaderEpoch = got.Offset, got.Timestamp, got.LeaderEpoch
}
