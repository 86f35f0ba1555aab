package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// String names the codec as Kafka's compression.type does.
func (c Compression) String() string {
	switch c {
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionSnappy:
		return "snappy"
	case CompressionLZ4:
		return "lz4"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("unknown(%d)", int8(c))
}

// xerialHeader starts snappy data framed the way Java producers write it
// (org.xerial.snappy.SnappyOutputStream): this magic, a version and a
// compatible version (both int32 1), then chunks of [int32 length][raw
// snappy block].
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderLen = 16
	xerialBlockSize = 32 << 10 // SnappyOutputStream's default block size
	// zstdMaxWindow bounds the memory a zstd frame may make a decoder
	// allocate, whatever the frame asks for.
	zstdMaxWindow = 64 << 20
)

var (
	gzipReaders sync.Pool // *gzip.Reader
	gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	lz4Readers  = sync.Pool{New: func() any { return lz4.NewReader(nil) }}
	lz4Writers  = sync.Pool{New: func() any { return lz4.NewWriter(nil) }}
	zstdReaders = sync.Pool{New: func() any {
		// Concurrency 1 decodes synchronously: no goroutines behind a
		// pooled decoder.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil // the options are constant; Decompress reports a nil decoder
		}
		return d
	}}
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		// EncodeAll may be called concurrently; it never starts goroutines.
		return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithZeroFrames(true))
	})
)

// appendWriter is an io.Writer appending to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Compress appends src compressed with codec to dst and returns the extended
// slice. The output is what Kafka's Java producer would write: gzip members,
// xerial-framed snappy, LZ4 frames, zstd frames. CompressionNone appends src
// as it is.
func Compress(codec Compression, src, dst []byte) ([]byte, error) {
	switch codec {
	case CompressionNone:
		return append(dst, src...), nil
	case CompressionGzip:
		w := &appendWriter{b: dst}
		gz := gzipWriters.Get().(*gzip.Writer)
		defer gzipWriters.Put(gz)
		gz.Reset(w)
		if _, err := gz.Write(src); err != nil {
			return dst, fmt.Errorf("record: gzip: %w", err)
		}
		if err := gz.Close(); err != nil {
			return dst, fmt.Errorf("record: gzip: %w", err)
		}
		return w.b, nil
	case CompressionSnappy:
		return appendXerial(dst, src), nil
	case CompressionLZ4:
		w := &appendWriter{b: dst}
		lw := lz4Writers.Get().(*lz4.Writer)
		defer lz4Writers.Put(lw)
		lw.Reset(w)
		if _, err := lw.Write(src); err != nil {
			return dst, fmt.Errorf("record: lz4: %w", err)
		}
		if err := lw.Close(); err != nil {
			return dst, fmt.Errorf("record: lz4: %w", err)
		}
		return w.b, nil
	case CompressionZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, fmt.Errorf("record: zstd: %w", err)
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("record: codec %d: %w", int8(codec), ErrUnsupportedCompression)
}

func appendXerial(dst, src []byte) []byte {
	dst = append(dst, xerialHeader...)
	dst = binary.BigEndian.AppendUint32(dst, 1) // version
	dst = binary.BigEndian.AppendUint32(dst, 1) // compatible version
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialBlockSize)]
		src = src[len(chunk):]
		at := len(dst)
		need := 4 + snappy.MaxEncodedLen(len(chunk))
		dst = grow(dst, need)[:at+need]
		enc := snappy.Encode(dst[at+4:], chunk)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(enc)))
		dst = dst[:at+4+len(enc)]
	}
	return dst
}

// grow makes room for n more bytes after len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+max(n, len(b)))
	copy(nb, b)
	return nb
}

// Decompress appends the decompressed form of src to dst and returns the
// extended slice. It fails with ErrTooLarge once the output would pass limit
// bytes (guarding against decompression bombs; limit <= 0 means no limit),
// and with an ErrCorrupt-wrapped error when src is not valid for the codec.
// Snappy accepts both the xerial framing Java producers write and raw
// snappy blocks.
func Decompress(codec Compression, src, dst []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	}
	var out []byte
	var err error
	switch codec {
	case CompressionNone:
		if len(src) > limit {
			return dst, tooLarge(codec, limit)
		}
		return append(dst, src...), nil
	case CompressionGzip:
		out, err = decompressGzip(src, dst, limit)
	case CompressionSnappy:
		if len(src) >= xerialHeaderLen && bytes.Equal(src[:len(xerialHeader)], xerialHeader) {
			out, err = decompressXerial(src[xerialHeaderLen:], dst, limit)
		} else {
			out, err = decompressSnappyBlock(src, dst, limit)
		}
	case CompressionLZ4:
		r := lz4Readers.Get().(*lz4.Reader)
		r.Reset(bytes.NewReader(src))
		out, err = readLimit(r, dst, limit)
		r.Reset(nil)
		lz4Readers.Put(r)
	case CompressionZstd:
		d, _ := zstdReaders.Get().(*zstd.Decoder)
		if d == nil {
			return dst, errors.New("record: zstd: cannot create a decoder")
		}
		if err = d.Reset(bytes.NewReader(src)); err == nil {
			out, err = readLimit(d, dst, limit)
		}
		d.Reset(nil)
		zstdReaders.Put(d)
	default:
		return dst, fmt.Errorf("record: codec %d: %w", int8(codec), ErrUnsupportedCompression)
	}
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return dst, tooLarge(codec, limit)
		}
		return dst, fmt.Errorf("record: %s: %w: %w", codec, ErrCorrupt, err)
	}
	return out, nil
}

func tooLarge(codec Compression, limit int) error {
	return fmt.Errorf("record: %s: %w (%d bytes)", codec, ErrTooLarge, limit)
}

func decompressGzip(src, dst []byte, limit int) ([]byte, error) {
	r, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if r == nil {
		r, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = r.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return dst, err
	}
	defer gzipReaders.Put(r)
	return readLimit(r, dst, limit)
}

func decompressSnappyBlock(src, dst []byte, limit int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit {
		return dst, ErrTooLarge
	}
	return decodeSnappyInto(src, dst, n)
}

func decodeSnappyInto(src, dst []byte, n int) ([]byte, error) {
	at := len(dst)
	dst = grow(dst, n)
	out, err := snappy.Decode(dst[at:at+n], src)
	if err != nil {
		return dst[:at], err
	}
	if len(out) != n {
		return dst[:at], errors.New("snappy: decoded length mismatch")
	}
	return dst[:at+n], nil
}

func decompressXerial(src, dst []byte, limit int) ([]byte, error) {
	start := len(dst)
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, errors.New("xerial snappy: truncated chunk length")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return dst, fmt.Errorf("xerial snappy: chunk of %d bytes, %d remain", n, len(src))
		}
		chunk := src[:n]
		src = src[n:]
		dn, err := snappy.DecodedLen(chunk)
		if err != nil {
			return dst, err
		}
		if dn > limit-(len(dst)-start) {
			return dst, ErrTooLarge
		}
		if dst, err = decodeSnappyInto(chunk, dst, dn); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// readLimit appends everything r yields to dst, failing with ErrTooLarge
// past limit bytes.
func readLimit(r io.Reader, dst []byte, limit int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = grow(dst, max(4096, min(len(dst)-start, 4<<20)))
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst[:start], err
		}
	}
}
