package partition

import (
	"errors"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

type step struct {
	batches  []spec
	wantErr  *kerr.Error
	wantBase int64 // checked when wantErr is nil
	wantLast int64
	wantDup  bool
}

func TestAppendIdempotence(t *testing.T) {
	const pid = 1000
	tests := []struct {
		name  string
		steps []step
	}{
		{"plain batches get consecutive offsets", []step{
			{batches: []spec{plain(3)}, wantBase: 0, wantLast: 2},
			{batches: []spec{plain(1)}, wantBase: 3, wantLast: 3},
			{batches: []spec{plain(2), plain(2)}, wantBase: 4, wantLast: 7},
		}},
		{"in-order sequences", []step{
			{batches: []spec{idem(pid, 0, 0, 3)}, wantBase: 0, wantLast: 2},
			{batches: []spec{idem(pid, 0, 3, 2)}, wantBase: 3, wantLast: 4},
			{batches: []spec{plain(1)}, wantBase: 5, wantLast: 5},
			{batches: []spec{idem(pid, 0, 5, 1)}, wantBase: 6, wantLast: 6},
		}},
		{"a retried batch gets its original offsets", []step{
			{batches: []spec{idem(pid, 0, 0, 3)}, wantBase: 0, wantLast: 2},
			{batches: []spec{idem(pid, 0, 3, 2)}, wantBase: 3, wantLast: 4},
			{batches: []spec{idem(pid, 0, 0, 3)}, wantBase: 0, wantLast: 2, wantDup: true},
			{batches: []spec{idem(pid, 0, 3, 2)}, wantBase: 3, wantLast: 4, wantDup: true},
			{batches: []spec{idem(pid, 0, 5, 1)}, wantBase: 5, wantLast: 5},
		}},
		{"a retry must match the whole sequence range", []step{
			{batches: []spec{idem(pid, 0, 0, 3)}, wantBase: 0, wantLast: 2},
			{batches: []spec{idem(pid, 0, 0, 2)}, wantErr: kerr.OutOfOrderSequenceNumber},
		}},
		{"only the last five batches are remembered", []step{
			{batches: []spec{idem(pid, 0, 0, 1)}, wantBase: 0, wantLast: 0},
			{batches: []spec{idem(pid, 0, 1, 1)}, wantBase: 1, wantLast: 1},
			{batches: []spec{idem(pid, 0, 2, 1)}, wantBase: 2, wantLast: 2},
			{batches: []spec{idem(pid, 0, 3, 1)}, wantBase: 3, wantLast: 3},
			{batches: []spec{idem(pid, 0, 4, 1)}, wantBase: 4, wantLast: 4},
			{batches: []spec{idem(pid, 0, 5, 1)}, wantBase: 5, wantLast: 5},
			{batches: []spec{idem(pid, 0, 1, 1)}, wantBase: 1, wantLast: 1, wantDup: true},
			{batches: []spec{idem(pid, 0, 0, 1)}, wantErr: kerr.OutOfOrderSequenceNumber},
		}},
		{"a gap is out of order", []step{
			{batches: []spec{idem(pid, 0, 0, 3)}, wantBase: 0, wantLast: 2},
			{batches: []spec{idem(pid, 0, 5, 1)}, wantErr: kerr.OutOfOrderSequenceNumber},
			{batches: []spec{idem(pid, 0, 3, 1)}, wantBase: 3, wantLast: 3},
		}},
		{"a stale epoch is fenced", []step{
			{batches: []spec{idem(pid, 1, 0, 1)}, wantBase: 0, wantLast: 0},
			{batches: []spec{idem(pid, 0, 1, 1)}, wantErr: kerr.InvalidProducerEpoch},
			{batches: []spec{idem(pid, 0, 0, 1)}, wantErr: kerr.InvalidProducerEpoch},
		}},
		{"an epoch bump restarts the sequence at zero", []step{
			{batches: []spec{idem(pid, 0, 0, 4)}, wantBase: 0, wantLast: 3},
			{batches: []spec{idem(pid, 1, 4, 1)}, wantErr: kerr.OutOfOrderSequenceNumber},
			{batches: []spec{idem(pid, 1, 0, 2)}, wantBase: 4, wantLast: 5},
			{batches: []spec{idem(pid, 1, 2, 1)}, wantBase: 6, wantLast: 6},
			// The old epoch's batches are forgotten, so their retry is fenced.
			{batches: []spec{idem(pid, 0, 0, 4)}, wantErr: kerr.InvalidProducerEpoch},
		}},
		{"an unknown producer may start at any sequence (KIP-360)", []step{
			{batches: []spec{idem(pid, 2, 42, 2)}, wantBase: 0, wantLast: 1},
			{batches: []spec{idem(pid, 2, 44, 1)}, wantBase: 2, wantLast: 2},
			{batches: []spec{idem(pid, 2, 46, 1)}, wantErr: kerr.OutOfOrderSequenceNumber},
		}},
		{"sequences wrap from int32 max to zero", []step{
			{batches: []spec{idem(pid, 0, math.MaxInt32-1, 2)}, wantBase: 0, wantLast: 1},
			{batches: []spec{idem(pid, 0, 0, 1)}, wantBase: 2, wantLast: 2},
		}},
		{"a batch may span the wrap", []step{
			{batches: []spec{idem(pid, 0, math.MaxInt32-2, 2)}, wantBase: 0, wantLast: 1},
			{batches: []spec{idem(pid, 0, math.MaxInt32, 3)}, wantBase: 2, wantLast: 4},
			{batches: []spec{idem(pid, 0, math.MaxInt32, 3)}, wantBase: 2, wantLast: 4, wantDup: true},
			{batches: []spec{idem(pid, 0, 2, 1)}, wantBase: 5, wantLast: 5},
			{batches: []spec{idem(pid, 0, 0, 1)}, wantErr: kerr.OutOfOrderSequenceNumber},
		}},
		{"producers are independent", []step{
			{batches: []spec{idem(1, 0, 0, 1)}, wantBase: 0, wantLast: 0},
			{batches: []spec{idem(2, 0, 0, 1)}, wantBase: 1, wantLast: 1},
			{batches: []spec{idem(1, 0, 1, 1)}, wantBase: 2, wantLast: 2},
			{batches: []spec{idem(2, 0, 0, 1)}, wantBase: 1, wantLast: 1, wantDup: true},
		}},
		{"several batches of one producer in one append are checked in order", []step{
			{batches: []spec{idem(pid, 0, 0, 2), idem(pid, 0, 2, 3)}, wantBase: 0, wantLast: 4},
			{batches: []spec{idem(pid, 0, 5, 1), idem(pid, 0, 7, 1)}, wantErr: kerr.OutOfOrderSequenceNumber},
			// Nothing of the failed append was kept.
			{batches: []spec{idem(pid, 0, 5, 1)}, wantBase: 5, wantLast: 5},
			{batches: []spec{idem(pid, 0, 2, 3)}, wantBase: 2, wantLast: 4, wantDup: true},
		}},
		{"client control batches are refused", []step{
			{batches: []spec{{pid: pid, epoch: 0, control: true, ts: 1}}, wantErr: kerr.InvalidRecord},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newMemStore(t)
			p := openTest(t, s)
			for i, st := range tc.steps {
				leoBefore := s.LogEndOffset()
				res, err := p.AppendAsLeader(batches(t, st.batches...), AppendOptions{RequiredAcks: -1})
				if st.wantErr != nil {
					if !errors.Is(err, st.wantErr) {
						t.Fatalf("step %d: err = %v, want %s", i, err, st.wantErr.Message)
					}
					if s.LogEndOffset() != leoBefore {
						t.Fatalf("step %d: failed append changed the log end offset %d -> %d", i, leoBefore, s.LogEndOffset())
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if res.BaseOffset != st.wantBase || res.LastOffset != st.wantLast || res.Duplicate != st.wantDup {
					t.Fatalf("step %d: got base %d last %d dup %v, want %d %d %v", i, res.BaseOffset, res.LastOffset, res.Duplicate, st.wantBase, st.wantLast, st.wantDup)
				}
				if st.wantDup && s.LogEndOffset() != leoBefore {
					t.Fatalf("step %d: duplicate was appended", i)
				}
				if p.HighWatermark() != s.LogEndOffset() {
					t.Fatalf("step %d: high watermark %d, log end %d", i, p.HighWatermark(), s.LogEndOffset())
				}
			}
		})
	}
}

func TestAppendValidation(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)

	corrupt := batch(t, plain(2))
	corrupt[len(corrupt)-1] ^= 0xff
	if _, err := p.AppendAsLeader(corrupt, AppendOptions{}); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("corrupt batch: %v", err)
	}
	big := batch(t, plain(10))
	if _, err := p.AppendAsLeader(big, AppendOptions{MaxMessageBytes: int32(len(big) - 1)}); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, err := p.AppendAsLeader(big, AppendOptions{MaxMessageBytes: int32(len(big))}); err != nil {
		t.Fatalf("exactly max.message.bytes: %v", err)
	}
	if _, err := p.AppendAsLeader(nil, AppendOptions{}); !errors.Is(err, kerr.InvalidRecord) {
		t.Fatalf("empty record set: %v", err)
	}
	partial := batch(t, plain(1))
	if _, err := p.AppendAsLeader(partial[:len(partial)-3], AppendOptions{}); !errors.Is(err, kerr.CorruptMessage) {
		t.Fatalf("partial batch: %v", err)
	}
	if _, err := p.AppendAsLeader(batch(t, plain(1)), AppendOptions{RequiredAcks: -1, MinInsyncReplicas: 2}); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("min.insync.replicas 2: %v", err)
	}
	old := batch(t, spec{pid: -1, epoch: -1, seq: -1, n: 1, ts: testNow.Add(-2 * time.Hour).UnixMilli()})
	if _, err := p.AppendAsLeader(old, AppendOptions{TimestampBeforeMaxMs: 3600_000}); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("old timestamp: %v", err)
	}
	future := batch(t, spec{pid: -1, epoch: -1, seq: -1, n: 1, ts: testNow.Add(2 * time.Hour).UnixMilli()})
	if _, err := p.AppendAsLeader(future, AppendOptions{TimestampAfterMaxMs: 3600_000}); !errors.Is(err, kerr.InvalidTimestamp) {
		t.Fatalf("future timestamp: %v", err)
	}
	if _, err := p.AppendAsLeader(future, AppendOptions{TimestampType: LogAppendTime, TimestampAfterMaxMs: 3600_000}); err != nil {
		t.Fatalf("LogAppendTime ignores producer timestamps: %v", err)
	}
	code, msg := KafkaError(func() error { _, err := p.AppendAsLeader(corrupt, AppendOptions{}); return err }())
	if code != kerr.CorruptMessage || msg == "" {
		t.Fatalf("KafkaError = %v %q", code, msg)
	}
}

func TestAppendStorageFailureKeepsProducerState(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	if _, err := p.AppendAsLeader(batch(t, idem(7, 0, 0, 2)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.failAppend = errors.New("disk on fire")
	_, err := p.AppendAsLeader(batch(t, idem(7, 0, 2, 2)), AppendOptions{})
	if !errors.Is(err, kerr.KafkaStorageError) || !errors.Is(err, s.failAppend) {
		t.Fatalf("err = %v, want KAFKA_STORAGE_ERROR wrapping the cause", err)
	}
	s.failAppend = nil
	// The failed batch left no trace: its retry is appended, not a duplicate.
	res, err := p.AppendAsLeader(batch(t, idem(7, 0, 2, 2)), AppendOptions{})
	if err != nil || res.Duplicate || res.BaseOffset != 2 {
		t.Fatalf("retry after storage failure: %+v %v", res, err)
	}
}

func TestLogAppendTime(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	opts := AppendOptions{TimestampType: LogAppendTime}
	res, err := p.AppendAsLeader(batch(t, idem(9, 0, 0, 1)), opts)
	if err != nil || res.LogAppendTime != testNow.UnixMilli() {
		t.Fatalf("%+v %v", res, err)
	}
	h, _ := record.ParseHeader(s.batches[0])
	if !h.LogAppendTime() || h.MaxTimestamp != testNow.UnixMilli() {
		t.Fatalf("stored header %+v", h)
	}
	later := testNow.Add(time.Minute)
	opts.Now = func() time.Time { return later }
	dup, err := p.AppendAsLeader(batch(t, idem(9, 0, 0, 1)), opts)
	if err != nil || !dup.Duplicate || dup.LogAppendTime != testNow.UnixMilli() {
		t.Fatalf("duplicate keeps its original append time: %+v %v", dup, err)
	}
	res, err = p.AppendAsLeader(batch(t, plain(1)), AppendOptions{})
	if err != nil || res.LogAppendTime != -1 {
		t.Fatalf("CreateTime: %+v %v", res, err)
	}
}

func TestHighWatermarkNotify(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	ch := p.HighWatermarkNotify()
	select {
	case <-ch:
		t.Fatal("closed before any append")
	default:
	}
	if _, err := p.AppendAsLeader(batch(t, plain(2)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("not closed after the high watermark advanced")
	}
	if p.HighWatermark() != 2 || p.LastStableOffset() != 2 {
		t.Fatalf("hw %d lso %d", p.HighWatermark(), p.LastStableOffset())
	}
}

func TestWatchHighWatermark(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	a, b := make(chan struct{}, 1), make(chan struct{}, 1)
	p.WatchHighWatermark(a)
	p.WatchHighWatermark(b)
	for i := 0; i < 2; i++ { // a second advance must not block on a full channel
		if _, err := p.AppendAsLeader(batch(t, plain(1)), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, ch := range map[string]chan struct{}{"a": a, "b": b} {
		select {
		case <-ch:
		default:
			t.Fatalf("watcher %s not signalled after the high watermark advanced", name)
		}
	}
	p.UnwatchHighWatermark(a)
	p.UnwatchHighWatermark(a) // not watching any more: nothing to undo
	if _, err := p.AppendAsLeader(batch(t, plain(1)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a:
		t.Fatal("signalled after UnwatchHighWatermark")
	default:
	}
	select {
	case <-b:
	default:
		t.Fatal("the remaining watcher was not signalled")
	}
}

func TestLeaderEpoch(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	if _, err := p.AppendAsLeader(batch(t, plain(1)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	h, _ := record.ParseHeader(s.batches[0])
	if h.PartitionLeaderEpoch != 3 {
		t.Fatalf("batch leader epoch %d, want 3", h.PartitionLeaderEpoch)
	}
	for _, tc := range []struct {
		epoch int32
		want  *kerr.Error
	}{{-1, nil}, {3, nil}, {2, kerr.FencedLeaderEpoch}, {4, kerr.UnknownLeaderEpoch}} {
		err := p.CheckLeaderEpoch(tc.epoch)
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("CheckLeaderEpoch(%d) = %v, want %v", tc.epoch, err, tc.want)
		}
	}
	p.SetLeaderEpoch(5)
	p.SetLeaderEpoch(4)
	if p.LeaderEpoch() != 5 {
		t.Fatalf("leader epoch %d, want 5", p.LeaderEpoch())
	}
}

func TestDeleteRecordsBefore(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	if _, err := p.AppendAsLeader(batch(t, idem(1, 0, 0, 3)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendAsLeader(batch(t, idem(2, 0, 0, 3)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteRecordsBefore(7); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("beyond the high watermark: %v", err)
	}
	start, err := p.DeleteRecordsBefore(3)
	if err != nil || start != 3 {
		t.Fatalf("delete before 3: %d %v", start, err)
	}
	if got := p.ActiveProducers(); len(got) != 1 || got[0].ProducerID != 2 {
		t.Fatalf("producer 1's records are gone, so is its state: %+v", got)
	}
	start, err = p.DeleteRecordsBefore(-1)
	if err != nil || start != 6 {
		t.Fatalf("delete before the high watermark: %d %v", start, err)
	}
}

func TestActiveProducersAndExpiry(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	if _, err := p.AppendAsLeader(batch(t, idem(5, 2, 10, 3)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	got := p.ActiveProducers()
	want := ProducerState{ProducerID: 5, ProducerEpoch: 2, LastSequence: 12, LastTimestamp: testNow.UnixMilli() + 2, CoordinatorEpoch: -1, CurrentTxnStartOffset: -1}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("ActiveProducers = %+v, want %+v", got, want)
	}
	if n := p.ExpireProducers(); n != 0 {
		t.Fatalf("expired %d fresh producers", n)
	}
	p.cfg.Now = func() time.Time { return testNow.Add(25 * time.Hour) }
	if n := p.ExpireProducers(); n != 1 || len(p.ActiveProducers()) != 0 {
		t.Fatalf("expired %d, left %+v", n, p.ActiveProducers())
	}
	// Expired: the producer is unknown again, so any sequence is accepted.
	if _, err := p.AppendAsLeader(batch(t, idem(5, 2, 20, 1)), AppendOptions{Now: p.cfg.Now}); err != nil {
		t.Fatal(err)
	}
}

func TestClosedPartitionRefusesAppends(t *testing.T) {
	s := newMemStore(t)
	p := openTest(t, s)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendAsLeader(batch(t, plain(1)), AppendOptions{}); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append after close: %v", err)
	}
}

// TestAppendedHook: Config.Appended hears of each append that wrote
// records, with their bytes and count, and not of duplicates or refusals.
func TestAppendedHook(t *testing.T) {
	var bytes, records, calls int64
	p, err := New(Config{storage: newMemStore(t), FS: vfs.OS, Topic: "t", Now: func() time.Time { return testNow },
		Logger: slog.New(slog.DiscardHandler),
		Appended: func(b int, n int64) {
			calls++
			bytes += int64(b)
			records += n
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	two := batches(t, idem(7, 0, 0, 3), idem(7, 0, 3, 2))
	size := int64(len(two))
	if _, err := p.AppendAsLeader(two, AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err := p.AppendAsLeader(batch(t, idem(7, 0, 3, 2)), AppendOptions{}); err != nil || !res.Duplicate {
		t.Fatalf("retry: %+v %v", res, err)
	}
	if _, err := p.AppendAsLeader(batch(t, idem(7, 0, 9, 1)), AppendOptions{}); err == nil {
		t.Fatal("a sequence gap was accepted")
	}
	if calls != 1 || bytes != size || records != 5 {
		t.Fatalf("hook heard %d calls, %d bytes, %d records; want 1, %d, 5", calls, bytes, records, size)
	}
}
