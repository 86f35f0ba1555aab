// Package record reads, checks and writes Kafka record batches (message
// format v2, "magic 2"), the unit Samsa receives from producers, stores in
// its log and serves to consumers unchanged. It is pure: no I/O, no clocks.
//
// # The batch
//
// A record set (the records field of a Produce request, a Fetch response, or
// a segment file) is a sequence of batches. Each batch is a 61-byte header
// followed by its records, all integers big-endian:
//
//	offset  size  field
//	     0     8  base offset            assigned by the broker, not covered by the CRC
//	     8     4  batch length           bytes after this field
//	    12     4  partition leader epoch set by the broker, not covered by the CRC
//	    16     1  magic                  2
//	    17     4  CRC32C                 Castagnoli, over bytes 21..end
//	    21     2  attributes             codec (bits 0-2), timestamp type (3),
//	                                     transactional (4), control (5),
//	                                     delete horizon (6)
//	    23     4  last offset delta
//	    27     8  base timestamp
//	    35     8  max timestamp
//	    43     8  producer id            -1 without idempotence
//	    51     2  producer epoch
//	    53     4  base sequence
//	    57     4  record count
//	    61     …  records                compressed as one block when codec != 0
//
// Each record is a varint length followed by: attributes (int8), timestamp
// delta (varlong), offset delta (varint), key and value (varint length, -1
// for null, then bytes) and headers (varint count, then each a varint-length
// key string and a nullable varint-length value). Varints are zigzag
// encoded, as in protocol buffers. A control batch (a transaction marker)
// holds one record whose key is (int16 version, int16 type: 0 abort,
// 1 commit) and whose value is (int16 version, int32 coordinator epoch).
// docs/format/record-batch.md draws all of this byte by byte.
//
// # What the package does
//
//   - SplitBatches and Batches cut a record set into batches without
//     copying, checking only the framing.
//   - Validate checks one batch from a producer without decompressing it:
//     sizes, magic, CRC, codec, record count against the last offset delta,
//     producer fields, timestamps, and for uncompressed batches every record.
//     ValidateStored accepts what compaction leaves in a log (gaps in offset
//     deltas, empty batches). Neither allocates.
//   - Decoder (and DecodeRecords) walks the records of a batch,
//     decompressing into a reused buffer with a size cap.
//   - Scanner reads only each record's offset and timestamp, decompressing
//     as a stream through a small buffer, for questions a batch header
//     cannot answer exactly (which record is the first at a timestamp).
//   - Builder and EncodeBatch write batches; EncodeControlBatch writes
//     transaction markers. Compress and Decompress speak the codecs as
//     Kafka's clients do: gzip, snappy (raw or xerial-framed as Java writes
//     it), LZ4 frames and zstd.
//   - Header, ParseHeader and the Set* helpers read and patch the header in
//     place: the broker patches the base offset and leader epoch (not
//     covered by the CRC) and, for LogAppendTime topics, the max timestamp
//     (which needs a new CRC).
//
// # Errors
//
// Every complaint about a batch wraps one sentinel (ErrCorrupt,
// ErrUnsupportedMagic, ErrInvalidRecord, ErrInvalidTimestamp,
// ErrUnsupportedCompression, ErrTooLarge), usually inside an *Error giving
// the byte position. KafkaError turns such an error into the code a Produce
// response carries, following Kafka: CORRUPT_MESSAGE for framing and CRC
// problems (producers retry those), INVALID_RECORD for records that break
// the format and for old message formats (producers do not retry), and so
// on.
//
// # Caller's duties
//
// Policy stays with the caller: Kafka accepts exactly one batch per
// partition in Produce v3+, rejects control batches from clients, bounds
// batch sizes (max.message.bytes), timestamps (message.timestamp.*) and
// requires keys on compacted topics; the partition checks producer epochs
// and sequences. Validate does not decompress, so a compressed batch may
// still hold malformed records; decode it (with a Decoder's MaxSize as the
// bomb guard) where the records matter.
//
// Slices passed to callbacks alias the caller's buffer or the Decoder's
// buffer and are valid only during the call. Nothing here is safe for
// concurrent use except the package-level functions, which share only
// pooled codec state.
//
// Example:
//
//	err := record.SplitBatches(records, func(batch []byte, h record.Header) error {
//		if _, err := record.Validate(batch); err != nil {
//			return err // record.KafkaError(err) for the response
//		}
//		record.SetBaseOffset(batch, nextOffset)
//		nextOffset += int64(h.LastOffsetDelta) + 1
//		return nil
//	})
package record
