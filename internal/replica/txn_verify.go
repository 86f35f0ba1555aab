package replica

// Transaction verification across nodes (KIP-890): a partition leader
// about to append a producer's first transactional batch of a transaction
// asks the transaction coordinator of the producer's transactional id
// whether the partition is in the open transaction (part 1), or adds it
// (part 2's implicit add), and the group coordinator does the same for
// the __consumer_offsets partition of a TxnOffsetCommit. The coordinator
// is the leader of the id's __transaction_state partition in the metadata
// image: this node's coordinator is called in process; another node gets
// an AddPartitionsToTxn request (version 4 or 5, the batched form brokers
// send each other) with the transaction and its partitions, VerifyOnly
// for part 1, as Kafka's AddPartitionsToTxnManager sends it. Callers
// send one request per produce (or TxnOffsetCommit): all its partitions
// in one transaction entry.
//
// The answer is the coordinator's own code per partition, whichever way
// it came, so callers map it as they always have. A node that cannot be
// asked (no __transaction_state yet, no leader, a leader that is not a
// usable broker) gives COORDINATOR_NOT_AVAILABLE, and a request that
// failed (connection, timeout) NETWORK_EXCEPTION, as Kafka's manager
// answers.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/txn"
)

// VerifyTransaction asks the transactional id's coordinator about the
// producer's transaction and partitions tps: whether each is in the open
// transaction (add false), or to add them to it (add true, transaction
// protocol version 2). It returns one Kafka error code per partition, 0
// where verified or added.
func (m *Manager) VerifyTransaction(ctx context.Context, id string, pid int64, epoch int16, tps []txn.TopicPartition, add bool) []int16 {
	codes := make([]int16, len(tps))
	setAll := func(code int16) []int16 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	im := m.meta.Image()
	state := im.Topics[txn.StateTopic]
	if state == nil || len(state.Partitions) == 0 {
		return setAll(kerr.CoordinatorNotAvailable.Code)
	}
	leader := state.Partitions[txn.PartitionFor(id, int32(len(state.Partitions)))].Leader
	switch {
	case leader == m.cfg.NodeID:
		tc, err := m.Txns()
		if err != nil {
			return setAll(kerr.CoordinatorNotAvailable.Code)
		}
		if add {
			return setAll(tc.AddPartitionsImplicitly(ctx, id, pid, epoch, tps))
		}
		for i, tp := range tps {
			codes[i] = tc.Verify(id, pid, epoch, tp)
		}
		return codes
	case leader < 0 || !usableBroker(im, leader):
		return setAll(kerr.CoordinatorNotAvailable.Code)
	}

	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = id, pid, epoch, !add
	for _, tp := range tps {
		if n := len(tx.Topics); n > 0 && tx.Topics[n-1].Topic == tp.Topic {
			tx.Topics[n-1].Partitions = append(tx.Topics[n-1].Partitions, tp.Partition)
			continue
		}
		rt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		rt.Topic, rt.Partitions = tp.Topic, []int32{tp.Partition}
		tx.Topics = append(tx.Topics, rt)
	}
	req.Transactions = append(req.Transactions, tx)
	resp, err := m.peers.Request(ctx, leader, req)
	if err != nil {
		m.logger.Info("transaction verification request failed", "transactional_id", id, "coordinator", leader, "err", err)
		return setAll(kerr.NetworkException.Code)
	}
	r := resp.(*kmsg.AddPartitionsToTxnResponse)
	switch r.ErrorCode {
	case 0:
	case kerr.ClusterAuthorizationFailed.Code:
		// Not the client's to see: the partition is not verified.
		return setAll(kerr.InvalidTxnState.Code)
	default:
		return setAll(r.ErrorCode)
	}
	got := map[txn.TopicPartition]int16{}
	for _, rt := range r.Transactions {
		if rt.TransactionalID != id {
			continue
		}
		for _, t := range rt.Topics {
			for _, p := range t.Partitions {
				got[txn.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	for i, tp := range tps {
		code, ok := got[tp]
		if !ok {
			code = kerr.NetworkException.Code // an answer without the partition: ask again
		}
		codes[i] = code
	}
	return codes
}

// TransactionVersion is the cluster's finalized transaction.version
// feature level: at 2, transactional produce v12+ and TxnOffsetCommit v5+
// add their partitions implicitly.
func (m *Manager) TransactionVersion() int16 { return m.transactionVersion() }
