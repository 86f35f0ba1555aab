package txn

import (
	"errors"
	"fmt"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"math"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// StateTopic is the internal compacted topic holding transaction state.
const StateTopic = "__transaction_state"

// State is a transaction's state, with Kafka's numbering (the byte stored
// in TxnMetadataValue).
type State int8

const (
	Empty             State = 0 // no transaction in progress
	Ongoing           State = 1 // partitions added, not yet ended
	PrepareCommit     State = 2 // EndTxn(commit) recorded; markers being written
	PrepareAbort      State = 3 // abort recorded; markers being written
	CompleteCommit    State = 4 // markers written: committed
	CompleteAbort     State = 5 // markers written: aborted
	Dead              State = 6 // the transactional id expired
	PrepareEpochFence State = 7 // an ongoing transaction is being fenced
)

// String is Kafka's name of the state, as DescribeTransactions and
// ListTransactions report it.
func (s State) String() string { return kmsg.TransactionState(s).String() }

// ParseState reads a state name as ListTransactions filters carry it.
func ParseState(name string) (State, bool) {
	for i, n := range kmsg.TransactionStateStrings() {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// noEpoch is Kafka's RecordBatch.NO_PRODUCER_EPOCH.
const noEpoch int16 = -1

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: the
// epoch cannot be bumped once more (a fence needs room for one more bump).
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// Metadata is the state of one transactional id, as stored in
// __transaction_state and reported by DescribeTransactions.
type Metadata struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// LastProducerID and LastProducerEpoch are the ones in use before the
	// last bump or rotation, so a retried InitProducerId is recognised.
	LastProducerID    int64
	LastProducerEpoch int16
	// NextProducerID is the producer id a transaction version 2 end moves
	// to when the epoch is exhausted: set in PrepareCommit/PrepareAbort,
	// taken (with epoch 0) at the completion; -1 otherwise.
	NextProducerID int64
	// ClientTransactionVersion is the transaction protocol version the
	// producer used for its latest transaction (0 or 1: explicit
	// AddPartitionsToTxn, fixed epoch; 2: KIP-890 part 2, an epoch bump
	// with every EndTxn).
	ClientTransactionVersion int16
	TimeoutMs                int32
	State                    State
	Partitions               []TopicPartition // sorted; only in Ongoing and Prepare* states
	// StartTimestamp is when the current transaction began (first
	// partition added), -1 when none is open. LastUpdateTimestamp is the
	// last state change; both in ms.
	StartTimestamp      int64
	LastUpdateTimestamp int64
}

func (m *Metadata) clone() Metadata {
	c := *m
	c.Partitions = append([]TopicPartition(nil), m.Partitions...)
	return c
}

func (m *Metadata) hasPartition(tp TopicPartition) bool {
	i := sort.Search(len(m.Partitions), func(i int) bool { return !lessTP(m.Partitions[i], tp) })
	return i < len(m.Partitions) && m.Partitions[i] == tp
}

func (m *Metadata) addPartitions(tps []TopicPartition) {
	for _, tp := range tps {
		if !m.hasPartition(tp) {
			m.Partitions = append(m.Partitions, tp)
		}
	}
	sortTPs(m.Partitions)
}

func lessTP(a, b TopicPartition) bool {
	if a.Topic != b.Topic {
		return a.Topic < b.Topic
	}
	return a.Partition < b.Partition
}

func sortTPs(tps []TopicPartition) {
	sort.Slice(tps, func(i, j int) bool { return lessTP(tps[i], tps[j]) })
}

// Record is one key/value record of __transaction_state; a nil Value is a
// tombstone.
type Record = coordinator.Record

// PartitionFor is the __transaction_state partition of a transactional id,
// as Kafka computes it: abs(Java String.hashCode(id)) % partitions.
func PartitionFor(transactionalID string, partitions int32) int32 {
	return coordinator.PartitionFor(transactionalID, partitions)
}

// encodeKey is Kafka's TransactionLogKey (version 0).
func encodeKey(id string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = id
	return k.AppendTo(nil)
}

// encodeValue is Kafka's TransactionLogValue, version 1 (flexible, with
// the previous producer id as a tagged field).
func encodeValue(m *Metadata) []byte {
	v := kmsg.NewTxnMetadataValue()
	v.Version = 1
	v.ProducerID = m.ProducerID
	v.ProducerEpoch = m.ProducerEpoch
	v.PreviousProducerID = m.LastProducerID
	v.NextProducerID = m.NextProducerID
	v.NextProducerEpoch = -1
	v.ClientTransactionVersion = m.ClientTransactionVersion
	v.TimeoutMillis = m.TimeoutMs
	v.State = kmsg.TransactionState(m.State)
	v.LastUpdateTimestamp = m.LastUpdateTimestamp
	v.StartTimestamp = m.StartTimestamp
	for i := 0; i < len(m.Partitions); {
		t := kmsg.NewTxnMetadataValueTopic()
		t.Topic = m.Partitions[i].Topic
		for ; i < len(m.Partitions) && m.Partitions[i].Topic == t.Topic; i++ {
			t.Partitions = append(t.Partitions, m.Partitions[i].Partition)
		}
		v.Topics = append(v.Topics, t)
	}
	return v.AppendTo(nil)
}

// errBadRecord marks a __transaction_state record that does not decode.
var errBadRecord = errors.New("malformed __transaction_state record")

// DecodeRecord decodes a __transaction_state record: the transactional id,
// and its metadata (nil for a tombstone). Keys of versions other than 0
// and 1 are not transaction records; skip reports them.
func DecodeRecord(r Record) (id string, m *Metadata, skip bool, err error) {
	if len(r.Key) < 2 {
		return "", nil, false, fmt.Errorf("%w: key of %d bytes", errBadRecord, len(r.Key))
	}
	var k kmsg.TxnMetadataKey
	if err := k.ReadFrom(r.Key); err != nil {
		return "", nil, false, fmt.Errorf("%w: key: %v", errBadRecord, err)
	}
	if k.Version != 0 && k.Version != 1 {
		return "", nil, true, nil
	}
	if r.Value == nil {
		return k.TransactionalID, nil, false, nil
	}
	var v kmsg.TxnMetadataValue
	if err := v.ReadFrom(r.Value); err != nil {
		return "", nil, false, fmt.Errorf("%w: value of %q: %v", errBadRecord, k.TransactionalID, err)
	}
	if v.State < 0 || v.State > kmsg.TransactionState(PrepareEpochFence) {
		return "", nil, false, fmt.Errorf("%w: value of %q: state %d", errBadRecord, k.TransactionalID, v.State)
	}
	m = &Metadata{
		TransactionalID:     k.TransactionalID,
		ProducerID:          v.ProducerID,
		ProducerEpoch:       v.ProducerEpoch,
		LastProducerID:      -1,
		LastProducerEpoch:   noEpoch,
		NextProducerID:      -1,
		TimeoutMs:           v.TimeoutMillis,
		State:               State(v.State),
		StartTimestamp:      v.StartTimestamp,
		LastUpdateTimestamp: v.LastUpdateTimestamp,
	}
	if v.Version >= 1 {
		if v.PreviousProducerID >= 0 {
			m.LastProducerID = v.PreviousProducerID
		}
		if v.NextProducerID >= 0 {
			m.NextProducerID = v.NextProducerID
		}
		m.ClientTransactionVersion = v.ClientTransactionVersion
	}
	for _, t := range v.Topics {
		for _, p := range t.Partitions {
			m.Partitions = append(m.Partitions, TopicPartition{t.Topic, p})
		}
	}
	sortTPs(m.Partitions)
	return k.TransactionalID, m, false, nil
}
