package partition

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/log"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// divergedLeaders builds two leaders' logs that share their first records
// and then differ, as after an unclean failover: old keeps leading in
// epoch 1, cur leads in epoch 2 from the divergence point on. It returns
// the chunks a follower fetches (each a few whole batches): all of old's,
// and cur's from the divergence point on.
func divergedLeaders(t testing.TB, seed int64) (oldChunks, curChunks [][]byte, diverge int64) {
	t.Helper()
	mem := vfs.NewMem()
	old := openReplica(t, mem, "old", false, 0)
	cur := openReplica(t, mem, "cur", false, 0)
	defer old.close(t)
	defer cur.close(t)
	for _, r := range []*replica{old, cur} {
		if err := r.p.BecomeLeader(1); err != nil {
			t.Fatal(err)
		}
	}
	wo, wc := newProducerWorkload(seed), newProducerWorkload(seed)
	for i := 0; i < 40; i++ {
		wo.step(t, old.p)
		wc.step(t, cur.p)
	}
	diverge = cur.l.LogEndOffset()
	if old.l.LogEndOffset() != diverge {
		t.Fatal("the shared prefix differs")
	}
	wo.rng, wc.rng = rand.New(rand.NewSource(seed+1)), rand.New(rand.NewSource(seed+2))
	for i := 0; i < 25; i++ {
		wo.step(t, old.p)
	}
	if err := cur.p.BecomeFollower(2); err != nil {
		t.Fatal(err)
	}
	if err := cur.p.BecomeLeader(3); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		wc.step(t, cur.p)
	}
	chunks := func(r *replica, from int64) [][]byte {
		var out [][]byte
		rng := rand.New(rand.NewSource(seed))
		for off := from; off < r.l.LogEndOffset(); {
			rr, err := r.l.Read(off, log.ReadOptions{MaxBytes: int32(300 + rng.Intn(1500)), MaxOffset: -1, MinOneBatch: true})
			if err != nil {
				t.Fatal(err)
			}
			b, err := rr.AppendTo(nil)
			rr.Release()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
			off = rr.NextOffset
		}
		return out
	}
	return chunks(old, 0), chunks(cur, diverge), diverge
}

// followerModel is what the follower workload did: the batches its log
// may hold (appended and not removed by a completed truncation) and those
// acknowledged (durable, and not at or above a truncation that began).
type followerModel struct {
	live, acked map[int64][]byte
	truncations int
}

// followerWorkload runs a follower on fsys: it follows the old leader
// (snapshots taken as it goes), truncates to the divergence point, follows
// the current leader, truncates inside what it fetched and fetches it
// again, and shuts down cleanly. It stops at the first error.
func followerWorkload(t testing.TB, fsys vfs.FS, oldChunks, curChunks [][]byte, diverge int64, md *followerModel) {
	m, err := log.OpenManager(log.ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: time.Hour, CheckpointInterval: time.Hour, HighWatermarkCheckpointInterval: time.Hour})
	if err != nil {
		return
	}
	defer m.Close()
	l, err := m.Create(replTP, [16]byte{4}, replLogConfig())
	if err != nil {
		return
	}
	p, err := New(Config{Log: l, FS: fsys, Topic: replTP.Topic, Partition: replTP.Partition, LeaderEpoch: 1, Follower: true, Now: func() time.Time { return testNow }, Logger: quietLogger()})
	if err != nil {
		return
	}
	follow := func(chunks [][]byte) bool {
		for i, c := range chunks {
			for it := record.Batches(c); it.Next(); {
				md.live[it.Header().BaseOffset] = it.Batch()
			}
			res, err := p.AppendAsFollower(c)
			if err != nil {
				return false
			}
			if l.WaitDurable(context.Background(), res.LastOffset+1) != nil {
				return false
			}
			for it := record.Batches(c); it.Next(); {
				md.acked[it.Header().BaseOffset] = it.Batch()
			}
			if i%4 == 3 && p.Snapshot() != nil {
				return false
			}
		}
		return true
	}
	truncate := func(to int64) bool {
		end := to
		for base, b := range md.live {
			if h, _ := record.ParseHeader(b); base < to && h.LastOffset() >= to {
				end = base
			}
		}
		for base := range md.acked {
			if base >= end {
				delete(md.acked, base)
			}
		}
		if p.TruncateTo(to) != nil {
			return false
		}
		for base := range md.live {
			if base >= end {
				delete(md.live, base)
			}
		}
		md.truncations++
		return true
	}
	if !follow(oldChunks) || !truncate(diverge) || p.BecomeFollower(3) != nil || !follow(curChunks) {
		return
	}
	// Inside what it fetched from the current leader, then again.
	mid := len(curChunks) / 2
	h, _ := record.ParseHeader(curChunks[mid])
	if !truncate(h.BaseOffset) || !follow(curChunks[mid:]) {
		return
	}
	if p.Close() != nil {
		return
	}
	m.Close()
}

// checkFollowerRecovered reopens a crashed follower and checks its records
// against the model, then its producer and transaction state against the
// state rebuilt from its records alone (snapshots and transaction indexes
// deleted): what snapshots, replay and the index give after any crash is
// what the records say.
func checkFollowerRecovered(t *testing.T, mem *vfs.MemFS, md *followerModel, label string) {
	t.Helper()
	open := func(fsys vfs.FS) (*log.Manager, *log.Log, *Partition) {
		m, err := log.OpenManager(log.ManagerOptions{FS: fsys, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: time.Hour, CheckpointInterval: time.Hour})
		if err != nil {
			t.Fatalf("%s: reopen: %v", label, err)
		}
		l, ok := m.Get(replTP)
		if !ok {
			m.Close()
			return nil, nil, nil
		}
		p, err := New(Config{Log: l, FS: fsys, Topic: replTP.Topic, Partition: replTP.Partition, LeaderEpoch: 3, Follower: true, Now: func() time.Time { return testNow }, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("%s: open partition: %v", label, err)
		}
		return m, l, p
	}
	m, l, p := open(mem)
	if l == nil {
		if len(md.acked) > 0 {
			t.Fatalf("%s: log missing with %d acknowledged batches", label, len(md.acked))
		}
		return
	}
	got := map[int64][]byte{}
	for off := l.LogStartOffset(); off < l.LogEndOffset(); {
		rr, err := l.Read(off, log.ReadOptions{MaxBytes: 1 << 20, MaxOffset: -1, MinOneBatch: true})
		if err != nil {
			t.Fatalf("%s: read %d: %v", label, off, err)
		}
		b, err := rr.AppendTo(nil)
		rr.Release()
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: read %d: %v", label, off, err)
		}
		for it := record.Batches(b); it.Next(); {
			h := it.Header()
			if want, ok := md.live[h.BaseOffset]; !ok || !bytes.Equal(want, it.Batch()) {
				t.Fatalf("%s: batch at %d is not one the log may hold (log end %d)", label, h.BaseOffset, l.LogEndOffset())
			}
			got[h.BaseOffset] = it.Batch()
		}
		off = rr.NextOffset
	}
	for base, want := range md.acked {
		if !bytes.Equal(got[base], want) {
			t.Fatalf("%s: acknowledged batch at %d lost (log end %d)", label, base, l.LogEndOffset())
		}
	}
	have := stateOf(p)
	if err := p.Close(); err != nil {
		t.Fatalf("%s: close: %v", label, err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("%s: close: %v", label, err)
	}
	// The same log without snapshots nor transaction indexes.
	bare := mem.CrashClone(vfs.CrashOptions{})
	entries, err := bare.ReadDir(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), snapshotSuffix) || strings.HasSuffix(e.Name(), log.TxnIndexFileSuffix) {
			if err := bare.Remove(l.Dir() + "/" + e.Name()); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, _, p = open(bare)
	defer m.Close()
	want := stateOf(p)
	// Entries rebuilt from markers carry no last stable offset: compare
	// the transactions only, and the state without the LSO (bounded by
	// the high watermark).
	strip := func(s partitionState) string {
		var ab []string
		for _, a := range s.Aborted {
			ab = append(ab, fmt.Sprintf("%d:%d-%d", a.ProducerID, a.FirstOffset, a.LastOffset))
		}
		s.Aborted, s.LSO = nil, 0
		return s.String() + " aborted " + strings.Join(ab, ",")
	}
	if strip(have) != strip(want) {
		t.Fatalf("%s: state after recovery\n%s\nrebuilt from the records alone\n%s", label, strip(have), strip(want))
	}
}

// TestCrashFollower cuts the power after every mutating file operation of
// a follower that follows a diverged leader, truncates to the divergence
// point, follows the new leader, truncates and fetches again (taking
// producer snapshots and writing transaction index entries on the way),
// and checks every acknowledged record below each truncation point is
// there, nothing a completed truncation removed is, and the recovered
// producer state, transactions and aborted-transaction index are what the
// records say (checkFollowerRecovered). The log's own crash test,
// TestCrashTruncation in internal/log, checks indexes and epoch cache.
func TestCrashFollower(t *testing.T) {
	seed := int64(11)
	oldChunks, curChunks, diverge := divergedLeaders(t, seed)
	clean := vfs.NewFaulty(vfs.NewMem())
	md := &followerModel{live: map[int64][]byte{}, acked: map[int64][]byte{}}
	followerWorkload(t, clean, oldChunks, curChunks, diverge, md)
	if md.truncations != 2 {
		t.Fatalf("clean run: %d truncations, want 2", md.truncations)
	}
	steps := clean.Steps()
	checkFollowerRecovered(t, clean.Inner().(*vfs.MemFS), md, "clean run")
	t.Logf("workload: %d steps, divergence at %d", steps, diverge)
	stride := int64(1)
	if raceEnabled || testing.Short() {
		stride = 3
	}
	for n := time.Now().UnixNano() % stride; n <= steps+1; n += stride {
		for _, torn := range []bool{false, true} {
			mem := vfs.NewMem()
			ff := vfs.NewFaulty(mem)
			ff.CrashAfter(n)
			ff.TearCrashingWrite(torn)
			md := &followerModel{live: map[int64][]byte{}, acked: map[int64][]byte{}}
			followerWorkload(t, ff, oldChunks, curChunks, diverge, md)
			crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: torn, Seed: n})
			checkFollowerRecovered(t, crashed, md, fmt.Sprintf("crash after step %d (torn %v, %d truncations done)", n, torn, md.truncations))
		}
	}
}

// FuzzAppendAsFollower: arbitrary bytes (their framing optionally patched
// to continue the log) appended to a follower that already holds
// idempotent and transactional records. A refusal changes nothing: not
// the log, not the producer or transaction state. What is accepted leaves
// the state a restart rebuilds from the records alone.
func FuzzAppendAsFollower(f *testing.F) {
	oldChunks, curChunks, _ := divergedLeaders(f, 5)
	f.Add(oldChunks[len(oldChunks)-1], true)
	f.Add(curChunks[0], true)
	f.Add(curChunks[1][:50], false)
	f.Add([]byte("not a batch at all, not at all"), true)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		mem := vfs.NewMem()
		m, err := log.OpenManager(log.ManagerOptions{FS: mem, Dir: "data", Logger: quietLogger(), RetentionCheckInterval: time.Hour, CheckpointInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		l, err := m.Create(replTP, [16]byte{4}, replLogConfig())
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Log: l, FS: mem, Topic: replTP.Topic, Partition: replTP.Partition, LeaderEpoch: 1, Follower: true, Now: func() time.Time { return testNow }, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range oldChunks[:len(oldChunks)/2] {
			if _, err := p.AppendAsFollower(c); err != nil {
				t.Fatal(err)
			}
		}
		if fix {
			data = continueLog(data, l.LogEndOffset())
		}
		before, leo := stateOf(p).String(), l.LogEndOffset()
		if _, err := p.AppendAsFollower(data); err != nil {
			if after := stateOf(p).String(); after != before || l.LogEndOffset() != leo {
				t.Fatalf("refused (%v), but the partition changed:\n%s\n%s", err, before, after)
			}
			return
		}
		have := stateOf(p)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		entries, err := mem.ReadDir(l.Dir())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), snapshotSuffix) {
				if err := mem.Remove(l.Dir() + "/" + e.Name()); err != nil {
					t.Fatal(err)
				}
			}
		}
		q, err := New(Config{Log: l, FS: mem, Topic: replTP.Topic, Partition: replTP.Partition, LeaderEpoch: 1, Follower: true, Now: func() time.Time { return testNow }, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		want := stateOf(q)
		have.LSO, want.LSO = 0, 0
		if have.String() != want.String() {
			t.Fatalf("after the append\n%s\nrebuilt from the records\n%s", have, want)
		}
	})
}

// continueLog patches the framing of data: lengths that fit, base offsets
// following one another from start, CRCs that match.
func continueLog(data []byte, start int64) []byte {
	out := append([]byte(nil), data...)
	next := start
	pos := 0
	for len(out)-pos >= record.HeaderSize {
		b := out[pos:]
		h, _ := record.ParseHeader(b)
		if h.BatchLength < record.HeaderSize-record.LogOverhead || int64(h.BatchLength)+record.LogOverhead > int64(len(b)) {
			h.BatchLength = int32(len(b) - record.LogOverhead)
			b[record.BatchLengthOffset], b[record.BatchLengthOffset+1], b[record.BatchLengthOffset+2], b[record.BatchLengthOffset+3] = byte(h.BatchLength>>24), byte(h.BatchLength>>16), byte(h.BatchLength>>8), byte(h.BatchLength)
		}
		record.SetBaseOffset(b, next)
		fixCRC(b)
		if h.LastOffsetDelta >= 0 && h.LastOffsetDelta < 1<<20 {
			next += int64(h.LastOffsetDelta) + 1
		}
		pos += int(h.BatchLength) + record.LogOverhead
	}
	return out[:pos]
}
