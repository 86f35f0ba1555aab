package partition

import (
	"fmt"
	"math"
	"sort"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kerr"
)

// BatchesToRetain is how many of a producer's most recent batches the
// partition remembers, as Kafka does: a retried batch that is one of them is
// answered with its original offsets. It matches the client-side limit
// max.in.flight.requests.per.connection <= 5 for idempotent producers.
const BatchesToRetain = 5

// batchMetadata is what the partition remembers about one appended batch of
// an idempotent producer.
type batchMetadata struct {
	LastSeq     int32 // sequence of the batch's last record
	LastOffset  int64 // offset of the batch's last record
	OffsetDelta int32 // LastOffset - base offset (== last sequence - first sequence)
	Timestamp   int64 // the batch's max timestamp
}

func (b batchMetadata) firstSeq() int32    { return decrementSequence(b.LastSeq, b.OffsetDelta) }
func (b batchMetadata) firstOffset() int64 { return b.LastOffset - int64(b.OffsetDelta) }

// producerEntry is the state of one producer id on this partition.
type producerEntry struct {
	ProducerID            int64
	Epoch                 int16 // -1 until the first batch
	CoordinatorEpoch      int32 // -1 until a transaction marker is seen
	CurrentTxnFirstOffset int64 // -1 when no transaction is open
	LastTimestamp         int64 // max timestamp of the latest batch
	// batches holds the retained batches, oldest first, in batchBuf[:n];
	// slots from n on are zero. A fixed array keeps the entry copyable
	// without allocating.
	batchBuf [BatchesToRetain]batchMetadata
	n        int
}

// batches returns the retained batches, oldest first (aliasing the entry).
func (e *producerEntry) batches() []batchMetadata { return e.batchBuf[:e.n] }

func newProducerEntry(pid int64) *producerEntry {
	return &producerEntry{ProducerID: pid, Epoch: noProducerEpoch, CoordinatorEpoch: -1, CurrentTxnFirstOffset: -1, LastTimestamp: -1}
}

func (e *producerEntry) isEmpty() bool { return e.n == 0 }

func (e *producerEntry) lastSeq() int32 {
	if e.n == 0 {
		return record.NoSequence
	}
	return e.batchBuf[e.n-1].LastSeq
}

// lastOffset is the offset of the producer's latest record, or -1.
func (e *producerEntry) lastOffset() int64 {
	if e.n == 0 {
		return -1
	}
	return e.batchBuf[e.n-1].LastOffset
}

// maybeUpdateEpoch switches to a new epoch, forgetting the batches of the
// old one (their sequences no longer matter).
func (e *producerEntry) maybeUpdateEpoch(epoch int16) {
	if e.Epoch != epoch {
		e.batchBuf = [BatchesToRetain]batchMetadata{}
		e.n = 0
		e.Epoch = epoch
	}
}

func (e *producerEntry) addBatch(epoch int16, b batchMetadata) {
	e.maybeUpdateEpoch(epoch)
	if e.n == BatchesToRetain {
		copy(e.batchBuf[:], e.batchBuf[1:])
		e.n--
	}
	e.batchBuf[e.n] = b
	e.n++
	e.LastTimestamp = b.Timestamp
}

// findDuplicate returns the retained batch with exactly this epoch and
// sequence range.
func (e *producerEntry) findDuplicate(epoch int16, firstSeq, lastSeq int32) (batchMetadata, bool) {
	if epoch != e.Epoch {
		return batchMetadata{}, false
	}
	for _, b := range e.batches() {
		if b.firstSeq() == firstSeq && b.LastSeq == lastSeq {
			return b, true
		}
	}
	return batchMetadata{}, false
}

// ProducerState describes one active producer, as DescribeProducers reports it.
type ProducerState struct {
	ProducerID            int64
	ProducerEpoch         int16
	LastSequence          int32 // -1 if no batch is retained
	LastTimestamp         int64 // max timestamp of its latest batch, -1 if none
	CoordinatorEpoch      int32 // -1 if no transaction marker was seen
	CurrentTxnStartOffset int64 // -1 when no transaction is open
}

// producerStateManager holds the state of every producer id that has
// appended to a partition. It is not safe for concurrent use: the Partition
// serialises access under its append lock.
type producerStateManager struct {
	producers map[int64]*producerEntry
}

func newProducerStateManager() *producerStateManager {
	return &producerStateManager{producers: make(map[int64]*producerEntry)}
}

func (m *producerStateManager) entry(pid int64) (*producerEntry, bool) {
	e, ok := m.producers[pid]
	return e, ok
}

// active returns the producers sorted by id.
func (m *producerStateManager) active() []ProducerState {
	out := make([]ProducerState, 0, len(m.producers))
	for _, e := range m.producers {
		out = append(out, ProducerState{
			ProducerID:            e.ProducerID,
			ProducerEpoch:         e.Epoch,
			LastSequence:          e.lastSeq(),
			LastTimestamp:         e.LastTimestamp,
			CoordinatorEpoch:      e.CoordinatorEpoch,
			CurrentTxnStartOffset: e.CurrentTxnFirstOffset,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProducerID < out[j].ProducerID })
	return out
}

// replay applies a batch already in the log without validation (used when
// rebuilding state from the log after a restart, as Kafka does for
// replicated data).
func (m *producerStateManager) replay(h record.Header) {
	if h.ProducerID < 0 {
		return
	}
	e, ok := m.producers[h.ProducerID]
	if !ok {
		e = newProducerEntry(h.ProducerID)
		m.producers[h.ProducerID] = e
	}
	if h.IsControl() {
		// A transaction marker ends the producer's transaction; its
		// coordinator epoch lives in the record body, which a header scan
		// does not read.
		e.maybeUpdateEpoch(h.ProducerEpoch)
		e.CurrentTxnFirstOffset = -1
		e.LastTimestamp = h.MaxTimestamp
		return
	}
	e.addBatch(h.ProducerEpoch, batchMetadataOf(h))
	if h.IsTransactional() && e.CurrentTxnFirstOffset < 0 {
		e.CurrentTxnFirstOffset = h.BaseOffset
	}
}

// removeBefore forgets producers whose latest record is below offset (their
// data was deleted by retention or DeleteRecords), as Kafka does when the log
// start offset moves.
func (m *producerStateManager) removeBefore(offset int64) {
	for pid, e := range m.producers {
		if e.CurrentTxnFirstOffset < 0 && e.lastOffset() < offset {
			delete(m.producers, pid)
		}
	}
}

// expire forgets producers idle for at least expirationMs (Kafka's
// producer.id.expiration.ms, measured against the batch timestamps), unless
// a transaction is open. It returns how many were removed.
func (m *producerStateManager) expire(nowMs, expirationMs int64) int {
	n := 0
	for pid, e := range m.producers {
		if e.CurrentTxnFirstOffset < 0 && nowMs-e.LastTimestamp >= expirationMs {
			delete(m.producers, pid)
			n++
		}
	}
	return n
}

func batchMetadataOf(h record.Header) batchMetadata {
	return batchMetadata{
		LastSeq:     lastSequence(h),
		LastOffset:  h.LastOffset(),
		OffsetDelta: h.LastOffsetDelta,
		Timestamp:   h.MaxTimestamp,
	}
}

// lastSequence is the sequence of a batch's last record; sequences wrap from
// int32 max to 0.
func lastSequence(h record.Header) int32 {
	return incrementSequence(h.BaseSequence, h.LastOffsetDelta)
}

func incrementSequence(seq, inc int32) int32 {
	if seq > math.MaxInt32-inc {
		return inc - (math.MaxInt32 - seq) - 1
	}
	return seq + inc
}

func decrementSequence(seq, dec int32) int32 {
	if seq < dec {
		return math.MaxInt32 - (dec - seq) + 1
	}
	return seq - dec
}

func inSequence(lastSeq, nextSeq int32) bool {
	return int64(nextSeq) == int64(lastSeq)+1 || (nextSeq == 0 && lastSeq == math.MaxInt32)
}

// appendCheck validates the producer fields of the batches of one append
// against the current state, accumulating the would-be state in scratch
// copies of the entries so that several batches of one producer in one
// append are checked against each other. Nothing changes in the manager
// until commit. The inline buffers make the usual one-batch append
// allocation-free.
type appendCheck struct {
	m          *producerStateManager
	updated    []producerEntry
	pending    []pendingBatch
	updatedBuf [1]producerEntry
	pendingBuf [1]pendingBatch
}

type pendingBatch struct {
	pid   int64
	epoch int16
	txn   bool          // a transactional batch
	meta  batchMetadata // LastOffset relative to the append's base offset
}

func (c *appendCheck) init(m *producerStateManager) {
	c.m = m
	c.updated = c.updatedBuf[:0]
	c.pending = c.pendingBuf[:0]
}

// duplicate reports whether the batch is a retry of one of the producer's
// retained batches; it returns the original batch.
func (c *appendCheck) duplicate(h record.Header) (batchMetadata, bool) {
	if h.ProducerID < 0 {
		return batchMetadata{}, false
	}
	e, ok := c.m.producers[h.ProducerID]
	if !ok {
		return batchMetadata{}, false
	}
	return e.findDuplicate(h.ProducerEpoch, h.BaseSequence, lastSequence(h))
}

// check validates one client batch; relLastOffset is the batch's last
// offset relative to the append's first offset and offset the predicted
// absolute base offset (for messages only). Sequences are checked only if
// checkSeq (not for a coordinator's batches, which have none).
func (c *appendCheck) check(h record.Header, relLastOffset, offset int64, checkSeq bool) error {
	if h.ProducerID < 0 {
		return nil
	}
	current, ok := c.m.producers[h.ProducerID]
	if !ok {
		current = newProducerEntry(h.ProducerID)
	}
	idx := -1
	for i := range c.updated {
		if c.updated[i].ProducerID == h.ProducerID {
			idx = i
			break
		}
	}
	if idx < 0 {
		c.updated = append(c.updated, *current)
		idx = len(c.updated) - 1
	}
	updated := &c.updated[idx]

	if h.ProducerEpoch < updated.Epoch {
		return newError(kerr.InvalidProducerEpoch, nil,
			"epoch of producer %d at offset %d is %d, which is smaller than the last seen epoch %d",
			h.ProducerID, offset, h.ProducerEpoch, updated.Epoch)
	}
	firstSeq := h.BaseSequence
	if !checkSeq {
		// A coordinator's batch: only the epoch matters.
	} else if h.ProducerEpoch != updated.Epoch {
		// A new epoch must start at sequence 0, unless the producer is
		// unknown here (its state expired or was deleted with its data):
		// then any sequence is accepted, as Kafka does since KIP-360.
		if firstSeq != 0 && updated.Epoch != noProducerEpoch {
			return newError(kerr.OutOfOrderSequenceNumber, nil,
				"invalid sequence number for new epoch of producer %d at offset %d: %d (request epoch), %d (seq. number), %d (current producer epoch)",
				h.ProducerID, offset, h.ProducerEpoch, firstSeq, updated.Epoch)
		}
	} else {
		lastSeq := updated.lastSeq()
		if current.Epoch != noProducerEpoch && !inSequence(lastSeq, firstSeq) {
			return newError(kerr.OutOfOrderSequenceNumber, nil,
				"out of order sequence number for producer %d at offset %d: %d (incoming seq. number), %d (current end sequence number)",
				h.ProducerID, offset, firstSeq, lastSeq)
		}
	}
	if !h.IsTransactional() && updated.CurrentTxnFirstOffset >= 0 && h.ProducerEpoch == updated.Epoch {
		return newError(kerr.InvalidTxnState, nil,
			"expected a transactional write from producer %d at offset %d: its transaction is open", h.ProducerID, offset)
	}
	meta := batchMetadata{LastSeq: lastSequence(h), LastOffset: relLastOffset, OffsetDelta: h.LastOffsetDelta, Timestamp: h.MaxTimestamp}
	updated.addBatch(h.ProducerEpoch, meta)
	if h.IsTransactional() && updated.CurrentTxnFirstOffset < 0 {
		updated.CurrentTxnFirstOffset = 0 // any value >= 0: open within this append
	}
	c.pending = append(c.pending, pendingBatch{pid: h.ProducerID, epoch: h.ProducerEpoch, txn: h.IsTransactional(), meta: meta})
	return nil
}

// commit applies the checked batches once the log has accepted them at
// baseOffset; logAppendTime replaces batch timestamps when the broker
// stamped LogAppendTime (-1 otherwise).
func (c *appendCheck) commit(baseOffset, logAppendTime int64) {
	for _, p := range c.pending {
		e, ok := c.m.producers[p.pid]
		if !ok {
			e = newProducerEntry(p.pid)
			c.m.producers[p.pid] = e
		}
		meta := p.meta
		meta.LastOffset += baseOffset
		if logAppendTime >= 0 {
			meta.Timestamp = logAppendTime
		}
		e.addBatch(p.epoch, meta)
		if p.txn && e.CurrentTxnFirstOffset < 0 {
			e.CurrentTxnFirstOffset = meta.firstOffset()
		}
	}
}

func (m *producerStateManager) String() string {
	return fmt.Sprintf("producers(%d)", len(m.producers))
}
