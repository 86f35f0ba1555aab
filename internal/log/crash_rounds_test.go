package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// The crash tests in this file cut the power while several partitions
// share group-commit rounds, which TestCrashAtEveryStep (one partition)
// and TestKillChild (SIGKILL keeps the page cache) cannot catch: a round
// that acknowledges appends to two partitions but fsyncs only one of
// them, or none, loses acknowledged data only on a power cut.
//
// TestCrashSharedRounds is deterministic: one goroutine appends to three
// to four partitions, then runs one group-commit round itself (the
// committer's own take and run, without its goroutine), so which appends
// share a round, and the order of the file operations, is the same on
// every run of a seed; only the order of the fsyncs within a round (map
// order) varies, and the checks hold whatever it is. That is what lets it
// cut the power after every single step and replay a failure from its
// seed. TestCrashConcurrentRounds keeps the real committer goroutine and
// concurrent appenders, records what each appender saw acknowledged, and
// cuts the power at sampled steps: it checks the committer's own grouping,
// at the price of a schedule that no seed replays exactly.

var (
	roundsTPs       = []TopicPartition{{Topic: "rounds", Partition: 0}, {Topic: "rounds", Partition: 1}, {Topic: "rounds", Partition: 2}}
	roundsCompactTP = TopicPartition{Topic: "rounds-compact", Partition: 0}
)

const (
	roundsRetentionMs = 30_000
	roundsIterations  = 30
)

// roundsConfig: small segments (a roll every few rounds), retention by
// time only, so the test can tell how far retention may move the log
// start offset.
func roundsConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2500
	cfg.IndexIntervalBytes = 500
	cfg.SegmentIndexBytes = 1200
	cfg.RetentionMs = roundsRetentionMs
	cfg.RetentionBytes = -1
	return cfg
}

func roundsCompactConfig() Config {
	cfg := compactConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 300
	return cfg
}

// crashPart is what a workload did to one partition, as the checks after
// a crash need it.
type crashPart struct {
	attempted map[int64][]byte // every batch an append returned for, by base offset, as stored
	acked     map[int64][]byte // those the log acknowledged as durable
	end       int64            // the offset after the last attempted batch
	// Compacted partitions: every record appended, by offset, and the
	// highest acknowledged offset of each key.
	records   map[int64]kv
	lastAcked map[string]int64
	// The recovered log start offset must lie in [lsoMin, lsoMax]: lsoMax
	// is the highest log start offset the workload asked for
	// (DeleteRecordsBefore) or retention could reach by the test's own
	// reckoning, raised before each such operation began; lsoMin is where
	// the last such operation that completed left it.
	lsoMin, lsoMax int64
}

func newCrashParts(tps ...TopicPartition) map[TopicPartition]*crashPart {
	out := map[TopicPartition]*crashPart{}
	for _, tp := range tps {
		out[tp] = &crashPart{attempted: map[int64][]byte{}, acked: map[int64][]byte{}, records: map[int64]kv{}, lastAcked: map[string]int64{}}
	}
	return out
}

// ackedEnd is the offset after the last acknowledged batch.
func (p *crashPart) ackedEnd() int64 {
	var end int64
	for _, b := range p.acked {
		h, _ := record.ParseHeader(b)
		end = max(end, h.NextOffset())
	}
	return end
}

// roundsRun is one run of the shared-rounds workload.
type roundsRun struct {
	ff    *vfs.FaultyFS
	parts map[TopicPartition]*crashPart
	// Tallies for the clean run's sanity checks.
	rounds, multi       int // rounds run; rounds covering two partitions or more
	retained, cleanings int // segments deleted by retention; cleanings that rewrote segments
	deletes             int // DeleteRecordsBefore calls that moved the log start offset
}

// unexpected is for an operation's failure: after the crash point every
// operation fails and the workload just stops (nil); before it a failure
// is a bug.
func (r *roundsRun) unexpected(format string, args ...any) error {
	if r.ff.Crashed() {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// manualCommitter replaces m's group committer, before any log exists,
// with one whose rounds the test runs (runRound). Closing the manager
// runs the round being filled, as the real committer does.
func manualCommitter(m *Manager) *committer {
	m.committer.close()
	c := makeCommitter(m.files, m.opts.SyncParallelism, nil)
	go func() {
		defer close(c.done)
		<-c.stop
		c.run(c.takeLast())
	}()
	m.committer = c
	return c
}

// runRound runs the round being filled and returns how many logs it
// covered.
func runRound(c *committer) int {
	r := c.take()
	if r == nil {
		return 0
	}
	c.run(r)
	return len(r.ends)
}

// roundsWorkload, roundsIterations times, appends one or two batches to
// each of two to four partitions (three with cleanup.policy=delete, one
// compacted) in a random order, then runs one group-commit round and
// acknowledges what it made durable. In between: segment rolls (small segments), retention
// with the clock moved on, DeleteRecordsBefore, checkpoint writes and two
// cleanings of the compacted partition; at the end a clean shutdown.
func roundsWorkload(t testing.TB, run *roundsRun, seed int64) error {
	rng := rand.New(rand.NewSource(seed))
	clock := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	m, err := OpenManager(ManagerOptions{FS: run.ff, Dir: "data", Now: clock.now, Logger: quietLogger(),
		RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, SyncParallelism: 1, Config: roundsConfig()})
	if err != nil {
		return run.unexpected("open: %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			m.Close()
		}
	}()
	committer := manualCommitter(m)
	cleaner, err := m.NewCleaner(testCleanerConfig())
	if err != nil {
		return run.unexpected("new cleaner: %v", err)
	}
	defer cleaner.Stop()
	all := append(append([]TopicPartition(nil), roundsTPs...), roundsCompactTP)
	logs := map[TopicPartition]*Log{}
	for i, tp := range all {
		cfg := roundsConfig()
		if tp == roundsCompactTP {
			cfg = roundsCompactConfig()
		}
		l, err := m.Create(tp, [16]byte{byte(i + 1)}, cfg)
		if err != nil {
			return run.unexpected("create %s: %v", tp, err)
		}
		logs[tp] = l
	}
	seq := 0
	for i := 0; i < roundsIterations; i++ {
		clock.advance(time.Duration(1000+rng.Intn(2000)) * time.Millisecond)
		type inFlight struct {
			tp        TopicPartition
			base, end int64
			recs      []kv
		}
		var pending []inFlight
		for _, k := range rng.Perm(len(all))[:2+rng.Intn(len(all)-1)] {
			tp := all[k]
			l, p := logs[tp], run.parts[tp]
			for j := 1 + rng.Intn(2); j > 0; j-- {
				var b []byte
				var recs []kv
				if tp == roundsCompactTP {
					for n := 1 + rng.Intn(3); n > 0; n-- {
						seq++
						recs = append(recs, kv{key: fmt.Sprintf("k%02d", rng.Intn(8)), value: fmt.Sprintf("v%d-%s", seq, strings.Repeat("x", 40+rng.Intn(80)))})
					}
					b = keyedBatch(t, record.CompressionNone, clock.now().UnixMilli(), recs...)
				} else {
					b = makeBatch(1+rng.Intn(3), 60+rng.Intn(120), clock.now().UnixMilli())
				}
				res, err := l.AppendAsync(b, AppendOptions{LeaderEpoch: int32(i / 10)})
				if err != nil {
					return run.unexpected("append to %s: %v", tp, err)
				}
				p.attempted[res.BaseOffset] = b // stamped in place with its offset and epoch
				p.end = res.LastOffset + 1
				for n, r := range recs {
					p.records[res.BaseOffset+int64(n)] = r
				}
				pending = append(pending, inFlight{tp: tp, base: res.BaseOffset, end: res.LastOffset + 1, recs: recs})
			}
		}
		if n := runRound(committer); n > 1 {
			run.multi++
		}
		run.rounds++
		// A roll finishes the old segment in the background; waiting for
		// it keeps the order of file operations the same on every run.
		for _, l := range logs {
			l.bg.Wait()
		}
		// Acknowledge what the round made durable: where a crash failed
		// one partition's fsync, the others' may still have succeeded.
		lost := ""
		for _, f := range pending {
			l, p := logs[f.tp], run.parts[f.tp]
			if d := l.DurableOffset(); d < f.end {
				if lost == "" {
					lost = fmt.Sprintf("after the round %s has durable offset %d, below the end %d of an append the round covered", f.tp, d, f.end)
				}
				continue
			}
			p.acked[f.base] = p.attempted[f.base]
			for n, r := range f.recs {
				p.lastAcked[r.key] = max(p.lastAcked[r.key], f.base+int64(n))
			}
		}
		if lost != "" {
			return run.unexpected("%s", lost)
		}

		switch i % 9 {
		case 4:
			// DeleteRecordsBefore on one partition, somewhere in what is
			// acknowledged.
			tp := roundsTPs[rng.Intn(len(roundsTPs))]
			l, p := logs[tp], run.parts[tp]
			lso := l.LogStartOffset()
			off := lso + rng.Int63n(max(l.DurableOffset()-lso, 0)+1)
			p.lsoMax = max(p.lsoMax, off)
			if _, err := l.DeleteRecordsBefore(off); err != nil {
				return run.unexpected("delete records of %s before %d: %v", tp, off, err)
			}
			if off > lso {
				run.deletes++
			}
			p.lsoMin = max(p.lsoMin, off)
		case 8:
			// Retention, with the clock moved past retention.ms for the
			// oldest batches. It deletes segments from the oldest, never
			// the active one, while they lie wholly below the log start
			// offset or their largest timestamp is before the cutoff,
			// and moves the log start offset to the base of the first
			// segment it keeps. A batch at or past the cutoff that ends
			// at or above lsoMax (so above the current log start offset)
			// keeps its segment: the log start offset can reach lsoMax,
			// or the base of the first such batch, or the log end if
			// there is none, and no further.
			clock.advance(10 * time.Second)
			cutoff := clock.now().UnixMilli() - roundsRetentionMs
			for _, tp := range roundsTPs {
				p := run.parts[tp]
				bound := p.end
				for base, b := range p.attempted {
					h, _ := record.ParseHeader(b)
					if h.MaxTimestamp >= cutoff && h.LastOffset() >= p.lsoMax {
						bound = min(bound, base)
					}
				}
				p.lsoMax = max(p.lsoMax, bound)
			}
			run.retained += m.RunRetention()
			if run.ff.Crashed() {
				return nil
			}
			for _, tp := range roundsTPs {
				run.parts[tp].lsoMin = max(run.parts[tp].lsoMin, logs[tp].LogStartOffset())
			}
		}
		if i%6 == 5 {
			if err := m.WriteCheckpoints(); err != nil {
				return run.unexpected("write checkpoints: %v", err)
			}
		}
		if i == roundsIterations/2 || i == roundsIterations-1 {
			res, err := cleaner.Clean(logs[roundsCompactTP])
			if err != nil {
				return run.unexpected("clean: %v", err)
			}
			if res.SegmentsBefore > 0 {
				run.cleanings++
			}
		}
	}
	cleaner.Stop()
	closed = true
	if err := m.Close(); err != nil {
		return run.unexpected("close: %v", err)
	}
	return nil
}

// checkCrashed reopens a crashed file system and checks every partition
// of parts: present if it acknowledged anything; its log start offset
// within [lsoMin, lsoMax]; its log end offset past every acknowledged
// batch; every acknowledged batch at or above the log start offset there
// byte for byte (compacted partitions: each key's latest acknowledged
// record or a later one of the key, and every record the one written at
// its offset); nothing readable that was not appended; and the log taking
// appends again.
func checkCrashed(t *testing.T, fsys vfs.FS, parts map[TopicPartition]*crashPart, label string) {
	t.Helper()
	m, err := OpenManager(ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, Config: roundsConfig()})
	if err != nil {
		t.Fatalf("%s: reopen: %v", label, err)
	}
	defer m.Close()
	for tp, p := range parts {
		l, ok := m.Get(tp)
		if !ok {
			if len(p.acked) > 0 || p.lsoMin > 0 {
				t.Fatalf("%s: %s missing after %d acknowledged batches", label, tp, len(p.acked))
			}
			continue
		}
		lso, leo := l.LogStartOffset(), l.LogEndOffset()
		if lso > p.lsoMax {
			t.Fatalf("%s: %s: log start offset %d, above %d, the most DeleteRecords and retention could have set (log end %d)", label, tp, lso, p.lsoMax, leo)
		}
		if lso < p.lsoMin {
			t.Fatalf("%s: %s: log start offset %d, below %d, where a completed DeleteRecords or retention left it", label, tp, lso, p.lsoMin)
		}
		if end := p.ackedEnd(); leo < end {
			t.Fatalf("%s: %s: log end offset %d, but acknowledged batches reach %d", label, tp, leo, end)
		}
		if len(p.records) > 0 {
			checkCompactedCrashed(t, l, p, label)
		} else {
			got := map[int64][]byte{}
			off := lso
			for off < leo {
				rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
				if err != nil {
					t.Fatalf("%s: %s: read %d (log [%d, %d)): %v", label, tp, off, lso, leo, err)
				}
				b, err := rr.AppendTo(nil)
				rr.Release()
				if err != nil || len(b) == 0 {
					t.Fatalf("%s: %s: read %d (log [%d, %d)): %d bytes, %v", label, tp, off, lso, leo, len(b), err)
				}
				for len(b) > 0 {
					h, _ := record.ParseHeader(b)
					if want, ok := p.attempted[h.BaseOffset]; !ok || !bytes.Equal(b[:h.Size()], want) {
						t.Fatalf("%s: %s: batch at %d is not one appended there", label, tp, h.BaseOffset)
					}
					got[h.BaseOffset] = b[:h.Size()]
					b = b[h.Size():]
				}
				off = rr.NextOffset
			}
			for base, want := range p.acked {
				h, _ := record.ParseHeader(want)
				if h.LastOffset() >= lso && !bytes.Equal(got[base], want) {
					t.Fatalf("%s: %s: acknowledged batch at %d lost (log [%d, %d))", label, tp, base, lso, leo)
				}
			}
		}
		if _, err := l.Append(makeBatch(1, 10, 1_700_000_000_000), AppendOptions{}); err != nil {
			t.Fatalf("%s: %s: append after recovery: %v", label, tp, err)
		}
	}
}

func checkCompactedCrashed(t *testing.T, l *Log, p *crashPart, label string) {
	t.Helper()
	last := map[string]int64{}
	for _, r := range readRecords(t, l) {
		if want, ok := p.records[r.offset]; !ok || want.key != r.key || want.value != r.value {
			t.Fatalf("%s: %s: offset %d holds %s=%.10s..., not what was appended there", label, l.tp, r.offset, r.key, r.value)
		}
		last[r.key] = r.offset
	}
	for k, off := range p.lastAcked {
		if got, ok := last[k]; !ok || got < off {
			t.Fatalf("%s: %s: key %s: latest record at %d (present %v), but offset %d was acknowledged", label, l.tp, k, got, ok, off)
		}
	}
}

// TestCrashSharedRounds cuts the power after every mutating file-system
// operation of roundsWorkload, with and without a torn write, and checks
// what recovery returns (checkCrashed). Under -race and -short it samples
// (crashStride), torn and clean cuts alternating.
func TestCrashSharedRounds(t *testing.T) {
	seed := testSeed(t)
	clean := &roundsRun{ff: vfs.NewFaulty(vfs.NewMem()), parts: newCrashParts(append(roundsTPs, roundsCompactTP)...)}
	if err := roundsWorkload(t, clean, seed); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	steps := clean.ff.Steps()
	checkCrashed(t, clean.ff.Inner(), clean.parts, "clean run")
	t.Logf("workload: %d steps, %d rounds, %d of them over several partitions, %d segments deleted by retention, %d DeleteRecords, %d cleanings",
		steps, clean.rounds, clean.multi, clean.retained, clean.deletes, clean.cleanings)
	if clean.multi == 0 || clean.retained == 0 || clean.deletes == 0 || clean.cleanings == 0 {
		t.Fatal("the workload did not do what the test is about")
	}
	start, stride := crashStride(seed)
	for n := start; n <= steps+1; n += stride {
		torns := []bool{false, true}
		if stride > 1 {
			torns = []bool{n%2 == 1} // sampling: a torn crash at every other point
		}
		for _, torn := range torns {
			mem := vfs.NewMem()
			run := &roundsRun{ff: vfs.NewFaulty(mem), parts: newCrashParts(append(roundsTPs, roundsCompactTP)...)}
			run.ff.CrashAfter(n)
			run.ff.TearCrashingWrite(torn)
			if err := roundsWorkload(t, run, seed); err != nil {
				t.Fatalf("crash after step %d: %v", n, err)
			}
			crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: seed + n})
			checkCrashed(t, crashed, run.parts, fmt.Sprintf("crash after step %d (torn %v)", n, torn))
		}
	}
}

// slowSyncFS makes every segment fsync take a while, as on a disk, so
// appends from other goroutines arrive while a round's fsyncs run and the
// next round covers several partitions (on MemFS alone an fsync is
// instant and the committer takes each append in a round of its own).
type slowSyncFS struct {
	vfs.FS
	d time.Duration
}

func (f slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(name, LogFileSuffix) {
		return file, nil
	}
	return slowSyncFile{file, f.d}, nil
}

type slowSyncFile struct {
	vfs.File
	d time.Duration
}

func (f slowSyncFile) Sync() error {
	time.Sleep(f.d)
	return f.File.Sync()
}

var concurrentTPs = []TopicPartition{{Topic: "shared", Partition: 0}, {Topic: "shared", Partition: 1}, {Topic: "shared", Partition: 2}, {Topic: "shared", Partition: 3}}

// concurrentWorkload appends 12 batches to each of four partitions, one
// goroutine per partition, each append waiting for its fsync (Append:
// AppendAsync then WaitDurable) under the real group committer. A
// partition has one append in flight at a time, so a round covering two
// appends covers two partitions. It returns the committer's round count,
// or an error for a failure the crash does not explain, such as an append
// never acknowledged nor failed.
func concurrentWorkload(ff *vfs.FaultyFS, parts map[TopicPartition]*crashPart, seed int64) (int64, error) {
	unexpected := func(format string, args ...any) error {
		if ff.Crashed() {
			return nil
		}
		return fmt.Errorf(format, args...)
	}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 300
	m, err := OpenManager(ManagerOptions{FS: slowSyncFS{ff, 100 * time.Microsecond}, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: 1 << 40, CheckpointInterval: 1 << 40, Config: cfg})
	if err != nil {
		return 0, unexpected("open: %v", err)
	}
	defer m.Close()
	logs := make([]*Log, len(concurrentTPs))
	for i, tp := range concurrentTPs {
		if logs[i], err = m.Create(tp, [16]byte{byte(i + 1)}, cfg); err != nil {
			return 0, unexpected("create %s: %v", tp, err)
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for i, tp := range concurrentTPs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, rng := logs[i], rand.New(rand.NewSource(seed+int64(i)))
			for j := 0; j < 12; j++ {
				b := makeBatch(1+rng.Intn(3), 50+rng.Intn(150), 1_700_000_000_000+int64(j))
				res, err := l.AppendAsync(b, AppendOptions{})
				if err != nil {
					return
				}
				mu.Lock()
				parts[tp].attempted[res.BaseOffset] = b
				parts[tp].end = res.LastOffset + 1
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err = l.WaitDurable(ctx, res.LastOffset+1)
				cancel()
				if errors.Is(err, context.DeadlineExceeded) {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: append at %d neither acknowledged nor failed after 20 s", tp, res.BaseOffset))
					mu.Unlock()
					return
				}
				if err != nil {
					return
				}
				mu.Lock()
				parts[tp].acked[res.BaseOffset] = b
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return 0, errors.Join(errs...) // a hang is a bug, crash or not
	}
	rounds := m.SyncRounds()
	if err := m.Close(); err != nil {
		return rounds, unexpected("close: %v", err)
	}
	return rounds, nil
}

// TestCrashConcurrentRounds cuts the power at sampled steps of
// concurrentWorkload (the step count varies a little with the schedule)
// and checks what recovery returns against what each appender saw
// acknowledged.
func TestCrashConcurrentRounds(t *testing.T) {
	seed := testSeed(t)
	ff := vfs.NewFaulty(vfs.NewMem())
	parts := newCrashParts(concurrentTPs...)
	rounds, err := concurrentWorkload(ff, parts, seed)
	if err != nil {
		t.Fatalf("clean run: %v", err)
	}
	checkCrashed(t, ff.Inner(), parts, "clean run")
	appends := 0
	for _, p := range parts {
		appends += len(p.acked)
	}
	steps := ff.Steps()
	t.Logf("workload: %d steps, %d appends in %d rounds", steps, appends, rounds)
	if rounds >= int64(appends) {
		t.Fatalf("%d rounds for %d appends: no round covered two partitions", rounds, appends)
	}
	points := 40
	if raceEnabled || testing.Short() {
		points = 20
	}
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < points; i++ {
		n := rng.Int63n(steps + 2)
		torn := i%2 == 1
		mem := vfs.NewMem()
		ff := vfs.NewFaulty(mem)
		ff.CrashAfter(n)
		ff.TearCrashingWrite(torn)
		parts := newCrashParts(concurrentTPs...)
		if _, err := concurrentWorkload(ff, parts, seed); err != nil {
			t.Fatalf("crash after step %d: %v", n, err)
		}
		crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: seed + n})
		checkCrashed(t, crashed, parts, fmt.Sprintf("crash after step %d (torn %v)", n, torn))
	}
}
