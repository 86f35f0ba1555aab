package log

import (
	"encoding/binary"
	"math/rand"
	"os"
	"strconv"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// BenchmarkClean measures a cleaning round over a compacted log whose
// records use 10% unique keys (each key written ten times on average, in
// random order): building the offset map over the whole dirty log,
// rewriting every segment and swapping them in. The reported MB/s is the
// log's size over the round's time. 256 MiB by default; set
// SAMSA_CLEAN_BENCH_MB to change it:
//
//	go test -run '^$' -bench Clean -benchtime 1x ./internal/log
func BenchmarkClean(b *testing.B) {
	mb := 256
	if v, err := strconv.Atoi(os.Getenv("SAMSA_CLEAN_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	for _, codec := range []record.Compression{record.CompressionNone, record.CompressionLZ4} {
		b.Run(codec.String(), func(b *testing.B) {
			benchClean(b, int64(mb)<<20, codec)
		})
	}
}

func benchClean(b *testing.B, size int64, codec record.Compression) {
	const (
		valueSize = 200
		perBatch  = 64
	)
	cfg := DefaultConfig()
	cfg.CleanupPolicy = CleanupPolicyCompact
	cfg.Durability = DurabilityPageCache
	cfg.SegmentBytes = 64 << 20
	cfg.MinCleanableDirtyRatio = 0
	// Size the record count from one encoded batch.
	probe := record.NewBuilder(record.DefaultBatchSpec())
	for j := 0; j < perBatch; j++ {
		probe.Append(record.Record{TimestampDelta: int64(j), Key: make([]byte, 16), Value: make([]byte, valueSize)})
	}
	pb, _ := probe.Build(nil)
	records := size / (int64(len(pb)) / perBatch)
	keys := max(records/10, 1)
	var last CleanResult
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := benchDir(b)
		m := openTestManager(b, vfs.OS, dir)
		l, err := m.Create(TopicPartition{"clean", 0}, [16]byte{}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		rng := rand.New(rand.NewSource(1))
		value := make([]byte, valueSize)
		spec := record.DefaultBatchSpec()
		spec.Compression = codec
		var bl record.Builder
		var batch []byte
		for n := int64(0); n < records; n += perBatch {
			spec.BaseTimestamp = 1_700_000_000_000 + n
			bl.Reset(spec)
			for j := 0; j < perBatch; j++ {
				var key [16]byte
				binary.BigEndian.PutUint64(key[:], uint64(rng.Int63n(keys)))
				rng.Read(value) // incompressible, so every codec's log has the same size
				if err := bl.Append(record.Record{TimestampDelta: int64(j), Key: key[:], Value: value}); err != nil {
					b.Fatal(err)
				}
			}
			if batch, err = bl.Build(batch[:0]); err != nil {
				b.Fatal(err)
			}
			if _, err := l.Append(batch, AppendOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		// Roll so the whole log is cleanable.
		cfg2 := cfg
		cfg2.SegmentBytes = int64(len(batch))
		l.SetConfig(cfg2)
		l.Append(batch, AppendOptions{})
		l.SetConfig(cfg)
		if err := l.Flush(); err != nil {
			b.Fatal(err)
		}
		cc := DefaultCleanerConfig()
		cc.DedupeBufferSize = 64 << 20
		c, err := m.NewCleaner(cc)
		if err != nil {
			b.Fatal(err)
		}
		logSize := l.Size()
		b.SetBytes(logSize)
		b.StartTimer()
		res, err := c.Clean(l)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.EndOffset < l.segments()[l.NumSegments()-1].base {
			b.Fatalf("round ended at %d, map too small", res.EndOffset)
		}
		last = res
		b.ReportMetric(float64(logSize)/float64(1<<20), "logMiB")
		m.Close()
		os.RemoveAll(dir)
	}
	b.ReportMetric(float64(last.BytesWritten)/float64(max(last.BytesRead, 1))*100, "%kept")
	b.ReportMetric(float64(last.MapKeys), "keys")
}
