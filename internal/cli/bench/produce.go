package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deliveryTimeout bounds how long one record may take before it counts as
// failed, so a run against a dead cluster ends.
const deliveryTimeout = 2 * time.Minute

// ProduceResult is what [Produce] measured.
type ProduceResult struct {
	Topic       string  `json:"topic"`
	Partitions  int     `json:"partitions"`
	RecordSize  int     `json:"record_size"`
	Producers   int     `json:"producers"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	Target      float64 `json:"target_records_per_sec"` // -1: unlimited

	Records        int64   `json:"records"` // acknowledged
	Errors         int64   `json:"errors"`
	Bytes          int64   `json:"bytes"` // value bytes acknowledged
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"` // MiB (2^20 bytes) per second, as the Java tool
	Latency        Latency `json:"latency"`
	FirstError     string  `json:"first_error,omitempty"`
	Interrupted    bool    `json:"interrupted,omitempty"`
}

// Text renders r for people, in the manner of kafka-producer-perf-test.
func (r *ProduceResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency\n",
		cli.Plural(r.Records, "record"), r.RecordsPerSec, r.MBPerSec, r.Latency.Avg, r.Latency.Max)
	fmt.Fprintf(&b, "latency percentiles: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n",
		r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.P999)
	fmt.Fprintf(&b, "topic %q: %s, %d-byte records, acks=%s, compression=%s, %s, %.2f s\n",
		r.Topic, cli.Plural(r.Partitions, "partition"), r.RecordSize, r.Acks, r.Compression, cli.Plural(r.Producers, "producer"), r.ElapsedSeconds)
	if r.Errors > 0 {
		fmt.Fprintf(&b, "%s failed; first error: %s\n", cli.Plural(r.Errors, "record"), r.FirstError)
	}
	return b.String()
}

// Payload returns size random upper-case letters, the value every benchmark
// record carries (as kafka-producer-perf-test does): compressible like text,
// not trivially like zeros.
func Payload(size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	p := make([]byte, size)
	for i := range p {
		p[i] = byte('A' + r.IntN(26))
	}
	return p
}

// produceRun is the state shared by a run's producers.
type produceRun struct {
	hist   *Histogram
	win    window
	sent   atomic.Int64 // acknowledged
	failed atomic.Int64

	errOnce  sync.Once
	firstErr error
}

func (r *produceRun) done(size int64, start time.Time, err error) {
	if err != nil {
		r.failed.Add(1)
		r.errOnce.Do(func() { r.firstErr = err })
		return
	}
	lat := time.Since(start)
	r.sent.Add(1)
	r.hist.Record(lat)
	r.win.add(size, lat)
}

// Produce runs the producer benchmark described by cfg. On interruption
// (ctx done) it stops sending, waits for records in flight, and returns
// the partial result with ctx's error.
func Produce(ctx context.Context, cfg ProduceConfig) (*ProduceResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	parts, err := ensureTopic(ctx, cfg.Client, cfg.Topic, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	n := cfg.producers()
	opts := append(cfg.ProducerSettings.kgoOpts(), kgo.RecordDeliveryTimeout(deliveryTimeout))
	clients := make([]*kgo.Client, 0, n)
	defer func() {
		for _, cl := range clients {
			cl.Close()
		}
	}()
	for range n {
		cl, err := cli.Dial(ctx, cfg.Client, opts...)
		if err != nil {
			return nil, err
		}
		clients = append(clients, cl)
	}

	run := &produceRun{hist: NewHistogram()}
	payload := Payload(cfg.RecordSize, 1)
	size := int64(cfg.RecordSize)
	start := time.Now()
	run.win.started = start

	rctx, stopReports := context.WithCancel(ctx)
	reported := reportEvery(rctx, reportInterval(cfg.ReportInterval), cfg.Progress, func(now time.Time) string {
		c, b, avg, mx, el := run.win.take(now)
		rps, mbs := rates(c, b, el)
		return fmt.Sprintf("%s sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency",
			cli.Plural(c, "record"), rps, mbs, ms(avg), ms(mx))
	})

	var wg sync.WaitGroup
	for i, cl := range clients {
		share := cfg.NumRecords / int64(n)
		if int64(i) < cfg.NumRecords%int64(n) {
			share++
		}
		rate := cfg.Throughput
		if rate > 0 {
			rate /= float64(n)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			th := newThrottle(rate, start)
			// The client's own cost per record is part of every figure: the
			// send time is the record's timestamp, so one clock read and
			// one shared promise serve each record. (Reusing delivered
			// records was tried: it saves the allocation but costs more in
			// cache misses than the collector did.)
			promise := func(r *kgo.Record, err error) { run.done(size, r.Timestamp, err) }
			for j := range share {
				if th.wait(ctx, j) != nil {
					break
				}
				cl.Produce(ctx, &kgo.Record{Topic: cfg.Topic, Value: payload, Timestamp: time.Now()}, promise)
			}
			// Records handed over are delivered or time out; wait for
			// all of them even when interrupted, so counts add up.
			_ = cl.Flush(context.Background())
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopReports()
	<-reported

	res := &ProduceResult{
		Topic:          cfg.Topic,
		Partitions:     parts,
		RecordSize:     cfg.RecordSize,
		Producers:      n,
		Acks:           orString(cfg.Acks, "all"),
		Compression:    orString(cfg.Compression, "none"),
		Target:         targetRate(cfg.Throughput),
		Records:        run.sent.Load(),
		Errors:         run.failed.Load(),
		ElapsedSeconds: elapsed.Seconds(),
		Latency:        run.hist.Summary(),
	}
	res.Bytes = res.Records * size
	res.RecordsPerSec, res.MBPerSec = rates(res.Records, res.Bytes, elapsed)
	if run.firstErr != nil {
		res.FirstError = cli.TopicError(cfg.Topic, run.firstErr, "", cfg.Client).Error()
	}
	if ctx.Err() != nil {
		res.Interrupted = true
		return res, ctx.Err()
	}
	if res.Errors > 0 {
		return res, cli.Sentencef(run.firstErr, "%d of %d records failed: %s", res.Errors, res.Errors+res.Records, res.FirstError)
	}
	return res, nil
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return strings.ToLower(s)
}

func targetRate(t float64) float64 {
	if t <= 0 {
		return -1
	}
	return t
}
