package log

import (
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	goleak.VerifyTestMain(m)
}

// makeBatch builds a valid magic-2 batch of n records of valueSize bytes,
// timestamps ts, ts+1, ...
func makeBatch(n int, valueSize int, ts int64) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		v := make([]byte, valueSize)
		for j := range v {
			v[j] = byte(i + j)
		}
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Key: []byte{byte(i)}, Value: v}
		body := r.AppendTo(nil)
		r.Length = int32(len(body) - 1)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		Length: int32(49 + len(recs)), PartitionLeaderEpoch: -1, Magic: 2,
		LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs,
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[record.CRCOffset:], record.ComputeCRC(out))
	return out
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testClock is a settable clock, safe to read from the manager's
// background work while a test advances it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTestManager(t testing.TB, fsys vfs.FS, dir string, mod ...func(*ManagerOptions)) *Manager {
	t.Helper()
	opts := ManagerOptions{FS: fsys, Dir: dir, Logger: quietLogger(), RetentionCheckInterval: time.Hour, CheckpointInterval: time.Hour}
	for _, f := range mod {
		f(&opts)
	}
	m, err := OpenManager(opts)
	if err != nil {
		t.Fatalf("OpenManager: %v", err)
	}
	return m
}

func testConfig() Config {
	c := DefaultConfig()
	return c
}

// readAll reads every batch from offset from to the end and returns their headers.
func readAll(t testing.TB, l *Log, from int64) []record.Header {
	t.Helper()
	var out []record.Header
	off := from
	for off < l.LogEndOffset() {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if rr.Size == 0 {
			t.Fatalf("Read(%d): empty below LEO %d", off, l.LogEndOffset())
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		for len(b) > 0 {
			h, err := record.ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if record.ComputeCRC(b[:h.Size()]) != h.CRC {
				t.Fatalf("batch at %d: bad CRC", h.BaseOffset)
			}
			out = append(out, h)
			b = b[h.Size():]
		}
		off = rr.NextOffset
	}
	return out
}

// seedEnv names the environment variable that replays a randomised test:
// the test logs its seed, and SAMSA_LOG_SEED=<seed> runs it again with it.
const seedEnv = "SAMSA_LOG_SEED"

// testSeed returns the seed from seedEnv if set, else a fresh one, and
// logs it (the log shows when the test fails, or with -v).
func testSeed(t testing.TB) int64 {
	t.Helper()
	if s := os.Getenv(seedEnv); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
		t.Logf("seed %d (from %s)", seed, seedEnv)
		return seed
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d (replay with %s=%d)", seed, seedEnv, seed)
	return seed
}

// crashStride is how far apart the crash points a test tries are: every
// one normally; under the race detector (ten times slower) and with
// -short, one in three, starting from a seed-dependent step so successive
// runs cover different ones. make test also runs the crash tests without
// -race, so every step is covered there.
func crashStride(seed int64) (start, stride int64) {
	if raceEnabled || testing.Short() {
		return (seed%3 + 3) % 3, 3
	}
	return 0, 1
}
