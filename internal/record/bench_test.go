package record

import "testing"

// benchBatch is a 16 KiB uncompressed batch of 1 KiB records.
func benchBatch(b *testing.B, c Compression) []byte {
	recs := make([]Record, 16)
	for i := range recs {
		v := make([]byte, 1000)
		for j := range v {
			v[j] = byte(i + j%7)
		}
		recs[i] = Record{Key: []byte("key"), Value: v}
	}
	return mustEncode(b, spec(c), recs)
}

func BenchmarkValidate(b *testing.B) {
	batch := benchBatch(b, CompressionNone)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecords(b *testing.B) {
	for _, c := range codecs {
		b.Run(c.String(), func(b *testing.B) {
			batch := benchBatch(b, c)
			h, _ := ParseHeader(batch)
			var d Decoder
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Decode(h, batch, func(*Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
