package partition

import (
	"encoding/binary"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
)

// discardStore assigns offsets and forgets the data: it isolates the
// partition's own cost (validation, producer checks) from the log's.
type discardStore struct{ *memStore }

func (s discardStore) Append(batches []byte, leaderEpoch int32, logAppendTime int64) (storageAppendResult, error) {
	res := storageAppendResult{BaseOffset: s.logEnd}
	it := record.Batches(batches)
	for it.Next() {
		s.logEnd += int64(it.Header().LastOffsetDelta) + 1
	}
	res.LastOffset = s.logEnd - 1
	return res, nil
}

// BenchmarkAppendAsLeader appends one 10-record batch per op from an
// idempotent producer, patching the sequence (and CRC) each time.
func BenchmarkAppendAsLeader(b *testing.B) {
	for _, idempotent := range []bool{false, true} {
		name := "plain"
		if idempotent {
			name = "idempotent"
		}
		b.Run(name, func(b *testing.B) {
			s := discardStore{newMemStore(b)}
			p, err := New(Config{storage: s, Topic: "t"})
			if err != nil {
				b.Fatal(err)
			}
			sp := plain(10)
			if idempotent {
				sp = idem(1, 0, 0, 10)
			}
			buf := batch(b, sp)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if idempotent {
					binary.BigEndian.PutUint32(buf[record.BaseSequenceOffset:], uint32(i*10))
					binary.BigEndian.PutUint32(buf[record.CRCOffset:], record.ComputeCRC(buf))
				}
				if _, err := p.AppendAsLeader(buf, AppendOptions{RequiredAcks: -1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
