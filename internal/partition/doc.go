// Package partition holds the state Kafka keeps beside a partition's log on
// the replica that leads it: the high watermark, the leader epoch and the
// idempotent producers' state.
//
// # The model
//
// A Partition wraps one *log.Log. Produce goes through AppendAsLeader, which
// validates the batches (framing, CRC, record rules via package record;
// max.message.bytes; timestamps), checks each idempotent producer's epoch and
// sequence numbers, appends to the log and advances the high watermark. With
// one replica the high watermark is the log end offset once the append has
// returned (the log returns after fsync in its default durability mode).
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
// Producer state survives restarts through snapshot files,
// "<20-digit offset>.snapshot" in the partition directory (format:
// docs/format/producer-snapshot.md). New loads the newest valid snapshot at
// or below the log end offset and replays the batch headers after it
// (log.ScanHeaders); without a snapshot it replays the whole log. Snapshots
// are written by Snapshot and Close (clean shutdown) and after about a
// segment's worth of appended bytes; the newest two are kept.
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
// One mutex per partition serialises AppendAsLeader, DeleteRecordsBefore,
// Snapshot, Close, ExpireProducers and ActiveProducers, which makes the
// producer checks and the log append one atomic step. HighWatermark,
// LeaderEpoch, LogEndOffset and LogStartOffset are lock-free reads; the
// high watermark channel (HighWatermarkNotify) has its own small lock, taken
// after the append lock, never before it.
//
// # Example
//
//	p, err := partition.New(partition.Config{Log: l, Topic: "orders", Partition: 0, LeaderEpoch: 0})
//	res, err := p.AppendAsLeader(batches, partition.AppendOptions{RequiredAcks: -1, MaxMessageBytes: 1048588})
//	if code, msg := partition.KafkaError(err); code != nil {
//		// put code and msg in the Produce response
//	}
package partition
