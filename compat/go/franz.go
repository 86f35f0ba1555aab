package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// franz is github.com/twmb/franz-go (kgo and kadm).
type franz struct{}

func newFranz() client { return franz{} }

func (franz) Codecs() []string { return []string{"none", "gzip", "snappy", "lz4", "zstd"} }

func (franz) opts(extra ...kgo.Opt) []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.RequestTimeoutOverhead(5 * time.Second),
		kgo.RecordDeliveryTimeout(wait),
		kgo.RetryTimeout(wait),
	}, extra...)
}

func (f franz) admin() (*kadm.Client, error) {
	cl, err := kgo.NewClient(f.opts()...)
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(cl), nil
}

func (f franz) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	adm, err := f.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, partitions, replicationFactor, cfg, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

func (f franz) ListTopics(ctx context.Context) ([]string, error) {
	adm, err := f.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return td.Names(), nil
}

func (f franz) DescribePartitions(ctx context.Context, topic string) ([][]int32, error) {
	adm, err := f.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, err
	}
	d, ok := td[topic]
	if !ok {
		return nil, errors.New("topic missing from metadata")
	}
	if d.Err != nil {
		return nil, d.Err
	}
	var out [][]int32
	for _, p := range d.Partitions {
		out = append(out, p.Replicas)
	}
	return out, nil
}

func (f franz) DescribeConfig(ctx context.Context, topic, key string) (string, error) {
	adm, err := f.admin()
	if err != nil {
		return "", err
	}
	defer adm.Close()
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", err
	}
	c, err := rc.On(topic, nil)
	if err != nil {
		return "", err
	}
	if c.Err != nil {
		return "", c.Err
	}
	for _, e := range c.Configs {
		if e.Key == key {
			return e.MaybeValue(), nil
		}
	}
	return "", fmt.Errorf("%s missing", key)
}

func (f franz) DeleteTopic(ctx context.Context, topic string) error {
	adm, err := f.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	resp, err := adm.DeleteTopic(ctx, topic)
	if err != nil {
		return err
	}
	return resp.Err
}

func franzCodec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func (f franz) Produce(ctx context.Context, topic, codec string, idempotent bool, recs []rec) ([]rec, error) {
	opts := f.opts(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(20*time.Millisecond))
	if codec != "" {
		opts = append(opts, kgo.ProducerBatchCompression(franzCodec(codec)))
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	} else {
		opts = append(opts, kgo.ProducerBatchMaxBytes(512)) // many batches in flight
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = toKgo(r)
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		return nil, err
	}
	out := make([]rec, len(krs))
	for i, kr := range krs {
		out[i] = fromKgo(kr)
	}
	return out, nil
}

func toKgo(r rec) *kgo.Record {
	kr := &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value)}
	for k, v := range r.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	return kr
}

func fromKgo(kr *kgo.Record) rec {
	r := rec{Key: string(kr.Key), Value: string(kr.Value), Partition: kr.Partition, Offset: kr.Offset}
	for _, h := range kr.Headers {
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		r.Headers[h.Key] = string(h.Value)
	}
	return r
}

func (f franz) ReadAll(ctx context.Context, topic string, readCommitted bool, want int) ([]rec, error) {
	opts := f.opts(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var out []rec
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var graceEnd time.Time
	for {
		pctx := ctx
		if !graceEnd.IsZero() {
			var c context.CancelFunc
			pctx, c = context.WithDeadline(ctx, graceEnd)
			defer c()
		}
		fs := cl.PollFetches(pctx)
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				return out, fmt.Errorf("fetch %s[%d]: %w", e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(kr *kgo.Record) { out = append(out, fromKgo(kr)) })
		if len(out) >= want && graceEnd.IsZero() {
			graceEnd = time.Now().Add(300 * time.Millisecond)
		}
		if !graceEnd.IsZero() && time.Now().After(graceEnd) {
			return out, nil
		}
		if ctx.Err() != nil {
			return out, fmt.Errorf("read %d of %d records within %v", len(out), want, wait)
		}
	}
}

type franzMember struct {
	values
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (f franz) NewMember(group, topic string, kip848 bool) (member, error) {
	m := &franzMember{done: make(chan struct{})}
	opts := f.opts(
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m2 map[string][]int32) { m.setAssigned(len(m2[topic])) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m2 map[string][]int32) {
			m.setAssigned(-len(m2[topic]))
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				m.fail(fmt.Errorf("commit on revoke: %w", err))
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m2 map[string][]int32) { m.setAssigned(-len(m2[topic])) }),
	)
	if kip848 {
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()), kgo.ServerSideBalancer())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			for _, e := range fs.Errors() {
				if ctx.Err() == nil {
					m.fail(fmt.Errorf("fetch %s[%d]: %w", e.Topic, e.Partition, e.Err))
				}
			}
			fs.EachRecord(func(kr *kgo.Record) { m.add(string(kr.Value)) })
		}
	}()
	return m, nil
}

func (m *franzMember) StopPolling() { m.cancel(); <-m.done }

func (m *franzMember) Commit(ctx context.Context) error {
	m.StopPolling()
	return m.cl.CommitUncommittedOffsets(ctx)
}

func (m *franzMember) Close() {
	m.once.Do(func() {
		m.StopPolling()
		m.cl.Close()
	})
}

type franzTxn struct{ cl *kgo.Client }

func (f franz) NewTxnProducer(txnID string) (txnProducer, error) {
	cl, err := kgo.NewClient(f.opts(kgo.TransactionalID(txnID), kgo.TransactionTimeout(30*time.Second))...)
	if err != nil {
		return nil, err
	}
	return &franzTxn{cl}, nil
}

func (t *franzTxn) Begin() error { return t.cl.BeginTransaction() }

func (t *franzTxn) Produce(ctx context.Context, topic string, recs []rec) error {
	for _, r := range recs {
		kr := toKgo(r)
		kr.Topic = topic
		if err := t.cl.ProduceSync(ctx, kr).FirstErr(); err != nil {
			return err
		}
	}
	return nil
}

func (t *franzTxn) End(ctx context.Context, commit bool) error {
	return t.cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
}

func (t *franzTxn) Close() { t.cl.Close() }

func (franz) Lacks(string) error { return nil }
