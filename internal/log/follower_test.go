package log

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

var followerTP = TopicPartition{Topic: "replicated", Partition: 3}

// followerConfig: small segments and indexes, so a short workload rolls on
// size and on full indexes.
func followerConfig() Config {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 250
	cfg.SegmentIndexBytes = 96 // 12 offset entries, 8 time entries
	return cfg
}

// stamped returns a copy of batch b as a leader stores it: base offset and
// partition leader epoch set (both outside the CRC).
func stamped(b []byte, base int64, epoch int32) []byte {
	out := append([]byte(nil), b...)
	record.SetBaseOffset(out, base)
	record.SetPartitionLeaderEpoch(out, epoch)
	return out
}

// readRaw reads the log's bytes from offset from to the log end offset.
func readRaw(t testing.TB, l *Log, from int64) []byte {
	t.Helper()
	var out []byte
	for off := from; off < l.LogEndOffset(); {
		rr, err := l.Read(off, ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		if rr.Size == 0 {
			break
		}
		out, err = rr.AppendTo(out)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		off = rr.NextOffset
	}
	return out
}

// replicate feeds follower f the leader's records from f's log end offset
// on, in chunks of random size (whole batches), as a fetcher would.
func replicate(t testing.TB, rng *rand.Rand, leader, f *Log) {
	t.Helper()
	for f.LogEndOffset() < leader.LogEndOffset() {
		rr, err := leader.Read(f.LogEndOffset(), ReadOptions{MaxBytes: int32(1 + rng.Intn(2500)), MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("leader read at %d: %v", f.LogEndOffset(), err)
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.AppendAsFollower(b)
		if err != nil {
			t.Fatalf("follower append at %d: %v", f.LogEndOffset(), err)
		}
		if res.BaseOffset != rr.BaseOffset || res.LastOffset != rr.NextOffset-1 {
			t.Fatalf("follower append of [%d, %d) reported [%d, %d]", rr.BaseOffset, rr.NextOffset, res.BaseOffset, res.LastOffset)
		}
	}
}

// dirFiles reads every file of a partition directory.
func dirFiles(t testing.TB, fsys vfs.FS, dir string) map[string][]byte {
	t.Helper()
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := readFile(fsys, filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// sameLogs checks that two logs hold the same segments, byte for byte, and
// the same leader-epoch cache.
func sameLogs(t testing.TB, a, b *Log, label string) {
	t.Helper()
	if a.LogStartOffset() != b.LogStartOffset() || a.LogEndOffset() != b.LogEndOffset() {
		t.Fatalf("%s: logs [%d, %d) and [%d, %d)", label, a.LogStartOffset(), a.LogEndOffset(), b.LogStartOffset(), b.LogEndOffset())
	}
	sa, sb := a.segments(), b.segments()
	if len(sa) != len(sb) {
		t.Fatalf("%s: %d and %d segments", label, len(sa), len(sb))
	}
	for i := range sa {
		if sa[i].base != sb[i].base || sa[i].size.Load() != sb[i].size.Load() {
			t.Fatalf("%s: segment %d: base %d size %d, base %d size %d", label, i, sa[i].base, sa[i].size.Load(), sb[i].base, sb[i].size.Load())
		}
	}
	if ea, eb := a.LeaderEpochs(), b.LeaderEpochs(); fmt.Sprint(ea) != fmt.Sprint(eb) {
		t.Fatalf("%s: epoch caches %v and %v", label, ea, eb)
	}
	for _, l := range []*Log{a, b} {
		if err := checkLogConsistent(l); err != nil {
			t.Fatalf("%s: %s: %v", label, l.dir, err)
		}
	}
	fa, fb := dirFiles(t, a.m.fsys, a.dir), dirFiles(t, b.m.fsys, b.dir)
	for name, data := range fa {
		if strings.HasSuffix(name, LogFileSuffix) && !bytes.Equal(data, fb[name]) {
			t.Fatalf("%s: %s differs (%d and %d bytes)", label, name, len(data), len(fb[name]))
		}
	}
}

// TestAppendAsFollowerMatchesLeader: a follower fed a leader's batches in
// fetches of random sizes has the leader's segments byte for byte, its
// epoch cache and its indexes; after both truncate to the same points
// (inside a segment, at a segment boundary, inside a batch, below several
// segments) and go on, still; and after a clean close every file of the
// two partition directories is the same.
func TestAppendAsFollowerMatchesLeader(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewSource(seed))
	clock := &testClock{t: time.UnixMilli(1_700_000_000_000)}
	open := func(fsys vfs.FS, dir string) (*Manager, *Log) {
		m := openTestManager(t, fsys, dir, func(o *ManagerOptions) { o.Now = clock.now })
		l, err := m.Create(followerTP, [16]byte{9}, followerConfig())
		if err != nil {
			t.Fatal(err)
		}
		return m, l
	}
	lfs, ffs := vfs.NewMem(), vfs.NewMem()
	lm, leader := open(lfs, "leader")
	fm, follower := open(ffs, "follower")
	epoch := int32(0)
	appendSome := func(n int) {
		for i := 0; i < n; i++ {
			if rng.Intn(15) == 0 {
				epoch += 1 + int32(rng.Intn(2))
				if _, err := leader.BeginLeaderEpoch(epoch); err != nil {
					t.Fatal(err)
				}
			}
			var b []byte
			switch rng.Intn(3) {
			case 0:
				b = makeBatch(1+rng.Intn(4), 20+rng.Intn(200), clock.now().UnixMilli()+int64(rng.Intn(5000)-2500))
			case 1:
				codec := []record.Compression{record.CompressionGzip, record.CompressionSnappy, record.CompressionLZ4, record.CompressionZstd}[rng.Intn(4)]
				var recs []kv
				for j := 1 + rng.Intn(5); j > 0; j-- {
					recs = append(recs, kv{key: fmt.Sprint(rng.Intn(10)), value: strings.Repeat("v", rng.Intn(300))})
				}
				b = keyedBatch(t, codec, clock.now().UnixMilli(), recs...)
			default:
				b = makeBatch(1, 10, -1)
			}
			opts := AppendOptions{LeaderEpoch: epoch}
			if rng.Intn(4) == 0 {
				opts.LogAppendTime = clock.now().UnixMilli()
			}
			if _, err := leader.Append(b, opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := 0; round < 6; round++ {
		appendSome(40 + rng.Intn(40))
		replicate(t, rng, leader, follower)
		sameLogs(t, leader, follower, fmt.Sprintf("round %d", round))
		if follower.NumSegments() < 3 {
			t.Fatalf("round %d: only %d segments", round, follower.NumSegments())
		}
		// Truncate both to the same point, chosen by kind.
		segs := leader.segments()
		var to int64
		switch round % 4 {
		case 0: // a batch boundary inside a segment
			hs := readAll(t, leader, segs[len(segs)-2].base)
			to = hs[len(hs)/2].BaseOffset
		case 1: // a segment boundary
			to = segs[len(segs)-2].base
		case 2: // inside a batch
			hs := readAll(t, leader, segs[len(segs)-1].base)
			h := hs[len(hs)-1]
			to = h.BaseOffset + int64(h.LastOffsetDelta+1)/2
			if h.LastOffsetDelta == 0 {
				to = h.BaseOffset
			}
		case 3: // below several segments
			to = segs[max(len(segs)-4, 0)].base + 1
		}
		for _, l := range []*Log{leader, follower} {
			if err := l.TruncateTo(to); err != nil {
				t.Fatalf("round %d: truncate to %d: %v", round, to, err)
			}
		}
		if leader.LogEndOffset() > to {
			t.Fatalf("round %d: truncated to %d, log end offset %d", round, to, leader.LogEndOffset())
		}
		sameLogs(t, leader, follower, fmt.Sprintf("round %d truncated to %d", round, to))
		t.Logf("round %d: truncated to %d: log [%d, %d), %d segments, epochs %v", round, to, leader.LogStartOffset(), leader.LogEndOffset(), leader.NumSegments(), leader.LeaderEpochs())
		epoch++
		if _, err := leader.BeginLeaderEpoch(epoch); err != nil {
			t.Fatal(err)
		}
	}
	appendSome(30)
	replicate(t, rng, leader, follower)
	sameLogs(t, leader, follower, "end")
	if err := lm.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fm.Close(); err != nil {
		t.Fatal(err)
	}
	la, fa := dirFiles(t, lfs, leader.dir), dirFiles(t, ffs, follower.dir)
	var names []string
	for n := range la {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(la) != len(fa) {
		t.Fatalf("leader files %v, follower has %d", names, len(fa))
	}
	for _, n := range names {
		if !bytes.Equal(la[n], fa[n]) {
			t.Fatalf("after close %s differs", n)
		}
	}
}

// TestAppendAsFollowerRefuses: input the log must not take is refused
// with a clear error, and nothing of the log changes.
func TestAppendAsFollowerRefuses(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	first := stamped(makeBatch(3, 20, 1000), 0, 2)
	if _, err := l.AppendAsFollower(first); err != nil {
		t.Fatal(err)
	}
	badCRC := stamped(makeBatch(2, 20, 1000), 3, 2)
	badCRC[len(badCRC)-1] ^= 1
	magic1 := stamped(makeBatch(1, 20, 1000), 3, 2)
	magic1[record.MagicOffset] = 1
	two := append(stamped(makeBatch(2, 20, 1000), 3, 2), stamped(makeBatch(2, 20, 1000), 4, 2)...)
	for _, tc := range []struct {
		name  string
		input []byte
		want  error
		text  string
	}{
		{"empty", nil, ErrInvalidBatch, "no batches"},
		{"partial", stamped(makeBatch(2, 20, 1000), 3, 2)[:70], ErrInvalidBatch, "partial"},
		{"bad crc", badCRC, ErrInvalidBatch, "CRC"},
		{"magic 1", magic1, ErrInvalidBatch, "magic"},
		{"below the end", stamped(makeBatch(2, 20, 1000), 2, 2), ErrUnexpectedOffset, "[2, 3], below the log end offset 3"},
		{"overlap", two, ErrUnexpectedOffset, "batch 1 holds offsets [4, 5], not after the previous batch's last offset 4"},
		{"good then bad", append(stamped(makeBatch(1, 20, 1000), 3, 2), badCRC...), ErrInvalidBatch, "batch 1"},
	} {
		size, leo, epochs := l.Size(), l.LogEndOffset(), fmt.Sprint(l.LeaderEpochs())
		_, err := l.AppendAsFollower(tc.input)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Fatalf("%s: %v, want %v containing %q", tc.name, err, tc.want, tc.text)
		}
		if l.Size() != size || l.LogEndOffset() != leo || fmt.Sprint(l.LeaderEpochs()) != epochs {
			t.Fatalf("%s: the log changed", tc.name)
		}
	}
	var uoe *UnexpectedOffsetError
	if _, err := l.AppendAsFollower(stamped(makeBatch(1, 20, 1000), 1, 2)); !errors.As(err, &uoe) || uoe.LogEndOffset != 3 || uoe.BaseOffset != 1 {
		t.Fatalf("got %v (%+v)", err, uoe)
	}
	// A gap (a compacted leader) is taken; offsets are kept.
	res, err := l.AppendAsFollower(stamped(makeBatch(2, 20, 1000), 10, 4))
	if err != nil || res.BaseOffset != 10 || res.LastOffset != 11 || l.LogEndOffset() != 12 {
		t.Fatalf("gap: %+v %v, log end %d", res, err, l.LogEndOffset())
	}
	if got := fmt.Sprint(l.LeaderEpochs()); got != "[{2 0} {4 10}]" {
		t.Fatalf("epochs %s", got)
	}
	if err := checkLogConsistent(l); err != nil {
		t.Fatal(err)
	}
}

// TestAppendAsFollowerDurable: with DurabilitySync a follower append
// becomes durable through the group committer, like a leader's.
func TestAppendAsFollowerDurable(t *testing.T) {
	m := openTestManager(t, vfs.NewMem(), "data")
	defer m.Close()
	committer := manualCommitter(m)
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.AppendAsFollower(append(stamped(makeBatch(2, 20, 1000), 0, 1), stamped(makeBatch(2, 20, 1000), 2, 1)...))
	if err != nil {
		t.Fatal(err)
	}
	if l.DurableOffset() != 0 || l.LogEndOffset() != 4 {
		t.Fatalf("durable %d, end %d before the round", l.DurableOffset(), l.LogEndOffset())
	}
	if runRound(committer) != 1 || l.DurableOffset() != res.LastOffset+1 {
		t.Fatalf("durable %d after the round", l.DurableOffset())
	}
}

// TestEpochCacheAssign holds assign to Kafka's LeaderEpochFileCache.assign.
func TestEpochCacheAssign(t *testing.T) {
	type a struct {
		epoch int32
		off   int64
	}
	for _, tc := range []struct {
		start []EpochEntry
		in    a
		want  string
	}{
		{nil, a{0, 0}, "[{0 0}]"},
		{nil, a{-1, 5}, "[]"},
		{[]EpochEntry{{1, 0}}, a{1, 10}, "[{1 0}]"},                                 // same epoch, later offset: kept
		{[]EpochEntry{{1, 5}}, a{1, 2}, "[{1 2}]"},                                  // same epoch, earlier offset: moved
		{[]EpochEntry{{1, 0}}, a{3, 10}, "[{1 0} {3 10}]"},                          // new epoch
		{[]EpochEntry{{1, 0}, {5, 10}}, a{4, 10}, "[{1 0} {4 10}]"},                 // become-leader entry without records replaced
		{[]EpochEntry{{1, 0}, {5, 10}}, a{3, 12}, "[{1 0} {3 12}]"},                 // a higher epoch dropped
		{[]EpochEntry{{1, 0}, {2, 10}, {3, 20}}, a{4, 15}, "[{1 0} {2 10} {4 15}]"}, // a later start dropped
	} {
		c := epochCache{fsys: vfs.NewMem(), path: "epochs", entries: append([]EpochEntry(nil), tc.start...)}
		if err := c.assign(tc.in.epoch, tc.in.off); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(c.snapshot()); got != tc.want && !(got == "[]" && tc.want == "[]") {
			t.Fatalf("%v + %v: %s, want %s", tc.start, tc.in, got, tc.want)
		}
	}
}

// TestBeginLeaderEpoch: the entry of an epoch is written at become-leader,
// before any append (KAFKA-7415), so the previous epoch's end offset is
// known at once; a truncation to the log end drops it again.
func TestBeginLeaderEpoch(t *testing.T) {
	fsys := vfs.NewMem()
	m := openTestManager(t, fsys, "data")
	l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsFollower(stamped(makeBatch(5, 20, 1000), 0, 3)); err != nil {
		t.Fatal(err)
	}
	start, err := l.BeginLeaderEpoch(7)
	if err != nil || start != 5 {
		t.Fatalf("BeginLeaderEpoch: %d, %v", start, err)
	}
	if e, end := l.EndOffsetForEpoch(3); e != 3 || end != 5 {
		t.Fatalf("end of epoch 3: %d %d", e, end)
	}
	if got := fmt.Sprint(l.LeaderEpochs()); got != "[{3 0} {7 5}]" {
		t.Fatalf("epochs %s", got)
	}
	if e, ok := l.LatestEpoch(); !ok || e != 7 {
		t.Fatalf("latest %d %v", e, ok)
	}
	// On disk at once.
	m.Close()
	m = openTestManager(t, fsys.Crash(), "data")
	l, _ = m.Get(followerTP)
	if got := fmt.Sprint(l.LeaderEpochs()); got != "[{3 0}]" && got != "[{3 0} {7 5}]" {
		t.Fatalf("after restart: %s", got)
	}
	if _, err := l.BeginLeaderEpoch(7); err != nil {
		t.Fatal(err)
	}
	// Truncating at the log end drops the entry of records that never came.
	if err := l.TruncateTo(l.LogEndOffset()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(l.LeaderEpochs()); got != "[{3 0}]" {
		t.Fatalf("after truncation at the end: %s", got)
	}
	m.Close()
}
