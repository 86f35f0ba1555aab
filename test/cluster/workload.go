package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// WorkloadOptions describe a Workload. Zero values take the defaults named.
type WorkloadOptions struct {
	Topic      string // "chaos"
	Partitions int    // 6
	// RF and MinISR are the topic's replication factor and
	// min.insync.replicas: 3 and 2.
	RF, MinISR int
	// Producers is the number of idempotent acks=all producers, each a
	// client of its own: 4. Rate is their records per second, all of them
	// together: 400.
	Producers, Rate int
	// Transactions adds a transactional writer: transactions of 4 records,
	// every third aborted, about 20 a second.
	Transactions bool
	// Members is the number of group members reading read_committed: 2.
	Members int
}

// ErrReplicationRefused is what StartWorkload returns, wrapped, when the
// cluster refuses the topic's replication factor (INVALID_REPLICATION_FACTOR).
var ErrReplicationRefused = errors.New("replication factor refused")

// Workload drives a topic with idempotent acks=all producers (and, if
// asked, a transactional writer) and reads it with a read_committed
// consumer group, recording all of it in a History. Stop ends it with a
// full read from the start.
type Workload struct {
	c    *Cluster
	t    testing.TB
	opts WorkloadOptions
	adm  *kadm.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // producers and the transactional writer
	rwg    sync.WaitGroup // group members and the offsets poller
	rstop  context.CancelFunc
	prods  []*kgo.Client

	mu sync.Mutex
	h  History
}

// StartWorkload creates the topic (an error wrapping ErrReplicationRefused
// when the cluster refuses its replication factor), waits until every
// partition has a leader and starts the producers and the group.
func StartWorkload(t testing.TB, c *Cluster, opts WorkloadOptions) (*Workload, error) {
	t.Helper()
	if opts.Topic == "" {
		opts.Topic = "chaos"
	}
	opts.Partitions = cmpOr(opts.Partitions, 6)
	opts.RF = cmpOr(opts.RF, 3)
	opts.MinISR = cmpOr(opts.MinISR, 2)
	opts.Producers = cmpOr(opts.Producers, 4)
	opts.Rate = cmpOr(opts.Rate, 400)
	opts.Members = cmpOr(opts.Members, 2)

	w := &Workload{c: c, t: t, opts: opts, adm: c.Admin(t)}
	w.h = History{Topic: opts.Topic, Partitions: opts.Partitions, Aborted: map[string]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	minISR := strconv.Itoa(opts.MinISR)
	resp, err := w.adm.CreateTopic(ctx, int32(opts.Partitions), int16(opts.RF), map[string]*string{"min.insync.replicas": &minISR}, opts.Topic)
	if err == nil {
		err = resp.Err
	}
	if errors.Is(err, kerr.InvalidReplicationFactor) {
		return nil, fmt.Errorf("%w: create %s with replication factor %d: %v (%s)", ErrReplicationRefused, opts.Topic, opts.RF, err, resp.ErrMessage)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %v", opts.Topic, err)
	}
	if _, err := w.Settle(60 * time.Second); err != nil {
		return nil, err
	}

	w.ctx, w.cancel = context.WithCancel(context.Background())
	t.Cleanup(w.cancel)
	for i := range opts.Producers {
		w.startProducer(i)
	}
	if opts.Transactions {
		w.wg.Add(1)
		go w.transactions()
	}
	rctx, rstop := context.WithCancel(context.Background())
	w.rstop = rstop
	t.Cleanup(rstop)
	for i := range opts.Members {
		w.rwg.Add(1)
		go w.member(rctx, i+1)
	}
	w.rwg.Add(1)
	go w.pollCommitted(rctx)
	return w, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Options are the workload's options, defaults filled in.
func (w *Workload) Options() WorkloadOptions { return w.opts }

// batchHook records every batch a node acknowledged.
type batchHook struct{ w *Workload }

func (h batchHook) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, p int32, m kgo.ProduceBatchMetrics) {
	h.w.mu.Lock()
	h.w.h.Batches = append(h.w.h.Batches, BatchAck{Partition: p, Node: int(meta.NodeID), Records: m.NumRecords, At: time.Now()})
	h.w.mu.Unlock()
}

// producerOpts are the options of every producing client: acks=all,
// metadata refreshed at most every 250 ms, records placed by the workload.
func (w *Workload) producerOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.WithHooks(batchHook{w}),
	}
}

// startProducer starts idempotent producer i: Rate/Producers records a
// second, spread over the partitions in turn.
func (w *Workload) startProducer(i int) {
	cl := w.c.Client(w.t, w.producerOpts()...)
	w.prods = append(w.prods, cl)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		every := time.Second * time.Duration(w.opts.Producers) / time.Duration(w.opts.Rate)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-w.ctx.Done():
				return
			case <-tick.C:
			}
			id := fmt.Sprintf("p%d:%d", i, seq)
			p := int32((seq + i) % w.opts.Partitions)
			cl.Produce(context.Background(), &kgo.Record{Topic: w.opts.Topic, Partition: p, Value: []byte(id)}, w.promise(id))
		}
	}()
}

// promise records a produce's outcome.
func (w *Workload) promise(id string) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		now := time.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			w.h.Errors = append(w.h.Errors, ProduceError{ID: id, Partition: r.Partition, At: now, Err: err.Error()})
			return
		}
		w.h.Acked = append(w.h.Acked, Ack{ID: id, Partition: r.Partition, Offset: r.Offset, At: now})
	}
}

// transactions writes transactions of 4 records, one to each of 4
// partitions in turn, committing two in three and aborting the third. A
// transaction that fails is aborted, or its writer replaced (which fences
// and aborts it); only committed transactions count as acknowledged.
func (w *Workload) transactions() {
	defer w.wg.Done()
	newWriter := func() *kgo.Client {
		return w.c.Client(w.t, append(w.producerOpts(),
			kgo.TransactionalID("chaos-writer-"+w.opts.Topic),
			kgo.TransactionTimeout(10*time.Second))...)
	}
	cl := newWriter()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	seq := 0
	for txn := 0; ; txn++ {
		select {
		case <-w.ctx.Done():
			cl.Close()
			return
		case <-tick.C:
		}
		commit := txn%3 != 2
		if err := cl.BeginTransaction(); err != nil {
			cl.Close()
			cl = newWriter()
			continue
		}
		type written struct {
			id  string
			r   *kgo.Record
			err error
		}
		recs := make([]written, 4)
		var pw sync.WaitGroup
		for k := range recs {
			id := fmt.Sprintf("t0:%d", seq)
			seq++
			recs[k].id = id
			if !commit {
				w.mu.Lock()
				w.h.Aborted[id] = true
				w.mu.Unlock()
			}
			pw.Add(1)
			cl.Produce(w.ctx, &kgo.Record{Topic: w.opts.Topic, Partition: int32((seq + txn) % w.opts.Partitions), Value: []byte(id)},
				func(r *kgo.Record, err error) { recs[k].r, recs[k].err = r, err; pw.Done() })
		}
		pw.Wait()
		for _, r := range recs {
			if r.err != nil {
				commit = false
			}
		}
		ectx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cl.EndTransaction(ectx, kgo.TransactionEndTry(commit))
		if err != nil && commit {
			// Unconfirmed: it may have committed; abort by reloading the
			// producer id, as kgo documents.
			commit = false
			err = cl.EndTransaction(ectx, kgo.TryAbort)
		}
		cancel()
		if err != nil {
			cl.Close()
			cl = newWriter() // fences and aborts what is still open
			continue
		}
		if commit {
			now := time.Now()
			w.mu.Lock()
			for _, r := range recs {
				w.h.Acked = append(w.h.Acked, Ack{ID: r.id, Partition: r.r.Partition, Offset: r.r.Offset, At: now})
			}
			w.mu.Unlock()
		}
	}
}

// group is the consumer group's name.
func (w *Workload) group() string { return "chaos-group-" + w.opts.Topic }

// member is group member i: it reads read_committed, records every record
// and commits what it read after every poll, before it lets a rebalance
// take its partitions.
func (w *Workload) member(ctx context.Context, i int) {
	defer w.rwg.Done()
	by := fmt.Sprintf("member %d", i)
	cl := w.c.Client(w.t,
		kgo.ConsumerGroup(w.group()),
		kgo.ConsumeTopics(w.opts.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 1000)
		var reads []Read
		fs.EachRecord(func(r *kgo.Record) {
			reads = append(reads, Read{ID: string(r.Value), Partition: r.Partition, Offset: r.Offset, By: by})
		})
		w.mu.Lock()
		w.h.Reads = append(w.h.Reads, reads...)
		w.mu.Unlock()
		if len(reads) > 0 {
			w.commit(cl, by)
		}
		cl.AllowRebalance()
	}
}

// commit commits what the member read and records the offsets the group
// coordinator took.
func (w *Workload) commit(cl *kgo.Client, by string) {
	offsets := cl.UncommittedOffsets()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			return
		}
		end := time.Now()
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode == 0 {
					o := offsets[t.Topic][p.Partition]
					w.h.Commits = append(w.h.Commits, CommitObs{Partition: p.Partition, Offset: o.Offset, Start: start, End: end, By: "commit by " + by})
				}
			}
		}
	})
}

// pollCommitted asks for the group's committed offsets every 200 ms.
func (w *Workload) pollCommitted(ctx context.Context) {
	defer w.rwg.Done()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		w.fetchCommitted()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (w *Workload) fetchCommitted() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := w.adm.FetchOffsets(ctx, w.group())
	if err != nil {
		return
	}
	end := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == w.opts.Topic {
			w.h.Commits = append(w.h.Commits, CommitObs{Partition: o.Partition, Offset: o.At, Start: start, End: end, By: "FetchOffsets"})
		}
	})
}

// Acks is how many records have been acknowledged so far.
func (w *Workload) Acks() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.h.Acked)
}

// Errors is how many produce errors reached the application so far.
func (w *Workload) Errors() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.h.Errors)
}

// WaitReads waits, at most timeout, until the group has read n more
// records than now (it takes some seconds to form).
func (w *Workload) WaitReads(n int, timeout time.Duration) error {
	w.mu.Lock()
	want := len(w.h.Reads) + n
	w.mu.Unlock()
	return Poll(timeout, func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if got := len(w.h.Reads); got < want {
			return fmt.Errorf("the group read %d of %d records", got, want)
		}
		return nil
	})
}

// WaitAcks waits, at most timeout, until n more records than now are
// acknowledged.
func (w *Workload) WaitAcks(n int, timeout time.Duration) error {
	want := w.Acks() + n
	return Poll(timeout, func() error {
		if got := w.Acks(); got < want {
			return fmt.Errorf("%d of %d acknowledgements", got, want)
		}
		return nil
	})
}

// firstBatchAfter is when the first batch of partition p acknowledged
// after t came, from a node not in excl unless it came at or after
// healed; ok false when none has yet.
func (w *Workload) firstBatchAfter(p int32, t, healed time.Time, excl []int) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return firstBatchAfter(w.h.Batches, p, t, healed, excl)
}

// Stop ends the workload and returns its history: the producers stop and
// flush, an end marker is written to every partition, the group reads up
// to every marker and stops, and a new consumer reads every partition from
// the start to its marker (read_committed). The test fails if any of that
// does not finish within two minutes a step.
func (w *Workload) Stop() *History {
	t := w.t
	t.Helper()
	w.cancel()
	w.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, cl := range w.prods {
		if err := cl.Flush(ctx); err != nil {
			t.Errorf("workload: flushing a producer: %v", err)
		}
	}

	// End markers, through the first producer.
	markers := map[int32]int64{}
	for p := range int32(w.opts.Partitions) {
		id := fmt.Sprintf("end:%d", p)
		r, err := w.prods[0].ProduceSync(ctx, &kgo.Record{Topic: w.opts.Topic, Partition: p, Value: []byte(id)}).First()
		w.promise(id)(r, err)
		if err != nil {
			t.Fatalf("workload: end marker of partition %d: %v", p, err)
		}
		markers[p] = r.Offset
	}
	if err := Poll(2*time.Minute, func() error { return w.reached(markers) }); err != nil {
		t.Errorf("workload: the group did not read everything: %v", err)
	}
	w.rstop()
	w.rwg.Wait()
	w.fetchCommitted()

	final := w.finalRead(ctx, markers)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.h.Final = final
	h := w.h
	return &h
}

// reached is nil once the group has read every partition's marker.
func (w *Workload) reached(markers map[int32]int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := map[int32]bool{}
	for _, r := range w.h.Reads {
		if r.Offset == markers[r.Partition] {
			got[r.Partition] = true
		}
	}
	for p, o := range markers {
		if !got[p] {
			return fmt.Errorf("partition %d: no read of its end marker at offset %d", p, o)
		}
	}
	return nil
}

// finalRead reads every partition from the start up to its marker with a
// new read_committed consumer.
func (w *Workload) finalRead(ctx context.Context, markers map[int32]int64) []Read {
	t := w.t
	t.Helper()
	parts := map[int32]kgo.Offset{}
	for p := range markers {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cl := w.c.Client(t,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.opts.Topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	defer cl.Close()
	var out []Read
	done := map[int32]bool{}
	for len(done) < len(markers) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("workload: final read: %d of %d partitions read to their end marker before %v", len(done), len(markers), ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, Read{ID: string(r.Value), Partition: r.Partition, Offset: r.Offset, By: "final read"})
			if r.Offset >= markers[r.Partition] {
				done[r.Partition] = true
			}
		})
	}
	return out
}
