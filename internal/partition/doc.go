// Package partition holds the state Kafka keeps beside a partition's log on
// each replica, leader or follower: the high watermark, the leader epoch
// and role, and the idempotent producers' state; and it decides what
// consumers may read.
//
// # The model
//
// A Partition wraps one *log.Log. Produce goes through AppendAsLeaderAsync, which
// validates the batches (framing, CRC, record rules via package record;
// max.message.bytes; timestamps), checks each idempotent producer's epoch and
// sequence numbers and appends to the log, returning once the records are
// written but before they are durable. The high watermark follows the log's
// durable offset (with one replica it is the durable offset): with the
// log's default DurabilitySync it advances only after the group commit has
// fsynced the records, so consumers, bounded by it, never read what a
// crash could take back; with DurabilityPageCache it advances with the
// append. A producer is acknowledged once WaitHighWatermark covers its
// records; on a single node that holds for acks=1 as for acks=all, so
// "acknowledged" means on disk by default. Because AppendAsLeaderAsync does
// not wait, the next append (the next pipelined request of a connection) can
// go into the log while earlier ones wait for their fsync round.
//
// Idempotent producers follow Kafka's rules (ProducerStateManager and
// ProducerAppendInfo in Kafka's storage module):
//
//   - a batch whose producer epoch is below the known one gets
//     INVALID_PRODUCER_EPOCH;
//   - with the known epoch, the first sequence must follow the last one
//     (sequences wrap from 2^31-1 to 0), else OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - a new, higher epoch must start at sequence 0;
//   - a producer with no state here (new, expired, or whose records were all
//     deleted) may start at any sequence, as Kafka accepts since KIP-360, so
//     UNKNOWN_PRODUCER_ID is never returned by appends;
//   - a batch that repeats, exactly, one of the producer's last five batches
//     is a retry: nothing is appended and its original offsets are returned.
//
// What a consumer may read is decided here too, as Kafka's Partition does on
// the leader: Read serves one partition of a Fetch (bounded by the high
// watermark, or by the last stable offset for read_committed with the
// aborted transactions in range; the current-leader-epoch check; the
// KIP-320 diverging-epoch check against the leader-epoch cache;
// OFFSET_OUT_OF_RANGE) and returns the records as a range of a segment file
// the broker sends as it is; OffsetForTimestamp answers ListOffsets (the
// special timestamps, and records by timestamp below the last fetchable
// offset). The Fetch handler keeps what spans partitions: sessions, the
// request's byte budget, min bytes and long polling.
//
// Producer state survives restarts through snapshot files,
// "<20-digit offset>.snapshot" in the partition directory (format:
// docs/format/producer-snapshot.md). New loads the newest valid snapshot at
// or below the log end offset and replays the batch headers after it
// (log.ScanHeaders), reading the record of each producer's last marker for
// its coordinator epoch; without a snapshot it replays the whole log. Snapshots
// are written by Snapshot and Close (clean shutdown) and after about a
// segment's worth of appended bytes; the newest two are kept.
//
// # Leaders and followers
//
// A Partition is, at any time, leader or follower in a leader epoch: a
// term (roles.go). New opens it as leader (or, with Config.Follower, as a
// follower starting from the high watermark its log checkpointed).
// BecomeLeader(epoch) writes (epoch, log end offset) to the log's
// leader-epoch cache before anything is appended in the epoch (Kafka's
// makeLeader, KAFKA-7415) and records that offset as the epoch start
// offset; BecomeFollower(epoch) stops leader appends and markers. Every
// change of role or epoch ends the term, and the producers waiting for the
// high watermark in it (WaitHighWatermarkInEpoch with the epoch their
// append reported) fail with NOT_LEADER_OR_FOLLOWER, never succeeding
// afterwards, before a truncation could remove their records.
//
// A follower appends its leader's batches with AppendAsFollower, which
// keeps them as the leader wrote them and replays them into the producer
// state, transactions and aborted-transaction index as the leader built
// them, so a follower that becomes leader answers a retried batch with its
// original offsets. TruncateTo and TruncateFullyAndStartAt cut its log and
// rebuild that state from the snapshot and batches left (Kafka's
// truncateAndReload), after durably deleting the snapshots above the cut.
//
// The high watermark of a leader whose in-sync replicas are itself alone
// is its log's durable offset. With followers (SetAssignment) it is the
// smallest log end offset over the in-sync replicas, the leader's counted
// at its durable offset (isr.go); a follower's is its leader's high
// watermark capped by its own log end (SetHighWatermark). It never goes
// back but at a follower's truncation, and never passes the local durable
// offset. The log
// checkpoints it (replication-offset-checkpoint).
//
// # Caller's duties
//
// The broker creates one Partition per local replica, calls Close before
// closing the log manager, calls ExpireProducers periodically
// (producer.id.expiration.check.interval.ms) and SetLeaderEpoch when the
// metadata image changes the leader epoch.
//
// # Concurrency
//
// One mutex per partition serialises AppendAsLeaderAsync, AppendAsFollower,
// the truncations, the role changes, DeleteRecordsBefore, Snapshot, Close,
// ExpireProducers and ActiveProducers, which makes the producer checks and
// the log append one atomic step. HighWatermark,
// LeaderEpoch, LogEndOffset and LogStartOffset are lock-free reads; Read
// and OffsetForTimestamp take no partition lock but the transaction
// state's, briefly; the
// high watermark's notifications (HighWatermarkNotify, WatchHighWatermark)
// have their own small lock, taken
// after the append lock, never before it. The high watermark is advanced by
// the log's durable listener, on the group committer's goroutine or an
// appender's, without the append lock.
//
// # Example
//
//	p, err := partition.New(partition.Config{Log: l, Topic: "orders", Partition: 0, LeaderEpoch: 0})
//	res, err := p.AppendAsLeaderAsync(batches, partition.AppendOptions{RequiredAcks: -1, MaxMessageBytes: 1048588})
//	if err == nil {
//		err = p.WaitHighWatermark(ctx, res.LastOffset+1) // durable (later: replicated)
//	}
//	if code, msg := partition.KafkaError(err); code != nil {
//		// put code and msg in the Produce response
//	}
package partition
