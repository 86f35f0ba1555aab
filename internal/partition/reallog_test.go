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
			if q.HighWatermark() != 8 || q.storageLog().LogEndOffset() != 8 {
				t.Fatalf("after restart: hw %d leo %d", q.HighWatermark(), q.storageLog().LogEndOffset())
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

// TestRestartForgetsEpochOfLostRecords: a crash loses the unflushed records
// a new leader epoch began with, while the leader-epoch checkpoint (written
// at once) survives. After recovery the partition must not report that
// epoch: OffsetForLeaderEpoch answers as for an epoch newer than any in the
// log, rather than claiming the log holds records of it.
func TestRestartForgetsEpochOfLostRecords(t *testing.T) {
	mem := vfs.NewMem()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tp := log.TopicPartition{Topic: "epochs", Partition: 0}
	cfg := log.DefaultConfig()
	cfg.Durability = log.DurabilityPageCache // nothing is fsynced before Flush
	open := func(fs vfs.FS) (*log.Manager, *Partition) {
		t.Helper()
		m, err := log.OpenManager(log.ManagerOptions{FS: fs, Dir: "/data", Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.Create(tp, [16]byte{1}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Log: l, FS: fs, Topic: tp.Topic, LeaderEpoch: 3, Now: func() time.Time { return testNow }, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return m, p
	}
	m, p := open(mem)
	if _, err := p.AppendAsLeader(batch(t, plain(4)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.storageLog().Flush(); err != nil {
		t.Fatal(err)
	}
	p.SetLeaderEpoch(5)
	if _, err := p.AppendAsLeader(batch(t, plain(2)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if e, off := p.EndOffsetForEpoch(5); e != 5 || off != 6 {
		t.Fatalf("before the crash: EndOffsetForEpoch(5) = %d, %d; want 5, 6", e, off)
	}
	crashed := mem.Crash()
	p.Close()
	m.Close()

	m, q := open(crashed)
	defer m.Close()
	defer q.Close()
	if leo := q.LogEndOffset(); leo != 4 {
		t.Fatalf("log end offset %d after the crash, want 4 (epoch 5's records were never flushed)", leo)
	}
	if e, off := q.EndOffsetForEpoch(3); e != 3 || off != 4 {
		t.Fatalf("after the crash: EndOffsetForEpoch(3) = %d, %d; want 3, 4", e, off)
	}
	if e, off := q.EndOffsetForEpoch(5); e != log.UndefinedEpoch || off != log.UndefinedEpochOffset {
		t.Fatalf("after the crash: EndOffsetForEpoch(5) = %d, %d; want -1, -1 (the log holds no record of epoch 5)", e, off)
	}
}
