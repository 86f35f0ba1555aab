package broker

// Produce, versions 0 to 13 (advertised from 0: librdkafka stops compressing
// if the minimum is higher; versions below 3 carry magic 0/1 message sets,
// which are refused per partition since only magic 2 is stored).
//
// Each partition's batches go to the partition's AppendAsLeaderAsync, which
// validates them (CRC, sizes, max.message.bytes, producer sequences) and
// appends; its Kafka error becomes the partition's error code and message.
// Topics are named (v0-v12) or given by id (v13+, UNKNOWN_TOPIC_ID when
// unknown). acks must be -1, 0 or 1 (else INVALID_REQUIRED_ACKS). With
// acks=0 no response is sent; if any partition failed, the connection is
// closed instead, as Kafka does, so the client learns of it.
//
// With acks 1 or -1 the response waits until each partition's high
// watermark covers its appended records. On a single node the high
// watermark is the log's durable offset, so by default (sync durability)
// "acknowledged" means fsynced, for acks=1 as for acks=all. The wait does
// not hold up the connection: the appends happen in the handler, in
// request order, and the response is deferred (the server completes it in
// request order while the next requests are read and appended), so a
// producer with several requests in flight shares fsync rounds instead of
// waiting for one round per request. acks=-1 is bounded by the request
// timeout (REQUEST_TIMED_OUT on expiry, as Kafka's DelayedProduce); a log
// that fails meanwhile answers KAFKA_STORAGE_ERROR.
//
// Transactional writes are verified as KIP-890 part 1 has it: unless the
// producer's transaction is already open on the partition, the transaction
// coordinator must confirm that the partition was added to the
// transaction, else INVALID_TXN_STATE ("Partition was not added to the
// transaction"); a coordinator that cannot answer yet (loading, completing
// the transaction) becomes NOT_ENOUGH_REPLICAS, which producers retry, and
// PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH, as Kafka answers older
// produce versions. The partition's verification guard makes the check
// and the append atomic against a marker ending the transaction between
// them. The verification happens in the handler, before the append, so
// the deferred responses keep their order.
//
// Under transaction protocol version 2 (KIP-890 part 2: produce v12+ while
// the cluster's transaction.version is 2) the producer sends no
// AddPartitionsToTxn: a transactional write to a partition not yet in its
// transaction adds it, through the transaction coordinator in process
// (Kafka's leader sends AddPartitionsToTxn v5 without VerifyOnly), with
// the same guard and error mapping.

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(0, 0, 13, handleProduce) }

// pendingAck is an appended partition waiting for its high watermark.
type pendingAck struct {
	part       *partition.Partition
	lastOffset int64
	resp       *kmsg.ProduceResponseTopicPartition
}

func handleProduce(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	im := b.meta.Image()
	validAcks := req.Acks == -1 || req.Acks == 0 || req.Acks == 1
	failed := false
	var pending []pendingAck

	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		*st = kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name, topicErr := rt.Topic, (*kerr.Error)(nil)
		if req.Version >= 13 {
			if t := im.TopicByID(rt.TopicID); t != nil {
				name = t.Name
			} else {
				topicErr = kerr.UnknownTopicID
			}
		} else if im.Topic(name) == nil {
			topicErr = kerr.UnknownTopicOrPartition
		}
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			code, msg := topicErr, ""
			switch {
			case code != nil:
			case !validAcks:
				code = kerr.InvalidRequiredAcks
			default:
				code, msg = b.produceTo(topicPartition{Topic: name, Partition: rp.Partition}, rp.Records, req, sp, &pending)
			}
			if code != nil {
				failed = true
				sp.ErrorCode = code.Code
				if msg != "" && req.Version >= 8 {
					sp.ErrorMessage = &msg
				}
			}
		}
	}
	if req.Acks == 0 {
		if failed {
			return nil, errors.New("produce with acks=0 failed for some partitions")
		}
		return nil, nil
	}
	if len(pending) == 0 {
		return resp, nil
	}
	d := &deferredProduce{ProduceResponse: resp, pending: pending}
	if req.Acks == -1 {
		d.deadline = time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
	}
	return d, nil
}

// produceTo appends one partition's batches and fills its response entry.
func (b *Broker) produceTo(tp topicPartition, records []byte, req *kmsg.ProduceRequest, sp *kmsg.ProduceResponseTopicPartition, pending *[]pendingAck) (*kerr.Error, string) {
	rep := b.replicas.Replica(tp.Topic, tp.Partition)
	if rep == nil {
		if _, ok := b.meta.Image().Partition(tp.Topic, tp.Partition); ok {
			return kerr.NotLeaderForPartition, ""
		}
		return kerr.UnknownTopicOrPartition, ""
	}
	var guard uint64
	if req.TransactionID != nil {
		var code *kerr.Error
		var msg string
		if guard, code, msg = b.verifyTxnProduce(*req.TransactionID, req.Version, tp, rep.Partition(), records); code != nil {
			return code, msg
		}
	}
	opts := b.replicas.AppendOptions(rep)
	opts.VerificationGuard, opts.RequiredAcks = guard, req.Acks
	res, err := rep.Partition().AppendAsLeaderAsync(records, opts)
	if err != nil {
		code, msg := partition.KafkaError(err)
		if code == kerr.UnknownServerError || code == kerr.KafkaStorageError {
			b.logger.Error("produce failed", "topic", tp.Topic, "partition", tp.Partition, "err", err)
		}
		return code, msg
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if req.Acks != 0 && rep.Partition().HighWatermark() <= res.LastOffset {
		*pending = append(*pending, pendingAck{part: rep.Partition(), lastOffset: res.LastOffset, resp: sp})
	}
	return nil, ""
}

// verifyTxnProduce checks a transactional write against the producer's
// transaction (KIP-890 part 1), or under transaction protocol version 2
// (produce v12+ while transaction.version is 2) adds the partition to it
// (part 2), and returns the guard to append with (0 for records that are
// not transactional).
func (b *Broker) verifyTxnProduce(id string, version int16, tp topicPartition, part *partition.Partition, records []byte) (uint64, *kerr.Error, string) {
	it := record.Batches(records)
	if !it.Next() {
		return 0, nil, "" // the append reports what is wrong with the records
	}
	h := it.Header()
	if !h.IsTransactional() || h.ProducerID < 0 {
		return 0, nil, ""
	}
	guard, open := part.TxnVerificationGuard(h.ProducerID, h.ProducerEpoch)
	if open {
		return guard, nil, ""
	}
	tc, err := b.replicas.Txns()
	code := kerr.CoordinatorNotAvailable.Code
	if err == nil {
		ttp := txn.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
		if version >= 12 && tc.TransactionVersion() >= 2 {
			ctx, cancel := context.WithTimeout(context.Background(), txnImplicitAddTimeout)
			code = tc.AddPartitionsImplicitly(ctx, id, h.ProducerID, h.ProducerEpoch, []txn.TopicPartition{ttp})
			cancel()
		} else {
			code = tc.Verify(id, h.ProducerID, h.ProducerEpoch, ttp)
		}
	}
	if code == 0 {
		return guard, nil, ""
	}
	part.ClearTxnVerification(h.ProducerID, guard)
	switch code {
	case kerr.InvalidTxnState.Code:
		return 0, kerr.InvalidTxnState, "Partition was not added to the transaction"
	case kerr.ConcurrentTransactions.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code:
		return 0, kerr.NotEnoughReplicas, "Unable to verify the partition has been added to the transaction. Underlying error: " + kerr.ErrorForCode(code).Error()
	case kerr.ProducerFenced.Code:
		return 0, kerr.InvalidProducerEpoch, ""
	}
	if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return 0, ke, ""
	}
	return 0, kerr.UnknownServerError, "transaction verification: " + kerr.ErrorForCode(code).Error()
}

// txnImplicitAddTimeout bounds the transaction coordinator's state write
// when a produce adds its partition to the transaction (Kafka's
// request.timeout.ms for the inter-broker AddPartitionsToTxn).
const txnImplicitAddTimeout = 30 * time.Second

// deferredProduce is a produce response that is final once every pending
// partition's high watermark covers its records (see deferredResponse).
type deferredProduce struct {
	*kmsg.ProduceResponse
	pending  []pendingAck
	deadline time.Time // zero: no deadline (acks=1)
}

// complete waits for the high watermarks, marking a partition
// REQUEST_TIMED_OUT when the deadline (or ctx) ends first, or with the
// partition's error (KAFKA_STORAGE_ERROR, NOT_LEADER_OR_FOLLOWER) when its
// log fails or closes.
func (d *deferredProduce) complete(ctx context.Context) kmsg.Response {
	if !d.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.deadline)
		defer cancel()
	}
	for _, p := range d.pending {
		if err := p.part.WaitHighWatermark(ctx, p.lastOffset+1); err != nil {
			code, msg := partition.KafkaError(err)
			if code == nil {
				code = kerr.RequestTimedOut
			}
			p.resp.ErrorCode = code.Code
			if msg != "" && d.Version >= 8 {
				p.resp.ErrorMessage = &msg
			}
		}
	}
	return d.ProduceResponse
}
