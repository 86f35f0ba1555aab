package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
)

var replTP = log.TopicPartition{Topic: "replicated", Partition: 1}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// replLogConfig: small segments, so a short workload rolls often.
func replLogConfig() log.Config {
	cfg := log.DefaultConfig()
	cfg.SegmentBytes = 4000
	cfg.IndexIntervalBytes = 300
	return cfg
}

// replica is one replica of replTP in a log directory of its own.
type replica struct {
	fsys vfs.FS
	dir  string
	m    *log.Manager
	l    *log.Log
	p    *Partition
}

func openReplica(t testing.TB, fsys vfs.FS, dir string, follower bool, epoch int32) *replica {
	t.Helper()
	r := &replica{fsys: fsys, dir: dir}
	var err error
	r.m, err = log.OpenManager(log.ManagerOptions{FS: fsys, Dir: dir, Logger: quietLogger(), RetentionCheckInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if r.l, err = r.m.Create(replTP, [16]byte{4}, replLogConfig()); err != nil {
		t.Fatal(err)
	}
	r.p, err = New(Config{Log: r.l, FS: fsys, Topic: replTP.Topic, Partition: replTP.Partition, LeaderEpoch: epoch, Follower: follower,
		Now: func() time.Time { return testNow }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *replica) close(t testing.TB) {
	t.Helper()
	if err := r.p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
}

// fetch feeds follower f the leader's records from f's log end offset on,
// in chunks of random size, as the replica fetcher will, and waits for
// them to be durable.
func fetch(t testing.TB, rng *rand.Rand, leader, f *replica) {
	t.Helper()
	for f.l.LogEndOffset() < leader.l.LogEndOffset() {
		rr, err := leader.l.Read(f.l.LogEndOffset(), log.ReadOptions{MaxBytes: int32(1 + rng.Intn(3000)), MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.p.AppendAsFollower(b)
		if err != nil {
			t.Fatalf("follower append at %d: %v", f.l.LogEndOffset(), err)
		}
		if err := f.l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
			t.Fatal(err)
		}
	}
	f.p.SetHighWatermark(leader.p.HighWatermark())
}

// producerWorkload drives a leader with idempotent producers (retries and
// epoch bumps included), transactional producers (commits and aborts from
// coordinators of varying epochs), plain producers, every codec and
// LogAppendTime.
type producerWorkload struct {
	rng  *rand.Rand
	seq  map[int64]int32 // idempotent and transactional producers' next sequence
	pep  map[int64]int16 // their epochs
	open map[int64]bool  // transactional producers with a transaction open
	sent map[int64][]byte
	ts   int64
}

func newProducerWorkload(seed int64) *producerWorkload {
	return &producerWorkload{rng: rand.New(rand.NewSource(seed)), seq: map[int64]int32{}, pep: map[int64]int16{}, open: map[int64]bool{}, sent: map[int64][]byte{}, ts: testNow.UnixMilli()}
}

// step makes one produce (or marker) on the leader; it reports whether
// anything was appended.
func (w *producerWorkload) step(t testing.TB, p *Partition) bool {
	t.Helper()
	rng := w.rng
	w.ts += int64(rng.Intn(50))
	bs := record.DefaultBatchSpec()
	bs.BaseTimestamp = w.ts
	bs.Compression = []record.Compression{record.CompressionNone, record.CompressionNone, record.CompressionGzip, record.CompressionSnappy, record.CompressionLZ4, record.CompressionZstd}[rng.Intn(6)]
	opts := AppendOptions{RequiredAcks: -1}
	if rng.Intn(5) == 0 {
		opts.TimestampType = LogAppendTime
	}
	switch k := rng.Intn(10); {
	case k < 2: // plain
	case k < 5: // idempotent
		pid := int64(1 + rng.Intn(3))
		if rng.Intn(12) == 0 {
			w.pep[pid]++
			w.seq[pid] = 0
		}
		if old, ok := w.sent[pid]; ok && rng.Intn(6) == 0 {
			res, err := p.AppendAsLeader(old, opts) // a retry
			if err != nil || !res.Duplicate {
				t.Fatalf("retry of producer %d: %+v %v", pid, res, err)
			}
			return false
		}
		bs.ProducerID, bs.ProducerEpoch, bs.BaseSequence = pid, w.pep[pid], w.seq[pid]
	default: // transactional
		pid := int64(10 + rng.Intn(2))
		if w.open[pid] && rng.Intn(3) == 0 {
			commit := rng.Intn(2) == 0
			if err := p.WriteTxnMarker(context.Background(), pid, w.pep[pid], int32(rng.Intn(3)), commit); err != nil {
				if codeOf(err) == kerr.TransactionCoordinatorFenced {
					return false
				}
				t.Fatal(err)
			}
			w.open[pid] = false
			return true
		}
		bs.ProducerID, bs.ProducerEpoch, bs.BaseSequence, bs.Transactional = pid, w.pep[pid], w.seq[pid], true
		w.open[pid] = true
	}
	var recs []record.Record
	for i := 1 + rng.Intn(6); i > 0; i-- {
		recs = append(recs, record.Record{TimestampDelta: int64(i), Key: []byte(strconv.Itoa(rng.Intn(9))), Value: bytes.Repeat([]byte{byte('a' + rng.Intn(26))}, rng.Intn(200))})
	}
	b, err := record.EncodeBatch(bs, recs)
	if err != nil {
		t.Fatal(err)
	}
	sent := append([]byte(nil), b...)
	if _, err := p.AppendAsLeader(b, opts); err != nil {
		t.Fatalf("append: %v", err)
	}
	if bs.ProducerID >= 0 {
		w.seq[bs.ProducerID] += int32(len(recs))
		w.sent[bs.ProducerID] = sent
	}
	return true
}

// partitionState is what must agree between replicas.
type partitionState struct {
	Producers []ProducerState
	Batches   map[int64]string // producer → its retained batches
	Ongoing   map[int64]int64
	Aborted   []AbortedTxn
	LSO       int64
}

func stateOf(p *Partition) partitionState {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	st := partitionState{Producers: p.producers.active(), Batches: map[int64]string{}, Ongoing: map[int64]int64{}}
	for pid, e := range p.producers.producers {
		st.Batches[pid] = fmt.Sprint(e.batches())
	}
	p.txns.mu.Lock()
	for pid, off := range p.txns.ongoing {
		st.Ongoing[pid] = off
	}
	st.Aborted = append(st.Aborted, p.txns.aborted...)
	p.txns.mu.Unlock()
	st.LSO = p.txns.lastStableOffset(p.HighWatermark())
	return st
}

func (s partitionState) String() string {
	return fmt.Sprintf("producers %+v batches %v ongoing %v aborted %+v lso %d", s.Producers, s.Batches, s.Ongoing, s.Aborted, s.LSO)
}

// sameReplicas checks two replicas hold the same segments byte for byte,
// the same epoch cache and the same producer and transaction state.
func sameReplicas(t testing.TB, a, b *replica, label string) {
	t.Helper()
	if a.l.LogStartOffset() != b.l.LogStartOffset() || a.l.LogEndOffset() != b.l.LogEndOffset() {
		t.Fatalf("%s: logs [%d, %d) and [%d, %d)", label, a.l.LogStartOffset(), a.l.LogEndOffset(), b.l.LogStartOffset(), b.l.LogEndOffset())
	}
	if ea, eb := a.l.LeaderEpochs(), b.l.LeaderEpochs(); fmt.Sprint(ea) != fmt.Sprint(eb) {
		t.Fatalf("%s: epoch caches %v and %v", label, ea, eb)
	}
	if sa, sb := stateOf(a.p), stateOf(b.p); sa.String() != sb.String() {
		t.Fatalf("%s: state differs\n%v\n%v", label, sa, sb)
	}
	fa, fb := partitionFiles(t, a), partitionFiles(t, b)
	for name, data := range fa {
		if strings.HasSuffix(name, log.LogFileSuffix) || strings.HasSuffix(name, log.TxnIndexFileSuffix) {
			if !bytes.Equal(data, fb[name]) {
				t.Fatalf("%s: %s differs", label, name)
			}
		}
	}
	for name := range fb {
		if _, ok := fa[name]; !ok && (strings.HasSuffix(name, log.LogFileSuffix) || strings.HasSuffix(name, log.TxnIndexFileSuffix)) {
			t.Fatalf("%s: %s only on one replica", label, name)
		}
	}
}

// partitionFiles reads the files of a replica's partition directory but
// for producer snapshots, which each replica takes when it likes.
func partitionFiles(t testing.TB, r *replica) map[string][]byte {
	t.Helper()
	dir := r.l.Dir()
	entries, err := r.fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), snapshotSuffix) {
			continue
		}
		f, err := r.fsys.OpenFile(filepath.Join(dir, e.Name()), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestFollowerMatchesLeader is the replication property: a follower fed
// the leader's batches (several producers, retries, transactions
// committed and aborted, epoch changes, rolls, every codec) has the
// leader's segments byte for byte, its epoch cache, producer state and
// aborted-transaction index; after the leader steps down, both truncate to
// the same random point and the old leader leads again in a new epoch,
// still; and after a clean shutdown and restart every file but the
// producer snapshots is the same, and so is the state. Then the follower
// becomes leader and answers the old leader's producers' retries with
// their original offsets (design F8).
func TestFollowerMatchesLeader(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("SAMSA_PARTITION_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (replay with SAMSA_PARTITION_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	w := newProducerWorkload(seed)
	mem := vfs.NewMem()
	leader := openReplica(t, mem, "leader", false, 0)
	follower := openReplica(t, mem, "follower", true, 0)
	epoch := int32(0)
	for round := 0; round < 5; round++ {
		epoch++
		if err := leader.p.BecomeLeader(epoch); err != nil {
			t.Fatal(err)
		}
		appended := false
		for i := 40 + rng.Intn(40); i > 0 || !appended; i-- {
			appended = w.step(t, leader.p) || appended
			if rng.Intn(25) == 0 {
				fetch(t, rng, leader, follower)
			}
		}
		fetch(t, rng, leader, follower)
		sameReplicas(t, leader, follower, fmt.Sprintf("round %d", round))
		if leader.l.NumSegments() < 2 {
			t.Fatalf("round %d: %d segments", round, leader.l.NumSegments())
		}
		// The leader steps down; both truncate to the same point.
		epoch++
		if err := leader.p.BecomeFollower(epoch); err != nil {
			t.Fatal(err)
		}
		lso, leo := leader.l.LogStartOffset(), leader.l.LogEndOffset()
		to := leo - rng.Int63n(min(leo-lso, 60)+1)
		for _, r := range []*replica{leader, follower} {
			if err := r.p.TruncateTo(to); err != nil {
				t.Fatal(err)
			}
		}
		sameReplicas(t, leader, follower, fmt.Sprintf("round %d truncated to %d", round, to))
		for _, r := range []*replica{leader, follower} {
			if hw := r.p.HighWatermark(); hw > r.l.LogEndOffset() {
				t.Fatalf("round %d: high watermark %d above the truncated end %d", round, hw, r.l.LogEndOffset())
			}
		}
		// The producers' view of what they sent is gone above the cut:
		// they go on with new epochs, as clients do after an unknown
		// outcome.
		for pid := range w.seq {
			w.pep[pid]++
			w.seq[pid] = 0
			w.open[pid] = false
			delete(w.sent, pid)
		}
	}
	epoch++
	if err := leader.p.BecomeLeader(epoch); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		w.step(t, leader.p)
	}
	fetch(t, rng, leader, follower)
	sameReplicas(t, leader, follower, "end")
	final := stateOf(leader.p)
	want := final.String()
	t.Logf("log [%d, %d) in %d segments, epochs %v, %d producers, %d aborted transactions, %d open",
		leader.l.LogStartOffset(), leader.l.LogEndOffset(), leader.l.NumSegments(), leader.l.LeaderEpochs(), len(final.Producers), len(final.Aborted), len(final.Ongoing))
	if len(final.Aborted) == 0 || len(final.Producers) < 3 {
		t.Fatal("the workload did not do what the test is about")
	}

	// A clean shutdown and restart of both.
	leader.close(t)
	follower.close(t)
	fa, fb := partitionFiles(t, leader), partitionFiles(t, follower)
	names := make([]string, 0, len(fa))
	for n := range fa {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(fa) != len(fb) {
		t.Fatalf("after close: leader files %v, follower has %d", names, len(fb))
	}
	for _, n := range names {
		if !bytes.Equal(fa[n], fb[n]) {
			t.Fatalf("after close: %s differs", n)
		}
	}
	leader = openReplica(t, mem, "leader", true, epoch)
	follower = openReplica(t, mem, "follower", true, epoch)
	defer leader.close(t)
	defer follower.close(t)
	for _, r := range []*replica{leader, follower} {
		// Both rebuilt from their own snapshots and logs.
		r.p.SetHighWatermark(r.l.LogEndOffset())
		if got := stateOf(r.p).String(); got != want {
			t.Fatalf("after restart:\n%s\nwant\n%s", got, want)
		}
	}

	// The follower leads: a retry of a batch the old leader appended is a
	// duplicate with the original offsets.
	if err := follower.p.BecomeLeader(epoch + 1); err != nil {
		t.Fatal(err)
	}
	retried := 0
	for pid, b := range w.sent {
		res, err := follower.p.AppendAsLeader(append([]byte(nil), b...), AppendOptions{RequiredAcks: -1})
		if err != nil {
			t.Fatalf("retry of producer %d on the new leader: %v", pid, err)
		}
		if !res.Duplicate {
			t.Fatalf("retry of producer %d appended again at %d", pid, res.BaseOffset)
		}
		retried++
	}
	if retried == 0 {
		t.Fatal("no producer to retry")
	}
}

// TestHighWatermarkWaitersBoundToEpoch: a producer waiting for the high
// watermark in epoch e is answered NOT_LEADER_OR_FOLLOWER once the
// partition leaves e (a new epoch, or a follower role), and never success,
// even when the high watermark passes its records afterwards; a wait for
// an epoch that is not the current leader epoch fails at once.
func TestHighWatermarkWaitersBoundToEpoch(t *testing.T) {
	for _, leave := range []string{"new epoch", "follower", "leader again"} {
		t.Run(leave, func(t *testing.T) {
			s := newMemStore(t)
			s.holdDurable = true
			p := openTest(t, s)
			res, err := p.AppendAsLeaderAsync(batch(t, plain(3)), AppendOptions{RequiredAcks: -1})
			if err != nil {
				t.Fatal(err)
			}
			if res.LeaderEpoch != 3 {
				t.Fatalf("appended in epoch %d", res.LeaderEpoch)
			}
			done := make(chan error, 1)
			go func() { done <- p.WaitHighWatermarkInEpoch(context.Background(), res.LastOffset+1, res.LeaderEpoch) }()
			time.Sleep(10 * time.Millisecond)
			switch leave {
			case "new epoch":
				p.SetLeaderEpoch(4)
			case "follower":
				if err := p.BecomeFollower(4); err != nil {
					t.Fatal(err)
				}
			case "leader again":
				if err := p.BecomeFollower(4); err != nil {
					t.Fatal(err)
				}
				if err := p.BecomeLeader(5); err != nil {
					t.Fatal(err)
				}
			}
			// The records become durable: in the new term the high
			// watermark passes them.
			s.makeDurable(res.LastOffset + 1)
			if leave == "follower" {
				p.SetHighWatermark(res.LastOffset + 1)
			}
			if p.HighWatermark() < res.LastOffset+1 {
				t.Fatalf("high watermark %d", p.HighWatermark())
			}
			select {
			case err := <-done:
				if codeOf(err) != kerr.NotLeaderForPartition {
					t.Fatalf("waiter after the partition left epoch 3: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("waiter not woken")
			}
			if err := p.WaitHighWatermarkInEpoch(context.Background(), 1, 3); codeOf(err) != kerr.NotLeaderForPartition {
				t.Fatalf("wait in a past epoch: %v", err)
			}
		})
	}
	// Within the epoch the wait succeeds.
	s := newMemStore(t)
	s.holdDurable = true
	p := openTest(t, s)
	res, err := p.AppendAsLeaderAsync(batch(t, plain(3)), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitHighWatermarkInEpoch(context.Background(), res.LastOffset+1, res.LeaderEpoch) }()
	s.makeDurable(res.LastOffset + 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRoles: a follower refuses leader appends and markers and takes the
// leader's batches; a leader refuses follower appends and truncation;
// BecomeLeader records (epoch, log end offset) in the epoch cache before
// any append and sets the epoch start offset; stale epochs are fenced.
func TestRoles(t *testing.T) {
	mem := vfs.NewMem()
	r := openReplica(t, mem, "data", true, 2)
	defer r.close(t)
	p := r.p
	if p.IsLeader() || p.EpochStartOffset() != -1 {
		t.Fatalf("follower: leader %v, epoch start %d", p.IsLeader(), p.EpochStartOffset())
	}
	if _, err := p.AppendAsLeader(batch(t, plain(1)), AppendOptions{}); codeOf(err) != kerr.NotLeaderForPartition {
		t.Fatalf("leader append on a follower: %v", err)
	}
	if err := p.WriteTxnMarker(context.Background(), 7, 0, 0, true); codeOf(err) != kerr.NotLeaderForPartition {
		t.Fatalf("marker on a follower: %v", err)
	}
	if err := p.WaitHighWatermark(context.Background(), 0); codeOf(err) != kerr.NotLeaderForPartition {
		t.Fatalf("wait on a follower: %v", err)
	}
	b := batch(t, idem(5, 0, 0, 4))
	record.SetPartitionLeaderEpoch(b, 1)
	if _, err := p.AppendAsFollower(b); err != nil {
		t.Fatal(err)
	}
	if err := p.BecomeLeader(1); codeOf(err) != kerr.FencedLeaderEpoch {
		t.Fatalf("become leader in an older epoch: %v", err)
	}
	if err := p.BecomeLeader(2); codeOf(err) != kerr.FencedLeaderEpoch {
		t.Fatalf("become leader in the epoch it followed in: %v", err)
	}
	if err := p.BecomeLeader(4); err != nil {
		t.Fatal(err)
	}
	if !p.IsLeader() || p.LeaderEpoch() != 4 || p.EpochStartOffset() != 4 {
		t.Fatalf("leader: %v epoch %d start %d", p.IsLeader(), p.LeaderEpoch(), p.EpochStartOffset())
	}
	if got := fmt.Sprint(r.l.LeaderEpochs()); got != "[{1 0} {4 4}]" {
		t.Fatalf("epoch cache %s", got)
	}
	if e, end := p.EndOffsetForEpoch(1); e != 1 || end != 4 {
		t.Fatalf("end of epoch 1: %d %d", e, end)
	}
	if err := p.BecomeLeader(4); err != nil {
		t.Fatalf("again: %v", err)
	}
	if _, err := p.AppendAsFollower(b); codeOf(err) != kerr.NotLeaderForPartition {
		t.Fatalf("follower append on a leader: %v", err)
	}
	if err := p.TruncateTo(0); codeOf(err) != kerr.NotLeaderForPartition {
		t.Fatalf("truncation of a leader: %v", err)
	}
	// The follower's producer state lets the new leader dedup a retry.
	res, err := p.AppendAsLeader(batch(t, idem(5, 0, 0, 4)), AppendOptions{})
	if err != nil || !res.Duplicate || res.BaseOffset != 0 {
		t.Fatalf("retry on the new leader: %+v %v", res, err)
	}
	if err := p.BecomeFollower(3); codeOf(err) != kerr.FencedLeaderEpoch {
		t.Fatalf("follow in an older epoch: %v", err)
	}
	if err := p.BecomeFollower(5); err != nil {
		t.Fatal(err)
	}
	if p.IsLeader() || p.EpochStartOffset() != -1 || p.LeaderEpoch() != 5 {
		t.Fatal("not a follower")
	}
	// A marker that does not parse is refused before anything is appended.
	bad := batch(t, spec{pid: 9, epoch: 0, control: true})
	record.SetBaseOffset(bad, r.l.LogEndOffset())
	bad[len(bad)-1] ^= 0xff
	bad = fixCRC(bad)
	leo := r.l.LogEndOffset()
	if _, err := p.AppendAsFollower(bad); codeOf(err) != kerr.CorruptMessage || r.l.LogEndOffset() != leo {
		t.Fatalf("bad marker: %v, log end %d", err, r.l.LogEndOffset())
	}
	var uoe *log.UnexpectedOffsetError
	if _, err := p.AppendAsFollower(b); codeOf(err) != kerr.OffsetOutOfRange || !errors.As(err, &uoe) {
		t.Fatalf("batch below the log end: %v", err)
	}
}

func fixCRC(b []byte) []byte {
	h, _ := record.ParseHeader(b)
	c := record.ComputeCRC(b[:h.Size()])
	b[record.CRCOffset], b[record.CRCOffset+1], b[record.CRCOffset+2], b[record.CRCOffset+3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	return b
}

// TestHighWatermarkRules: a leader alone in sync follows its durable
// offset; with followers (SetAssignment) the durable offset alone does not
// move it, SetHighWatermark does,
// never back and never past the durable offset; a follower's comes down
// with a truncation; the log checkpoints it, and a follower restarts from
// the checkpoint.
func TestHighWatermarkRules(t *testing.T) {
	s := newMemStore(t)
	s.holdDurable = true
	p := openTest(t, s)
	res, err := p.AppendAsLeaderAsync(batch(t, plain(5)), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.makeDurable(3)
	if p.HighWatermark() != 3 {
		t.Fatalf("alone in sync: %d", p.HighWatermark())
	}
	p.SetAssignment(Assignment{Self: 1, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}, testNow)
	s.makeDurable(res.LastOffset + 1)
	if p.HighWatermark() != 3 {
		t.Fatalf("replicated: the durable offset moved it to %d", p.HighWatermark())
	}
	if hw := p.SetHighWatermark(4); hw != 4 || s.HighWatermark() != 4 {
		t.Fatalf("set 4: %d (log %d)", hw, s.HighWatermark())
	}
	if hw := p.SetHighWatermark(2); hw != 4 {
		t.Fatalf("went back to %d", hw)
	}
	if _, err := p.AppendAsLeaderAsync(batch(t, plain(5)), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if hw := p.SetHighWatermark(100); hw != 5 {
		t.Fatalf("passed the durable offset 5: %d", hw)
	}
	p.SetAssignment(Assignment{Self: 1, Replicas: []int32{1}, ISR: []int32{1}}, testNow)
	s.makeDurable(10)
	if p.HighWatermark() != 10 {
		t.Fatalf("alone in sync again: %d", p.HighWatermark())
	}
	if err := p.BecomeFollower(4); err != nil {
		t.Fatal(err)
	}
	if err := p.TruncateTo(7); err != nil {
		t.Fatal(err)
	}
	if p.HighWatermark() != 5 || s.HighWatermark() != 5 {
		t.Fatalf("after truncating to 7 (a batch from 5): %d", p.HighWatermark())
	}

	// A real log: a follower restarts from the checkpointed high watermark.
	mem := vfs.NewMem()
	leader := openReplica(t, mem, "leader", false, 1)
	w := newProducerWorkload(1)
	for i := 0; i < 20; i++ {
		w.step(t, leader.p)
	}
	f := openReplica(t, mem, "follower", true, 1)
	fetch(t, rand.New(rand.NewSource(1)), leader, f)
	hw := leader.p.HighWatermark() - 3
	f2 := f.p.SetHighWatermark(hw)
	if f2 != f.p.HighWatermark() {
		t.Fatal("SetHighWatermark does not return the high watermark")
	}
	leader.close(t)
	f.close(t)
	f = openReplica(t, mem, "follower", true, 1)
	defer f.close(t)
	if f.p.HighWatermark() != f2 {
		t.Fatalf("follower restarted at high watermark %d, checkpointed %d", f.p.HighWatermark(), f2)
	}
}

// TestTruncateRebuildsProducerState: truncation below producer snapshots
// deletes them and rebuilds the producer and transaction state from what
// is left, as a restart over the truncated log would; the aborted
// transactions above the cut are gone from the index.
func TestTruncateRebuildsProducerState(t *testing.T) {
	mem := vfs.NewMem()
	leader := openReplica(t, mem, "leader", false, 1)
	defer leader.close(t)
	f := openReplica(t, mem, "follower", true, 1)
	w := newProducerWorkload(7)
	rng := rand.New(rand.NewSource(7))
	var cuts []int64
	for i := 0; i < 150; i++ {
		w.step(t, leader.p)
		if i%30 == 29 {
			fetch(t, rng, leader, f)
			if err := f.p.Snapshot(); err != nil {
				t.Fatal(err)
			}
			cuts = append(cuts, f.l.LogEndOffset())
		}
	}
	fetch(t, rng, leader, f)
	to := cuts[1] - 2
	if err := f.p.TruncateTo(to); err != nil {
		t.Fatal(err)
	}
	snaps, err := listSnapshots(mem, f.l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s > f.l.LogEndOffset() {
			t.Fatalf("snapshot at %d survived a truncation to %d", s, to)
		}
	}
	got := stateOf(f.p)
	for _, a := range got.Aborted {
		if a.LastOffset >= f.l.LogEndOffset() {
			t.Fatalf("aborted transaction %+v past the truncated end %d", a, f.l.LogEndOffset())
		}
	}
	// A replica opened from scratch over the same log agrees.
	f.close(t)
	for _, s := range snaps {
		if err := mem.Remove(filepath.Join(f.l.Dir(), snapshotName(s))); err != nil {
			t.Fatal(err)
		}
	}
	f = openReplica(t, mem, "follower", true, 1)
	defer f.close(t)
	f.p.SetHighWatermark(got.LSO) // stateOf's LSO is bounded by the high watermark
	fresh := stateOf(f.p)
	fresh.LSO, got.LSO = 0, 0
	if fresh.String() != got.String() {
		t.Fatalf("after truncation:\n%v\nrebuilt from the log alone:\n%v", got, fresh)
	}
}
