package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafkaGo is github.com/segmentio/kafka-go: Client for admin, Writer,
// per-partition Readers and ConsumerGroup generations.
type kafkaGo struct{ cl *kafka.Client }

func newKafkaGo() client {
	return kafkaGo{&kafka.Client{Addr: kafka.TCP(bootstrap), Timeout: 10 * time.Second}}
}

func (kafkaGo) Codecs() []string { return []string{"none", "gzip", "snappy", "lz4", "zstd"} }

func (k kafkaGo) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	tc := kafka.TopicConfig{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: int(replicationFactor)}
	for name, v := range configs {
		tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: name, ConfigValue: v})
	}
	resp, err := k.cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

func (k kafkaGo) ListTopics(ctx context.Context) ([]string, error) {
	md, err := k.cl.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range md.Topics {
		out = append(out, t.Name)
	}
	return out, nil
}

func (k kafkaGo) DescribePartitions(ctx context.Context, topic string) ([][]int32, error) {
	md, err := k.cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, err
	}
	for _, t := range md.Topics {
		if t.Name == topic {
			if t.Error != nil {
				return nil, t.Error
			}
			var out [][]int32
			for _, p := range t.Partitions {
				var ids []int32
				for _, r := range p.Replicas {
					ids = append(ids, int32(r.ID))
				}
				out = append(out, ids)
			}
			return out, nil
		}
	}
	return nil, errors.New("topic missing from metadata")
}

func (k kafkaGo) DescribeConfig(ctx context.Context, topic, key string) (string, error) {
	resp, err := k.cl.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{
		{ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{key}},
	}})
	if err != nil {
		return "", err
	}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return "", r.Error
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == key {
				return e.ConfigValue, nil
			}
		}
	}
	return "", fmt.Errorf("%s missing", key)
}

func (k kafkaGo) DeleteTopic(ctx context.Context, topic string) error {
	resp, err := k.cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	if err != nil {
		return err
	}
	return resp.Errors[topic]
}

func kafkaGoCodec(name string) kafka.Compression {
	switch name {
	case "gzip":
		return kafka.Gzip
	case "snappy":
		return kafka.Snappy
	case "lz4":
		return kafka.Lz4
	case "zstd":
		return kafka.Zstd
	}
	return 0
}

func (k kafkaGo) Produce(ctx context.Context, topic, codec string, idempotent bool, recs []rec) ([]rec, error) {
	if idempotent {
		return nil, naf("segmentio/kafka-go has no idempotent producer")
	}
	// The Writer reports partitions and offsets only to Completion.
	var mu sync.Mutex
	where := map[string][2]int64{}
	w := &kafka.Writer{
		Completion: func(msgs []kafka.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				if err == nil {
					where[string(m.Value)] = [2]int64{int64(m.Partition), m.Offset}
				}
			}
		},
		Addr:         kafka.TCP(bootstrap),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		RequiredAcks: kafka.RequireAll,
		Compression:  kafkaGoCodec(codec),
		BatchTimeout: 20 * time.Millisecond,
		WriteTimeout: 10 * time.Second,
		ReadTimeout:  10 * time.Second,
	}
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		msgs[i] = kafka.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for hk, hv := range r.Headers {
			msgs[i].Headers = append(msgs[i].Headers, kafka.Header{Key: hk, Value: []byte(hv)})
		}
	}
	err := w.WriteMessages(ctx, msgs...)
	w.Close() // waits for the Completion calls
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]rec, len(recs))
	for i, r := range recs {
		pos, ok := where[r.Value]
		if !ok {
			return nil, fmt.Errorf("no completion reported for record %d", i)
		}
		out[i] = r
		out[i].Partition, out[i].Offset = int32(pos[0]), pos[1]
	}
	return out, nil
}

func fromKafkaGo(m kafka.Message) rec {
	r := rec{Key: string(m.Key), Value: string(m.Value), Partition: int32(m.Partition), Offset: m.Offset}
	for _, h := range m.Headers {
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		r.Headers[h.Key] = string(h.Value)
	}
	return r
}

func (k kafkaGo) ReadAll(ctx context.Context, topic string, readCommitted bool, want int) ([]rec, error) {
	parts, err := k.DescribePartitions(ctx, topic)
	n := len(parts)
	if err != nil {
		return nil, err
	}
	iso := kafka.ReadUncommitted
	if readCommitted {
		iso = kafka.ReadCommitted
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		out  []rec
		rerr error
		wg   sync.WaitGroup
	)
	for p := 0; p < n; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: p, IsolationLevel: iso, MaxWait: 200 * time.Millisecond})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(ctx)
				mu.Lock()
				if err != nil {
					if ctx.Err() == nil && rerr == nil {
						rerr = err
					}
					mu.Unlock()
					return
				}
				out = append(out, fromKafkaGo(m))
				mu.Unlock()
			}
		}()
	}
	defer wg.Wait()
	var graceEnd time.Time
	err = poll(ctx, func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(out) >= want && graceEnd.IsZero() {
			graceEnd = time.Now().Add(300 * time.Millisecond)
		}
		return !graceEnd.IsZero() && time.Now().After(graceEnd), rerr
	})
	cancel()
	wg.Wait()
	if err != nil {
		return out, fmt.Errorf("read %d of %d records: %w", len(out), want, err)
	}
	return out, nil
}

type kafkaGoMember struct {
	values
	cg     *kafka.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func (kafkaGo) NewMember(group, topic string, kip848 bool) (member, error) {
	if kip848 {
		return nil, naf("segmentio/kafka-go has no KIP-848 consumer protocol")
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                group,
		Brokers:           []string{bootstrap},
		Topics:            []string{topic},
		StartOffset:       kafka.FirstOffset,
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
		Timeout:           10 * time.Second,
		Dialer:            &kafka.Dialer{Timeout: 5 * time.Second, Resolver: &net.Resolver{}},
	})
	if err != nil {
		return nil, err
	}
	m := &kafkaGoMember{cg: cg, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for {
			gen, err := cg.Next(ctx)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, kafka.ErrGroupClosed) {
					m.fail(err)
				}
				return
			}
			assigns := gen.Assignments[topic]
			m.setAssigned(len(assigns) - m.Assigned())
			for _, a := range assigns {
				gen.Start(func(gctx context.Context) {
					r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{bootstrap}, Topic: topic, Partition: a.ID, MaxWait: 200 * time.Millisecond})
					defer r.Close()
					if err := r.SetOffset(a.Offset); err != nil {
						m.fail(err)
						return
					}
					for {
						msg, err := r.ReadMessage(gctx)
						if err != nil {
							return // the generation ended
						}
						m.add(string(msg.Value))
						if err := gen.CommitOffsets(map[string]map[int]int64{topic: {a.ID: msg.Offset + 1}}); err != nil && gctx.Err() == nil {
							m.fail(fmt.Errorf("commit: %w", err))
						}
					}
				})
			}
		}
	}()
	return m, nil
}

// StopPolling: kafka-go commits each record synchronously as it is read.
func (m *kafkaGoMember) StopPolling() {}

func (m *kafkaGoMember) Commit(context.Context) error { return m.Err() }

func (m *kafkaGoMember) Close() {
	m.once.Do(func() {
		m.cancel()
		m.cg.Close()
		<-m.done
	})
}

func (kafkaGo) NewTxnProducer(string) (txnProducer, error) {
	return nil, naf("segmentio/kafka-go has no transactional producer")
}

func (kafkaGo) Lacks(scenario string) error {
	switch scenario {
	case "group-consumer":
		return naf("segmentio/kafka-go has no KIP-848 consumer protocol")
	case "idempotent":
		return naf("segmentio/kafka-go has no idempotent producer")
	case "txn":
		return naf("segmentio/kafka-go has no transactional producer")
	}
	return nil
}
