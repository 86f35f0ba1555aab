package partition

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

// memStore is an in-memory partition log: enough of the log's contract for
// the partition (offset assignment by patching headers, header scans,
// DeleteRecords), with injectable append failures.
type memStore struct {
	mu           sync.Mutex
	dir          string
	batches      [][]byte
	logStart     int64
	logEnd       int64
	segmentBytes int64
	failAppend   error
	appends      int

	// Durability: the durable offset follows logEnd at each append unless
	// holdDurable is set; then only makeDurable moves it.
	holdDurable bool
	durable     int64
	durableErr  error
	listener    func()

	readFS *vfs.MemFS // holds what Read returns
	reads  int

	hw           int64   // SetHighWatermark's
	leaderEpochs []int32 // BeginLeaderEpoch's
}

func (s *memStore) DurableOffset() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.durable }
func (s *memStore) DurabilityErr() error { s.mu.Lock(); defer s.mu.Unlock(); return s.durableErr }
func (s *memStore) SetDurableListener(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listener = fn
}

// makeDurable moves the durable offset to off (as a group commit round
// ending) and tells the listener.
func (s *memStore) makeDurable(off int64) {
	s.mu.Lock()
	s.durable = max(s.durable, off)
	fn := s.listener
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// failDurability makes the durable offset stop for good, as a failed fsync.
func (s *memStore) failDurability(err error) {
	s.mu.Lock()
	s.durableErr = err
	fn := s.listener
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}

func newMemStore(t testing.TB) *memStore {
	return &memStore{dir: t.TempDir(), segmentBytes: math.MaxInt64}
}

func (s *memStore) Append(batches []byte, leaderEpoch int32, logAppendTime int64) (storageAppendResult, error) {
	res, err := s.append(batches, leaderEpoch, logAppendTime)
	if err == nil && !s.holdDurable {
		s.makeDurable(res.LastOffset + 1)
	}
	return res, err
}

func (s *memStore) append(batches []byte, leaderEpoch int32, logAppendTime int64) (storageAppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAppend != nil {
		return storageAppendResult{}, s.failAppend
	}
	s.appends++
	res := storageAppendResult{BaseOffset: s.logEnd}
	it := record.Batches(batches)
	for it.Next() {
		b := append([]byte(nil), it.Batch()...)
		record.SetBaseOffset(b, s.logEnd)
		record.SetPartitionLeaderEpoch(b, leaderEpoch)
		if logAppendTime >= 0 {
			record.SetLogAppendTime(b, logAppendTime)
		}
		h, _ := record.ParseHeader(b)
		s.batches = append(s.batches, b)
		s.logEnd = h.NextOffset()
		res.LastOffset = h.LastOffset()
	}
	if err := it.Err(); err != nil {
		return storageAppendResult{}, err
	}
	res.LogStartOffset = s.logStart
	return res, nil
}

func (s *memStore) LogStartOffset() int64 { s.mu.Lock(); defer s.mu.Unlock(); return s.logStart }
func (s *memStore) LogEndOffset() int64   { s.mu.Lock(); defer s.mu.Unlock(); return s.logEnd }
func (s *memStore) Dir() string           { return s.dir }
func (s *memStore) SegmentBytes() int64   { return s.segmentBytes }

// EndOffsetForEpoch answers as the log's leader-epoch cache does: every
// batch carries the epoch it was appended in, and an epoch starts at the
// first batch of a higher epoch than all before it.
func (s *memStore) EndOffsetForEpoch(epoch int32) (int32, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type entry struct {
		epoch int32
		start int64
	}
	var entries []entry
	for _, b := range s.batches {
		h, _ := record.ParseHeader(b)
		if n := len(entries); n == 0 || h.PartitionLeaderEpoch > entries[n-1].epoch {
			entries = append(entries, entry{h.PartitionLeaderEpoch, h.BaseOffset})
		}
	}
	n := len(entries)
	switch {
	case epoch < 0 || n == 0:
		return -1, -1
	case entries[n-1].epoch == epoch:
		return epoch, s.logEnd
	}
	for i, e := range entries {
		if e.epoch > epoch {
			if i == 0 {
				return epoch, e.start
			}
			return entries[i-1].epoch, e.start
		}
	}
	return -1, -1
}

func (s *memStore) ScanHeaders(from int64, fn func(h record.Header) error) error {
	s.mu.Lock()
	batches := append([][]byte(nil), s.batches...)
	s.mu.Unlock()
	for _, b := range batches {
		h, _ := record.ParseHeader(b)
		if h.LastOffset() < from {
			continue
		}
		if err := fn(h); err != nil {
			return err
		}
	}
	return nil
}

func (s *memStore) DeleteRecordsBefore(offset int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset > s.logEnd {
		return -1, errors.New("beyond log end")
	}
	for len(s.batches) > 0 {
		h, _ := record.ParseHeader(s.batches[0])
		if h.NextOffset() > offset {
			break
		}
		s.batches = s.batches[1:]
	}
	if offset > s.logStart {
		s.logStart = offset
	}
	return s.logStart, nil
}

// Read returns whole batches as the log does, from a copy of them in an
// in-memory file.
func (s *memStore) Read(offset int64, opts log.ReadOptions) (log.ReadResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset < s.logStart || offset > s.logEnd {
		return log.ReadResult{}, fmt.Errorf("%w: offset %d, log holds [%d, %d)", log.ErrOffsetOutOfRange, offset, s.logStart, s.logEnd)
	}
	maxOff := opts.MaxOffset
	if maxOff < 0 || maxOff > s.logEnd {
		maxOff = s.logEnd
	}
	res := log.ReadResult{BaseOffset: offset, NextOffset: offset}
	if offset >= maxOff {
		return res, nil
	}
	var data []byte
	for _, b := range s.batches {
		h, _ := record.ParseHeader(b)
		if h.LastOffset() < offset {
			continue
		}
		if h.BaseOffset >= maxOff || (len(data)+len(b) > int(opts.MaxBytes) && (len(data) > 0 || !opts.MinOneBatch)) {
			break
		}
		if len(data) == 0 {
			res.BaseOffset = h.BaseOffset
		}
		data = append(data, b...)
		res.NextOffset = h.NextOffset()
	}
	if len(data) == 0 {
		return res, nil
	}
	if s.readFS == nil {
		s.readFS = vfs.NewMem()
	}
	s.reads++
	f, err := s.readFS.OpenFile(fmt.Sprintf("/read-%d", s.reads), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return log.ReadResult{}, err
	}
	if _, err := f.Write(data); err != nil {
		return log.ReadResult{}, err
	}
	res.File, res.Size = f, int64(len(data))
	return res, nil
}

// records calls fn for each record at or after the log start offset.
func (s *memStore) records(fn func(h record.Header, r *record.Record)) error {
	s.mu.Lock()
	batches, start := append([][]byte(nil), s.batches...), s.logStart
	s.mu.Unlock()
	for _, b := range batches {
		h, _ := record.ParseHeader(b)
		err := record.DecodeRecords(h, b, func(r *record.Record) error {
			if r.Offset(h) >= start {
				fn(h, r)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// OffsetForTimestamp: the first record in offset order whose timestamp
// reaches ts.
func (s *memStore) OffsetForTimestamp(ts int64) (res log.TimestampOffset, found bool, err error) {
	err = s.records(func(h record.Header, r *record.Record) {
		if !found && r.Timestamp(h) >= ts {
			res, found = log.TimestampOffset{Offset: r.Offset(h), Timestamp: r.Timestamp(h), LeaderEpoch: h.PartitionLeaderEpoch}, true
		}
	})
	return res, found, err
}

// MaxTimestamp: the first record with the largest timestamp.
func (s *memStore) MaxTimestamp() (res log.TimestampOffset, found bool, err error) {
	err = s.records(func(h record.Header, r *record.Record) {
		if !found || r.Timestamp(h) > res.Timestamp {
			res, found = log.TimestampOffset{Offset: r.Offset(h), Timestamp: r.Timestamp(h), LeaderEpoch: h.PartitionLeaderEpoch}, true
		}
	})
	return res, found, err
}

// LogStartOffsetEpoch: the epoch of the batch holding the log start offset.
func (s *memStore) LogStartOffsetEpoch() (int64, int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		if h, _ := record.ParseHeader(b); h.NextOffset() > s.logStart {
			return s.logStart, h.PartitionLeaderEpoch
		}
	}
	return s.logStart, -1
}

// AppendAsFollower stores the batches as they are, after the log end.
func (s *memStore) AppendAsFollower(batches []byte) (storageAppendResult, error) {
	s.mu.Lock()
	if s.failAppend != nil {
		s.mu.Unlock()
		return storageAppendResult{}, s.failAppend
	}
	res := storageAppendResult{BaseOffset: -1, LogStartOffset: s.logStart}
	next := s.logEnd
	var add [][]byte
	it := record.Batches(batches)
	for it.Next() {
		h := it.Header()
		if h.BaseOffset < next {
			s.mu.Unlock()
			return storageAppendResult{}, fmt.Errorf("%w: batch at %d, log end %d", log.ErrUnexpectedOffset, h.BaseOffset, next)
		}
		if res.BaseOffset < 0 {
			res.BaseOffset = h.BaseOffset
		}
		add = append(add, append([]byte(nil), it.Batch()...))
		next, res.LastOffset = h.NextOffset(), h.LastOffset()
	}
	if err := it.Err(); err != nil || len(add) == 0 {
		s.mu.Unlock()
		return storageAppendResult{}, fmt.Errorf("%w: %v", log.ErrInvalidBatch, err)
	}
	s.appends++
	s.batches = append(s.batches, add...)
	s.logEnd = next
	s.mu.Unlock()
	if !s.holdDurable {
		s.makeDurable(next)
	}
	return res, nil
}

// TruncateTo drops the batches holding offset and after.
func (s *memStore) TruncateTo(offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if offset >= s.logEnd {
		return nil
	}
	end := offset
	for i, b := range s.batches {
		if h, _ := record.ParseHeader(b); h.LastOffset() >= offset {
			end = min(end, h.BaseOffset)
			s.batches = s.batches[:i]
			break
		}
	}
	s.logEnd = end
	s.logStart = min(s.logStart, end)
	s.durable = min(s.durable, end)
	s.hw = min(s.hw, end)
	return nil
}

func (s *memStore) TruncateFullyAndStartAt(offset int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = nil
	s.logStart, s.logEnd, s.durable, s.hw = offset, offset, offset, offset
	return nil
}

func (s *memStore) BeginLeaderEpoch(epoch int32) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leaderEpochs = append(s.leaderEpochs, epoch)
	return s.logEnd, nil
}

func (s *memStore) LatestEpoch() (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.leaderEpochs) == 0 {
		return 0, false
	}
	return s.leaderEpochs[len(s.leaderEpochs)-1], true
}

func (s *memStore) HighWatermark() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(max(s.hw, s.logStart), s.logEnd)
}

func (s *memStore) SetHighWatermark(hw int64) {
	s.mu.Lock()
	s.hw = hw
	s.mu.Unlock()
}

// truncate drops batches from offset on, as crash recovery does with
// unflushed data.
func (s *memStore) truncate(offset int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range s.batches {
		h, _ := record.ParseHeader(b)
		if h.BaseOffset >= offset {
			s.batches = s.batches[:i]
			s.logEnd = h.BaseOffset
			s.durable = min(s.durable, s.logEnd)
			return
		}
	}
}

// spec describes a test batch.
type spec struct {
	pid     int64
	epoch   int16
	seq     int32
	n       int // records
	ts      int64
	control bool
	txn     bool
}

func plain(n int) spec { return spec{pid: -1, epoch: -1, seq: -1, n: n} }

func idem(pid int64, epoch int16, seq int32, n int) spec {
	return spec{pid: pid, epoch: epoch, seq: seq, n: n}
}

func batch(t testing.TB, s spec) []byte {
	t.Helper()
	if s.control {
		b, err := record.EncodeControlBatch(record.ControlSpec{ProducerID: s.pid, ProducerEpoch: s.epoch, Type: record.ControlCommit, Timestamp: s.ts})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bs := record.DefaultBatchSpec()
	bs.ProducerID, bs.ProducerEpoch, bs.BaseSequence = s.pid, s.epoch, s.seq
	bs.Transactional = s.txn
	bs.BaseTimestamp = s.ts
	if bs.BaseTimestamp == 0 {
		bs.BaseTimestamp = testNow.UnixMilli()
	}
	recs := make([]record.Record, s.n)
	for i := range recs {
		recs[i] = record.Record{Value: []byte(fmt.Sprintf("v%d", i)), TimestampDelta: int64(i)}
	}
	b, err := record.EncodeBatch(bs, recs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func batches(t testing.TB, specs ...spec) []byte {
	var out []byte
	for _, s := range specs {
		out = append(out, batch(t, s)...)
	}
	return out
}

var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func openTest(t testing.TB, s *memStore) *Partition {
	t.Helper()
	p, err := New(Config{storage: s, FS: vfs.OS, Topic: "t", Partition: 0, LeaderEpoch: 3, Now: func() time.Time { return testNow },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func codeOf(err error) *kerr.Error {
	code, _ := KafkaError(err)
	return code
}
