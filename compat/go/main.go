// Command compat-go runs the compatibility scenarios for the Go Kafka
// clients franz-go, sarama, segmentio/kafka-go and (built with -tags
// confluent, which needs cgo) confluent-kafka-go against a broker:
//
//	COMPAT_BOOTSTRAP=127.0.0.1:9092 go run . -client sarama produce   # in compat/go, its own module
//
// The scenario logic lives here once; each client supplies the primitives in
// its own file (franz.go, sarama.go, kafkago.go, confluent.go). Like every scenario program
// of the suite it prints one last line "ok: ...", "fail: ..." or "n/a: ..."
// and exits 0, 1 or 3; compat/cmd/matrix runs it and builds the matrix.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rec is a record as the scenarios see it, whatever the client.
type rec struct {
	Key, Value string
	Headers    map[string]string
	Partition  int32
	Offset     int64
}

func (r rec) String() string { return r.Key + "=" + r.Value }

// client is what a Go Kafka library offers the scenarios. A method that the
// library cannot do returns an error wrapping errNA with the reason.
type client interface {
	Codecs() []string
	CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error
	ListTopics(ctx context.Context) ([]string, error)
	// DescribePartitions returns the replicas (broker ids) of each of the
	// topic's partitions, in no particular order.
	DescribePartitions(ctx context.Context, topic string) ([][]int32, error)
	DescribeConfig(ctx context.Context, topic, key string) (string, error)
	DeleteTopic(ctx context.Context, topic string) error
	// Produce sends recs with the codec ("" for the client's default) and
	// returns them with the partition and offset each was written at.
	Produce(ctx context.Context, topic, codec string, idempotent bool, recs []rec) ([]rec, error)
	// ReadAll reads every partition from the beginning until want records
	// arrived (plus a short grace to catch extras) or ctx ends.
	ReadAll(ctx context.Context, topic string, readCommitted bool, want int) ([]rec, error)
	NewMember(group, topic string, kip848 bool) (member, error)
	NewTxnProducer(txnID string) (txnProducer, error)
	// Lacks tells, before anything is created, that the client has no
	// way to run a scenario (an error wrapping errNA), or nil.
	Lacks(scenario string) error
}

// member is one consumer group member polling in its own goroutine.
type member interface {
	Values() map[string]int // value -> times seen
	Assigned() int          // partitions currently assigned; -1 if the client cannot tell
	Err() error             // the first error the poll loop met
	StopPolling()           // stops fetching; the member stays in the group
	Commit(ctx context.Context) error
	Close()
}

type txnProducer interface {
	Begin() error
	Produce(ctx context.Context, topic string, recs []rec) error
	End(ctx context.Context, commit bool) error
	Close()
}

var errNA = errors.New("not available")

func naf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errNA}, args...)...)
}

var (
	bootstrap = env("COMPAT_BOOTSTRAP", "127.0.0.1:9092")
	runID     = env("COMPAT_RUN", strconv.FormatInt(time.Now().UnixNano(), 36))
	wait      = func() time.Duration {
		s, _ := strconv.Atoi(env("COMPAT_WAIT_SECONDS", "25"))
		return time.Duration(s) * time.Second
	}()
	// replicationFactor is what every scenario creates its topics with:
	// COMPAT_RF, 3 against a 3-node cluster.
	replicationFactor = func() int16 {
		n, err := strconv.Atoi(env("COMPAT_RF", "1"))
		if err != nil || n < 1 {
			return 1
		}
		return int16(n)
	}()
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	name := flag.String("client", "franz-go", "franz-go, sarama, kafka-go or confluent-kafka-go")
	flag.Parse()
	if flag.NArg() != 1 {
		finish("", fmt.Errorf("usage: compat-go -client NAME admin|produce|consume|group|group-consumer|idempotent|txn"))
	}
	var cl client
	switch *name {
	case "franz-go":
		cl = newFranz()
	case "sarama":
		cl = newSarama()
	case "kafka-go":
		cl = newKafkaGo()
	case "confluent-kafka-go":
		var err error
		if cl, err = newConfluent(); err != nil {
			finish("", err)
		}
	default:
		finish("", fmt.Errorf("unknown client %q", *name))
	}
	s := &scenarios{cl: cl, prefix: "compat-" + *name + "-"}
	run := map[string]func(context.Context) (string, error){
		"version": func(context.Context) (string, error) {
			if *name == "confluent-kafka-go" {
				return confluentVersion(), nil
			}
			return moduleVersion(*name), nil
		},
		"admin":          s.admin,
		"produce":        s.produce,
		"consume":        s.consume,
		"group":          func(ctx context.Context) (string, error) { return s.group(ctx, false) },
		"group-consumer": func(ctx context.Context) (string, error) { return s.group(ctx, true) },
		"idempotent":     s.idempotent,
		"txn":            s.txn,
	}[flag.Arg(0)]
	if run == nil {
		finish("", fmt.Errorf("unknown scenario %q", flag.Arg(0)))
	}
	if err := cl.Lacks(flag.Arg(0)); err != nil {
		finish("", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*wait)
	defer cancel()
	finish(run(ctx))
}

// moduleVersion is the version of the client's module in this binary.
func moduleVersion(name string) string {
	path := map[string]string{"franz-go": "github.com/twmb/franz-go", "sarama": "github.com/IBM/sarama", "kafka-go": "github.com/segmentio/kafka-go",
		"confluent-kafka-go": "github.com/confluentinc/confluent-kafka-go/v2"}[name]
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return "(unknown version)"
}

// finish prints the verdict line and exits with its code.
func finish(detail string, err error) {
	switch {
	case err == nil:
		fmt.Println("ok: " + detail)
		os.Exit(0)
	case errors.Is(err, errNA):
		msg := err.Error()
		if i := strings.Index(msg, errNA.Error()+": "); i >= 0 {
			msg = msg[i+len(errNA.Error())+2:]
		}
		fmt.Println("n/a: " + msg)
		os.Exit(3)
	default:
		fmt.Println("fail: " + strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
}

type scenarios struct {
	cl     client
	prefix string
}

func (s *scenarios) topic(name string) string { return s.prefix + name + "-" + runID }

func (s *scenarios) create(ctx context.Context, topic string, partitions int32) error {
	if err := s.cl.CreateTopic(ctx, topic, partitions, nil); err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

func (s *scenarios) admin(ctx context.Context) (string, error) {
	topic := s.topic("admin")
	if err := s.cl.CreateTopic(ctx, topic, 3, map[string]string{"retention.ms": "3600000"}); err != nil {
		return "", fmt.Errorf("create topic: %w", err)
	}
	// In a cluster the broker asked may learn of the topic a moment after
	// the controller created it (as in Kafka, where CreateTopics does not
	// wait for every broker's metadata): each look is retried within WAIT.
	err := eventually(ctx, func() error {
		names, err := s.cl.ListTopics(ctx)
		if err == nil && !contains(names, topic) {
			err = errors.New("created topic missing from the topic list")
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("list topics: %w", err)
	}
	var parts [][]int32
	if err := eventually(ctx, func() (err error) { parts, err = s.cl.DescribePartitions(ctx, topic); return err }); err != nil {
		return "", fmt.Errorf("describe topic: %w", err)
	}
	if len(parts) != 3 {
		return "", fmt.Errorf("describe topic: %d partitions, want 3", len(parts))
	}
	for _, replicas := range parts {
		if distinct(replicas) != int(replicationFactor) {
			return "", fmt.Errorf("describe topic: a partition's replicas are %v, want %d distinct brokers (COMPAT_RF)", replicas, replicationFactor)
		}
	}
	var v string
	if err := eventually(ctx, func() (err error) { v, err = s.cl.DescribeConfig(ctx, topic, "retention.ms"); return err }); err != nil {
		return "", fmt.Errorf("describe configs: %w", err)
	}
	if v != "3600000" {
		return "", fmt.Errorf("describe configs: retention.ms=%q, want 3600000", v)
	}
	if err := s.cl.DeleteTopic(ctx, topic); err != nil {
		return "", fmt.Errorf("delete topic: %w", err)
	}
	err = poll(ctx, func() (bool, error) {
		names, err := s.cl.ListTopics(ctx)
		return err == nil && !contains(names, topic), nil
	})
	if err != nil {
		return "", errors.New("deleted topic still listed")
	}
	return fmt.Sprintf("create, list, describe (%d replicas each), describe configs, delete", replicationFactor), nil
}

func (s *scenarios) produce(ctx context.Context) (string, error) {
	topic := s.topic("produce")
	if err := s.create(ctx, topic, 1); err != nil {
		return "", err
	}
	var want []rec
	for _, codec := range s.cl.Codecs() {
		batch := make([]rec, 10)
		for i := range batch {
			batch[i] = rec{Key: "k" + strconv.Itoa(i), Value: codec + "-" + strconv.Itoa(i)}
		}
		if _, err := s.cl.Produce(ctx, topic, codec, false, batch); err != nil {
			return "", fmt.Errorf("produce with %s: %w", codec, err)
		}
		want = append(want, batch...)
	}
	got, err := s.cl.ReadAll(ctx, topic, false, len(want))
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if err := sameInOrder(want, got); err != nil {
		return "", err
	}
	return strings.Join(s.cl.Codecs(), ","), nil
}

func (s *scenarios) consume(ctx context.Context) (string, error) {
	topic := s.topic("consume")
	if err := s.create(ctx, topic, 3); err != nil {
		return "", err
	}
	recs := make([]rec, 30)
	for i := range recs {
		recs[i] = rec{Key: "key-" + strconv.Itoa(i%7), Value: "value-" + strconv.Itoa(i), Headers: map[string]string{"idx": strconv.Itoa(i)}}
	}
	sent, err := s.cl.Produce(ctx, topic, "", false, recs)
	if err != nil {
		return "", fmt.Errorf("produce: %w", err)
	}
	got, err := s.cl.ReadAll(ctx, topic, false, len(sent))
	if err != nil {
		return "", fmt.Errorf("consume: %w", err)
	}
	key := func(r rec) string { return fmt.Sprintf("%d/%d", r.Partition, r.Offset) }
	body := func(r rec) string { return r.Key + "|" + r.Value + "|" + r.Headers["idx"] }
	wantBy := map[string]string{}
	for _, r := range sent {
		wantBy[key(r)] = body(r)
	}
	gotBy := map[string]string{}
	for _, r := range got {
		gotBy[key(r)] = body(r)
	}
	for k, w := range wantBy {
		if gotBy[k] != w {
			return "", fmt.Errorf("at partition/offset %s read %q, want %q (%d read, %d sent)", k, gotBy[k], w, len(got), len(sent))
		}
	}
	if len(got) != len(sent) {
		return "", fmt.Errorf("read %d records, sent %d", len(got), len(sent))
	}
	return "30 records over 3 partitions, keys, values, headers and offsets match", nil
}

func (s *scenarios) group(ctx context.Context, kip848 bool) (string, error) {
	proto := "classic"
	if kip848 {
		proto = "consumer"
	}
	topic := s.topic("group-" + proto)
	group := s.prefix + proto + "-" + runID
	if err := s.create(ctx, topic, 4); err != nil {
		return "", err
	}
	a, err := s.cl.NewMember(group, topic, kip848)
	if err != nil {
		return "", err
	}
	defer a.Close()
	b, err := s.cl.NewMember(group, topic, kip848)
	if err != nil {
		return "", err
	}
	defer b.Close()
	if a.Assigned() >= 0 {
		err := poll(ctx, func() (bool, error) {
			return a.Assigned() > 0 && b.Assigned() > 0 && a.Assigned()+b.Assigned() == 4, firstErr(a.Err(), b.Err())
		})
		if err != nil {
			return "", fmt.Errorf("two members did not split the 4 partitions (a=%d, b=%d): %w", a.Assigned(), b.Assigned(), err)
		}
	}
	if err := s.produceValues(ctx, topic, 0, 40); err != nil {
		return "", err
	}
	err = poll(ctx, func() (bool, error) {
		return len(union(a.Values(), b.Values())) == 40, firstErr(a.Err(), b.Err())
	})
	if err != nil {
		return "", fmt.Errorf("group consumed %d of 40 records: %w", len(union(a.Values(), b.Values())), err)
	}
	if len(a.Values()) == 0 || len(b.Values()) == 0 {
		return "", fmt.Errorf("one member consumed nothing (a=%d, b=%d records)", len(a.Values()), len(b.Values()))
	}
	a.StopPolling()
	b.StopPolling()
	if err := a.Commit(ctx); err != nil {
		return "", fmt.Errorf("commit member a: %w", err)
	}
	if err := b.Commit(ctx); err != nil {
		return "", fmt.Errorf("commit member b: %w", err)
	}
	a.Close()
	b.Close()
	if err := s.produceValues(ctx, topic, 40, 50); err != nil {
		return "", err
	}
	c, err := s.cl.NewMember(group, topic, kip848)
	if err != nil {
		return "", err
	}
	defer c.Close()
	err = poll(ctx, func() (bool, error) { return len(c.Values()) >= 10, c.Err() })
	if err != nil {
		return "", fmt.Errorf("resumed member read %d of the 10 new records: %w", len(c.Values()), err)
	}
	time.Sleep(500 * time.Millisecond) // a record beyond the ten would show up here
	if got := sortedKeys(c.Values()); len(got) != 10 || got[0] != "value-40" || got[9] != "value-49" {
		return "", fmt.Errorf("resumed member read %d records %s, want the 10 produced after the commit", len(got), sample(got))
	}
	return "2 members split 4 partitions, committed, a new member resumed at the commit", nil
}

func (s *scenarios) produceValues(ctx context.Context, topic string, from, to int) error {
	var recs []rec
	for i := from; i < to; i++ {
		recs = append(recs, rec{Key: "k" + strconv.Itoa(i), Value: "value-" + strconv.Itoa(i)})
	}
	if _, err := s.cl.Produce(ctx, topic, "", false, recs); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

func (s *scenarios) idempotent(ctx context.Context) (string, error) {
	topic := s.topic("idempotent")
	if err := s.create(ctx, topic, 1); err != nil {
		return "", err
	}
	recs := make([]rec, 100)
	for i := range recs {
		recs[i] = rec{Key: "k" + strconv.Itoa(i), Value: "value-" + strconv.Itoa(i)}
	}
	sent, err := s.cl.Produce(ctx, topic, "", true, recs)
	if err != nil {
		return "", fmt.Errorf("produce: %w", err)
	}
	for i, r := range sent {
		if r.Offset != int64(i) {
			return "", fmt.Errorf("record %d acknowledged at offset %d", i, r.Offset)
		}
	}
	got, err := s.cl.ReadAll(ctx, topic, false, len(recs))
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if err := sameInOrder(recs, got); err != nil {
		return "", err
	}
	return "100 records, offsets 0..99, no duplicates", nil
}

func (s *scenarios) txn(ctx context.Context) (string, error) {
	topic := s.topic("txn")
	if err := s.create(ctx, topic, 1); err != nil {
		return "", err
	}
	p, err := s.cl.NewTxnProducer(s.prefix + "txn-" + runID)
	if err != nil {
		return "", err
	}
	defer p.Close()
	var want []rec
	for _, t := range []struct {
		name   string
		commit bool
	}{{"commit1", true}, {"abort", false}, {"commit2", true}} {
		if err := p.Begin(); err != nil {
			return "", fmt.Errorf("begin %s: %w", t.name, err)
		}
		recs := make([]rec, 5)
		for i := range recs {
			recs[i] = rec{Key: "k" + strconv.Itoa(i), Value: t.name + "-" + strconv.Itoa(i)}
		}
		if err := p.Produce(ctx, topic, recs); err != nil {
			return "", fmt.Errorf("produce in %s: %w", t.name, err)
		}
		if err := p.End(ctx, t.commit); err != nil {
			return "", fmt.Errorf("end %s: %w", t.name, err)
		}
		if t.commit {
			want = append(want, recs...)
		}
	}
	got, err := s.cl.ReadAll(ctx, topic, true, len(want))
	if err != nil {
		return "", fmt.Errorf("read_committed: %w", err)
	}
	if err := sameInOrder(want, got); err != nil {
		return "", fmt.Errorf("read_committed: %w", err)
	}
	return "commit, abort, commit; read_committed sees only the 10 committed", nil
}

// ---- helpers ----

// poll calls cond until it reports done, returns an error, or the wait passes.
func poll(ctx context.Context, cond func() (bool, error)) error {
	deadline := time.Now().Add(wait)
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// eventually calls f until it returns nil, for at most WAIT, and returns
// its last error.
func eventually(ctx context.Context, f func() error) error {
	var last error
	err := poll(ctx, func() (bool, error) {
		last = f()
		return last == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("%w (still after %v)", last, wait)
	}
	return err
}

func sameInOrder(want, got []rec) error {
	for i := 0; i < max(len(want), len(got)); i++ {
		w, g := "nothing", "nothing"
		if i < len(want) {
			w = want[i].String()
		}
		if i < len(got) {
			g = got[i].String()
		}
		if w != g {
			return fmt.Errorf("record %d is %s, want %s (%d read, %d expected)", i, g, w, len(got), len(want))
		}
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func union(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(out[i], "value-"))
		b, _ := strconv.Atoi(strings.TrimPrefix(out[j], "value-"))
		return a < b
	})
	return out
}

func sample(l []string) string {
	if len(l) > 4 {
		return "[" + strings.Join(l[:4], " ") + " ...]"
	}
	return "[" + strings.Join(l, " ") + "]"
}

// values is a goroutine-safe record of what a member consumed.
type values struct {
	mu       sync.Mutex
	seen     map[string]int
	assigned int
	err      error
}

func (v *values) add(value string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.seen == nil {
		v.seen = map[string]int{}
	}
	v.seen[value]++
}

func (v *values) Values() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.seen))
	for k, n := range v.seen {
		out[k] = n
	}
	return out
}

func (v *values) setAssigned(delta int) {
	v.mu.Lock()
	v.assigned += delta
	v.mu.Unlock()
}

func (v *values) Assigned() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.assigned
}

func (v *values) fail(err error) {
	v.mu.Lock()
	if v.err == nil {
		v.err = err
	}
	v.mu.Unlock()
}

func (v *values) Err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// distinct is the number of distinct values in ids.
func distinct(ids []int32) int {
	seen := map[int32]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	return len(seen)
}
