package broker

// TxnOffsetCommit, versions 0 to 5.
//
// Offsets a transactional producer commits for a consumer group: they are
// written to the group's __consumer_offsets partition as a transactional
// batch of the producer and become the group's offsets only when the
// commit marker reaches that partition (dropped on abort); until then
// OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for them
// (txn_offsets.go). The producer must have added the group's offsets
// partition to its open transaction (AddOffsetsToTxn), else
// INVALID_TXN_STATE; under transaction protocol version 2 (v5+ while the
// cluster's transaction.version is 2, KIP-890 part 2) the producer sends
// no AddOffsetsToTxn and the request adds the partition itself. Either
// way the transaction coordinator is asked in process, or with an
// AddPartitionsToTxn (v4+) on its node when another node leads the
// transactional id's __transaction_state partition (a node that cannot be
// reached gives COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers); a stale
// epoch gets PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v3). A request naming a member (v3+) is
// checked against the group (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// FENCED_INSTANCE_ID, or the member-epoch errors of a KIP-848 group);
// unknown partitions get UNKNOWN_TOPIC_OR_PARTITION and metadata over
// offset.metadata.max.bytes OFFSET_METADATA_TOO_LARGE. A failed write
// answers as Kafka's group coordinator does (COORDINATOR_NOT_AVAILABLE,
// NOT_COORDINATOR, INVALID_COMMIT_OFFSET_SIZE).

import (
	"context"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(28, 0, 5, handleTxnOffsetCommit) }

func handleTxnOffsetCommit(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
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
	gc, code := b.groupsOrCode(rc)
	if code != 0 {
		setAll(code)
		return respond()
	}
	gcfg := gc.Config()
	p := gc.PartitionFor(req.Group)
	part, err := b.replicas.OffsetsPartition(ctx, p)
	if err != nil {
		b.logger.Warn("no __consumer_offsets partition for transactional offsets", "group", req.Group, "err", err)
		setAll(replica.TxnOffsetsAppendCode(err))
		return respond()
	}
	// The guard is taken before the coordinator's verdict, so that a
	// marker written in between makes the append fail (KIP-890).
	guard, _ := part.TxnVerificationGuard(req.ProducerID, req.ProducerEpoch)
	offsetsTP := txn.TopicPartition{Topic: group.OffsetsTopic, Partition: p}
	add := req.Version >= 5 && b.replicas.TransactionVersion() >= 2
	vctx, cancel := context.WithTimeout(ctx, txnVerifyTimeout)
	code = b.replicas.VerifyTransaction(vctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []txn.TopicPartition{offsetsTP}, add)[0]
	cancel()
	if code != 0 {
		part.ClearTxnVerification(req.ProducerID, guard)
		switch {
		case code == kerr.ProducerFenced.Code && req.Version < 3:
			code = kerr.InvalidProducerEpoch.Code
		case code == kerr.NetworkException.Code:
			// The coordinator's node could not be asked: Kafka answers
			// COORDINATOR_LOAD_IN_PROGRESS, which clients retry without
			// looking for the group coordinator again.
			code = kerr.CoordinatorLoadInProgress.Code
		}
		setAll(code)
		return respond()
	}
	if code := gc.ValidateTxnOffsetCommit(req.Group, req.MemberID, req.InstanceID, req.Generation); code != 0 {
		setAll(code)
		return respond()
	}
	im := b.meta.Image()
	accepted := replica.GroupOffsets{}
	for i, t := range req.Topics {
		for j, rp := range t.Partitions {
			switch {
			case !partitionKnown(im.Partition, t.Topic, rp.Partition):
				codes[i][j] = kerr.UnknownTopicOrPartition.Code
			case rp.Metadata != nil && len(*rp.Metadata) > int(gcfg.OffsetMetadataMaxBytes):
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
			default:
				if accepted[t.Topic] == nil {
					accepted[t.Topic] = map[int32]group.CommittedOffset{}
				}
				o := group.CommittedOffset{Offset: rp.Offset, LeaderEpoch: rp.LeaderEpoch}
				if rp.Metadata != nil {
					o.Metadata = *rp.Metadata
				}
				accepted[t.Topic][rp.Partition] = o
			}
		}
	}
	if len(accepted) == 0 {
		return respond()
	}
	if code := b.replicas.AppendTxnOffsets(ctx, gc, req.Group, req.ProducerID, req.ProducerEpoch, guard, accepted); code != 0 {
		if code == kerr.InvalidProducerEpoch.Code && req.Version >= 3 {
			code = kerr.ProducerFenced.Code
		}
		setAll(code)
	}
	return respond()
}

func partitionKnown[P any](lookup func(string, int32) (P, bool), topic string, p int32) bool {
	_, ok := lookup(topic, p)
	return ok
}
