package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// lines returns "<prefix>-<i>" for i in [from, to), one per line.
func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.String()
}

func decodeJSON(t *testing.T, out string) []format.JSONRecord {
	t.Helper()
	var recs []format.JSONRecord
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var j format.JSONRecord
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("bad JSON line %q: %v", l, err)
		}
		recs = append(recs, j)
	}
	return recs
}

func TestProduceConsumeEveryCodec(t *testing.T) {
	addr := broker(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			name := topicName(t)
			ok(t, addr, "", "topic", "create", name, "--partitions", "3")
			const n = 300
			var in strings.Builder
			for i := range n {
				fmt.Fprintf(&in, "key-%d:value-%d:with:colons\n", i%7, i)
			}
			r := ok(t, addr, in.String(), "produce", name, "--key-separator", ":", "--header", "source=test",
				"--header", "codec="+codec, "--compression", codec)
			if want := fmt.Sprintf("%d records sent to %q, 0 failed", n, name); !strings.Contains(r.stderr, want) {
				t.Fatalf("produce summary %q, want %q", r.stderr, want)
			}
			r = ok(t, addr, "", "consume", name, "--from-beginning", "--count", strconv.Itoa(n), "--format", "json")
			recs := decodeJSON(t, r.stdout)
			if len(recs) != n {
				t.Fatalf("consumed %d records, want %d", len(recs), n)
			}
			seen := map[string]bool{}
			last := map[int32]int64{}
			for _, j := range recs {
				if j.Topic != name || j.Key == nil || j.Value == nil {
					t.Fatalf("bad record %+v", j)
				}
				i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(*j.Value, "value-"), ":with:colons"))
				if err != nil {
					t.Fatalf("unexpected value %q", *j.Value)
				}
				if *j.Key != fmt.Sprintf("key-%d", i%7) {
					t.Fatalf("record %d has key %q", i, *j.Key)
				}
				if len(j.Headers) != 2 || j.Headers[0].Key != "source" || *j.Headers[0].Value != "test" || *j.Headers[1].Value != codec {
					t.Fatalf("headers %+v", j.Headers)
				}
				if prev, ok := last[j.Partition]; ok && j.Offset <= prev {
					t.Fatalf("partition %d: offset %d after %d", j.Partition, j.Offset, prev)
				}
				last[j.Partition] = j.Offset
				if seen[*j.Value] {
					t.Fatalf("duplicate %q", *j.Value)
				}
				seen[*j.Value] = true
				if j.Timestamp <= 0 {
					t.Fatalf("record without timestamp: %+v", j)
				}
			}
			// Same key, same partition: per-key order is the produce order.
			byKey := map[string]int32{}
			for _, j := range recs {
				if p, ok := byKey[*j.Key]; ok && p != j.Partition {
					t.Fatalf("key %s in partitions %d and %d", *j.Key, p, j.Partition)
				}
				byKey[*j.Key] = j.Partition
			}
		})
	}
}

func TestProduceAcksAndNullKeys(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, lines("a", 0, 5), "produce", name, "--acks", "1")
	ok(t, addr, lines("b", 0, 5), "produce", name, "--acks", "all", "--idempotent=false")
	ok(t, addr, "tab\tin\n\nlast-without-newline", "produce", name, "--key-separator", "\t")
	r := ok(t, addr, "", "consume", name, "--from-beginning", "-n", "13", "--print-key", "--key-separator", "|")
	want := lines("null|a", 0, 5) + lines("null|b", 0, 5) + "tab|in\nnull|\nnull|last-without-newline\n"
	if r.stdout != want {
		t.Fatalf("got\n%s\nwant\n%s", r.stdout, want)
	}
}

func TestProduceAcksZero(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, lines("z", 0, 10), "produce", name, "--acks", "0")
	r := ok(t, addr, "", "consume", name, "--from-beginning", "-n", "10")
	if r.stdout != lines("z", 0, 10) {
		t.Fatalf("acks=0 records: got\n%s", r.stdout)
	}
}

func TestConsumeStartPositions(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "2")
	ok(t, addr, lines("p1", 0, 10), "produce", name, "--partition", "1")

	r := ok(t, addr, "", "consume", name, "--partition", "1", "--offset", "5", "-n", "3")
	if r.stdout != lines("p1", 5, 8) {
		t.Fatalf("--offset 5: got %q", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--partition", "1", "--offset", "-2", "-n", "2")
	if r.stdout != lines("p1", 8, 10) {
		t.Fatalf("--offset -2: got %q", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--partition", "0", "--from-beginning", "--idle-timeout", "300ms")
	if r.stdout != "" || !strings.Contains(r.stderr, "Consumed 0 records.") {
		t.Fatalf("empty partition 0: got %q / %q", r.stdout, r.stderr)
	}
	fails(t, addr, "", `topic "`+name+`" has no partition 7`, "consume", name, "--partition", "7")

	// --from-time: the first record at or after a time, by ListOffsets.
	r = ok(t, addr, "", "consume", name, "--partition", "1", "--offset", "9", "-n", "1", "--format", "json")
	lastTS := decodeJSON(t, r.stdout)[0].Timestamp
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().UnixMilli() <= lastTS && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the next batch must get a later timestamp
	}
	ok(t, addr, lines("later", 0, 3), "produce", name, "--partition", "1")
	r = ok(t, addr, "", "consume", name, "--from-time", strconv.FormatInt(lastTS+1, 10), "-n", "3")
	if r.stdout != lines("later", 0, 3) {
		t.Fatalf("--from-time ms: got %q", r.stdout)
	}
	rfc := time.UnixMilli(lastTS + 1).UTC().Format(time.RFC3339Nano)
	r = ok(t, addr, "", "consume", name, "--from-time", rfc, "-n", "1", "--partition", "1")
	if r.stdout != "later-0\n" {
		t.Fatalf("--from-time %s: got %q", rfc, r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--from-time", "0", "-n", "1", "--partition", "1")
	if r.stdout != "p1-0\n" {
		t.Fatalf("--from-time 0: got %q", r.stdout)
	}
}

func TestConsumeMissingTopic(t *testing.T) {
	addr := broker(t)
	fails(t, addr, "", `topic "no-such-topic-here" does not exist`, "consume", "no-such-topic-here")
}

// signalWriter reports the first write on a channel.
type signalWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	first chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.once.Do(func() { close(w.first) })
	return len(p), nil
}

func TestConsumeFromEndAndInterrupt(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, "old\n", "produce", name)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &signalWriter{first: make(chan struct{})}
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-b", addr, "consume", name}, strings.NewReader(""), out, io.Discard)
	}()
	// The consumer starts at the end, so "old" is never printed. Keep
	// producing until the consumer shows a new record, then interrupt it.
	deadline := time.After(30 * time.Second)
	for i := 0; ; i++ {
		ok(t, addr, fmt.Sprintf("new-%d\n", i), "produce", name)
		select {
		case <-out.first:
		case <-time.After(200 * time.Millisecond):
			continue
		case <-deadline:
			t.Fatal("consumer printed nothing in 30s")
		}
		break
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("interrupted consume exited %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consume did not stop after interrupt")
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	if got := out.buf.String(); strings.Contains(got, "old") || !strings.HasPrefix(got, "new-") {
		t.Fatalf("from-end consumer printed %q", got)
	}
}

func TestProduceRecordErrors(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1", "--config", "max.message.bytes=1024")
	// One record alone in its batch: the broker judges whole batches.
	r := samsa(strings.Repeat("x", 4096)+"\n", "-b", addr, "produce", name, "--acks", "1")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"samsa: line 1: topic \"" + name + "\": ", "MESSAGE_TOO_LARGE", "0 records sent", "1 failed", "samsa: the record failed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	assertSentence(t, r.stderr)
}

// background runs a command in-process until it exits, with stdout and
// stderr that report their first write.
type background struct {
	stdout, stderr *signalWriter
	done           chan int
	cancel         context.CancelFunc
}

func startBackground(t *testing.T, addr string, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	b := &background{
		stdout: &signalWriter{first: make(chan struct{})},
		stderr: &signalWriter{first: make(chan struct{})},
		done:   make(chan int, 1),
		cancel: cancel,
	}
	go func() {
		b.done <- run(ctx, append([]string{"-b", addr}, args...), strings.NewReader(""), b.stdout, b.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// wait returns what the command printed once it exits with code 0.
func (b *background) wait(t *testing.T) (stdout, stderr string) {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code // for the cleanup
		b.stdout.mu.Lock()
		b.stderr.mu.Lock()
		defer b.stdout.mu.Unlock()
		defer b.stderr.mu.Unlock()
		if code != 0 {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, b.stdout.buf.String(), b.stderr.buf.String())
		}
		return b.stdout.buf.String(), b.stderr.buf.String()
	case <-time.After(60 * time.Second):
		t.Fatal("the command did not finish in 60s")
	}
	return "", ""
}

func TestConsumeOffsetOutsideLog(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, lines("o", 0, 10), "produce", name)

	// Past the end, --reset latest (the default): start at the end, say so,
	// and print the next record, never offset 0.
	b := startBackground(t, addr, "consume", name, "--offset", "500", "-n", "1")
	<-b.stderr.first // the sentence, printed once the start offsets are fixed
	ok(t, addr, "new\n", "produce", name)
	out, errOut := b.wait(t)
	if out != "new\n" {
		t.Fatalf("--offset 500 --reset latest printed %q", out)
	}
	want := `Offset 500 is past the end of topic "` + name + `" partition 0 (10); starting at the end (offset 10), as --reset latest says.`
	if !strings.Contains(errOut, want) {
		t.Fatalf("stderr %q lacks %q", errOut, want)
	}

	// Past the end, --reset earliest: from the beginning, and said so.
	r := ok(t, addr, "", "consume", name, "--offset", "500", "--reset", "earliest", "-n", "3")
	want = `Offset 500 is past the end of topic "` + name + `" partition 0 (11); starting at the beginning (offset 0), as --reset earliest says.`
	if r.stdout != lines("o", 0, 3) || !strings.Contains(r.stderr, want) {
		t.Fatalf("--offset 500 --reset earliest: %q / %q", r.stdout, r.stderr)
	}

	// The last 50 of 11 records are those 11, without a word.
	r = ok(t, addr, "", "consume", name, "--offset", "-50", "-n", "11")
	if r.stdout != lines("o", 0, 10)+"new\n" || strings.Contains(r.stderr, "--reset") {
		t.Fatalf("--offset -50: %q / %q", r.stdout, r.stderr)
	}

	// Without a start flag, --reset earliest starts at the beginning (as
	// auto.offset.reset does for a consumer without a committed offset).
	r = ok(t, addr, "", "consume", name, "--reset", "earliest", "-n", "1")
	if r.stdout != "o-0\n" {
		t.Fatalf("--reset earliest: %q", r.stdout)
	}
}

func TestConsumeOffsetBeforeLogStart(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, lines("o", 0, 10), "produce", name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs := kadm.Offsets{}
	offs.AddOffset(name, 0, 5, -1)
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("delete records: %v", err)
	}

	r := ok(t, addr, "", "consume", name, "--offset", "2", "--reset", "earliest", "-n", "1")
	want := `Offset 2 is before the start of topic "` + name + `" partition 0 (5); starting at the beginning (offset 5), as --reset earliest says.`
	if r.stdout != "o-5\n" || !strings.Contains(r.stderr, want) {
		t.Fatalf("--offset 2 --reset earliest: %q / %q", r.stdout, r.stderr)
	}
	b := startBackground(t, addr, "consume", name, "--offset", "2", "-n", "1")
	<-b.stderr.first
	ok(t, addr, "new\n", "produce", name)
	out, errOut := b.wait(t)
	want = `Offset 2 is before the start of topic "` + name + `" partition 0 (5); starting at the end (offset 10), as --reset latest says.`
	if out != "new\n" || !strings.Contains(errOut, want) {
		t.Fatalf("--offset 2 --reset latest: %q / %q", out, errOut)
	}
	// A negative offset reaching before the log start starts at the log start.
	r = ok(t, addr, "", "consume", name, "--offset", "-8", "-n", "1")
	if r.stdout != "o-5\n" {
		t.Fatalf("--offset -8: %q", r.stdout)
	}
}

// produceAt sends records with the given values, partitions and
// timestamps (Unix milliseconds), through franz-go directly.
func produceAt(t *testing.T, addr, topic string, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}}, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, r := range recs {
		r.Topic = topic
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func rec(partition int32, ms int64, value string) *kgo.Record {
	return &kgo.Record{Partition: partition, Timestamp: time.UnixMilli(ms), Value: []byte(value)}
}

func TestConsumeExitAtEnd(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "3")
	ok(t, addr, lines("p0", 0, 10), "produce", name, "--partition", "0")
	ok(t, addr, lines("p1", 0, 5), "produce", name, "--partition", "1")
	// Partition 2 stays empty: it is at its end from the start.

	r := ok(t, addr, "", "consume", name, "--from-beginning", "-e")
	if !sameLines(r.stdout, lines("p0", 0, 10)+lines("p1", 0, 5)) {
		t.Fatalf("-e --from-beginning printed\n%s", r.stdout)
	}
	for _, want := range []string{"Reached the end of every partition; stopping.", "Consumed 15 records."} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("stderr %q lacks %q", r.stderr, want)
		}
	}
	r = ok(t, addr, "", "consume", name, "--partition", "0", "--offset", "7", "--exit-at-end")
	if r.stdout != lines("p0", 7, 10) {
		t.Fatalf("-e --offset 7 printed %q", r.stdout)
	}
	// At the end already: nothing to read, and no waiting.
	r = ok(t, addr, "", "consume", name, "-e")
	if r.stdout != "" || !strings.Contains(r.stderr, "Consumed 0 records.") {
		t.Fatalf("-e at the end: %q / %q", r.stdout, r.stderr)
	}
}

func TestConsumeGroupExitAtEnd(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	group := name + "-group"
	ok(t, addr, "", "topic", "create", name, "--partitions", "3")
	ok(t, addr, lines("p0", 0, 10), "produce", name, "--partition", "0")
	ok(t, addr, lines("p1", 0, 5), "produce", name, "--partition", "1")

	r := ok(t, addr, "", "consume", name, "--group", group, "--reset", "earliest", "-e")
	if !sameLines(r.stdout, lines("p0", 0, 10)+lines("p1", 0, 5)) {
		t.Fatalf("first run printed\n%s", r.stdout)
	}
	ok(t, addr, lines("p1", 5, 7), "produce", name, "--partition", "1")
	r = ok(t, addr, "", "consume", name, "--group", group, "-e")
	if r.stdout != lines("p1", 5, 7) {
		t.Fatalf("second run printed %q", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--group", group, "-e")
	if r.stdout != "" || !strings.Contains(r.stderr, "Reached the end of every partition") {
		t.Fatalf("third run: %q / %q", r.stdout, r.stderr)
	}
}

func TestConsumeUntil(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "3")
	base := time.Now().Add(-time.Hour).UnixMilli()
	produceAt(t, addr, name,
		rec(0, base, "u-0"), rec(0, base+1000, "u-1"), rec(0, base+2000, "u-2"), rec(0, base+3000, "u-3"),
		rec(1, base+500, "v-0"), rec(1, base+2500, "v-1"),
		// Out of order: reading stops at the first record at or after
		// --until, even though an earlier timestamp follows.
		rec(2, base+3000, "w-0"), rec(2, base+1000, "w-1"),
	)
	before := "u-0\nu-1\nv-0\n"

	r := ok(t, addr, "", "consume", name, "--from-beginning", "--until", strconv.FormatInt(base+1500, 10))
	if !sameLines(r.stdout, before) {
		t.Fatalf("--until ms printed\n%s", r.stdout)
	}
	if want := fmt.Sprintf("Reached --until %d in every partition; stopping.", base+1500); !strings.Contains(r.stderr, want) {
		t.Fatalf("stderr %q lacks %q", r.stderr, want)
	}
	// A record stamped exactly at --until is not printed.
	rfc := time.UnixMilli(base + 2000).UTC().Format(time.RFC3339Nano)
	r = ok(t, addr, "", "consume", name, "--from-beginning", "--until", rfc)
	if !sameLines(r.stdout, before) {
		t.Fatalf("--until %s printed\n%s", rfc, r.stdout)
	}
	// With -e too, whichever comes first.
	r = ok(t, addr, "", "consume", name, "--partition", "0", "--offset", "1", "-e", "--until", strconv.FormatInt(base+2500, 10))
	if r.stdout != "u-1\nu-2\n" {
		t.Fatalf("-e --until printed %q", r.stdout)
	}
	// A time still to come: everything so far, then a stop when it comes.
	until := time.Now().Add(time.Second)
	r = ok(t, addr, "", "consume", name, "--from-beginning", "--until", until.UTC().Format(time.RFC3339Nano))
	if !sameLines(r.stdout, "u-0\nu-1\nu-2\nu-3\nv-0\nv-1\nw-0\nw-1\n") || time.Now().Before(until) {
		t.Fatalf("--until in a second printed\n%s", r.stdout)
	}
}

func TestConsumeGroupUntil(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	group := name + "-group"
	ok(t, addr, "", "topic", "create", name, "--partitions", "2")
	base := time.Now().Add(-time.Hour).UnixMilli()
	produceAt(t, addr, name,
		rec(0, base, "u-0"), rec(0, base+1000, "u-1"), rec(0, base+2000, "u-2"),
		rec(1, base+500, "v-0"), rec(1, base+2500, "v-1"),
	)
	r := ok(t, addr, "", "consume", name, "--group", group, "--reset", "earliest", "--until", strconv.FormatInt(base+1500, 10))
	if !sameLines(r.stdout, "u-0\nu-1\nv-0\n") {
		t.Fatalf("--group --until printed\n%s", r.stdout)
	}
	// What was not printed was not committed either.
	r = ok(t, addr, "", "consume", name, "--group", group, "-e")
	if !sameLines(r.stdout, "u-2\nv-1\n") {
		t.Fatalf("the next run printed\n%s", r.stdout)
	}
}

func TestConsumeSeveralTopicsAndRegex(t *testing.T) {
	addr := broker(t)
	base := topicName(t)
	a, b, pay := base+"-orders-a", base+"-orders-b", base+"-payments"
	ok(t, addr, "", "topic", "create", a, "--partitions", "2")
	ok(t, addr, "", "topic", "create", b, "--partitions", "1")
	ok(t, addr, "", "topic", "create", pay, "--partitions", "1")
	ok(t, addr, lines("a", 0, 3), "produce", a, "--partition", "1")
	ok(t, addr, lines("b", 0, 3), "produce", b)
	ok(t, addr, lines("pay", 0, 3), "produce", pay)

	r := ok(t, addr, "", "consume", a, b, "--from-beginning", "-e", "--format", "json")
	if len(decodeJSON(t, r.stdout)) != 6 {
		t.Fatalf("two topics: %s", r.stdout)
	}
	byTopic := map[string]int{}
	for _, j := range decodeJSON(t, r.stdout) {
		byTopic[j.Topic]++
	}
	if byTopic[a] != 3 || byTopic[b] != 3 {
		t.Fatalf("records by topic: %v", byTopic)
	}

	r = ok(t, addr, "", "consume", "--regex", base+"-orders-.*", "--from-beginning", "-e")
	if !sameLines(r.stdout, lines("a", 0, 3)+lines("b", 0, 3)) {
		t.Fatalf("--regex orders-.* printed\n%s", r.stdout)
	}
	// Several patterns; each matches whole names only.
	r = ok(t, addr, "", "consume", "--regex", base+"-orders-b", base+"-pay", "pay.*", base+"-pay.*", "--from-beginning", "-e")
	if !sameLines(r.stdout, lines("b", 0, 3)+lines("pay", 0, 3)) {
		t.Fatalf("--regex with several patterns printed\n%s", r.stdout)
	}
	fails(t, addr, "", "no topic matches "+base+"-orders", "consume", "--regex", base+"-orders")
	fails(t, addr, "", `topic "`+base+`-missing" does not exist`, "consume", a, base+"-missing")
	fails(t, addr, "", `topic "`+b+`" has no partition 1`, "consume", a, b, "--partition", "1")
}

func TestConsumeGroupRegex(t *testing.T) {
	addr := broker(t)
	base := topicName(t)
	a, pay := base+"-orders-a", base+"-payments"
	ok(t, addr, "", "topic", "create", a, "--partitions", "2")
	ok(t, addr, "", "topic", "create", pay, "--partitions", "1")
	ok(t, addr, lines("a", 0, 3), "produce", a, "--partition", "0")
	ok(t, addr, lines("pay", 0, 3), "produce", pay)
	r := ok(t, addr, "", "consume", "--regex", base+"-(orders-.*|payments)", "--group", base, "--reset", "earliest", "-e")
	if !sameLines(r.stdout, lines("a", 0, 3)+lines("pay", 0, 3)) {
		t.Fatalf("--group --regex printed\n%s", r.stdout)
	}
}

// txnProducer is a franz-go transactional producer on the test cluster.
func txnProducer(t *testing.T, ctx context.Context, addr, id string) *kgo.Client {
	t.Helper()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}},
		kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// inTxn produces values to partition 0 of topic in one transaction and
// commits or aborts it.
func inTxn(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, end kgo.TransactionEndTry, values ...string) {
	t.Helper()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatal(err)
	}
}

func TestConsumeReadCommitted(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	txn := txnProducer(t, ctx, addr, name+"-txn")
	inTxn(t, ctx, txn, name, kgo.TryCommit, "committed-0", "committed-1")
	inTxn(t, ctx, txn, name, kgo.TryAbort, "aborted-0", "aborted-1")
	ok(t, addr, "plain-0\n", "produce", name)
	// The log ends with an abort marker: -e must still see the end.
	inTxn(t, ctx, txn, name, kgo.TryAbort, "aborted-2")

	all := "committed-0\ncommitted-1\naborted-0\naborted-1\nplain-0\naborted-2\n"
	r := ok(t, addr, "", "consume", name, "--from-beginning", "-e")
	if r.stdout != all {
		t.Fatalf("read_uncommitted (the default) printed\n%s", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e", "--isolation-level", "read_uncommitted")
	if r.stdout != all {
		t.Fatalf("read_uncommitted printed\n%s", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e", "--isolation-level", "read_committed")
	if r.stdout != "committed-0\ncommitted-1\nplain-0\n" || !strings.Contains(r.stderr, "Consumed 3 records.") {
		t.Fatalf("read_committed printed %q / %q", r.stdout, r.stderr)
	}

	// An open transaction: read_committed stops at the last stable
	// offset, before it; read_uncommitted shows its record.
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx, &kgo.Record{Topic: name, Value: []byte("open-0")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	defer txn.EndTransaction(ctx, kgo.TryAbort)
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e", "--isolation-level", "read_committed")
	if r.stdout != "committed-0\ncommitted-1\nplain-0\n" {
		t.Fatalf("read_committed with an open transaction printed %q", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e")
	if r.stdout != all+"open-0\n" {
		t.Fatalf("read_uncommitted with an open transaction printed %q", r.stdout)
	}
}
