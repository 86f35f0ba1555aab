package broker

// ListOffsets, versions 0 to 11.
//
// For each partition, by the request's timestamp:
//
//	-1 latest            the high watermark (read_uncommitted) or last stable offset (read_committed)
//	-2 earliest          the log start offset
//	-3 max timestamp     the offset and timestamp of the record with the largest timestamp (v7+)
//	-4 earliest local    the log start offset: all data is local (v8+)
//	-5 latest tiered, -6 earliest pending upload: -1, no tiered storage (v9+, v11+)
//	>= 0                 the first offset whose timestamp is >= the timestamp, -1 if none below the high watermark
//
// v0 answers in the old style (a list of offsets, at most MaxNumOffsets).
// Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
// FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH (v4+ current leader epoch).

import (
	"context"
	"errors"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(2, 0, 11, handleListOffsets) }

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
			rep := b.replica(tp)
			switch {
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

func (b *Broker) listOffset(rep *replica, req *kmsg.ListOffsetsRequest, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) *kerr.Error {
	part, l := rep.part, rep.log
	if err := part.CheckLeaderEpoch(rp.CurrentLeaderEpoch); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return ke
		}
		return kerr.UnknownServerError
	}
	epoch := part.LeaderEpoch()
	latest := part.HighWatermark()
	if req.IsolationLevel == 1 {
		latest = part.LastStableOffset()
	}
	switch ts := rp.Timestamp; {
	case ts == -1:
		sp.Offset, sp.LeaderEpoch = latest, epoch
	case ts == -2 || ts == -4:
		sp.Offset, sp.LeaderEpoch = l.LogStartOffset(), epoch
	case ts == -3:
		if req.Version < 7 {
			return kerr.UnsupportedVersion
		}
		r, found, err := l.MaxTimestamp()
		if err != nil {
			b.logger.Error("list offsets by max timestamp failed", "topic", rep.tp.Topic, "partition", rep.tp.Partition, "err", err)
			return kerr.KafkaStorageError
		}
		if found && r.Offset < latest {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = r.Offset, r.Timestamp, r.LeaderEpoch
		}
	case ts == -5 || ts == -6:
		// No tiered storage: nothing is tiered or pending upload.
	case ts < 0:
		return kerr.InvalidRequest
	default:
		r, found, err := l.OffsetForTimestamp(ts)
		if err != nil {
			b.logger.Error("list offsets by timestamp failed", "topic", rep.tp.Topic, "partition", rep.tp.Partition, "err", err)
			return kerr.KafkaStorageError
		}
		if found && r.Offset < latest {
			sp.Offset, sp.Timestamp, sp.LeaderEpoch = r.Offset, r.Timestamp, r.LeaderEpoch
		}
	}
	return nil
}
