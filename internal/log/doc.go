// Package log is Samsa's storage engine for partitions: an append-only,
// ordered, replayable log per partition that never loses what it
// acknowledged and comes back intact after kill -9 or a power cut. It knows
// nothing of the network; the broker calls it through Manager and Log.
//
// # Files
//
// A Manager owns one log directory (a log.dirs entry). Each partition is a
// directory "<topic>-<partition>" holding Kafka's files:
//
//	00000000000000000000.log        record batches, exactly as Kafka stores them (magic 2)
//	00000000000000000000.index      sparse offset index: (offset-base uint32, position uint32)
//	00000000000000000000.timeindex  time index: (timestamp int64, offset-base uint32)
//	00000000000000004711.log ...    the next segment, named by its base offset
//	leader-epoch-checkpoint         "0", count, "epoch startOffset" lines
//	partition.metadata              "version: 0", "topic_id: <base64url uuid>"
//
// and the directory itself holds recovery-point-offset-checkpoint,
// log-start-offset-checkpoint and replication-offset-checkpoint (the high
// watermarks the partition layer sets; "0", count, "topic partition
// offset" lines) and, after a clean shutdown only, .kafka_cleanshutdown. docs/format/ has
// the byte layouts. Every checkpoint is replaced atomically: write a .tmp
// file, fsync, rename, fsync the directory.
//
// # Segments and indexes
//
// A log is a list of segments; the last, the active segment, takes
// appends. A batch gets an offset index entry (its last offset, its start
// position) and a time index entry (the largest timestamp so far, if it
// grew) when more than index.interval.bytes were appended since the last
// entry. Reading offset N looks up the largest entry at or below N and scans
// batch headers from there. Looking up a timestamp (ListOffsets) takes the
// time index entry at or below it, scans headers from there, and reads the
// records of the batches whose max timestamp reaches it, decompressing as a
// stream (record.Scanner), for the exact first record. The segment rolls on
// segment.bytes, segment.ms, a full index, or offsets too far from the base
// for 32 bits. Index entries are kept in memory while the segment is
// active; the files are written, trimmed to their entries, when the segment
// rolls or the log closes (a new segment has its .log file only). In
// memory, an index is loaded on
// first use only, so thousands of idle partitions cost little; open .log
// handles go through an LRU bounded by ManagerOptions.MaxOpenFiles, and
// each user (appender, ReadResult, group committer) holds a reference, so
// a handle is never closed under a reader, even if retention deletes the
// segment.
//
// # Appending
//
// Append is serialised per log by Log.mu (the appender lock). It stamps
// the base offset, the leader epoch and optionally LogAppendTime into each
// batch header, writes the batches with one WriteAt at the end of the
// active segment, adds index entries, then publishes: the segment's size,
// then the log end offset, each with an atomic store. Readers load the log
// end offset first and the segment list and sizes after, so they only ever
// see whole batches, and they never take Log.mu: reads never wait for the
// appender and the appender never waits for reads.
//
// # Follower appends, truncation and leader epochs
//
// AppendAsFollower writes a leader's batches as they are (offsets, epochs,
// timestamps kept), after checking them all, through the same indexes,
// epoch cache and group commit as Append; it decides whether to roll
// before every batch, so a follower's segments match its leader's.
// TruncateTo and TruncateFullyAndStartAt (truncate.go, where the steps and
// their crash safety are described) cut the log for a follower whose log
// diverged: segments deleted from the end, the cut segment's indexes
// rewritten before its file is cut, a new segment at the cut so that a cut
// file is never written again. Each truncation moves the log's truncation
// generation: readers that overlapped it read again, durability waits and
// fsync rounds from before it never acknowledge anything past the cut
// (ErrTruncated), and the cleaner gives up a round that spans it. The
// leader-epoch cache follows Kafka's LeaderEpochFileCache (assign,
// truncateFromEnd, truncateFromStart, endOffsetFor); BeginLeaderEpoch
// writes a new leader's (epoch, log end offset) before it appends.
//
// # Durability and group commit
//
// Writing and waiting for durability are two steps. AppendAsync writes and
// returns at once, with the records' offsets; each log keeps a durable
// offset (DurableOffset) below which its records are durable by its
// policy, and WaitDurable / DurableNotify / SetDurableListener wait for it
// or hear of it. Append is AppendAsync plus WaitDurable. So a caller (the
// broker's produce path) can append the next request while earlier ones
// wait for their fsync, and an acknowledgement never comes before the
// data is durable.
//
// With DurabilitySync (the default) AppendAsync registers its segment and
// end offset with the Manager's group committer, under Log.mu, so a log's
// registrations are in offset order. The committer goroutine takes every
// segment registered since its last round, across all partitions, fsyncs
// them (fdatasync, several files at once), then advances each log's
// durable offset to the highest end offset registered in the round and
// wakes its waiters; appends arriving meanwhile form the next round. So N
// concurrent producers, or one producer with N requests in flight, cost
// about one fsync per file per round, not N. ManagerOptions.CommitObserver
// hears of every round (its appends, files and time) and every fsync, so
// the node's metrics can show them without this package knowing of
// Prometheus. A roll fsyncs the old segment
// before creating the new one, so a crash never keeps a later segment
// while losing the end of an earlier one. With DurabilityPageCache (Kafka's
// default) the durable offset follows the log end offset as each append
// returns; the log is fsynced after flush.messages messages, every
// flush.ms, at roll (in the background) and at close, and replication is
// what protects acknowledged data. On a single node only DurabilitySync
// makes acknowledged mean durable.
//
// A failed write or fsync makes the log sticky-failed: every later Append
// returns the same ErrStorage error until the log is reopened (and
// recovered), because after a failed fsync the page cache may have dropped
// data the file system will never write. A failed write is cut back off
// the file first, so nothing follows garbage. errors.Is(err, ErrStorage)
// holds for every I/O failure, and the cause (ENOSPC, EIO) stays reachable.
//
// # Recovery
//
// The recovery point is the offset below which the log and its indexes
// are known flushed; it advances when a rolled segment has been flushed
// and when Flush runs, and is persisted in recovery-point-offset-checkpoint.
// Opening after a clean shutdown trusts the files and only scans the tail
// of the active segment for the log end offset. After an unclean stop,
// every segment from the one holding the recovery point is read
// sequentially with a large buffer; each batch's framing, magic, CRC32C and
// offsets are checked; the first bad or torn batch and everything after it
// (including later segments) is cut off; indexes are rebuilt; the log end
// offset and max timestamp are restored. Leftovers of interrupted work are
// finished: .deleted files removed, orphan indexes removed, .cleaned files
// removed, .swap segments (the cleaner's) swapped in, "-delete"
// directories removed.
//
// # Retention
//
// Retention deletes whole segments from the oldest, never the active one,
// while they are wholly below the log start offset, older than retention.ms
// (by their largest timestamp) or beyond retention.bytes. The log start
// offset moves first, then the segment leaves the published list, then its
// files are renamed to .deleted (one segment at a time with a directory
// fsync, so a crash always leaves a contiguous run of segments), then
// removed. DeleteRecordsBefore moves the log start offset and persists it
// before returning.
//
// # Locking order
//
//	Manager.ckptMu → Manager.mu → Log.mu → {segment.loadMu, epochCache.mu,
//	committer.mu, fileCache.mu, Log.notifyMu}
//	Log.mu → Manager.ckptMu (a truncation writes the checkpoints)
//
// Manager.ckptMu and Manager.mu are never held while a Log.mu is awaited:
// the checkpoint writers read the logs' offsets from atomics.
// Log.durableMu and the durable listener come after all of these: the
// listener may run under Log.mu (an append) or under none (the committer).
// No lock is held while waiting for a group-commit round. Readers hold
// none of these except briefly fileCache.mu (handle references) and
// segment.loadMu (first load of an index). The cleaner (cleaner*.go)
// works through the same segment and index types and swaps segments under
// Log.mu.
//
// # Example
//
//	m, err := log.OpenManager(log.ManagerOptions{Dir: "/var/lib/samsa/data"})
//	l, err := m.Create(log.TopicPartition{Topic: "orders", Partition: 0}, topicID, log.DefaultConfig())
//	res, err := l.Append(batches, log.AppendOptions{LeaderEpoch: 0}) // batches validated by record.Validate
//	rr, err := l.Read(res.BaseOffset, log.ReadOptions{MaxBytes: 1 << 20, MaxOffset: highWatermark})
//	defer rr.Release()
//	rr.WriteTo(conn) // or sendfile from vfs.OSFile(rr.File) at rr.Position, rr.Size
//	err = m.Close() // flush, checkpoints, clean-shutdown marker
package log
