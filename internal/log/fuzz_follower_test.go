package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// FuzzAppendAsFollower: arbitrary bytes as a fetched chunk, appended to a
// log holding a few batches. Refused input leaves the log exactly as it
// was, files included; accepted input is stored byte for byte, with the
// log end offset after its last batch, indexes and epoch cache agreeing
// with the records, and survives a clean restart. With fix set the
// input's batch framing is patched first (base offsets continuing the
// log, lengths and CRCs right) so the fuzzer reaches the checks past them.
func FuzzAppendAsFollower(f *testing.F) {
	good := append(stamped(makeBatch(2, 30, 1_700_000_000_000), 0, 3), stamped(makeBatch(1, 10, 1_700_000_000_001), 2, 4)...)
	f.Add(good, true)
	f.Add(good, false)
	f.Add(good[:40], false)
	f.Add(stamped(keyedBatch(f, record.CompressionZstd, 5, kv{key: "a", value: "b"}), 9, 9), true)
	f.Add([]byte{}, false)
	bad := append([]byte(nil), good...)
	bad[record.MagicOffset] = 1
	f.Add(bad, true)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		mem := vfs.NewMem()
		m := openTestManager(t, mem, "data")
		defer func() { m.Close() }()
		l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 6; i++ {
			if _, err := l.Append(makeBatch(1+i%3, 200, 1_700_000_000_000+int64(i)), AppendOptions{LeaderEpoch: int32(i / 3)}); err != nil {
				t.Fatal(err)
			}
		}
		leo := l.LogEndOffset()
		if fix {
			data = fixBatches(data, leo)
		}
		before := dirFiles(t, mem, l.dir)
		raw, epochs, size := readRaw(t, l, 0), fmt.Sprint(l.LeaderEpochs()), l.Size()
		latestBefore, _ := l.LatestEpoch()
		res, err := l.AppendAsFollower(data)
		if err != nil {
			var uoe *UnexpectedOffsetError
			if !errors.Is(err, ErrInvalidBatch) && !errors.As(err, &uoe) {
				t.Fatalf("refused with %v", err)
			}
			if l.LogEndOffset() != leo || l.Size() != size || fmt.Sprint(l.LeaderEpochs()) != epochs || !bytes.Equal(readRaw(t, l, 0), raw) {
				t.Fatalf("refused (%v), but the log changed", err)
			}
			after := dirFiles(t, mem, l.dir)
			if fmt.Sprint(keys(after)) != fmt.Sprint(keys(before)) {
				t.Fatalf("refused, but the files changed: %v, then %v", keys(before), keys(after))
			}
			for name, b := range before {
				if !bytes.Equal(after[name], b) {
					t.Fatalf("refused, but %s changed", name)
				}
			}
			return
		}
		if !bytes.Equal(readRaw(t, l, 0), append(raw, data...)) {
			t.Fatalf("accepted [%d, %d], but the log does not hold the input after what it held", res.BaseOffset, res.LastOffset)
		}
		if l.LogEndOffset() != res.LastOffset+1 || res.BaseOffset < leo {
			t.Fatalf("accepted [%d, %d] at log end %d: log end now %d", res.BaseOffset, res.LastOffset, leo, l.LogEndOffset())
		}
		// Epochs that go back (a leader never writes them) make the cache
		// drop the entries they contradict, as Kafka's assign does: the
		// cache then no longer covers the older records.
		monotone, latest := true, latestBefore
		for it := record.Batches(data); it.Next(); {
			h, err := record.ValidateStored(it.Batch())
			if err != nil {
				t.Fatalf("accepted a batch ValidateStored refuses: %v", err)
			}
			if h.PartitionLeaderEpoch >= 0 {
				monotone = monotone && h.PartitionLeaderEpoch >= latest
				latest = max(latest, h.PartitionLeaderEpoch)
			}
		}
		if err := checkLogConsistentEpochs(l, monotone); err != nil {
			t.Fatal(err)
		}
		want := readRaw(t, l, 0)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		m = openTestManager(t, mem, "data")
		l, _ = m.Get(followerTP)
		if !bytes.Equal(readRaw(t, l, 0), want) {
			t.Fatal("the appended batches did not survive a restart")
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sortedStrings(out)
}

func sortedStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// fixBatches patches the framing of data: each batch's length to what is
// left (when it claims more), its base offset to follow the previous one
// from start, its CRC to match. Bytes too short for a header are dropped.
func fixBatches(data []byte, start int64) []byte {
	out := append([]byte(nil), data...)
	next := start
	for pos := 0; len(out)-pos >= record.HeaderSize; {
		b := out[pos:]
		length := int64(int32(binary.BigEndian.Uint32(b[record.BatchLengthOffset:])))
		if length < record.HeaderSize-record.LogOverhead || length+record.LogOverhead > int64(len(b)) {
			binary.BigEndian.PutUint32(b[record.BatchLengthOffset:], uint32(len(b)-record.LogOverhead))
			length = int64(len(b) - record.LogOverhead)
		}
		size := length + record.LogOverhead
		record.SetBaseOffset(b, next)
		binary.BigEndian.PutUint32(b[record.CRCOffset:], record.ComputeCRC(b[:size]))
		h, _ := record.ParseHeader(b)
		if h.LastOffsetDelta >= 0 && h.LastOffsetDelta < 1<<20 {
			next = h.NextOffset()
		}
		pos += int(size)
		if len(out)-pos < record.HeaderSize {
			out = out[:pos]
		}
	}
	if len(out) < record.HeaderSize {
		return out[:0]
	}
	return out
}

// FuzzTruncateTo: a sequence of operations read from the input (appends as
// leader and follower, truncations to points anywhere in and around the
// log, full truncations, become-leader epochs) against a model of the
// batches the log holds. After each: the log holds exactly the model's
// batches, its end offset is the model's, indexes and epoch cache agree
// with the records; at the end the same holds after a clean restart, and
// after a power cut for a prefix of it that keeps every batch below the
// last truncation point.
func FuzzTruncateTo(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 1, 40, 0, 1, 2, 7, 1, 0})
	f.Add([]byte{0, 9, 0, 9, 0, 9, 0, 9, 0, 9, 0, 9, 1, 128, 0, 4, 1, 200, 3, 0})
	f.Add([]byte{0, 5, 2, 20, 0, 5, 4, 1, 1, 3, 0, 9})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		mem := vfs.NewMem()
		m := openTestManager(t, mem, "data")
		defer func() { m.Close() }()
		l, err := m.Create(followerTP, [16]byte{1}, followerConfig())
		if err != nil {
			t.Fatal(err)
		}
		var model [][]byte // the batches the log holds, in order
		start, leo := int64(0), int64(0)
		epoch := int32(0)
		seq := int64(0)
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%5, int64(ops[i+1])
			switch op {
			case 0, 4: // appends: as leader (0), as follower (4)
				seq++
				b := makeBatch(1+int(arg%4), 20+int(arg)*2, 1_700_000_000_000+seq)
				if op == 0 {
					if _, err := l.Append(b, AppendOptions{LeaderEpoch: epoch}); err != nil {
						t.Fatal(err)
					}
				} else {
					b = stamped(b, leo, epoch)
					res, err := l.AppendAsFollower(b)
					if err != nil {
						t.Fatal(err)
					}
					if err := l.WaitDurable(context.Background(), res.LastOffset+1); err != nil {
						t.Fatal(err)
					}
				}
				model = append(model, b)
				leo = mustHeaderB(b).NextOffset()
			case 1: // truncate to a point around the log
				to := max(start+arg-20, 0)
				firstBase := l.segmentsBase()
				if err := l.TruncateTo(to); err != nil {
					t.Fatal(err)
				}
				switch {
				case to >= leo:
				case to < firstBase:
					model, start, leo = nil, to, to
				default:
					n := 0
					for n < len(model) && mustHeaderB(model[n]).LastOffset() < to {
						n++
					}
					leo = to
					if n < len(model) {
						leo = min(to, mustHeaderB(model[n]).BaseOffset)
					}
					model = model[:n]
					start = min(start, leo)
				}
			case 2: // truncate fully at a point past or before the log
				to := max(start+arg-10, 0)
				if err := l.TruncateFullyAndStartAt(to); err != nil {
					t.Fatal(err)
				}
				model, start, leo = nil, to, to
			case 3: // become leader of a new epoch
				epoch += 1 + int32(arg%3)
				if _, err := l.BeginLeaderEpoch(epoch); err != nil {
					t.Fatal(err)
				}
			}
			label := fmt.Sprintf("op %d (%d %d)", i/2, op, arg)
			if l.LogStartOffset() != start || l.LogEndOffset() != leo {
				t.Fatalf("%s: log [%d, %d), the model [%d, %d)", label, l.LogStartOffset(), l.LogEndOffset(), start, leo)
			}
			checkAgainstModel(t, l, model, label)
		}
		want := readRaw(t, l, l.LogStartOffset())
		crashed := mem.CrashClone(vfs.CrashOptions{})
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		for i, fsys := range []vfs.FS{mem, crashed} {
			m = openTestManager(t, fsys, "data")
			var ok bool
			if l, ok = m.Get(followerTP); !ok {
				// A partition is created without fsyncs: only its first
				// data makes it durable.
				if i == 0 || len(want) > 0 {
					t.Fatalf("log missing (%d bytes were acknowledged)", len(want))
				}
				m.Close()
				continue
			}
			got := readRaw(t, l, l.LogStartOffset())
			if i == 0 && (!bytes.Equal(got, want) || l.LogEndOffset() != leo) {
				t.Fatalf("after a restart the log differs (end %d, was %d)", l.LogEndOffset(), leo)
			}
			if i == 1 && !bytes.HasPrefix(want, got) {
				t.Fatalf("after a power cut the log is not a prefix of what it was")
			}
			if err := checkLogConsistent(l); err != nil {
				t.Fatal(err)
			}
			m.Close()
		}
	})
}

// segmentsBase is the first segment's base offset.
func (l *Log) segmentsBase() int64 { return l.segments()[0].base }

// checkAgainstModel checks the log holds exactly model's batches (those at
// or above its log start offset), that its end offset is past them, and
// that it is consistent.
func checkAgainstModel(t *testing.T, l *Log, model [][]byte, label string) {
	t.Helper()
	var want []byte
	lso := l.LogStartOffset()
	for _, b := range model {
		if mustHeaderB(b).LastOffset() >= lso {
			want = append(want, b...)
		}
	}
	if got := readRaw(t, l, lso); !bytes.Equal(got, want) {
		t.Fatalf("%s: log [%d, %d) holds %d bytes, the model %d", label, lso, l.LogEndOffset(), len(got), len(want))
	}
	if n := len(model); n > 0 && l.LogEndOffset() < mustHeaderB(model[n-1]).NextOffset() {
		t.Fatalf("%s: log end %d before the last batch's end", label, l.LogEndOffset())
	}
	if err := checkLogConsistent(l); err != nil {
		t.Fatalf("%s: %v", label, err)
	}
}
