package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

func txnBatch(pid int64, epoch int16, seq int32, n int) spec {
	return spec{pid: pid, epoch: epoch, seq: seq, n: n, txn: true}
}

// TestLastStableOffsetAndMarkers: the LSO stays at the first offset of
// the earliest open transaction and moves when markers end them; aborted
// transactions are listed for read_committed fetches.
func TestLastStableOffsetAndMarkers(t *testing.T) {
	s := newMemStore(t)
	s.dir = t.TempDir()
	p := openTest(t, s)
	ctx := context.Background()
	app := func(sp spec) AppendResult {
		t.Helper()
		res, err := p.AppendAsLeader(batch(t, sp), AppendOptions{RequiredAcks: -1})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	app(plain(2))             // 0-1
	app(txnBatch(7, 0, 0, 3)) // 2-4, producer 7 opens at 2
	app(plain(1))             // 5
	app(txnBatch(8, 0, 0, 2)) // 6-7, producer 8 opens at 6
	if got := p.LastStableOffset(); got != 2 {
		t.Fatalf("LSO with two open transactions: %d, want 2", got)
	}
	// A non-transactional write from a producer with an open transaction.
	if _, err := p.AppendAsLeader(batch(t, idem(7, 0, 3, 1)), AppendOptions{}); codeOf(err) != kerr.InvalidTxnState {
		t.Fatalf("plain write inside a transaction: %v", err)
	}
	if err := p.WriteTxnMarker(ctx, 7, 0, 0, false); err != nil { // abort at 8
		t.Fatal(err)
	}
	if got := p.LastStableOffset(); got != 6 {
		t.Fatalf("LSO after aborting 7: %d, want 6", got)
	}
	if err := p.WriteTxnMarker(ctx, 8, 0, 0, true); err != nil { // commit at 9
		t.Fatal(err)
	}
	if got, hw := p.LastStableOffset(), p.HighWatermark(); got != hw || hw != 10 {
		t.Fatalf("LSO %d, HW %d after both ended, want 10", got, hw)
	}
	ab := p.AbortedTransactions(0, 10)
	if len(ab) != 1 || ab[0] != (AbortedTxn{ProducerID: 7, FirstOffset: 2, LastOffset: 8, LastStableOffset: 6}) {
		t.Fatalf("aborted: %+v", ab)
	}
	if got := p.AbortedTransactions(9, 10); len(got) != 0 {
		t.Fatalf("aborted after the marker: %+v", got)
	}
	// Producer 7 continues with the same epoch and sequence.
	app(txnBatch(7, 0, 3, 1))
	if got := p.LastStableOffset(); got != 10 {
		t.Fatalf("LSO %d, want 10", got)
	}
	// A fencing marker (epoch 1) ends it; the old epoch is refused after.
	if err := p.WriteTxnMarker(ctx, 7, 1, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendAsLeader(batch(t, txnBatch(7, 0, 4, 1)), AppendOptions{}); codeOf(err) != kerr.InvalidProducerEpoch {
		t.Fatalf("zombie write: %v", err)
	}
	if err := p.WriteTxnMarker(ctx, 7, 0, 0, true); codeOf(err) != kerr.InvalidProducerEpoch {
		t.Fatalf("stale marker: %v", err)
	}
	var open []ProducerState
	for _, ps := range p.ActiveProducers() {
		if ps.CurrentTxnStartOffset >= 0 {
			open = append(open, ps)
		}
	}
	if len(open) != 0 {
		t.Fatalf("open transactions left: %+v", open)
	}
}

// TestLastStableOffsetWaitsForMarkerCommit: a marker not yet durable
// still holds the LSO back.
func TestLastStableOffsetWaitsForMarkerCommit(t *testing.T) {
	s := newMemStore(t)
	s.dir = t.TempDir()
	p := openTest(t, s)
	if _, err := p.AppendAsLeader(batch(t, txnBatch(7, 0, 0, 2)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	s.holdDurable = true
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.WriteTxnMarker(ctx, 7, 0, 0, true); codeOf(err) != kerr.RequestTimedOut {
		t.Fatalf("marker wait: %v", err)
	}
	if got := p.LastStableOffset(); got != 0 {
		t.Fatalf("LSO before the marker is durable: %d, want 0", got)
	}
	s.makeDurable(3)
	if got := p.LastStableOffset(); got != 3 {
		t.Fatalf("LSO after: %d, want 3", got)
	}
}

// TestTxnStateSurvivesRestart: open transactions (snapshot or replay) and
// the aborted index (.txnindex, or rebuilt from the log) after a restart.
func TestTxnStateSurvivesRestart(t *testing.T) {
	for _, mode := range []string{"clean", "crash", "lost-index"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			tp := log.TopicPartition{Topic: "orders", Partition: 0}
			open := func() (*log.Manager, *Partition) {
				m, err := log.OpenManager(log.ManagerOptions{FS: vfs.OS, Dir: dir, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				l, err := m.Create(tp, [16]byte{1}, log.DefaultConfig())
				if err != nil {
					t.Fatal(err)
				}
				p, err := New(Config{Log: l, FS: vfs.OS, Topic: tp.Topic, Partition: tp.Partition,
					Now: func() time.Time { return testNow }, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				return m, p
			}
			ctx := context.Background()
			m, p := open()
			for _, sp := range []spec{txnBatch(1, 0, 0, 2), txnBatch(2, 0, 0, 2), plain(1)} {
				if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{RequiredAcks: -1}); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.WriteTxnMarker(ctx, 1, 0, 0, false); err != nil { // abort [0, 5]
				t.Fatal(err)
			}
			if mode == "clean" {
				if err := p.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if mode == "lost-index" {
				if err := os.Remove(filepath.Join(l(p).Dir(), "00000000000000000000.txnindex")); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			m, q := open()
			defer m.Close()
			if got := q.LastStableOffset(); got != 2 {
				t.Fatalf("LSO after restart %d, want 2 (producer 2 still open)", got)
			}
			ab := q.AbortedTransactions(0, 100)
			if len(ab) != 1 || ab[0].ProducerID != 1 || ab[0].FirstOffset != 0 || ab[0].LastOffset != 5 {
				t.Fatalf("aborted after restart: %+v", ab)
			}
			if err := q.WriteTxnMarker(ctx, 2, 0, 0, true); err != nil {
				t.Fatal(err)
			}
			if got := q.LastStableOffset(); got != 7 {
				t.Fatalf("LSO after commit %d, want 7", got)
			}
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func l(p *Partition) *log.Log { return p.storageLog() }

func TestDecodeTxnIndex(t *testing.T) {
	a := AbortedTxn{ProducerID: 5, FirstOffset: 10, LastOffset: 20, LastStableOffset: 11}
	b := append(encodeAbortedTxn(a), encodeAbortedTxn(a)...)
	got, err := DecodeTxnIndex(append(b, 1, 2, 3)) // a torn trailing entry is ignored
	if err != nil || len(got) != 2 || got[1] != a {
		t.Fatalf("%+v %v", got, err)
	}
	bad := encodeAbortedTxn(a)
	bad[1] = 9
	if _, err := DecodeTxnIndex(bad); !errors.Is(err, errCorruptTxnIndex) {
		t.Fatalf("bad version: %v", err)
	}
}

// FuzzDecodeTxnIndex checks the .txnindex decoder: what it accepts are
// entries with 0 <= first offset <= last offset, which encode back to the
// input's bytes but for a torn trailing entry shorter than one entry.
func FuzzDecodeTxnIndex(f *testing.F) {
	f.Add(encodeAbortedTxn(AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 3, LastStableOffset: 2}))
	f.Add(append(encodeAbortedTxn(AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 3, LastStableOffset: 2}), 0, 0, 1))
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := DecodeTxnIndex(b)
		if err != nil {
			if !errors.Is(err, errCorruptTxnIndex) {
				t.Fatalf("error %v is not errCorruptTxnIndex", err)
			}
			return
		}
		var enc []byte
		for _, e := range entries {
			if e.LastOffset < e.FirstOffset || e.FirstOffset < 0 {
				t.Fatalf("accepted %+v", e)
			}
			enc = append(enc, encodeAbortedTxn(e)...)
		}
		if !bytes.HasPrefix(b, enc) || len(b)-len(enc) >= txnIndexEntrySize {
			t.Fatalf("%d entries re-encode to %d of %d bytes", len(entries), len(enc), len(b))
		}
	})
}

// TestCoordinatorTransactionalAppends: a coordinator's transactional
// batches (all at sequence 0, as the group coordinator writes
// transactional offsets) are neither duplicates nor out of sequence, open
// and end transactions like a producer's, and still obey epochs.
func TestCoordinatorTransactionalAppends(t *testing.T) {
	s := newMemStore(t)
	s.dir = t.TempDir()
	p := openTest(t, s)
	ctx := context.Background()
	coord := AppendOptions{RequiredAcks: -1, Coordinator: true}
	app := func(epoch int16) (AppendResult, error) {
		return p.AppendAsLeader(batch(t, txnBatch(9, epoch, 0, 1)), coord)
	}
	var offsets []int64
	for txn := 0; txn < 2; txn++ {
		for i := 0; i < 2; i++ { // two commits in one transaction
			res, err := app(0)
			if err != nil {
				t.Fatalf("transaction %d commit %d: %v", txn, i, err)
			}
			if res.Duplicate {
				t.Fatalf("transaction %d commit %d taken for a duplicate", txn, i)
			}
			offsets = append(offsets, res.BaseOffset)
		}
		if got := p.LastStableOffset(); got != offsets[len(offsets)-2] {
			t.Fatalf("LSO %d with the coordinator's transaction open at %d", got, offsets[len(offsets)-2])
		}
		if err := p.WriteTxnMarker(ctx, 9, 0, 0, true); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int64{0, 1, 3, 4}; fmt.Sprint(offsets) != fmt.Sprint(want) {
		t.Fatalf("offsets %v, want %v", offsets, want)
	}
	// A new epoch is accepted; an older one is fenced.
	if _, err := app(1); err != nil {
		t.Fatalf("new epoch: %v", err)
	}
	if _, err := app(0); codeOf(err) != kerr.InvalidProducerEpoch {
		t.Fatalf("old epoch: %v", err)
	}
}

// TestTxnVerificationGuard: a write verified before a marker ended the
// producer's transaction is refused (it would open a transaction the
// coordinator does not know); one verified after it is accepted.
func TestTxnVerificationGuard(t *testing.T) {
	s := newMemStore(t)
	s.dir = t.TempDir()
	p := openTest(t, s)
	ctx := context.Background()
	g1, open := p.TxnVerificationGuard(5, 0)
	if open || g1 == 0 {
		t.Fatalf("guard %d open %v before any write", g1, open)
	}
	if _, err := p.AppendAsLeader(batch(t, txnBatch(5, 0, 0, 1)), AppendOptions{VerificationGuard: g1}); err != nil {
		t.Fatal(err)
	}
	if g, open := p.TxnVerificationGuard(5, 0); g != g1 || !open {
		t.Fatalf("guard %d (want %d) open %v inside the transaction", g, g1, open)
	}
	if _, open := p.TxnVerificationGuard(5, 1); open {
		t.Fatal("open for another epoch")
	}
	if err := p.WriteTxnMarker(ctx, 5, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	// The stale guard: refused, and nothing is opened.
	if _, err := p.AppendAsLeader(batch(t, txnBatch(5, 0, 1, 1)), AppendOptions{VerificationGuard: g1}); codeOf(err) != kerr.InvalidTxnState {
		t.Fatalf("write with a stale guard: %v", err)
	}
	if lso, hw := p.LastStableOffset(), p.HighWatermark(); lso != hw {
		t.Fatalf("LSO %d behind HW %d after a refused write", lso, hw)
	}
	g2, open := p.TxnVerificationGuard(5, 0)
	if g2 == g1 || open {
		t.Fatalf("new guard %d (old %d) open %v", g2, g1, open)
	}
	p.ClearTxnVerification(5, g1) // not the current one: kept
	if _, err := p.AppendAsLeader(batch(t, txnBatch(5, 0, 1, 1)), AppendOptions{VerificationGuard: g2}); err != nil {
		t.Fatalf("write with the new guard: %v", err)
	}
	p.ClearTxnVerification(5, g2)
	if g3, _ := p.TxnVerificationGuard(5, 0); g3 == g2 {
		t.Fatal("cleared guard still current")
	}
}
