package broker

// ListOffsets, versions 0 to 11.
//
// For each partition, by the request's timestamp, an offset, a timestamp
// (-1 unless a record was found) and a leader epoch (v4+), as Kafka's
// Partition.fetchOffsetForTimestamp and UnifiedLog.fetchOffsetByTimestamp
// answer:
//
//	-1 latest            the high watermark (read_uncommitted) or last stable offset
//	                     (read_committed); the current leader epoch
//	-2 earliest          the log start offset; the epoch of the leader-epoch cache's
//	                     first entry if that starts at or below it, else -1
//	-3 max timestamp     the first record with the largest timestamp (v7+)
//	-4 earliest local    as -2: all data is local (v8+)
//	-5 latest tiered     offset -1, epoch -1 (v9+), and the same for -6 earliest
//	                     pending upload (v11+): nothing is tiered, and Kafka
//	                     answers so when remote storage is disabled
//	>= 0                 the first record at or after the log start offset whose
//	                     timestamp is >= the timestamp, also inside a compressed or
//	                     multi-record batch
//
// A record found (-3, >= 0) is answered with its own offset and timestamp and
// the partition leader epoch of its batch, or offset -1 if it is at or above
// the high watermark (last stable offset for read_committed) or none
// qualifies.
//
// v0 answers in the old style (a list of offsets, at most MaxNumOffsets).
// Errors per partition: UNSUPPORTED_VERSION for a negative timestamp the
// request's version does not know, UNKNOWN_TOPIC_OR_PARTITION,
// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v4+
// current leader epoch), KAFKA_STORAGE_ERROR when the log cannot be read,
// CORRUPT_MESSAGE when a batch's records cannot be.

import (
	"context"
	"errors"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(2, 0, 11, handleListOffsets) }

// The special timestamps of ListOffsets.
const (
	listLatest                = -1
	listEarliest              = -2
	listMaxTimestamp          = -3
	listEarliestLocal         = -4
	listLatestTiered          = -5
	listEarliestPendingUpload = -6
)

// listOffsetsMinVersion is the first ListOffsets version that knows each
// special timestamp (Kafka's ReplicaManager.timestampMinSupportedVersion;
// v0, which Kafka answers on a separate path, knows latest and earliest).
var listOffsetsMinVersion = map[int64]int16{
	listLatest:                0,
	listEarliest:              0,
	listMaxTimestamp:          7,
	listEarliestLocal:         8,
	listLatestTiered:          9,
	listEarliestPendingUpload: 11,
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
			tp := log.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}
			// Kafka checks the timestamp before it looks the partition up.
			minVersion, known := listOffsetsMinVersion[rp.Timestamp]
			rep := b.replicas.Replica(tp.Topic, tp.Partition)
			switch {
			case rp.Timestamp < 0 && (!known || req.Version < minVersion):
				sp.ErrorCode = kerr.UnsupportedVersion.Code
			case rep == nil:
				if _, ok := im.Partition(tp.Topic, tp.Partition); ok {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				} else {
					sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
			default:
				if code := b.listOffset(rep, req, &rp, &sp); code != nil {
					sp.ErrorCode = code.Code
					sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
				}
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

func (b *Broker) listOffset(rep *replica.Replica, req *kmsg.ListOffsetsRequest, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) *kerr.Error {
	part, l := rep.Partition(), rep.Log()
	if err := part.CheckLeaderEpoch(rp.CurrentLeaderEpoch); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return ke
		}
		return kerr.UnknownServerError
	}
	// Records from the last fetchable offset on are not answers: a
	// consumer could not read them yet.
	lastFetchable := part.HighWatermark()
	if req.IsolationLevel == 1 {
		lastFetchable = part.LastStableOffset()
	}
	var (
		found bool
		rec   log.TimestampOffset
		err   error
	)
	switch rp.Timestamp {
	case listLatest:
		sp.Offset, sp.LeaderEpoch = lastFetchable, part.LeaderEpoch()
		return nil
	case listEarliest, listEarliestLocal:
		sp.Offset, sp.LeaderEpoch = l.LogStartOffsetEpoch()
		return nil
	case listLatestTiered, listEarliestPendingUpload:
		return nil // nothing is tiered: offset -1, epoch -1
	case listMaxTimestamp:
		rec, found, err = l.MaxTimestamp()
	default:
		rec, found, err = l.OffsetForTimestamp(rp.Timestamp)
	}
	if err != nil {
		b.logger.Error("list offsets: reading the log failed", "topic", rep.TopicPartition().Topic, "partition", rep.TopicPartition().Partition, "timestamp", rp.Timestamp, "err", err)
		var ce *log.CorruptionError
		if errors.As(err, &ce) {
			return kerr.CorruptMessage
		}
		return kerr.KafkaStorageError
	}
	if found && rec.Offset < lastFetchable {
		sp.Offset, sp.Timestamp, sp.LeaderEpoch = rec.Offset, rec.Timestamp, rec.LeaderEpoch
	}
	return nil
}
