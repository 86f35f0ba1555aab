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
// closed instead, as Kafka does, so the client learns of it. A partition
// this node does not lead answers NOT_LEADER_OR_FOLLOWER, from v10 with the
// current leader and its endpoint (KIP-951), so the client retries there
// without a Metadata round trip.
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
// the transaction, unreachable) becomes NOT_ENOUGH_REPLICAS, which
// producers retry, and PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH, as
// Kafka answers older produce versions. The coordinator is this node's
// (called in process) or another node's, which gets one AddPartitionsToTxn
// (v4+, VerifyOnly) for all the partitions of the request that need it
// (replica.Manager.VerifyTransaction), where Kafka's leaders batch the
// questions of concurrent requests per coordinator. The partition's
// verification guard makes the check and the append atomic against a
// marker ending the transaction between them. The verification happens
// in the handler, before the appends, so the deferred responses keep
// their order; a verification on another node holds up the connection's
// next requests until it is answered.
//
// Under transaction protocol version 2 (KIP-890 part 2: produce v12+ while
// the cluster's transaction.version is 2) the producer sends no
// AddPartitionsToTxn: a transactional write to a partition not yet in its
// transaction adds it, through the transaction coordinator (in process,
// or AddPartitionsToTxn v5 without VerifyOnly to its node, as Kafka's
// leader sends it), with the same guard and error mapping.

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(0, 0, 13, handleProduce) }

// pendingAck is an appended partition waiting until its records may be
// acknowledged (Partition.WaitAcked).
type pendingAck struct {
	part       *partition.Partition
	lastOffset int64
	epoch      int32 // the leader epoch the records were appended in
	minISR     int32 // the topic's min.insync.replicas
	resp       *kmsg.ProduceResponseTopicPartition
}

func handleProduce(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	im := b.meta.Image()
	validAcks := req.Acks == -1 || req.Acks == 0 || req.Acks == 1
	failed := false
	var pending []pendingAck

	// The partitions are resolved and their transactional batches
	// verified first (one question to the transaction coordinator for
	// the whole request), then appended in request order.
	n := 0
	for i := range req.Topics {
		n += len(req.Topics[i].Partitions)
	}
	targets := make([]produceTarget, 0, n) // one allocation for the request
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
			targets = append(targets, produceTarget{tp: topicPartition{Topic: name, Partition: rp.Partition}, records: rp.Records, resp: sp, code: topicErr})
			t := &targets[len(targets)-1]
			if t.code == nil && !validAcks {
				t.code = kerr.InvalidRequiredAcks
			}
			if t.code == nil {
				b.resolveProduce(t, req)
			}
		}
	}
	if req.TransactionID != nil {
		b.verifyTxnProduce(*req.TransactionID, req.Version, targets)
	}
	for i := range targets {
		t := &targets[i]
		if t.code == nil {
			t.code, t.msg = b.produceTo(t, req, &pending)
		}
		if t.code != nil {
			failed = true
			t.resp.ErrorCode = t.code.Code
			if t.msg != "" && req.Version >= 8 {
				t.resp.ErrorMessage = &t.msg
			}
			if req.Version >= 10 && (t.code == kerr.NotLeaderForPartition || t.code == kerr.FencedLeaderEpoch) {
				var add *kmsg.ProduceResponseBroker
				t.resp.CurrentLeader.LeaderID, t.resp.CurrentLeader.LeaderEpoch, add = leaderHint(im, t.tp.Topic, t.tp.Partition,
					func(id int32) bool {
						return slices.ContainsFunc(resp.Brokers, func(b kmsg.ProduceResponseBroker) bool { return b.NodeID == id })
					})
				if add != nil {
					resp.Brokers = append(resp.Brokers, *add)
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
	d := &deferredProduce{ProduceResponse: resp, pending: pending, acks: req.Acks}
	if req.Acks == -1 {
		d.deadline = time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
	}
	return d, nil
}

// produceTarget is one partition of a produce request on its way to the
// log: its replica once resolved, its transactional producer and guard
// while it waits for verification, and its error if it failed.
type produceTarget struct {
	tp      topicPartition
	records []byte
	resp    *kmsg.ProduceResponseTopicPartition
	rep     *replica.Replica
	guard   uint64
	// verify is set when the records are the producer's first
	// transactional batch here in this transaction: the transaction
	// coordinator must confirm (or add) the partition first.
	verify        bool
	pid           int64
	producerEpoch int16
	code          *kerr.Error
	msg           string
}

// resolveProduce finds the partition's replica on this node and, for a
// transactional batch, takes the partition's verification guard (KIP-890)
// before the transaction coordinator is asked.
func (b *Broker) resolveProduce(t *produceTarget, req *kmsg.ProduceRequest) {
	t.rep = b.replicas.Replica(t.tp.Topic, t.tp.Partition)
	if t.rep == nil {
		t.code = kerr.UnknownTopicOrPartition
		if _, ok := b.meta.Image().Partition(t.tp.Topic, t.tp.Partition); ok {
			t.code = kerr.NotLeaderForPartition
		}
		return
	}
	if req.TransactionID == nil {
		return
	}
	it := record.Batches(t.records)
	if !it.Next() {
		return // the append reports what is wrong with the records
	}
	h := it.Header()
	if !h.IsTransactional() || h.ProducerID < 0 {
		return
	}
	guard, open := t.rep.Partition().TxnVerificationGuard(h.ProducerID, h.ProducerEpoch)
	t.guard = guard
	if !open {
		t.verify, t.pid, t.producerEpoch = true, h.ProducerID, h.ProducerEpoch
	}
}

// produceTo appends one partition's batches and fills its response entry.
func (b *Broker) produceTo(t *produceTarget, req *kmsg.ProduceRequest, pending *[]pendingAck) (*kerr.Error, string) {
	rep, sp := t.rep, t.resp
	opts := b.replicas.AppendOptions(rep)
	opts.VerificationGuard, opts.RequiredAcks = t.guard, req.Acks
	res, err := rep.Partition().AppendAsLeaderAsync(t.records, opts)
	if err != nil {
		code, msg := partition.KafkaError(err)
		if code == kerr.UnknownServerError || code == kerr.KafkaStorageError {
			b.logger.Error("produce failed", "topic", t.tp.Topic, "partition", t.tp.Partition, "err", err)
		}
		return code, msg
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if req.Acks != 0 && rep.Partition().HighWatermark() <= res.LastOffset {
		*pending = append(*pending, pendingAck{part: rep.Partition(), lastOffset: res.LastOffset, epoch: res.LeaderEpoch, minISR: opts.MinInsyncReplicas, resp: sp})
	}
	return nil, ""
}

// verifyTxnProduce checks the request's first transactional batches
// against the producer's transaction (KIP-890 part 1), or under
// transaction protocol version 2 (produce v12+ while transaction.version
// is 2) adds their partitions to it (part 2): one question to the
// transaction coordinator, in process or on its node, for all the
// partitions of each producer id and epoch (a request carries one). A
// partition refused keeps no guard and gets the mapped error.
func (b *Broker) verifyTxnProduce(id string, version int16, targets []produceTarget) {
	type producer struct {
		pid   int64
		epoch int16
	}
	var order []producer
	byProducer := map[producer][]*produceTarget{}
	for i := range targets {
		t := &targets[i]
		if t.code != nil || !t.verify {
			continue
		}
		k := producer{t.pid, t.producerEpoch}
		if byProducer[k] == nil {
			order = append(order, k)
		}
		byProducer[k] = append(byProducer[k], t)
	}
	if len(order) == 0 {
		return
	}
	add := version >= 12 && b.replicas.TransactionVersion() >= 2
	ctx, cancel := context.WithTimeout(context.Background(), txnVerifyTimeout)
	defer cancel()
	for _, k := range order {
		ts := byProducer[k]
		tps := make([]txn.TopicPartition, len(ts))
		for i, t := range ts {
			tps[i] = txn.TopicPartition{Topic: t.tp.Topic, Partition: t.tp.Partition}
		}
		codes := b.replicas.VerifyTransaction(ctx, id, k.pid, k.epoch, tps, add)
		for i, t := range ts {
			if codes[i] == 0 {
				continue
			}
			t.rep.Partition().ClearTxnVerification(k.pid, t.guard)
			t.guard = 0
			t.code, t.msg = txnVerifyError(codes[i])
		}
	}
}

// txnVerifyError maps the transaction coordinator's refusal of a
// partition to the produce error Kafka's partition leader answers.
func txnVerifyError(code int16) (*kerr.Error, string) {
	switch code {
	case kerr.InvalidTxnState.Code:
		return kerr.InvalidTxnState, "Partition was not added to the transaction"
	case kerr.ConcurrentTransactions.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code, kerr.NotCoordinator.Code, kerr.NetworkException.Code:
		return kerr.NotEnoughReplicas, "Unable to verify the partition has been added to the transaction. Underlying error: " + kerr.ErrorForCode(code).Error()
	case kerr.ProducerFenced.Code:
		return kerr.InvalidProducerEpoch, ""
	}
	if ke, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return ke, ""
	}
	return kerr.UnknownServerError, "transaction verification: " + kerr.ErrorForCode(code).Error()
}

// txnVerifyTimeout bounds the transaction coordinator's answer to a
// produce's verification, a request to another node or the state write
// of an implicit add (Kafka's request.timeout.ms for the inter-broker
// AddPartitionsToTxn).
const txnVerifyTimeout = 30 * time.Second

// deferredProduce is a produce response that is final once every pending
// partition's high watermark covers its records (see deferredResponse).
type deferredProduce struct {
	*kmsg.ProduceResponse
	pending  []pendingAck
	acks     int16
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
		if err := p.part.WaitAcked(ctx, p.lastOffset+1, p.epoch, d.acks, p.minISR); err != nil {
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
