package partition

import (
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestRealLogRestart drives the partition over the real log: idempotent
// appends, then a restart (clean, and without a final snapshot), after
// which retries are still answered with their original offsets.
func TestRealLogRestart(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := "crash"
		if clean {
			name = "clean"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			tp := log.TopicPartition{Topic: "orders", Partition: 2}
			open := func() (*log.Manager, *Partition) {
				m, err := log.OpenManager(log.ManagerOptions{FS: vfs.OS, Dir: dir, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				l, err := m.Create(tp, [16]byte{1}, log.DefaultConfig())
				if err != nil {
					t.Fatal(err)
				}
				p, err := New(Config{Log: l, FS: vfs.OS, Topic: tp.Topic, Partition: tp.Partition, LeaderEpoch: 1,
					Now: func() time.Time { return testNow }, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				return m, p
			}
			m, p := open()
			for _, sp := range []spec{idem(1, 0, 0, 3), plain(2), idem(2, 0, 0, 1), idem(1, 0, 3, 2)} {
				if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{RequiredAcks: -1}); err != nil {
					t.Fatal(err)
				}
			}
			if clean {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}

			m, q := open()
			defer m.Close()
			if q.HighWatermark() != 8 || q.Log().LogEndOffset() != 8 {
				t.Fatalf("after restart: hw %d leo %d", q.HighWatermark(), q.Log().LogEndOffset())
			}
			res, err := q.AppendAsLeader(batch(t, idem(1, 0, 0, 3)), AppendOptions{})
			if err != nil || !res.Duplicate || res.BaseOffset != 0 || res.LastOffset != 2 {
				t.Fatalf("retry of the first batch: %+v %v", res, err)
			}
			if _, err := q.AppendAsLeader(batch(t, idem(1, 0, 9, 1)), AppendOptions{}); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
				t.Fatalf("gap after restart: %v", err)
			}
			res, err = q.AppendAsLeader(batch(t, idem(1, 0, 5, 1)), AppendOptions{})
			if err != nil || res.BaseOffset != 8 {
				t.Fatalf("next sequence: %+v %v", res, err)
			}
			if e, off := q.EndOffsetForEpoch(1); e != 1 || off != 9 {
				t.Fatalf("EndOffsetForEpoch(1) = %d, %d", e, off)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
