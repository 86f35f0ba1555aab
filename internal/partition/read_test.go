package partition

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// readAll checks a read's records against its size and next offset and
// returns the base offsets of its batches.
func readAll(t *testing.T, recs *Records) []int64 {
	t.Helper()
	data, err := recs.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != recs.Size() {
		t.Fatalf("%d bytes read, size %d", len(data), recs.Size())
	}
	var w bytes.Buffer
	if n, err := recs.WriteTo(&w); err != nil || n != recs.Size() || !bytes.Equal(w.Bytes(), data) {
		t.Fatalf("WriteTo wrote %d bytes (%v), not the %d AppendTo gave", n, err, len(data))
	}
	var bases []int64
	next := int64(-1)
	it := record.Batches(data)
	for it.Next() {
		bases = append(bases, it.Header().BaseOffset)
		next = it.Header().NextOffset()
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if len(bases) > 0 && next != recs.NextOffset() {
		t.Fatalf("next offset %d, the last batch ends at %d", recs.NextOffset(), next)
	}
	return bases
}

// readFixture is a partition over the in-memory log holding
//
//	[0-1] [2-4]           leader epoch 3
//	[5] [6-7] [8-9]       leader epoch 5
//
// with its high watermark held at 8 (the last batch not yet durable).
func readFixture(t *testing.T) (*Partition, *memStore) {
	t.Helper()
	s := newMemStore(t)
	p := openTest(t, s)
	app := func(n int) {
		t.Helper()
		if _, err := p.AppendAsLeaderAsync(batch(t, plain(n)), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	app(2)
	app(3)
	p.SetLeaderEpoch(5)
	app(1)
	app(2)
	s.holdDurable = true
	app(2)
	return p, s
}

// txnFixture is a partition over the in-memory log holding
//
//	[0-1] plain, [2-4] producer 7's transaction, [5] plain,
//	[6-7] producer 8's transaction, [8] producer 7's abort marker
//
// with producer 8's transaction open: last stable offset 6, high watermark 9.
func txnFixture(t *testing.T) (*Partition, *memStore) {
	t.Helper()
	s := newMemStore(t)
	p := openTest(t, s)
	for _, sp := range []spec{plain(2), txnBatch(7, 0, 0, 3), plain(1), txnBatch(8, 0, 0, 2)} {
		if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.WriteTxnMarker(context.Background(), 7, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	return p, s
}

// batchSize is the size of a plain batch of n records from batch().
func batchSize(t *testing.T, n int) int64 { return int64(len(batch(t, plain(n)))) }

func TestRead(t *testing.T) {
	aborted7 := AbortedTxn{ProducerID: 7, FirstOffset: 2, LastOffset: 8, LastStableOffset: 6}
	type want struct {
		code                *kerr.Error
		bases               []int64 // base offsets of the batches read
		hw, lso, start, leo int64
		aborted             []AbortedTxn
		diverging           *EpochEndOffset
	}
	uncommitted := func(offset int64) ReadOptions {
		return ReadOptions{Offset: offset, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1}
	}
	committed := func(offset int64) ReadOptions {
		o := uncommitted(offset)
		o.Isolation = ReadCommitted
		return o
	}
	with := func(o ReadOptions, f func(*ReadOptions)) ReadOptions { f(&o); return o }
	deleteBefore := func(off int64) func(*testing.T, *Partition, *memStore) {
		return func(t *testing.T, p *Partition, s *memStore) {
			s.makeDurable(10)
			if _, err := p.DeleteRecordsBefore(off); err != nil {
				t.Fatal(err)
			}
		}
	}
	plainHW := want{hw: 8, lso: 8, start: 0, leo: 10}
	plainAt := func(w want, bases ...int64) want { w.bases = bases; return w }
	tests := []struct {
		name    string
		fixture func(*testing.T) (*Partition, *memStore)
		before  func(*testing.T, *Partition, *memStore)
		opts    func(t *testing.T) ReadOptions
		want    want
	}{
		// The high watermark and the log's ends.
		{name: "read_uncommitted stops at the high watermark", fixture: readFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(0) },
			want: plainAt(plainHW, 0, 2, 5, 6)},
		{name: "a fetch offset inside a batch reads from that batch", fixture: readFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(3) },
			want: plainAt(plainHW, 2, 5, 6)},
		{name: "at the high watermark nothing is read", fixture: readFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(8) },
			want: plainHW},
		{name: "between the high watermark and the log end nothing is read", fixture: readFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(9) },
			want: plainHW},
		{name: "at the log end nothing is read", fixture: readFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(10) },
			want: plainHW},
		{name: "above the log end is out of range", fixture: readFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(11) },
			want: want{code: kerr.OffsetOutOfRange, hw: 8, lso: 8, leo: 10}},
		{name: "below the log start is out of range", fixture: readFixture, before: deleteBefore(5),
			opts: func(*testing.T) ReadOptions { return uncommitted(4) },
			want: want{code: kerr.OffsetOutOfRange, hw: 10, lso: 10, start: 5, leo: 10}},
		{name: "at the log start after a deletion", fixture: readFixture, before: deleteBefore(5),
			opts: func(*testing.T) ReadOptions { return uncommitted(5) },
			want: want{bases: []int64{5, 6, 8}, hw: 10, lso: 10, start: 5, leo: 10}},

		// Max bytes.
		{name: "max bytes stop before a batch that does not fit", fixture: readFixture,
			opts: func(t *testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.MaxBytes = batchSize(t, 2) + batchSize(t, 3) + batchSize(t, 1) - 1 })
			},
			want: plainAt(plainHW, 0, 2)},
		{name: "max bytes that fit batches exactly", fixture: readFixture,
			opts: func(t *testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.MaxBytes = batchSize(t, 2) + batchSize(t, 3) })
			},
			want: plainAt(plainHW, 0, 2)},
		{name: "max bytes below the first batch read nothing", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.MaxBytes = 10 })
			},
			want: plainHW},
		{name: "min one batch returns the first batch whole", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.MaxBytes, o.MinOneBatch = 10, true })
			},
			want: plainAt(plainHW, 0)},
		{name: "negative max bytes are none", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.MaxBytes = -5 })
			},
			want: plainHW},
		{name: "max bytes over 2^31 are clamped, not wrapped", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.MaxBytes = 1<<32 + 10 })
			},
			want: plainAt(plainHW, 0, 2, 5, 6)},

		// Current leader epoch.
		{name: "an older current leader epoch is fenced", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.CurrentLeaderEpoch = 4 })
			},
			want: want{code: kerr.FencedLeaderEpoch, hw: 8, lso: 8, leo: 10}},
		{name: "a newer current leader epoch is unknown", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(0), func(o *ReadOptions) { o.CurrentLeaderEpoch = 6 })
			},
			want: want{code: kerr.UnknownLeaderEpoch, hw: 8, lso: 8, leo: 10}},
		{name: "the current leader epoch reads", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(5), func(o *ReadOptions) { o.CurrentLeaderEpoch = 5 })
			},
			want: plainAt(plainHW, 5, 6)},

		// Last fetched epoch (KIP-320).
		{name: "a last fetched epoch this log skipped diverges at the epoch below it", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(7), func(o *ReadOptions) { o.LastFetchedEpoch = 4 })
			},
			want: want{hw: 8, lso: 8, leo: 10, diverging: &EpochEndOffset{Epoch: 3, EndOffset: 5}}},
		{name: "a fetch offset past the end of the last fetched epoch diverges", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(6), func(o *ReadOptions) { o.LastFetchedEpoch = 3 })
			},
			want: want{hw: 8, lso: 8, leo: 10, diverging: &EpochEndOffset{Epoch: 3, EndOffset: 5}}},
		{name: "a fetch offset at the end of the last fetched epoch reads", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(5), func(o *ReadOptions) { o.LastFetchedEpoch = 3 })
			},
			want: plainAt(plainHW, 5, 6)},
		{name: "the current epoch as the last fetched epoch reads", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(6), func(o *ReadOptions) { o.LastFetchedEpoch, o.CurrentLeaderEpoch = 5, 5 })
			},
			want: plainAt(plainHW, 6)},
		{name: "a last fetched epoch newer than the log's is out of range", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(6), func(o *ReadOptions) { o.LastFetchedEpoch = 6 })
			},
			want: want{code: kerr.OffsetOutOfRange, hw: 8, lso: 8, leo: 10}},
		{name: "below the log start is out of range even when diverging", fixture: readFixture, before: deleteBefore(3),
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(2), func(o *ReadOptions) { o.LastFetchedEpoch = 4 })
			},
			want: want{code: kerr.OffsetOutOfRange, hw: 10, lso: 10, start: 3, leo: 10}},
		{name: "the epoch is checked before divergence", fixture: readFixture,
			opts: func(*testing.T) ReadOptions {
				return with(uncommitted(7), func(o *ReadOptions) { o.LastFetchedEpoch, o.CurrentLeaderEpoch = 4, 4 })
			},
			want: want{code: kerr.FencedLeaderEpoch, hw: 8, lso: 8, leo: 10}},

		// The last stable offset and aborted transactions.
		{name: "read_committed stops at the last stable offset, with the aborted transactions", fixture: txnFixture,
			opts: func(*testing.T) ReadOptions { return committed(0) },
			want: want{bases: []int64{0, 2, 5}, hw: 9, lso: 6, leo: 9, aborted: []AbortedTxn{aborted7}}},
		{name: "read_uncommitted reads past the last stable offset, without aborted transactions", fixture: txnFixture,
			opts: func(*testing.T) ReadOptions { return uncommitted(0) },
			want: want{bases: []int64{0, 2, 5, 6, 8}, hw: 9, lso: 6, leo: 9}},
		{name: "read_committed at the last stable offset reads nothing", fixture: txnFixture,
			opts: func(*testing.T) ReadOptions { return committed(6) },
			want: want{hw: 9, lso: 6, leo: 9}},
		{name: "read_committed lists only the aborted transactions in its range", fixture: txnFixture,
			opts: func(*testing.T) ReadOptions { return committed(9) },
			before: func(t *testing.T, p *Partition, s *memStore) {
				if err := p.WriteTxnMarker(context.Background(), 8, 0, 0, true); err != nil { // commit at 9
					t.Fatal(err)
				}
				for _, sp := range []spec{txnBatch(7, 0, 3, 1), plain(1)} { // 10, 11
					if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{}); err != nil {
						t.Fatal(err)
					}
				}
				if err := p.WriteTxnMarker(context.Background(), 7, 0, 0, false); err != nil { // abort at 12
					t.Fatal(err)
				}
			},
			want: want{bases: []int64{9, 10, 11, 12}, hw: 13, lso: 13, leo: 13,
				aborted: []AbortedTxn{{ProducerID: 7, FirstOffset: 10, LastOffset: 12, LastStableOffset: 13}}}},
		{name: "read_committed past an aborted transaction lists none", fixture: txnFixture,
			before: func(t *testing.T, p *Partition, s *memStore) {
				if err := p.WriteTxnMarker(context.Background(), 8, 0, 0, true); err != nil { // commit at 9
					t.Fatal(err)
				}
			},
			opts: func(*testing.T) ReadOptions { return committed(9) },
			want: want{bases: []int64{9}, hw: 10, lso: 10, leo: 10}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, s := tc.fixture(t)
			if tc.before != nil {
				tc.before(t, p, s)
			}
			res, err := p.Read(tc.opts(t))
			defer res.Records.Release()
			w := tc.want
			if code := codeOf(err); code != w.code {
				t.Fatalf("error %v, want %v", err, w.code)
			}
			if res.HighWatermark != w.hw || res.LastStableOffset != w.lso || res.LogStartOffset != w.start || res.LogEndOffset != w.leo {
				t.Errorf("offsets hw %d lso %d start %d end %d, want %d %d %d %d",
					res.HighWatermark, res.LastStableOffset, res.LogStartOffset, res.LogEndOffset, w.hw, w.lso, w.start, w.leo)
			}
			if bases := readAll(t, &res.Records); fmt.Sprint(bases) != fmt.Sprint(w.bases) {
				t.Errorf("batches %v, want %v", bases, w.bases)
			}
			if res.Records.Size() == 0 && res.Records.NextOffset() != tc.opts(t).Offset {
				t.Errorf("empty read: next offset %d", res.Records.NextOffset())
			}
			if !reflect.DeepEqual(res.AbortedTransactions, w.aborted) {
				t.Errorf("aborted %+v, want %+v", res.AbortedTransactions, w.aborted)
			}
			switch {
			case w.diverging == nil && res.Diverging:
				t.Errorf("diverging %+v, want none", res.DivergingEpoch)
			case w.diverging != nil && (!res.Diverging || res.DivergingEpoch != *w.diverging):
				t.Errorf("diverging %v %+v, want %+v", res.Diverging, res.DivergingEpoch, *w.diverging)
			}
		})
	}
}

// TestReadRealLog reads through the real log: the records come as a range
// of the segment file that can be sent with sendfile, and the leader-epoch
// cache, the log start offset and the transaction index give the same
// answers as in TestRead.
func TestReadRealLog(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := log.OpenManager(log.ManagerOptions{FS: vfs.OS, Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.Create(log.TopicPartition{Topic: "orders", Partition: 0}, [16]byte{1}, log.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Log: l, FS: vfs.OS, Topic: "orders", LeaderEpoch: 1, Now: func() time.Time { return testNow }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	app := func(sp spec) {
		t.Helper()
		if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{RequiredAcks: -1}); err != nil {
			t.Fatal(err)
		}
	}
	// Epoch 1: 0-1, 2-4. Epoch 2: producer 7's transaction at 5-6, a plain
	// batch at 7, producer 7's abort marker at 8, and producer 8's
	// transaction at 9, left open.
	app(plain(2))
	app(plain(3))
	p.SetLeaderEpoch(2)
	app(txnBatch(7, 0, 0, 2))
	app(plain(1))
	if err := p.WriteTxnMarker(context.Background(), 7, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	app(txnBatch(8, 0, 0, 1))

	read := func(opts ReadOptions) (ReadResult, []int64) {
		t.Helper()
		if opts.MaxBytes == 0 {
			opts.MaxBytes = 1 << 20
		}
		res, err := p.Read(opts)
		if err != nil {
			t.Fatalf("read %+v: %v", opts, err)
		}
		return res, readAll(t, &res.Records)
	}

	res, bases := read(ReadOptions{Offset: 0, LastFetchedEpoch: -1, CurrentLeaderEpoch: 2})
	if fmt.Sprint(bases) != "[0 2 5 7 8 9]" || res.HighWatermark != 10 || res.LastStableOffset != 9 || res.LogEndOffset != 10 {
		t.Fatalf("read_uncommitted: batches %v, %+v", bases, res)
	}
	f, pos, size := res.Records.File()
	if _, ok := vfs.OSFile(f); !ok || pos != 0 || size != res.Records.Size() {
		t.Fatalf("file range %v at %d, %d bytes: not a file to sendfile from", f, pos, size)
	}
	res.Records.Release()
	res.Records.Release()
	if f, _, _ := res.Records.File(); f != nil {
		t.Fatal("the file is still there after Release")
	}

	res, bases = read(ReadOptions{Offset: 3, Isolation: ReadCommitted, LastFetchedEpoch: 1, CurrentLeaderEpoch: -1})
	want := []AbortedTxn{{ProducerID: 7, FirstOffset: 5, LastOffset: 8, LastStableOffset: 9}}
	if fmt.Sprint(bases) != "[2 5 7 8]" || !reflect.DeepEqual(res.AbortedTransactions, want) {
		t.Fatalf("read_committed: batches %v, aborted %+v", bases, res.AbortedTransactions)
	}
	res.Records.Release()

	res, bases = read(ReadOptions{Offset: 0, MaxBytes: 1, MinOneBatch: true, LastFetchedEpoch: -1, CurrentLeaderEpoch: -1})
	if fmt.Sprint(bases) != "[0]" || res.Records.NextOffset() != 2 {
		t.Fatalf("one batch: %v, next %d", bases, res.Records.NextOffset())
	}
	res.Records.Release()

	// Epoch 1 ended at 5, where epoch 2 started.
	res, bases = read(ReadOptions{Offset: 7, LastFetchedEpoch: 1, CurrentLeaderEpoch: -1})
	if !res.Diverging || res.DivergingEpoch != (EpochEndOffset{Epoch: 1, EndOffset: 5}) || bases != nil {
		t.Fatalf("diverging: %+v, batches %v", res, bases)
	}
	if _, err := p.Read(ReadOptions{Offset: 7, LastFetchedEpoch: 3, CurrentLeaderEpoch: -1}); codeOf(err) != kerr.OffsetOutOfRange {
		t.Fatalf("last fetched epoch newer than the log's: %v", err)
	}

	if _, err := p.DeleteRecordsBefore(5); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{4, 11} {
		res, err := p.Read(ReadOptions{Offset: off, MaxBytes: 1 << 20, LastFetchedEpoch: -1, CurrentLeaderEpoch: -1})
		if codeOf(err) != kerr.OffsetOutOfRange || res.LogStartOffset != 5 || res.Records.Size() != 0 {
			t.Fatalf("offset %d: %v, %+v", off, err, res)
		}
	}
}

// listFixture is a partition over the in-memory log holding
//
//	offset     0     1     2     3     4     5     6     7     8     9
//	timestamp  1000  1001  3000  3001  3002  2000  2001  2500  4000  5000
//	batch      [0-1]       [2-4]             [5-6]       [7]   [8]   [9]
//	epoch      3           5 ...
//
// where [7] is producer 9's open transaction (last stable offset 7) and [9]
// is not yet durable (high watermark 9).
func listFixture(t *testing.T) (*Partition, *memStore) {
	t.Helper()
	s := newMemStore(t)
	p := openTest(t, s)
	app := func(sp spec) {
		t.Helper()
		if _, err := p.AppendAsLeaderAsync(batch(t, sp), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	at := func(sp spec, ts int64) spec { sp.ts = ts; return sp }
	app(at(plain(2), 1000))
	p.SetLeaderEpoch(5)
	app(at(plain(3), 3000))
	app(at(plain(2), 2000))
	app(at(txnBatch(9, 0, 0, 1), 2500))
	app(at(plain(1), 4000))
	s.holdDurable = true
	app(at(plain(1), 5000))
	return p, s
}

func TestOffsetForTimestamp(t *testing.T) {
	none := TimestampOffset{Offset: -1, Timestamp: -1, LeaderEpoch: -1}
	durable := func(t *testing.T, p *Partition, s *memStore) { s.makeDurable(10) }
	tests := []struct {
		name      string
		before    func(*testing.T, *Partition, *memStore)
		ts        int64
		isolation IsolationLevel
		current   int32 // 0: none sent (-1)
		want      TimestampOffset
		code      *kerr.Error
	}{
		{name: "latest is the high watermark with the leader epoch", ts: ListLatest, want: TimestampOffset{9, -1, 5}},
		{name: "latest read_committed is the last stable offset", ts: ListLatest, isolation: ReadCommitted, want: TimestampOffset{7, -1, 5}},
		{name: "earliest is the log start with its epoch", ts: ListEarliest, want: TimestampOffset{0, -1, 3}},
		{name: "earliest local is the log start with its epoch", ts: ListEarliestLocal, want: TimestampOffset{0, -1, 3}},
		{name: "earliest after a deletion", ts: ListEarliest, want: TimestampOffset{3, -1, 5},
			before: func(t *testing.T, p *Partition, s *memStore) {
				if _, err := p.DeleteRecordsBefore(3); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "latest tiered is unknown", ts: ListLatestTiered, want: none},
		{name: "earliest pending upload is unknown", ts: ListEarliestPendingUpload, want: none},
		{name: "max timestamp at the high watermark is not answered", ts: ListMaxTimestamp, want: none},
		{name: "max timestamp below the high watermark", ts: ListMaxTimestamp, before: durable, want: TimestampOffset{9, 5000, 5}},
		{name: "max timestamp read_committed above the last stable offset", ts: ListMaxTimestamp, before: durable, isolation: ReadCommitted, want: none},
		{name: "a timestamp in the first batch", ts: 1001, want: TimestampOffset{1, 1001, 3}},
		{name: "the first record in offset order whose timestamp reaches it", ts: 2000, want: TimestampOffset{2, 3000, 5}},
		{name: "a timestamp inside a batch", ts: 3002, want: TimestampOffset{4, 3002, 5}},
		{name: "a record below the high watermark", ts: 3500, want: TimestampOffset{8, 4000, 5}},
		{name: "a record above the last stable offset is not answered", ts: 3500, isolation: ReadCommitted, want: none},
		{name: "a record at the high watermark is not answered", ts: 4500, want: none},
		{name: "a record below the high watermark once durable", ts: 4500, before: durable, want: TimestampOffset{9, 5000, 5}},
		{name: "no record that late", ts: 6000, before: durable, want: none},
		{name: "records below the log start are not answered", ts: 1000, want: TimestampOffset{3, 3001, 5},
			before: func(t *testing.T, p *Partition, s *memStore) {
				if _, err := p.DeleteRecordsBefore(3); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "the current leader epoch answers", ts: ListLatest, current: 5, want: TimestampOffset{9, -1, 5}},
		{name: "an older current leader epoch is fenced", ts: ListLatest, current: 4, want: none, code: kerr.FencedLeaderEpoch},
		{name: "a newer current leader epoch is unknown", ts: 1000, current: 6, want: none, code: kerr.UnknownLeaderEpoch},
		{name: "an unknown negative timestamp", ts: -7, want: none, code: kerr.UnsupportedVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, s := listFixture(t)
			if tc.before != nil {
				tc.before(t, p, s)
			}
			current := tc.current
			if current == 0 {
				current = -1
			}
			got, err := p.OffsetForTimestamp(tc.ts, tc.isolation, current)
			if codeOf(err) != tc.code || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.code)
			}
		})
	}
}

// TestOffsetForTimestampRealLog: the same rules over the real log, whose
// leader-epoch cache answers EARLIEST and whose batches carry the epochs.
func TestOffsetForTimestampRealLog(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := log.OpenManager(log.ManagerOptions{FS: vfs.OS, Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.Create(log.TopicPartition{Topic: "orders", Partition: 0}, [16]byte{1}, log.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Log: l, FS: vfs.OS, Topic: "orders", LeaderEpoch: 1, Now: func() time.Time { return testNow }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i, sp := range []spec{plain(2), plain(3), txnBatch(7, 0, 0, 1)} { // 0-1 epoch 1; 2-4, 5 epoch 2
		sp.ts = 1000 * int64(i+1)
		if i == 1 {
			p.SetLeaderEpoch(2)
		}
		if _, err := p.AppendAsLeader(batch(t, sp), AppendOptions{RequiredAcks: -1}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(ts int64, iso IsolationLevel, want TimestampOffset) {
		t.Helper()
		got, err := p.OffsetForTimestamp(ts, iso, -1)
		if err != nil || got != want {
			t.Fatalf("timestamp %d isolation %d: %+v, %v; want %+v", ts, iso, got, err, want)
		}
	}
	check(ListLatest, ReadUncommitted, TimestampOffset{6, -1, 2})
	check(ListLatest, ReadCommitted, TimestampOffset{5, -1, 2})
	check(ListEarliest, ReadUncommitted, TimestampOffset{0, -1, 1})
	check(ListMaxTimestamp, ReadUncommitted, TimestampOffset{5, 3000, 2})
	check(ListMaxTimestamp, ReadCommitted, TimestampOffset{-1, -1, -1})
	check(1001, ReadUncommitted, TimestampOffset{1, 1001, 1})
	check(2001, ReadCommitted, TimestampOffset{3, 2001, 2})
	if _, err := p.DeleteRecordsBefore(3); err != nil {
		t.Fatal(err)
	}
	check(ListEarliest, ReadUncommitted, TimestampOffset{3, -1, 2})
	check(1000, ReadUncommitted, TimestampOffset{3, 2001, 2})
}
