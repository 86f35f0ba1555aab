package txn

import (
	"context"
	"math"
	"regexp"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file serves the client requests: InitProducerId (with a
// transactional id), AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// DescribeTransactions and ListTransactions.

// fenced is PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for request
// versions older than KIP-588 (which introduced PRODUCER_FENCED at
// InitProducerId v4, AddPartitionsToTxn v2, AddOffsetsToTxn v2, EndTxn v2
// and TxnOffsetCommit v3), as Kafka answers old clients.
func fenced(code int16, version, firstVersion int16) int16 {
	if code == kerr.ProducerFenced.Code && version < firstVersion {
		return kerr.InvalidProducerEpoch.Code
	}
	return code
}

// InitProducerID serves InitProducerId (v0 to v5) for a request with a
// transactional id (the broker serves idempotent producers itself). A new
// id gets a fresh producer id and epoch 0; a known one gets its epoch
// bumped (a new producer id once the epoch is exhausted), which fences
// every older instance of the producer. An ongoing transaction is aborted
// first (fenced, with the bumped epoch) and the client is told
// CONCURRENT_TRANSACTIONS, to retry, as Kafka does. Version 3+ requests
// carrying a producer id and epoch (KIP-360) are recognised as the same
// producer recovering, or fenced if they are not the current one.
func (c *Coordinator) InitProducerID(ctx context.Context, req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	code, pid, epoch := c.initProducerID(ctx, req)
	resp.ErrorCode = fenced(code, req.Version, 4)
	if code == 0 {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	return resp
}

func (c *Coordinator) initProducerID(ctx context.Context, req *kmsg.InitProducerIDRequest) (int16, int64, int16) {
	if req.TransactionalID == nil || *req.TransactionalID == "" {
		return kerr.InvalidRequest.Code, -1, -1
	}
	id := *req.TransactionalID
	if req.TransactionTimeoutMillis <= 0 || req.TransactionTimeoutMillis > c.cfg.TransactionMaxTimeoutMs {
		return kerr.InvalidTransactionTimeout.Code, -1, -1
	}
	if code := c.ownerCode(id); code != 0 {
		return code, -1, -1
	}
	hasExpected := req.Version >= 3 && (req.ProducerID >= 0 || req.ProducerEpoch >= 0)
	if hasExpected && (req.ProducerID < 0 || req.ProducerEpoch < 0) {
		return kerr.InvalidRequest.Code, -1, -1
	}
	e, code := c.lockOrCreate(id, true)
	if code != 0 {
		return code, -1, -1
	}
	defer e.mu.Unlock()
	m := &e.meta
	if m.ProducerID < 0 {
		pid, err := c.opts.ProducerIDs(ctx)
		if err != nil {
			c.logger.Warn("cannot allocate a producer id", "transactional_id", id, "err", err)
			return kerr.CoordinatorNotAvailable.Code, -1, -1
		}
		m.ProducerID = pid
	}
	if hasExpected {
		valid := m.ProducerEpoch == noEpoch || req.ProducerID == m.ProducerID ||
			(req.ProducerID == m.LastProducerID && epochExhausted(req.ProducerEpoch))
		if !valid {
			return kerr.ProducerFenced.Code, -1, -1
		}
	}
	switch m.State {
	case PrepareCommit, PrepareAbort:
		c.completeLocked(ctx, e)
		if m.State == PrepareCommit || m.State == PrepareAbort {
			return kerr.ConcurrentTransactions.Code, -1, -1
		}
	case Ongoing:
		// Fence the old producer and abort its transaction; the client
		// retries and then gets its bump.
		if code := c.abortLocked(ctx, e, !epochExhausted(m.ProducerEpoch)); code != 0 {
			return code, -1, -1
		}
		return kerr.ConcurrentTransactions.Code, -1, -1
	case Dead, PrepareEpochFence:
		return kerr.ConcurrentTransactions.Code, -1, -1
	}

	next := m.clone()
	switch {
	case hasExpected && req.ProducerID == m.LastProducerID && req.ProducerID != m.ProducerID:
		// A retry of the request that rotated the producer id: answer
		// with the current id unchanged.
		return 0, m.ProducerID, m.ProducerEpoch
	case epochExhausted(m.ProducerEpoch):
		pid, err := c.opts.ProducerIDs(ctx)
		if err != nil {
			c.logger.Warn("cannot allocate a producer id", "transactional_id", id, "err", err)
			return kerr.CoordinatorNotAvailable.Code, -1, -1
		}
		next.LastProducerID, next.LastProducerEpoch = m.ProducerID, m.ProducerEpoch
		next.ProducerID, next.ProducerEpoch = pid, 0
	case !hasExpected || req.ProducerEpoch == m.ProducerEpoch || m.ProducerEpoch == noEpoch:
		next.LastProducerEpoch = m.ProducerEpoch
		next.ProducerEpoch = m.ProducerEpoch + 1
	case req.ProducerEpoch == m.LastProducerEpoch:
		// The producer retries after a bump it never heard of (or after
		// its timed-out transaction was fenced): it gets the current epoch.
	default:
		return kerr.ProducerFenced.Code, -1, -1
	}
	next.State = Empty
	next.Partitions = nil
	next.StartTimestamp = -1
	next.TimeoutMs = req.TransactionTimeoutMillis
	if err := c.writeLocked(ctx, e, next); err != nil {
		c.logger.Warn("cannot write transaction state", "transactional_id", id, "err", err)
		return storageCode(err), -1, -1
	}
	return 0, next.ProducerID, next.ProducerEpoch
}

// checkProducerLocked applies the checks common to the requests of an
// open producer: its id and epoch must be the current ones.
func checkProducerLocked(e *entry, pid int64, epoch int16) int16 {
	if e == nil || e.meta.ProducerID != pid {
		return kerr.InvalidProducerIDMapping.Code
	}
	if e.meta.ProducerEpoch != epoch {
		return kerr.ProducerFenced.Code
	}
	return 0
}

// AddPartitions adds partitions to the producer's transaction, opening it
// if none is open. It returns the Kafka error code (0 on success):
// INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS
// while a previous transaction is being completed,
// COORDINATOR_LOAD_IN_PROGRESS, or a storage error code.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, pid int64, epoch int16, tps []TopicPartition) int16 {
	return c.addPartitions(ctx, id, pid, epoch, tps, 1)
}

// AddPartitionsImplicitly is the implicit add of transaction protocol
// version 2 (KIP-890 part 2): a partition leader adds the partition of a
// transactional produce (v12+), and the group coordinator the offsets
// partition of a TxnOffsetCommit (v5+), to the producer's transaction on
// its behalf. It answers as AddPartitions, and records that the producer
// runs version 2. Callers check that the cluster's transaction.version is
// at least 2 (TransactionVersion).
func (c *Coordinator) AddPartitionsImplicitly(ctx context.Context, id string, pid int64, epoch int16, tps []TopicPartition) int16 {
	return c.addPartitions(ctx, id, pid, epoch, tps, 2)
}

// TransactionVersion is the cluster's finalized transaction.version level.
func (c *Coordinator) TransactionVersion() int16 { return c.opts.TransactionVersion() }

func (c *Coordinator) addPartitions(ctx context.Context, id string, pid int64, epoch int16, tps []TopicPartition, tv int16) int16 {
	e, code := c.lock(id)
	if code != 0 {
		return code
	}
	if e == nil {
		return kerr.InvalidProducerIDMapping.Code
	}
	defer e.mu.Unlock()
	if code := checkProducerLocked(e, pid, epoch); code != 0 {
		return code
	}
	m := &e.meta
	switch m.State {
	case PrepareCommit, PrepareAbort:
		c.completeLocked(ctx, e)
		if m.State == PrepareCommit || m.State == PrepareAbort {
			return kerr.ConcurrentTransactions.Code
		}
	case Dead, PrepareEpochFence:
		return kerr.ConcurrentTransactions.Code
	}
	if m.State == Ongoing && m.ClientTransactionVersion == tv {
		all := true
		for _, tp := range tps {
			if !m.hasPartition(tp) {
				all = false
				break
			}
		}
		if all {
			return 0
		}
	}
	next := m.clone()
	if next.State != Ongoing {
		next.StartTimestamp = c.nowMs()
		next.Partitions = nil
	}
	next.State = Ongoing
	next.ClientTransactionVersion = tv
	next.addPartitions(tps)
	if err := c.writeLocked(ctx, e, next); err != nil {
		c.logger.Warn("cannot write transaction state", "transactional_id", id, "err", err)
		return storageCode(err)
	}
	return 0
}

// Verify answers whether a partition is part of the producer's open
// transaction (KIP-890 part 1): 0 if it is, INVALID_TXN_STATE if it is
// not, INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED or
// CONCURRENT_TRANSACTIONS (the transaction is being completed) otherwise.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, tp TopicPartition) int16 {
	e, code := c.lock(id)
	if code != 0 {
		return code
	}
	if e == nil {
		return kerr.InvalidProducerIDMapping.Code
	}
	defer e.mu.Unlock()
	return verifyLocked(e, pid, epoch, tp)
}

func verifyLocked(e *entry, pid int64, epoch int16, tp TopicPartition) int16 {
	if code := checkProducerLocked(e, pid, epoch); code != 0 {
		return code
	}
	switch e.meta.State {
	case PrepareCommit, PrepareAbort:
		return kerr.ConcurrentTransactions.Code
	case Ongoing:
		if e.meta.hasPartition(tp) {
			return 0
		}
	}
	return kerr.InvalidTxnState.Code
}

// AddPartitionsToTxn serves AddPartitionsToTxn v0 to v5. Versions 0 to 3
// carry one transaction from a client; 4 and up a batch, each with
// VerifyOnly, as partition leaders send to verify a transactional produce
// (KIP-890 part 1). A partition that does not exist gets
// UNKNOWN_TOPIC_OR_PARTITION and the others of its request
// OPERATION_NOT_ATTEMPTED.
func (c *Coordinator) AddPartitionsToTxn(ctx context.Context, req *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if req.Version <= 3 {
		tps := make([]TopicPartition, 0, len(req.Topics))
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, TopicPartition{t.Topic, p})
			}
		}
		codes := c.addPartitionsCodes(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, false, tps, 1)
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p, fenced(codes[i], req.Version, 2)
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, tx := range req.Transactions {
		tps := make([]TopicPartition, 0, len(tx.Topics))
		for _, t := range tx.Topics {
			for _, p := range t.Partitions {
				tps = append(tps, TopicPartition{t.Topic, p})
			}
		}
		tv := int16(1)
		if req.Version >= 5 && c.opts.TransactionVersion() >= 2 {
			tv = 2
		}
		codes := c.addPartitionsCodes(ctx, tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly, tps, tv)
		rtx := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rtx.TransactionalID = tx.TransactionalID
		i := 0
		for _, t := range tx.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
				rp.Partition, rp.ErrorCode = p, codes[i]
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			rtx.Topics = append(rtx.Topics, rt)
		}
		resp.Transactions = append(resp.Transactions, rtx)
	}
	return resp
}

// addPartitionsCodes returns one code per partition of tps.
// tv is the transaction version of the add: 2 for a partition leader's
// AddPartitionsToTxn v5+ that is not VerifyOnly (KIP-890 part 2), 1
// otherwise.
func (c *Coordinator) addPartitionsCodes(ctx context.Context, id string, pid int64, epoch int16, verifyOnly bool, tps []TopicPartition, tv int16) []int16 {
	codes := make([]int16, len(tps))
	setAll := func(code int16) []int16 {
		for i := range codes {
			codes[i] = code
		}
		return codes
	}
	if id == "" {
		return setAll(kerr.InvalidRequest.Code)
	}
	if code := c.ownerCode(id); code != 0 {
		return setAll(code)
	}
	if verifyOnly {
		e, code := c.lock(id)
		if code != 0 {
			return setAll(code)
		}
		if e == nil {
			return setAll(kerr.InvalidProducerIDMapping.Code)
		}
		defer e.mu.Unlock()
		for i, tp := range tps {
			codes[i] = verifyLocked(e, pid, epoch, tp)
		}
		return codes
	}
	unknown := false
	for i, tp := range tps {
		if tp.Partition < 0 || !c.opts.PartitionExists(tp) {
			codes[i] = kerr.UnknownTopicOrPartition.Code
			unknown = true
		}
	}
	if unknown {
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = kerr.OperationNotAttempted.Code
			}
		}
		return codes
	}
	return setAll(c.addPartitions(ctx, id, pid, epoch, tps, tv))
}

// AddOffsetsToTxn serves AddOffsetsToTxn v0 to v4: the group's
// __consumer_offsets partition joins the transaction, so the offsets a
// TxnOffsetCommit sends become visible with the commit marker.
func (c *Coordinator) AddOffsetsToTxn(ctx context.Context, req *kmsg.AddOffsetsToTxnRequest) *kmsg.AddOffsetsToTxnResponse {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if req.TransactionalID == "" || req.Group == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		if req.Group == "" {
			resp.ErrorCode = kerr.InvalidGroupID.Code
		}
		return resp
	}
	code := c.AddPartitions(ctx, req.TransactionalID, req.ProducerID, req.ProducerEpoch, []TopicPartition{c.opts.OffsetsPartition(req.Group)})
	resp.ErrorCode = fenced(code, req.Version, 2)
	return resp
}

// EndTxn serves EndTxn v0 to v5: it records PrepareCommit or PrepareAbort,
// writes the markers to every partition of the transaction and records
// the completion. The answer follows the prepare: markers that could not
// be written are retried by Tick, and meanwhile the producer's next
// requests get CONCURRENT_TRANSACTIONS.
//
// Versions 0 to 4, and version 5 while transaction.version is below 2,
// run transaction protocol version 1: the epoch stays, ending a
// transaction that already ended the same way is answered with success (a
// retry), the other way with INVALID_TXN_STATE. Version 5 with
// transaction.version 2 runs version 2 (KIP-890 part 2, see endTxnV2):
// every end bumps the epoch, and the response carries the producer id and
// epoch to use next.
func (c *Coordinator) EndTxn(ctx context.Context, req *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	var code int16
	pid, epoch := req.ProducerID, req.ProducerEpoch
	if req.Version >= 5 && c.opts.TransactionVersion() >= 2 {
		code, pid, epoch = c.endTxnV2(ctx, req)
	} else {
		code = c.endTxn(ctx, req)
	}
	resp.ErrorCode = fenced(code, req.Version, 2)
	if code == 0 && req.Version >= 5 {
		resp.ProducerID, resp.ProducerEpoch = pid, epoch
	}
	return resp
}

func (c *Coordinator) endTxn(ctx context.Context, req *kmsg.EndTxnRequest) int16 {
	if req.TransactionalID == "" {
		return kerr.InvalidRequest.Code
	}
	e, code := c.lock(req.TransactionalID)
	if code != 0 {
		return code
	}
	if e == nil {
		return kerr.InvalidProducerIDMapping.Code
	}
	defer e.mu.Unlock()
	if code := checkProducerLocked(e, req.ProducerID, req.ProducerEpoch); code != 0 {
		return code
	}
	switch e.meta.State {
	case Ongoing:
		return c.prepareEndLocked(ctx, e, req.Commit, false, 1)
	case CompleteCommit:
		if req.Commit {
			return 0
		}
	case CompleteAbort:
		if !req.Commit {
			return 0
		}
	case PrepareCommit, PrepareAbort:
		if req.Commit == (e.meta.State == PrepareCommit) {
			c.completeLocked(ctx, e)
			if e.meta.State == PrepareCommit || e.meta.State == PrepareAbort {
				return kerr.ConcurrentTransactions.Code
			}
			return 0
		}
	}
	return kerr.InvalidTxnState.Code
}

// endTxnV2 ends a transaction under transaction protocol version 2, as
// Kafka's coordinator does: the prepared state (and so every marker) takes
// the epoch + 1, or, when the epoch is exhausted, the completion moves the
// producer to a new producer id at epoch 0. It returns the code and the
// producer id and epoch the producer continues with.
//
// Since the epoch moves with every end, a request's epoch tells a retry
// from the next transaction: epoch + 1 = the stored epoch (or the previous
// producer id at the last epoch, after an overflow) is a retry of the end
// that bumped it; the stored epoch is the producer's current transaction.
//
//	state            abort: retry  current    commit: retry  current
//	Empty                   FENCED  bump              FENCED   INVALID_TXN_STATE
//	CompleteAbort           ok      bump              INVALID_TXN_STATE (both)
//	CompleteCommit   INVALID_TXN_STATE  bump          ok       INVALID_TXN_STATE
//	Ongoing          the current epoch ends it (commit or abort); others FENCED
//	Prepare*         a retry of the same end completes it (or
//	                 CONCURRENT_TRANSACTIONS); the current epoch is FENCED
//
// "bump" is an abort with no partition added: legal under version 2, where
// a producer cannot know whether its produce reached a partition; it bumps
// the epoch and writes no marker.
func (c *Coordinator) endTxnV2(ctx context.Context, req *kmsg.EndTxnRequest) (int16, int64, int16) {
	if req.TransactionalID == "" {
		return kerr.InvalidRequest.Code, -1, -1
	}
	e, code := c.lock(req.TransactionalID)
	if code != 0 {
		return code, -1, -1
	}
	if e == nil {
		return kerr.InvalidProducerIDMapping.Code, -1, -1
	}
	defer e.mu.Unlock()
	m := &e.meta
	pid, epoch := req.ProducerID, req.ProducerEpoch
	retryOnOverflow := m.LastProducerID == pid && pid != m.ProducerID && epoch == epochOverflowAt && m.ProducerEpoch == 0
	retryOnBump := m.ProducerID == pid && int32(m.ProducerEpoch) == int32(epoch)+1
	isRetry := retryOnBump || retryOnOverflow
	if m.ProducerID != pid && !retryOnOverflow {
		return kerr.InvalidProducerIDMapping.Code, -1, -1
	}
	var valid bool
	switch m.State {
	case PrepareCommit, PrepareAbort:
		valid = retryOnBump
	case CompleteCommit, CompleteAbort:
		valid = isRetry || epoch == m.ProducerEpoch
	default:
		valid = epoch == m.ProducerEpoch
	}
	if !valid {
		return kerr.ProducerFenced.Code, -1, -1
	}
	current := func(code int16) (int16, int64, int16) {
		if code != 0 {
			return code, -1, -1
		}
		if m.NextProducerID >= 0 { // prepared, markers pending: what the completion gives
			return 0, m.NextProducerID, 0
		}
		return 0, m.ProducerID, m.ProducerEpoch
	}
	emptyAbort := func() (int16, int64, int16) {
		next := m.clone()
		next.Partitions = nil
		e.meta.State = Ongoing // the prepare below starts from an open, empty transaction
		e.meta.Partitions = nil
		code := c.prepareEndLocked(ctx, e, false, true, 2)
		if code != 0 {
			e.meta = next // nothing was written
		}
		return current(code)
	}
	switch m.State {
	case Ongoing:
		return current(c.prepareEndLocked(ctx, e, req.Commit, true, 2))
	case Empty:
		if !req.Commit {
			return emptyAbort()
		}
	case CompleteCommit:
		switch {
		case req.Commit && isRetry:
			return current(0)
		case !req.Commit && !isRetry:
			return emptyAbort()
		}
	case CompleteAbort:
		if !req.Commit {
			if isRetry {
				return current(0)
			}
			return emptyAbort()
		}
	case PrepareCommit, PrepareAbort:
		if req.Commit == (m.State == PrepareCommit) {
			c.completeLocked(ctx, e)
			if m.State == PrepareCommit || m.State == PrepareAbort {
				return kerr.ConcurrentTransactions.Code, -1, -1
			}
			return current(0)
		}
	case Dead, PrepareEpochFence:
		return kerr.ConcurrentTransactions.Code, -1, -1
	}
	return kerr.InvalidTxnState.Code, -1, -1
}

// epochOverflowAt is the last epoch a producer uses before a version 2
// end moves it to a new producer id (Kafka's Short.MaxValue - 1).
const epochOverflowAt = math.MaxInt16 - 1

// AbortTransaction aborts a producer's open transaction on behalf of an
// administrator (the coordinator side of `samsa txn abort` when the
// transactional id is known), fencing the producer.
func (c *Coordinator) AbortTransaction(ctx context.Context, id string) int16 {
	e, code := c.lock(id)
	if code != 0 {
		return code
	}
	if e == nil {
		return kerr.TransactionalIDNotFound.Code
	}
	defer e.mu.Unlock()
	switch e.meta.State {
	case Ongoing:
		return c.abortLocked(ctx, e, !epochExhausted(e.meta.ProducerEpoch))
	case PrepareCommit, PrepareAbort:
		c.completeLocked(ctx, e)
		return 0
	}
	return kerr.InvalidTxnState.Code
}

// DescribeTransactions serves DescribeTransactions v0.
func (c *Coordinator) DescribeTransactions(req *kmsg.DescribeTransactionsRequest) *kmsg.DescribeTransactionsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = id
		st.ProducerID, st.ProducerEpoch, st.StartTimestamp = -1, -1, -1
		switch code := c.ownerCode(id); {
		case code != 0:
			st.ErrorCode = code
		default:
			m, ok := c.Transaction(id)
			if !ok {
				st.ErrorCode = kerr.TransactionalIDNotFound.Code
				break
			}
			st.State = m.State.String()
			st.TimeoutMillis = m.TimeoutMs
			st.StartTimestamp = m.StartTimestamp
			st.ProducerID, st.ProducerEpoch = m.ProducerID, m.ProducerEpoch
			for i := 0; i < len(m.Partitions); {
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic = m.Partitions[i].Topic
				for ; i < len(m.Partitions) && m.Partitions[i].Topic == t.Topic; i++ {
					t.Partitions = append(t.Partitions, m.Partitions[i].Partition)
				}
				st.Topics = append(st.Topics, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp
}

// ListTransactions serves ListTransactions v0 to v2: filters by state,
// producer id, duration (v1: running at least this many ms) and
// transactional id pattern (v2, a regular expression).
func (c *Coordinator) ListTransactions(req *kmsg.ListTransactionsRequest) *kmsg.ListTransactionsResponse {
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	if code := c.listCode(); code != 0 {
		resp.ErrorCode = code
		return resp
	}
	states := map[State]bool{}
	for _, s := range req.StateFilters {
		st, ok := ParseState(s)
		if !ok {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
			continue
		}
		states[st] = true
	}
	pids := map[int64]bool{}
	for _, p := range req.ProducerIDFilters {
		pids[p] = true
	}
	var re *regexp.Regexp
	if req.Version >= 2 && req.TransactionalIDPattern != nil && *req.TransactionalIDPattern != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + *req.TransactionalIDPattern + ")$"); err != nil {
			resp.ErrorCode = kerr.InvalidRegularExpression.Code
			return resp
		}
	}
	now := c.nowMs()
	for _, m := range c.Transactions() {
		if len(req.StateFilters) > 0 && !states[m.State] {
			continue
		}
		if len(pids) > 0 && !pids[m.ProducerID] {
			continue
		}
		if req.Version >= 1 && req.DurationFilterMillis >= 0 && now-m.StartTimestamp <= req.DurationFilterMillis {
			continue
		}
		if re != nil && !re.MatchString(m.TransactionalID) {
			continue
		}
		ts := kmsg.NewListTransactionsResponseTransactionState()
		ts.TransactionalID, ts.ProducerID, ts.TransactionState = m.TransactionalID, m.ProducerID, m.State.String()
		resp.TransactionStates = append(resp.TransactionStates, ts)
	}
	sort.Slice(resp.TransactionStates, func(i, j int) bool {
		return resp.TransactionStates[i].TransactionalID < resp.TransactionStates[j].TransactionalID
	})
	return resp
}
