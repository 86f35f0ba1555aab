package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/twmb/franz-go/pkg/kgo"
)

func kgoCodec(c Compression) kgo.CompressionCodec {
	switch c {
	case CompressionGzip:
		return kgo.GzipCompression()
	case CompressionSnappy:
		return kgo.SnappyCompression()
	case CompressionLZ4:
		return kgo.Lz4Compression()
	case CompressionZstd:
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func payloads() [][]byte {
	rng := rand.New(rand.NewSource(1))
	random := make([]byte, 100<<10)
	rng.Read(random)
	return [][]byte{
		{},
		[]byte("a"),
		bytes.Repeat([]byte("kafka "), 20000), // > one 32 KiB xerial block
		random,
	}
}

func TestCompressRoundTrip(t *testing.T) {
	for _, c := range codecs {
		for i, p := range payloads() {
			prefix := []byte("keep")
			comp, err := Compress(c, p, append([]byte{}, prefix...))
			if err != nil {
				t.Fatalf("%v payload %d: %v", c, i, err)
			}
			if !bytes.HasPrefix(comp, prefix) {
				t.Fatalf("%v: Compress did not append", c)
			}
			out, err := Decompress(c, comp[len(prefix):], []byte("x"), len(p))
			if err != nil {
				t.Fatalf("%v payload %d: %v", c, i, err)
			}
			if !bytes.Equal(out, append([]byte("x"), p...)) {
				t.Fatalf("%v payload %d: round trip differs", c, i)
			}
		}
	}
}

// Our compressed output must be readable by franz-go (and so by any client
// that reads what Java producers write), and we must read franz-go's.
func TestCompressInteropWithFranzGo(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	for _, c := range codecs[1:] {
		comp, err := kgo.DefaultCompressor(kgoCodec(c))
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range payloads() {
			if len(p) == 0 {
				continue
			}
			ours, err := Compress(c, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dec.Decompress(ours, kgo.CompressionCodecType(c))
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%v payload %d: franz-go cannot read ours: %v", c, i, err)
			}
			theirs, codec := comp.Compress(new(bytes.Buffer), p)
			if codec != kgo.CompressionCodecType(c) {
				continue // franz-go chose not to compress
			}
			got, err = Decompress(c, theirs, nil, 0)
			if err != nil || !bytes.Equal(got, p) {
				t.Fatalf("%v payload %d: cannot read franz-go's: %v", c, i, err)
			}
		}
	}
}

func TestSnappyFramings(t *testing.T) {
	p := bytes.Repeat([]byte("0123456789"), 10000)
	raw := snappy.Encode(nil, p)
	got, err := Decompress(CompressionSnappy, raw, nil, 0)
	if err != nil || !bytes.Equal(got, p) {
		t.Fatalf("raw snappy: %v", err)
	}
	x, _ := Compress(CompressionSnappy, p, nil)
	if !bytes.HasPrefix(x, xerialHeader) {
		t.Fatal("snappy output is not xerial-framed")
	}
	// A framed stream with a chunk length past the end is corrupt.
	bad := append([]byte{}, x...)
	binary.BigEndian.PutUint32(bad[xerialHeaderLen:], 1<<30)
	if _, err := Decompress(CompressionSnappy, bad, nil, 0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("bad chunk length: %v", err)
	}
}

func TestDecompressLimit(t *testing.T) {
	bomb := make([]byte, 8<<20) // zeros compress ~1000x
	for _, c := range codecs {
		comp, err := Compress(c, bomb, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decompress(c, comp, nil, 1<<20); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v: got %v, want ErrTooLarge", c, err)
		}
		if out, err := Decompress(c, comp, nil, len(bomb)); err != nil || len(out) != len(bomb) {
			t.Fatalf("%v: at the limit: %d bytes, %v", c, len(out), err)
		}
	}
}

func TestDecompressGarbage(t *testing.T) {
	junk := []byte("this is not compressed data at all, not in any codec")
	for _, c := range codecs[1:] {
		if _, err := Decompress(c, junk, nil, 1<<20); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: got %v, want ErrCorrupt", c, err)
		}
	}
	if _, err := Decompress(7, junk, nil, 0); !errors.Is(err, ErrUnsupportedCompression) {
		t.Fatalf("codec 7: %v", err)
	}
	if _, err := Compress(7, junk, nil); !errors.Is(err, ErrUnsupportedCompression) {
		t.Fatalf("codec 7: %v", err)
	}
}
