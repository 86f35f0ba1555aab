package record

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// scanBufferSize is the Scanner's read buffer: records are parsed from it,
// so it is all the memory a scan needs besides the decompressor's own
// state (and a raw snappy block, which cannot be streamed).
const scanBufferSize = 4 << 10

// Scanner reads the offset and timestamp of each record of one batch and
// skips the rest: keys, values and headers are read past, never copied or
// allocated. A compressed batch is decompressed as a stream through a small
// buffer, as Kafka's streaming record iterator does, so the memory a scan
// takes does not grow with the batch's decompressed size. The exception is
// a raw (unframed) snappy block, which the snappy format only lets one
// decode whole; it is bounded by MaxSize.
//
// It serves the questions a batch header cannot answer exactly, such as
// which record of a batch is the first at or after a timestamp.
//
// The zero value is ready to use: Reset starts a batch, Next steps through
// its records, Err reports why Next stopped early, and Close hands pooled
// decompressors back (Reset and a Next that ends the batch do so too). A
// Scanner is not safe for concurrent use.
type Scanner struct {
	// MaxSize bounds the bytes of records read from one batch, after
	// decompression; 0 means DefaultMaxDecompressedSize. A batch holding
	// more fails with ErrTooLarge, which bounds the work a decompression
	// bomb can cause.
	MaxSize int

	h    Header
	in   opaqueReader // the records as stored in the batch
	br   *bufio.Reader
	gz   *gzip.Reader
	lz   *lz4.Reader
	zd   *zstd.Decoder
	xs   xerialStream
	raw  []byte // a raw snappy block, decoded
	done bool   // no more records: the batch is finished or failed

	limit int
	pos   int   // bytes of records read so far, for errors and the limit
	n     int32 // records read
	prev  int32 // offset delta of the previous record
	off   int64
	ts    int64
	err   error
}

// opaqueReader hides a bytes.Reader's Len and Bytes methods: the zstd
// decoder decodes a reader that has them whole, into one buffer, rather
// than as a stream.
type opaqueReader struct{ r bytes.Reader }

func (o *opaqueReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// Reset starts scanning the batch whose header is h. batch is the whole
// batch, header included; it must stay unchanged until the scan ends. Reset
// checks the framing as Decoder.Decode does; a failure is also what Err
// reports.
func (s *Scanner) Reset(h Header, batch []byte) error {
	s.release()
	s.h, s.pos, s.n, s.prev, s.off, s.ts, s.err, s.done = h, 0, 0, -1, -1, -1, nil, false
	s.limit = s.MaxSize
	if s.limit <= 0 {
		s.limit = DefaultMaxDecompressedSize
	}
	if err := s.start(h, batch); err != nil {
		s.fail(err)
		return err
	}
	return nil
}

func (s *Scanner) start(h Header, batch []byte) error {
	if len(batch) < HeaderSize {
		return errAt(ErrCorrupt, 0, "%d bytes are shorter than a %d-byte batch header", len(batch), HeaderSize)
	}
	if err := checkMagic(byte(h.Magic)); err != nil {
		return err
	}
	if h.Size() != int64(len(batch)) {
		return errAt(ErrCorrupt, BatchLengthOffset, "batch length %d says %d bytes but the buffer holds %d", h.BatchLength, h.Size(), len(batch))
	}
	if err := checkHeader(h, false); err != nil {
		return err
	}
	src := batch[HeaderSize:]
	s.in.r.Reset(src)
	var r io.Reader
	switch c := h.Compression(); c {
	case CompressionNone:
		r = &s.in.r
	case CompressionGzip:
		gz, _ := gzipReaders.Get().(*gzip.Reader)
		if gz == nil {
			gz = new(gzip.Reader)
		}
		s.gz = gz
		if err := gz.Reset(&s.in.r); err != nil {
			return decompressErr(c, err)
		}
		r = gz
	case CompressionSnappy:
		if len(src) >= xerialHeaderLen && bytes.Equal(src[:len(xerialHeader)], xerialHeader) {
			s.xs.reset(src[xerialHeaderLen:], s.limit)
			r = &s.xs
			break
		}
		n, err := snappy.DecodedLen(src)
		if err != nil {
			return decompressErr(c, err)
		}
		if n > s.limit {
			return tooLarge(c, s.limit)
		}
		if s.raw, err = decodeSnappyInto(src, s.raw[:0], n); err != nil {
			return decompressErr(c, err)
		}
		s.in.r.Reset(s.raw)
		r = &s.in.r
	case CompressionLZ4:
		s.lz = lz4Readers.Get().(*lz4.Reader)
		s.lz.Reset(&s.in.r)
		r = s.lz
	case CompressionZstd:
		s.zd, _ = zstdReaders.Get().(*zstd.Decoder)
		if s.zd == nil {
			return errors.New("record: zstd: cannot create a decoder")
		}
		// Through opaqueReader, so that it streams.
		if err := s.zd.Reset(&s.in); err != nil {
			return decompressErr(c, err)
		}
		r = s.zd
	default:
		return fmt.Errorf("record: codec %d: %w", int8(c), ErrUnsupportedCompression)
	}
	if s.br == nil {
		s.br = bufio.NewReaderSize(r, scanBufferSize)
	} else {
		s.br.Reset(r)
	}
	return nil
}

func decompressErr(c Compression, err error) error {
	return &Error{Offset: HeaderSize, Record: -1, Detail: "decompressing records", Err: fmt.Errorf("%s: %w: %w", c, ErrCorrupt, err)}
}

// Next reads the next record. It returns false at the end of the batch,
// after checking that nothing follows the last record, or at the first
// problem, which Err then reports.
func (s *Scanner) Next() bool {
	if s.done {
		return false
	}
	if s.n >= s.h.NumRecords {
		// Reading on to the end makes the decompressor check its
		// checksums too.
		switch _, err := s.br.ReadByte(); {
		case err == nil:
			s.fail(errAt(ErrInvalidRecord, s.pos, "bytes follow the last of %d records", s.h.NumRecords))
		case err != io.EOF:
			s.fail(s.readErr(err, "after the last record"))
		default:
			s.finish()
		}
		return false
	}
	if err := s.record(); err != nil {
		s.fail(err)
		return false
	}
	return true
}

// record reads one record's length, attributes, timestamp delta and offset
// delta, and skips its key, value and headers.
func (s *Scanner) record() error {
	start, idx := s.pos, int(s.n)
	length, err := s.varint("record length")
	if err != nil {
		return err
	}
	if length < minRecordSize {
		return errRecord(ErrInvalidRecord, start, idx, "record length %d is below the minimum %d", length, minRecordSize)
	}
	if int64(length) > int64(s.limit-s.pos) {
		return &Error{Offset: start, Record: idx, Detail: "reading records", Err: tooLarge(s.h.Compression(), s.limit)}
	}
	body := s.pos
	if _, err := s.br.ReadByte(); err != nil {
		return s.readErr(err, "record attributes")
	}
	s.pos++
	tsDelta, err := s.varlong("timestamp delta")
	if err != nil {
		return err
	}
	offDelta, err := s.varint("offset delta")
	if err != nil {
		return err
	}
	// The key, value and header count take a byte each at least.
	rest := int(length) - (s.pos - body)
	if rest < 3 {
		return errRecord(ErrInvalidRecord, start, idx, "record length %d leaves no room for a key, a value and headers", length)
	}
	n, err := s.br.Discard(rest)
	s.pos += n
	if err != nil {
		return s.readErr(err, "record body")
	}
	switch {
	case offDelta <= s.prev:
		return errRecord(ErrInvalidRecord, start, idx, "offset delta %d does not follow %d", offDelta, s.prev)
	case offDelta > s.h.LastOffsetDelta:
		return errRecord(ErrInvalidRecord, start, idx, "offset delta %d is past the last offset delta %d", offDelta, s.h.LastOffsetDelta)
	}
	s.prev = offDelta
	s.n++
	s.off = s.h.BaseOffset + int64(offDelta)
	if s.h.LogAppendTime() {
		// Kafka gives every record of a LogAppendTime batch the batch's
		// max timestamp, which the broker set at append.
		s.ts = s.h.MaxTimestamp
	} else {
		s.ts = s.h.BaseTimestamp + tsDelta
	}
	return nil
}

// varint reads a varint with Kafka's limits (see readVarint).
func (s *Scanner) varint(what string) (int32, error) {
	at := s.pos
	u, err := s.uvarint(maxVarintLen, what)
	if err != nil {
		return 0, err
	}
	if u > 0xffffffff {
		return 0, errRecord(ErrInvalidRecord, at, int(s.n), "bad %s varint", what)
	}
	x := uint32(u)
	return int32(x>>1) ^ -int32(x&1), nil
}

// varlong reads a varlong with Kafka's limits (see readVarlong).
func (s *Scanner) varlong(what string) (int64, error) {
	u, err := s.uvarint(maxVarlongLen, what)
	if err != nil {
		return 0, err
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (s *Scanner) uvarint(maxLen int, what string) (uint64, error) {
	at := s.pos
	var u uint64
	for i := 0; i < maxLen; i++ {
		c, err := s.br.ReadByte()
		if err != nil {
			return 0, s.readErr(err, what)
		}
		s.pos++
		if i == maxVarlongLen-1 && c > 1 {
			break // more than 64 bits
		}
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return u, nil
		}
	}
	return 0, errRecord(ErrInvalidRecord, at, int(s.n), "bad %s varint", what)
}

// readErr turns a failed read into the error Next reports: the records end
// too early (ErrInvalidRecord, as for an uncompressed batch), or the
// decompressor found damage.
func (s *Scanner) readErr(err error, what string) error {
	switch {
	case err == io.EOF:
		return errRecord(ErrInvalidRecord, s.pos, int(s.n), "the records end in the %s of record %d of %d", what, s.n, s.h.NumRecords)
	case errors.Is(err, ErrTooLarge):
		return &Error{Offset: s.pos, Record: int(s.n), Detail: "decompressing records", Err: err}
	}
	return &Error{Offset: s.pos, Record: int(s.n), Detail: "decompressing records", Err: fmt.Errorf("%s: %w: %w", s.h.Compression(), ErrCorrupt, err)}
}

// Offset is the current record's offset.
func (s *Scanner) Offset() int64 { return s.off }

// Timestamp is the current record's timestamp: the batch's max timestamp
// for a LogAppendTime batch, else the base timestamp plus its delta.
func (s *Scanner) Timestamp() int64 { return s.ts }

// Err is the problem that stopped Next early, nil at the end of the batch.
func (s *Scanner) Err() error { return s.err }

// Close hands the pooled decompressor back; the Scanner stays usable.
func (s *Scanner) Close() {
	s.release()
	s.done = true
}

func (s *Scanner) fail(err error) {
	s.err = err
	s.finish()
}

func (s *Scanner) finish() {
	s.release()
	s.done = true
}

func (s *Scanner) release() {
	if s.br != nil {
		s.br.Reset(nil)
	}
	s.in.r.Reset(nil)
	if s.gz != nil {
		gzipReaders.Put(s.gz)
		s.gz = nil
	}
	if s.lz != nil {
		s.lz.Reset(nil)
		lz4Readers.Put(s.lz)
		s.lz = nil
	}
	if s.zd != nil {
		s.zd.Reset(nil)
		zstdReaders.Put(s.zd)
		s.zd = nil
	}
	s.xs.reset(nil, 0)
}

// xerialStream decodes xerial-framed snappy (see xerialHeader) one chunk
// at a time.
type xerialStream struct {
	src   []byte // the chunks not yet decoded
	buf   []byte // the decoded chunk
	off   int    // read position in buf
	limit int    // the most a chunk may decode to
}

func (x *xerialStream) reset(src []byte, limit int) {
	x.src, x.buf, x.off, x.limit = src, x.buf[:0], 0, limit
}

func (x *xerialStream) Read(p []byte) (int, error) {
	for x.off == len(x.buf) {
		if len(x.src) == 0 {
			return 0, io.EOF
		}
		if len(x.src) < 4 {
			return 0, errors.New("xerial snappy: truncated chunk length")
		}
		n := binary.BigEndian.Uint32(x.src)
		x.src = x.src[4:]
		if uint64(n) > uint64(len(x.src)) {
			return 0, fmt.Errorf("xerial snappy: chunk of %d bytes, %d remain", n, len(x.src))
		}
		chunk := x.src[:n]
		x.src = x.src[n:]
		dn, err := snappy.DecodedLen(chunk)
		if err != nil {
			return 0, err
		}
		if dn > x.limit {
			return 0, tooLarge(CompressionSnappy, x.limit)
		}
		if x.buf, err = decodeSnappyInto(chunk, x.buf[:0], dn); err != nil {
			return 0, err
		}
		x.off = 0
	}
	n := copy(p, x.buf[x.off:])
	x.off += n
	return n, nil
}
