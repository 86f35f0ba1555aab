package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// E2EResult is what [EndToEnd] measured.
type E2EResult struct {
	Topic       string  `json:"topic"`
	Partitions  int     `json:"partitions"`
	RecordSize  int     `json:"record_size"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	Target      float64 `json:"target_records_per_sec"`

	Sent           int64   `json:"sent"`
	Received       int64   `json:"received"`
	ProduceErrors  int64   `json:"produce_errors"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"` // received
	MBPerSec       float64 `json:"mb_per_sec"`
	// Latency from the send call to delivery to the consumer.
	Latency Latency `json:"latency"`
	// ProduceLatency from the send call to the acknowledgement.
	ProduceLatency Latency `json:"produce_latency"`
	TimedOut       bool    `json:"timed_out,omitempty"`
	Interrupted    bool    `json:"interrupted,omitempty"`
}

// Text renders r for people.
func (r *E2EResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s sent, %d received, %.1f records/sec (%.2f MB/sec)\n",
		cli.Plural(r.Sent, "record"), r.Received, r.RecordsPerSec, r.MBPerSec)
	fmt.Fprintf(&b, "end-to-end latency: avg %.2f ms, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		r.Latency.Avg, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max)
	fmt.Fprintf(&b, "produce latency:    avg %.2f ms, p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
		r.ProduceLatency.Avg, r.ProduceLatency.P50, r.ProduceLatency.P99, r.ProduceLatency.P999, r.ProduceLatency.Max)
	fmt.Fprintf(&b, "topic %q: %s, %d-byte records, acks=%s, compression=%s\n",
		r.Topic, cli.Plural(r.Partitions, "partition"), r.RecordSize, r.Acks, r.Compression)
	if r.ProduceErrors > 0 {
		fmt.Fprintf(&b, "%s failed to produce\n", cli.Plural(r.ProduceErrors, "record"))
	}
	return b.String()
}

// EndToEnd runs the end-to-end latency benchmark described by cfg.
func EndToEnd(ctx context.Context, cfg E2EConfig) (*E2EResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nparts, err := ensureTopic(ctx, cfg.Client, cfg.Topic, cfg.Partitions)
	if err != nil {
		return nil, err
	}

	// Pin the consumer to the current end offsets before producing, so no
	// record sent by this run is missed and none from earlier runs is read.
	meta, err := cli.Dial(ctx, cfg.Client)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, cfg.Client.EffectiveTimeout())
	ends, err := cli.Admin(meta).ListEndOffsets(mctx, cfg.Topic)
	cancel()
	meta.Close()
	if err != nil {
		return nil, cli.Explain(err, cfg.Client)
	}
	start := map[int32]kgo.Offset{}
	var listErr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && listErr == nil {
			listErr = cli.TopicError(cfg.Topic, o.Err, "", cfg.Client)
		}
		start[o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	if listErr != nil {
		return nil, listErr
	}
	consumer, err := cli.Dial(ctx, cfg.Client,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: start}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	producer, err := cli.Dial(ctx, cfg.Client, append(cfg.ProducerSettings.kgoOpts(), kgo.RecordDeliveryTimeout(deliveryTimeout))...)
	if err != nil {
		return nil, err
	}
	defer producer.Close()

	e2e, prod := NewHistogram(), NewHistogram()
	var win window
	began := time.Now()
	win.started = began
	rctx, stopReports := context.WithCancel(ctx)
	reported := reportEvery(rctx, reportInterval(cfg.ReportInterval), cfg.Progress, func(now time.Time) string {
		c, _, avg, mx, el := win.take(now)
		rps, _ := rates(c, 0, el)
		return fmt.Sprintf("%s received, %.1f records/sec, %.1f ms avg end-to-end latency, %.1f ms max", cli.Plural(c, "record"), rps, ms(avg), ms(mx))
	})

	// The producer runs alongside the consumer loop below.
	var (
		mu      sync.Mutex
		sent    int64
		failed  int64
		prodErr error
	)
	pctx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	producing := make(chan struct{})
	go func() {
		defer close(producing)
		th := newThrottle(cfg.Throughput, began)
		payload := Payload(cfg.RecordSize, 1)
		for i := range cfg.NumRecords {
			if th.wait(pctx, i) != nil {
				break
			}
			v := make([]byte, cfg.RecordSize)
			copy(v, payload)
			t0 := time.Now()
			binary.BigEndian.PutUint64(v, uint64(t0.UnixNano()))
			producer.Produce(pctx, &kgo.Record{Topic: cfg.Topic, Value: v}, func(_ *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					if prodErr == nil {
						prodErr = err
					}
					return
				}
				sent++
				prod.Record(time.Since(t0))
			})
		}
		_ = producer.Flush(context.Background())
	}()

	res := &E2EResult{
		Topic: cfg.Topic, Partitions: nparts, RecordSize: cfg.RecordSize,
		Acks: orString(cfg.Acks, "all"), Compression: orString(cfg.Compression, "none"),
		Target: targetRate(cfg.Throughput),
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	var last time.Time
	var fetchErr error
	for res.Received < cfg.NumRecords {
		fctx, cancel := context.WithTimeout(ctx, timeout)
		fetches := consumer.PollFetches(fctx)
		now := time.Now()
		cancel()
		if ctx.Err() != nil {
			res.Interrupted = true
			break
		}
		fetches.EachError(func(t string, _ int32, err error) {
			if fetchErr == nil && !isContextErr(err) {
				fetchErr = cli.TopicError(t, err, "", cfg.Client)
			}
		})
		if fetchErr != nil {
			break
		}
		if fetches.NumRecords() == 0 && fctx.Err() != nil {
			res.TimedOut = true
			break
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if len(r.Value) < 8 {
				return // not ours
			}
			sentAt := time.Unix(0, int64(binary.BigEndian.Uint64(r.Value)))
			lat := now.Sub(sentAt)
			e2e.Record(lat)
			win.add(int64(len(r.Value)), lat)
			res.Received++
		})
		last = now
	}
	stopProducing()
	<-producing
	stopReports()
	<-reported
	if last.IsZero() {
		last = time.Now()
	}
	elapsed := last.Sub(began)
	mu.Lock()
	res.Sent, res.ProduceErrors = sent, failed
	firstProdErr := prodErr
	mu.Unlock()
	res.ElapsedSeconds = elapsed.Seconds()
	res.RecordsPerSec, res.MBPerSec = rates(res.Received, res.Received*int64(cfg.RecordSize), elapsed)
	res.Latency, res.ProduceLatency = e2e.Summary(), prod.Summary()
	switch {
	case fetchErr != nil:
		return res, fetchErr
	case res.Interrupted:
		return res, ctx.Err()
	case firstProdErr != nil:
		return res, cli.Sentencef(firstProdErr, "%s failed to produce: %v", cli.Plural(res.ProduceErrors, "record"), cli.TopicError(cfg.Topic, firstProdErr, "", cfg.Client))
	case res.TimedOut:
		return res, cli.Sentencef(nil, "stopped after %d of %d records: no record for %v", res.Received, cfg.NumRecords, timeout)
	}
	return res, nil
}
