package broker

// TxnOffsetCommit, versions 0 to 5.
//
// Offsets a transactional producer commits for a consumer group: they are
// held until the transaction ends and committed to the group only when the
// commit marker reaches the group's __consumer_offsets partition (dropped
// on abort). The producer must have added the group's offsets partition to
// its open transaction (AddOffsetsToTxn), else INVALID_TXN_STATE; a stale
// epoch gets PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v3). From v3
// the member id and generation are checked against the group as an
// OffsetCommit's are (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// FENCED_INSTANCE_ID); unknown partitions get UNKNOWN_TOPIC_OR_PARTITION
// and metadata over offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE.

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(28, 0, 5, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	setAll := func(code int16) {
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
	}
	respond := func() (kmsg.Response, error) {
		for i, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	if req.Group == "" {
		setAll(kerr.InvalidGroupID.Code)
		return respond()
	}
	tc, code := b.txnsOrCode(rc)
	if code != 0 {
		setAll(code)
		return respond()
	}
	gc, code := b.groupsOrCode(rc)
	if code != 0 {
		setAll(code)
		return respond()
	}
	gcfg := gc.Config()
	offsetsTP := txn.TopicPartition{Topic: group.OffsetsTopic, Partition: group.PartitionFor(req.Group, gcfg.OffsetsTopicNumPartitions)}
	if code := tc.Verify(req.TransactionalID, req.ProducerID, req.ProducerEpoch, offsetsTP); code != 0 {
		if code == kerr.ProducerFenced.Code && req.Version < 3 {
			code = kerr.InvalidProducerEpoch.Code
		}
		setAll(code)
		return respond()
	}
	if req.Version >= 3 && (req.Generation >= 0 || req.MemberID != "" || req.InstanceID != nil) {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Version = 4
		hb.Group, hb.Generation, hb.MemberID, hb.InstanceID = req.Group, req.Generation, req.MemberID, req.InstanceID
		switch c := gc.Heartbeat(hb).ErrorCode; c {
		case kerr.UnknownMemberID.Code, kerr.IllegalGeneration.Code, kerr.FencedInstanceID.Code:
			setAll(c)
			return respond()
		}
	}
	im := b.meta.Image()
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			switch {
			case !partitionKnown(im.Partition, t.Topic, p.Partition):
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			case p.Metadata != nil && len(*p.Metadata) > int(gcfg.OffsetMetadataMaxBytes):
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
			}
		}
	}
	accepted := map[[2]any]bool{}
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if codes[i][j] == 0 {
				accepted[[2]any{t.Topic, p.Partition}] = true
			}
		}
	}
	b.txnOffsets().add(req, func(topic string, part int32) bool { return accepted[[2]any{topic, part}] })
	return respond()
}

func partitionKnown[P any](lookup func(string, int32) (P, bool), topic string, p int32) bool {
	_, ok := lookup(topic, p)
	return ok
}

// TxnOffsetsPending reports whether a transaction holds uncommitted
// offsets of the group for the partition: OffsetFetch with require_stable
// answers UNSTABLE_OFFSET_COMMIT for it.
func (b *Broker) TxnOffsetsPending(groupID, topic string, partition int32) bool {
	return b.txnOffsets().pendingFor(groupID, topic, partition)
}
