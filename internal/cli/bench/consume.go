package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumeResult is what [Consume] measured.
type ConsumeResult struct {
	Topic      string `json:"topic"`
	Partitions int    `json:"partitions"`
	Group      string `json:"group,omitempty"`

	Records          int64   `json:"records"`
	Bytes            int64   `json:"bytes"` // key and value bytes, as the Java tool
	ElapsedSeconds   float64 `json:"elapsed_seconds"`
	FirstRecordMs    float64 `json:"first_record_ms"` // from start to the first record (includes any group join)
	RecordsPerSec    float64 `json:"records_per_sec"`
	MBPerSec         float64 `json:"mb_per_sec"` // MiB per second
	FetchResponses   int64   `json:"fetch_responses"`
	FetchBytes       int64   `json:"fetch_response_bytes"` // bytes read off the wire in Fetch responses
	TimedOut         bool    `json:"timed_out,omitempty"`
	Interrupted      bool    `json:"interrupted,omitempty"`
	RequestedRecords int64   `json:"requested_records"`
}

// Text renders r for people.
func (r *ConsumeResult) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s consumed, %.1f records/sec (%.2f MB/sec), %.2f MB in %.2f s\n",
		cli.Plural(r.Records, "record"), r.RecordsPerSec, r.MBPerSec, float64(r.Bytes)/(1<<20), r.ElapsedSeconds)
	fmt.Fprintf(&b, "%s (%.2f MB on the wire), first record after %.1f ms\n",
		cli.Plural(r.FetchResponses, "fetch response"), float64(r.FetchBytes)/(1<<20), r.FirstRecordMs)
	fmt.Fprintf(&b, "topic %q: %s", r.Topic, cli.Plural(r.Partitions, "partition"))
	if r.Group != "" {
		fmt.Fprintf(&b, ", group %q", r.Group)
	}
	b.WriteString("\n")
	return b.String()
}

// fetchCounter counts Fetch responses through a client hook.
type fetchCounter struct {
	responses atomic.Int64
	bytes     atomic.Int64
}

var _ kgo.HookBrokerRead = (*fetchCounter)(nil)

func (f *fetchCounter) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	if key == kmsg.Fetch.Int16() && err == nil {
		f.responses.Add(1)
		f.bytes.Add(int64(n))
	}
}

// Consume runs the consumer benchmark described by cfg: it reads
// cfg.Messages records from the start of the topic and stops early when no
// record arrives for cfg.Timeout (returning the partial result and an
// error) or when ctx is done.
func Consume(ctx context.Context, cfg ConsumeConfig) (*ConsumeResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	meta, err := cli.Dial(ctx, cfg.Client)
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, cfg.Client.EffectiveTimeout())
	parts, err := existingPartitions(mctx, cli.Admin(meta), cfg.Client, cfg.Topic)
	cancel()
	meta.Close()
	if err != nil {
		return nil, err
	}

	fc := &fetchCounter{}
	opts := []kgo.Opt{kgo.WithHooks(fc)}
	if cfg.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(cfg.FetchMaxBytes))
	}
	if cfg.FetchMaxPartitionBytes > 0 {
		opts = append(opts, kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes))
	}
	if cfg.Group != "" {
		opts = append(opts,
			kgo.ConsumerGroup(cfg.Group),
			kgo.ConsumeTopics(cfg.Topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		)
	} else {
		m := make(map[int32]kgo.Offset, len(parts))
		for _, p := range parts {
			m[p] = kgo.NewOffset().AtStart()
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: m}))
	}
	cl, err := cli.Dial(ctx, cfg.Client, opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	res := &ConsumeResult{Topic: cfg.Topic, Partitions: len(parts), Group: cfg.Group, RequestedRecords: cfg.Messages}
	var win window
	start := time.Now()
	win.started = start
	rctx, stopReports := context.WithCancel(ctx)
	reported := reportEvery(rctx, reportInterval(cfg.ReportInterval), cfg.Progress, func(now time.Time) string {
		c, b, _, _, el := win.take(now)
		rps, mbs := rates(c, b, el)
		return fmt.Sprintf("%s consumed, %.1f records/sec (%.2f MB/sec)", cli.Plural(c, "record"), rps, mbs)
	})

	var last time.Time
	var fetchErr error
	for res.Records < cfg.Messages {
		pctx, cancel := context.WithTimeout(ctx, cfg.timeout())
		fetches := cl.PollFetches(pctx)
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
		if fetches.NumRecords() == 0 && pctx.Err() != nil {
			res.TimedOut = true
			break
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if res.Records >= cfg.Messages {
				return
			}
			if res.Records == 0 {
				res.FirstRecordMs = ms(time.Since(start))
			}
			n := int64(len(r.Key) + len(r.Value))
			res.Records++
			res.Bytes += n
			win.add(n, 0)
		})
		last = time.Now()
	}
	stopReports()
	<-reported
	if last.IsZero() {
		last = time.Now()
	}
	elapsed := last.Sub(start)
	res.ElapsedSeconds = elapsed.Seconds()
	res.RecordsPerSec, res.MBPerSec = rates(res.Records, res.Bytes, elapsed)
	res.FetchResponses = fc.responses.Load()
	res.FetchBytes = fc.bytes.Load()
	switch {
	case fetchErr != nil:
		return res, fetchErr
	case res.Interrupted:
		return res, ctx.Err()
	case res.TimedOut:
		return res, cli.Sentencef(nil, "stopped after %d of %d records: no record for %v", res.Records, cfg.Messages, cfg.timeout())
	}
	return res, nil
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
