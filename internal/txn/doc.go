// Package txn is the transaction coordinator: it runs Kafka's transaction
// protocol for producers with a transactional.id.
//
// # The model
//
// A transactional id maps to a producer id and epoch and to at most one
// open transaction. The coordinator moves each id through Kafka's states:
//
//	          InitProducerId                AddPartitionsToTxn / AddOffsetsToTxn
//	(new) ──────────────────▶ Empty ───────────────────────────────────────▶ Ongoing
//	                            ▲                                             │ EndTxn(commit|abort),
//	                            │ InitProducerId (epoch + 1)                  │ timeout, re-init (fenced)
//	               CompleteCommit / CompleteAbort ◀── markers written ── PrepareCommit / PrepareAbort
//
// InitProducerId bumps the epoch of a known id (a new producer id once the
// epoch is exhausted), which fences every older instance: their requests
// carry the old epoch and get PRODUCER_FENCED (INVALID_PRODUCER_EPOCH for
// old request versions), and partitions refuse their batches once a marker
// with the newer epoch is written. An ongoing transaction found by
// InitProducerId, or open longer than its transaction.timeout.ms (checked
// by Tick), is aborted with the epoch bumped, so the old producer cannot
// end it or write to it.
//
// Ending a transaction is two-phase, as in Kafka: the coordinator records
// PrepareCommit or PrepareAbort in __transaction_state, writes a commit or
// abort marker (a control batch) to every partition of the transaction
// through the MarkerWriter, and then records CompleteCommit or
// CompleteAbort. Once the prepare is durable the outcome is decided: a
// crash before the markers are all written is repaired by the next load
// of the id's partition, which completes every prepared transaction.
// Markers that fail are retried by Tick; until then the producer gets
// CONCURRENT_TRANSACTIONS.
//
// Transaction protocol version 2 (KIP-890 part 2) runs when the cluster's
// transaction.version feature is 2 (Options.TransactionVersion) and the
// producer asks for it by sending EndTxn v5: every EndTxn, commit or
// abort, bumps the epoch in the prepared state, so the markers carry the
// new epoch and any late write of the ended transaction is refused by the
// partitions; the response hands the producer its next epoch (or, once
// the epoch is exhausted, a new producer id at epoch 0, applied at the
// completion from NextProducerID). Since the epoch moves with every end,
// the request's epoch tells a retry (epoch + 1 is stored) from the next
// transaction; an abort with nothing added is legal and only bumps the
// epoch. Partitions join implicitly: a partition leader calls
// AddPartitionsImplicitly for a transactional produce v12+ to a partition
// not yet in the transaction, the group coordinator for TxnOffsetCommit
// v5+, so producers send neither AddPartitionsToTxn nor AddOffsetsToTxn.
// Part 1 serves older producers: Verify (and AddPartitionsToTxn v4+ with
// VerifyOnly) tells a partition leader whether a transactional produce
// belongs to an open transaction.
//
// State lives in the internal compacted topic __transaction_state, keyed
// by transactional id with Kafka's TransactionLogKey and TransactionLogValue
// schemas (kmsg.TxnMetadataKey, kmsg.TxnMetadataValue version 1); an id
// lives in partition abs(hashCode(id)) % transaction.state.log.num.partitions.
// An id idle for transactional.id.expiration.ms is deleted with a
// tombstone.
//
// # Partitions
//
// The coordinator serves only the ids of the partitions it has loaded, the
// ones this node leads (partitions.go): LoadPartition replays a partition
// when the node becomes its leader, UnloadPartition drops its ids when the
// node stops leading it. Requests for an id of a partition being loaded
// get COORDINATOR_LOAD_IN_PROGRESS, of a partition not loaded
// NOT_COORDINATOR. Both take the partition's leader epoch, and a stale one
// is ignored. The leader epoch a partition was loaded in is the
// coordinator epoch of its transactions' markers, which partitions use to
// refuse the markers of a coordinator that has lost the partition since.
//
// # Using it
//
//	c, err := txn.New(txn.Options{Config: cfg, Storage: st, Markers: mw, ProducerIDs: alloc, OffsetsPartition: op})
//	err = c.LoadPartition(ctx, p, leaderEpoch) // for each partition this node leads
//	resp := c.InitProducerID(ctx, req) // and AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, ...
//	c.Tick(ctx)                        // every transaction.abort.timed.out.transaction.cleanup.interval.ms
//
// Request methods take and return kmsg messages; Kafka errors are error
// codes in the responses.
//
// # Concurrency
//
// Each transactional id has a mutex held for the whole of a request,
// including its storage write and marker writes, so one id's requests are
// served one at a time and its records are written in order. The
// coordinator's mutex guards only the map of ids and the partitions'
// ownership. Lock order: an id's
// mutex, then the coordinator's — never the reverse. The MarkerWriter is
// called with an id's mutex held and must not call back into the
// coordinator for that id.
package txn
