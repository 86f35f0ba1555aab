package record

import (
	"encoding/binary"
	"math"
)

// minBatchLength is the smallest batch length field a magic-2 batch can
// carry: the header after the length field, with no records.
const minBatchLength = HeaderSize - LogOverhead

// minRecordSize is the smallest encoded record body: attributes, and one
// byte each for the timestamp delta, offset delta, key length, value length
// and header count.
const minRecordSize = 6

// Validate checks one magic-2 batch exactly as a producer sent it, without
// decompressing, and returns its header. batch must hold exactly one batch
// (use SplitBatches to cut a record set). It checks:
//
//   - the magic byte is 2 (0 and 1 give ErrUnsupportedMagic);
//   - the length field matches len(batch) and covers a whole header;
//   - the CRC32C over attributes..end;
//   - the codec is known (0..4);
//   - record count >= 1 and last offset delta == count-1 (ErrInvalidRecord);
//   - producer fields: a transactional or control batch has a producer id,
//     a batch with a producer id has a base sequence >= 0;
//   - base and max timestamps are >= -1 (-1 means "no timestamp");
//   - for uncompressed batches, every record: varint lengths inside the
//     batch, offset deltas 0, 1, 2, ..., and no bytes after the last record.
//
// Policy belongs to the caller: whether a client may write control batches,
// maximum sizes, timestamp windows, key requirements for compacted topics,
// producer sequence checks. Validate does not allocate.
func Validate(batch []byte) (Header, error) {
	return validate(batch, true)
}

// ValidateStored checks a batch as the log may hold it: like Validate, but
// it accepts the shapes compaction leaves behind, where records were removed
// from a batch (offset deltas strictly increasing but with gaps, fewer
// records than last offset delta + 1, even none at all), and it does not
// apply produce-time producer-field rules.
func ValidateStored(batch []byte) (Header, error) {
	return validate(batch, false)
}

func validate(batch []byte, fresh bool) (Header, error) {
	if len(batch) <= MagicOffset {
		return Header{}, errAt(ErrCorrupt, 0, "%d bytes are too short to hold a batch", len(batch))
	}
	if err := checkMagic(batch[MagicOffset]); err != nil {
		return Header{}, err
	}
	if len(batch) < HeaderSize {
		return Header{}, errAt(ErrCorrupt, 0, "%d bytes are shorter than a %d-byte batch header", len(batch), HeaderSize)
	}
	h, _ := ParseHeader(batch)
	if h.BatchLength < minBatchLength {
		return h, errAt(ErrCorrupt, BatchLengthOffset, "batch length %d is below the minimum %d", h.BatchLength, minBatchLength)
	}
	if h.Size() != int64(len(batch)) {
		return h, errAt(ErrCorrupt, BatchLengthOffset, "batch length %d says %d bytes but the buffer holds %d", h.BatchLength, h.Size(), len(batch))
	}
	if crc := ComputeCRC(batch); crc != h.CRC {
		return h, errAt(ErrCorrupt, CRCOffset, "CRC32C is %#08x, the header says %#08x", crc, h.CRC)
	}
	if err := checkHeader(h, fresh); err != nil {
		return h, err
	}
	if h.Compression() != CompressionNone {
		return h, nil
	}
	w := newRecordWalker(batch, HeaderSize, h, fresh)
	for {
		ok, err := w.next()
		if err != nil {
			return h, err
		}
		if !ok {
			return h, nil
		}
	}
}

func checkMagic(magic byte) error {
	switch int8(magic) {
	case CurrentMagic:
		return nil
	case 0, 1:
		return &Error{Offset: MagicOffset, Record: -1, Detail: "produce with a client that writes magic 2 (Kafka 0.11 or later)", Err: ErrUnsupportedMagic}
	default:
		return errAt(ErrCorrupt, MagicOffset, "unknown magic byte %d", int8(magic))
	}
}

// checkHeader applies the header rules that need no records.
func checkHeader(h Header, fresh bool) error {
	if c := h.Compression(); c > CompressionZstd {
		return errAt(ErrUnsupportedCompression, AttributesOffset, "codec %d", c)
	}
	if h.NumRecords < 0 {
		return errAt(ErrInvalidRecord, RecordCountOffset, "negative record count %d", h.NumRecords)
	}
	if h.LastOffsetDelta < 0 {
		return errAt(ErrInvalidRecord, LastOffsetDeltaOffset, "negative last offset delta %d", h.LastOffsetDelta)
	}
	if fresh {
		if h.NumRecords == 0 {
			return errAt(ErrInvalidRecord, RecordCountOffset, "a batch must hold at least one record")
		}
		if int64(h.LastOffsetDelta) != int64(h.NumRecords)-1 {
			return errAt(ErrInvalidRecord, LastOffsetDeltaOffset, "record count %d does not match last offset delta %d", h.NumRecords, h.LastOffsetDelta)
		}
	} else if int64(h.NumRecords) > int64(h.LastOffsetDelta)+1 {
		return errAt(ErrInvalidRecord, RecordCountOffset, "record count %d exceeds last offset delta %d + 1", h.NumRecords, h.LastOffsetDelta)
	}
	if h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta) {
		return errAt(ErrInvalidRecord, BaseOffsetOffset, "base offset %d overflows with last offset delta %d", h.BaseOffset, h.LastOffsetDelta)
	}
	hasProducerID := h.ProducerID > NoProducerID
	if (h.IsTransactional() || h.IsControl()) && !hasProducerID {
		return errAt(ErrInvalidRecord, ProducerIDOffset, "a transactional or control batch needs a producer id")
	}
	if fresh && hasProducerID && h.BaseSequence < 0 && !h.IsControl() {
		return errAt(ErrInvalidRecord, BaseSequenceOffset, "invalid base sequence %d for producer id %d", h.BaseSequence, h.ProducerID)
	}
	if h.BaseTimestamp < -1 {
		return errAt(ErrInvalidTimestamp, BaseTimestampOffset, "base timestamp %d", h.BaseTimestamp)
	}
	if h.MaxTimestamp < -1 {
		return errAt(ErrInvalidTimestamp, MaxTimestampOffset, "max timestamp %d", h.MaxTimestamp)
	}
	return nil
}

// rawRecord is one record's fields as slices of the buffer holding it.
type rawRecord struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte // nil when null
	NumHeaders     int32
	Headers        []byte // the encoded headers, after their count
}

// recordReader reads encoded records in b from pos; error positions are
// positions in b.
type recordReader struct {
	b   []byte
	pos int
	idx int
}

// next decodes the record at rr.pos into r and advances.
func (rr *recordReader) next(r *rawRecord) error {
	b, start, idx := rr.b, rr.pos, rr.idx
	length, i, ok := readVarint(b, start)
	if !ok {
		return errRecord(ErrInvalidRecord, start, idx, "bad or truncated record length varint")
	}
	if length < minRecordSize || int64(length) > int64(len(b)-i) {
		return errRecord(ErrInvalidRecord, start, idx, "record length %d does not fit the %d bytes left", length, len(b)-i)
	}
	end := i + int(length)
	body := b[:end]
	r.Attributes = int8(body[i])
	i++
	at := i
	if r.TimestampDelta, i, ok = readVarlong(body, i); !ok {
		return errRecord(ErrInvalidRecord, at, idx, "bad timestamp delta varlong")
	}
	at = i
	if r.OffsetDelta, i, ok = readVarint(body, i); !ok {
		return errRecord(ErrInvalidRecord, at, idx, "bad offset delta varint")
	}
	var err error
	if r.Key, i, err = readBytes(body, i, idx, "key"); err != nil {
		return err
	}
	if r.Value, i, err = readBytes(body, i, idx, "value"); err != nil {
		return err
	}
	at = i
	if r.NumHeaders, i, ok = readVarint(body, i); !ok {
		return errRecord(ErrInvalidRecord, at, idx, "bad header count varint")
	}
	if r.NumHeaders < 0 {
		return errRecord(ErrInvalidRecord, i, idx, "negative header count %d", r.NumHeaders)
	}
	hstart := i
	for n := int32(0); n < r.NumHeaders; n++ {
		klen, j, ok := readVarint(body, i)
		if !ok {
			return errRecord(ErrInvalidRecord, i, idx, "bad header key length varint")
		}
		if klen < 0 || int64(klen) > int64(end-j) {
			return errRecord(ErrInvalidRecord, i, idx, "header key length %d does not fit the record", klen)
		}
		if _, i, err = readBytes(body, j+int(klen), idx, "header value"); err != nil {
			return err
		}
	}
	r.Headers = body[hstart:i]
	if i != end {
		return errRecord(ErrInvalidRecord, start, idx, "record length %d, but its fields take %d bytes", length, i-(end-int(length)))
	}
	rr.pos = end
	rr.idx++
	return nil
}

// readBytes reads a varint length and that many bytes; length -1 is null.
func readBytes(b []byte, i, idx int, what string) ([]byte, int, error) {
	n, j, ok := readVarint(b, i)
	if !ok {
		return nil, j, errRecord(ErrInvalidRecord, i, idx, "bad %s length varint", what)
	}
	if n == -1 {
		return nil, j, nil
	}
	if n < -1 || int64(n) > int64(len(b)-j) {
		return nil, j, errRecord(ErrInvalidRecord, i, idx, "%s length %d does not fit the %d bytes left", what, n, len(b)-j)
	}
	return b[j : j+int(n) : j+int(n)], j + int(n), nil
}

// recordWalker checks the h.NumRecords records of a batch one at a time.
// It is a loop body rather than a callback so that validation does not
// allocate (a callback would make the record escape).
type recordWalker struct {
	rr    recordReader
	h     Header
	fresh bool
	prev  int32
	r     rawRecord
}

func newRecordWalker(b []byte, pos int, h Header, fresh bool) recordWalker {
	return recordWalker{rr: recordReader{b: b, pos: pos}, h: h, fresh: fresh, prev: -1}
}

// next decodes and checks the next record into w.r. It returns false once
// all records have been read and nothing follows them.
func (w *recordWalker) next() (bool, error) {
	rr, h := &w.rr, &w.h
	n := int32(rr.idx)
	if n == 0 && int64(h.NumRecords)*(minRecordSize+1) > int64(len(rr.b)-rr.pos) {
		// Each record takes at least minRecordSize+1 bytes: reject
		// absurd counts before reading.
		return false, errAt(ErrInvalidRecord, RecordCountOffset, "record count %d cannot fit in %d bytes of records", h.NumRecords, len(rr.b)-rr.pos)
	}
	if n >= h.NumRecords {
		if rr.pos != len(rr.b) {
			return false, errAt(ErrInvalidRecord, rr.pos, "%d bytes follow the last of %d records", len(rr.b)-rr.pos, h.NumRecords)
		}
		return false, nil
	}
	start := rr.pos
	if err := rr.next(&w.r); err != nil {
		return false, err
	}
	d := w.r.OffsetDelta
	switch {
	case w.fresh && d != n:
		return false, errRecord(ErrInvalidRecord, start, int(n), "offset delta %d, want %d", d, n)
	case d <= w.prev:
		return false, errRecord(ErrInvalidRecord, start, int(n), "offset delta %d does not follow %d", d, w.prev)
	case d > h.LastOffsetDelta:
		return false, errRecord(ErrInvalidRecord, start, int(n), "offset delta %d is past the last offset delta %d", d, h.LastOffsetDelta)
	}
	w.prev = d
	return true, nil
}

// SplitBatches calls fn for each batch of a record set (concatenated
// batches, as in a Produce request or a segment file), in order, without
// copying: batch aliases b. It checks only the framing (length fields and
// the magic byte), not CRCs or records; call Validate on each batch for that.
// A partial batch or trailing bytes give an ErrCorrupt *Error whose Offset is
// where the bad batch starts in b. It stops at the first error fn returns.
// An empty record set is not an error.
func SplitBatches(b []byte, fn func(batch []byte, h Header) error) error {
	it := Batches(b)
	for it.Next() {
		if err := fn(it.Batch(), it.Header()); err != nil {
			return err
		}
	}
	return it.Err()
}

// BatchIter iterates over the batches of a record set without allocating:
//
//	it := record.Batches(records)
//	for it.Next() {
//		batch, h := it.Batch(), it.Header()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
type BatchIter struct {
	b     []byte
	pos   int
	batch []byte
	h     Header
	err   error
}

// Batches returns an iterator over the batches in b.
func Batches(b []byte) BatchIter { return BatchIter{b: b} }

// Next advances to the next batch; it returns false at the end of the
// record set or on an error (see Err).
func (it *BatchIter) Next() bool {
	if it.err != nil || it.pos >= len(it.b) {
		it.batch = nil
		return false
	}
	if it.batch != nil {
		it.pos += len(it.batch)
		it.batch = nil
		if it.pos >= len(it.b) {
			return false
		}
	}
	rest := it.b[it.pos:]
	if len(rest) <= MagicOffset {
		it.err = errAt(ErrCorrupt, it.pos, "%d trailing bytes are too short to hold a batch", len(rest))
		return false
	}
	length := int32(binary.BigEndian.Uint32(rest[BatchLengthOffset:]))
	if err := checkMagic(rest[MagicOffset]); err != nil {
		err.(*Error).Offset += it.pos
		it.err = err
		return false
	}
	if length < minBatchLength {
		it.err = errAt(ErrCorrupt, it.pos+BatchLengthOffset, "batch length %d is below the minimum %d", length, minBatchLength)
		return false
	}
	size := int64(length) + LogOverhead
	if size > int64(len(rest)) {
		it.err = errAt(ErrCorrupt, it.pos, "partial batch: length says %d bytes, %d remain", size, len(rest))
		return false
	}
	it.batch = rest[:size:size]
	it.h, _ = ParseHeader(it.batch)
	return true
}

// Batch is the current batch; it aliases the record set.
func (it *BatchIter) Batch() []byte { return it.batch }

// Header is the current batch's header.
func (it *BatchIter) Header() Header { return it.h }

// Offset is the current batch's position in the record set.
func (it *BatchIter) Offset() int { return it.pos }

// Err is the error that stopped the iteration, or nil at a clean end.
func (it *BatchIter) Err() error { return it.err }
