package log

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Benchmarks append 16 KiB batches of 1 KiB records. Compare each with the
// raw sequential write of the same bytes to a file on the same disk:
//
//	go test -run '^$' -bench 'Append|RawWrite' -benchtime 2000x ./internal/log
//
// Set SAMSA_BENCH_DIR to choose the disk (default: the system temp dir) and
// SAMSA_BENCH_LARGE=1 for the 1 GiB recovery and 10,000-partition runs.

func benchDir(b *testing.B) string {
	if d := os.Getenv("SAMSA_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "bench")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

func large() bool { return os.Getenv("SAMSA_BENCH_LARGE") == "1" }

// benchBatch is 16 records of 1 KiB: about 16.5 KiB on disk.
func benchBatch() []byte { return makeBatch(16, 1000, time.Now().UnixMilli()) }

func BenchmarkAppend(b *testing.B) {
	for _, d := range []Durability{DurabilitySync, DurabilityPageCache} {
		for _, appenders := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/appenders=%d", d, appenders), func(b *testing.B) {
				m := openTestManager(b, vfs.OS, benchDir(b))
				defer m.Close()
				cfg := DefaultConfig()
				cfg.Durability = d
				logs := make([]*Log, appenders)
				for i := range logs {
					l, err := m.Create(TopicPartition{"bench", int32(i)}, [16]byte{}, cfg)
					if err != nil {
						b.Fatal(err)
					}
					logs[i] = l
				}
				batch := benchBatch()
				b.SetBytes(int64(len(batch)))
				rounds0 := m.SyncRounds()
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for i := 0; i < appenders; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						buf := append([]byte(nil), batch...)
						for next.Add(1) <= int64(b.N) {
							if _, err := logs[i].Append(buf, AppendOptions{}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				if d == DurabilitySync {
					b.ReportMetric(float64(b.N)/float64(max(m.SyncRounds()-rounds0, 1)), "appends/fsync")
				}
			})
		}
	}
}

// BenchmarkRawWrite is the baseline: plain sequential writes of the same
// batch bytes to one file per writer, with and without fdatasync per write.
func BenchmarkRawWrite(b *testing.B) {
	for _, synced := range []bool{false, true} {
		for _, writers := range []int{1, 8} {
			name := "nosync"
			if synced {
				name = "sync"
			}
			b.Run(fmt.Sprintf("%s/writers=%d", name, writers), func(b *testing.B) {
				dir := benchDir(b)
				batch := benchBatch()
				b.SetBytes(int64(len(batch)))
				files := make([]*os.File, writers)
				for i := range files {
					f, err := os.Create(filepath.Join(dir, fmt.Sprintf("raw-%d", i)))
					if err != nil {
						b.Fatal(err)
					}
					defer f.Close()
					files[i] = f
				}
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for i := 0; i < writers; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						f := files[i]
						for next.Add(1) <= int64(b.N) {
							if _, err := f.Write(batch); err != nil {
								b.Error(err)
								return
							}
							if synced {
								if err := fdatasync(f); err != nil {
									b.Error(err)
									return
								}
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}

// fillLog appends n bytes of benchmark batches with DurabilityPageCache.
func fillLog(b *testing.B, m *Manager, tp TopicPartition, bytes int64) *Log {
	cfg := DefaultConfig()
	cfg.Durability = DurabilityPageCache
	l, err := m.Create(tp, [16]byte{}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	batch := benchBatch()
	for l.Size() < bytes {
		if _, err := l.Append(batch, AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func BenchmarkRead(b *testing.B) {
	m := openTestManager(b, vfs.OS, benchDir(b))
	defer m.Close()
	l := fillLog(b, m, TopicPartition{"read", 0}, 64<<20)
	leo := l.LogEndOffset()
	opts := ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true}
	buf := make([]byte, 0, 2<<20)
	b.Run("sequential", func(b *testing.B) {
		off := int64(0)
		var n int64
		for i := 0; i < b.N; i++ {
			if off >= leo {
				off = 0
			}
			rr, err := l.Read(off, opts)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = rr.AppendTo(buf[:0]); err != nil {
				b.Fatal(err)
			}
			n += rr.Size
			off = rr.NextOffset
			rr.Release()
		}
		b.SetBytes(n / int64(b.N))
	})
	b.Run("random", func(b *testing.B) {
		rng := rand.New(rand.NewSource(1))
		small := ReadOptions{MaxBytes: 16 << 10, MaxOffset: -1, MinOneBatch: true}
		var n int64
		for i := 0; i < b.N; i++ {
			rr, err := l.Read(rng.Int63n(leo), small)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = rr.AppendTo(buf[:0]); err != nil {
				b.Fatal(err)
			}
			n += rr.Size
			rr.Release()
		}
		b.SetBytes(n / int64(b.N))
	})
}

// BenchmarkRecovery measures reopening after an unclean stop with the
// whole log unflushed (no recovery point): every batch is read and
// CRC-checked and the indexes rebuilt. 1 GiB with SAMSA_BENCH_LARGE=1,
// else 128 MiB.
func BenchmarkRecovery(b *testing.B) {
	size := int64(128 << 20)
	if large() {
		size = 1 << 30
	}
	dir := benchDir(b)
	m := openTestManager(b, vfs.OS, dir)
	fillLog(b, m, TopicPartition{"recover", 0}, size)
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.Remove(filepath.Join(dir, CleanShutdownFile))
		os.Remove(filepath.Join(dir, RecoveryPointCheckpointFile))
		b.StartTimer()
		m := openTestManager(b, vfs.OS, dir)
		b.StopTimer()
		if l, _ := m.Get(TopicPartition{"recover", 0}); l.Size() < size {
			b.Fatalf("recovered %d bytes", l.Size())
		}
		m.Close()
		b.StartTimer()
	}
}

// noSyncFS skips fsyncs, to lay out many partitions quickly for the open
// benchmark.
type noSyncFS struct{ vfs.FS }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error { return nil }

func (f noSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{file}, nil
}

func (noSyncFS) SyncDir(string) error { return nil }

// BenchmarkOpenPartitions measures opening a directory of partitions after
// a clean shutdown (each with one segment holding one batch) and the heap
// the idle logs hold. 10,000 partitions with SAMSA_BENCH_LARGE=1, else 1,000.
func BenchmarkOpenPartitions(b *testing.B) {
	n := 1000
	if large() {
		n = 10000
	}
	dir := benchDir(b)
	cfg := DefaultConfig()
	cfg.Durability = DurabilityPageCache
	m := openTestManager(b, noSyncFS{vfs.OS}, dir)
	batch := makeBatch(1, 100, time.Now().UnixMilli())
	for p := 0; p < n; p++ {
		l, err := m.Create(TopicPartition{"open", int32(p)}, [16]byte{1}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Append(batch, AppendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		m := openTestManager(b, vfs.OS, dir, func(o *ManagerOptions) { o.Config = cfg })
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(m.Logs()) != n {
			b.Fatalf("%d logs", len(m.Logs()))
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-bytes/partition")
		b.ReportMetric(float64(m.OpenFiles()), "open-files")
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "partitions")
}
