package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// saramaClient is github.com/IBM/sarama configured for Kafka 4.0 (its
// default, 2.8, sends older request versions).
type saramaClient struct{}

func newSarama() client { return saramaClient{} }

func (saramaClient) Codecs() []string { return []string{"none", "gzip", "snappy", "lz4", "zstd"} }

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V4_0_0_0
	c.ClientID = "compat-sarama"
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Metadata.Retry.Max = 5
	c.Admin.Timeout = wait
	c.Producer.Return.Successes = true
	c.Producer.Timeout = 10 * time.Second
	c.Producer.RequiredAcks = sarama.WaitForAll
	return c
}

func (saramaClient) admin() (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin([]string{bootstrap}, saramaConfig())
}

func (s saramaClient) CreateTopic(_ context.Context, topic string, partitions int32, configs map[string]string) error {
	adm, err := s.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	entries := map[string]*string{}
	for k, v := range configs {
		entries[k] = &v
	}
	return adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: replicationFactor, ConfigEntries: entries}, false)
}

func (s saramaClient) ListTopics(context.Context) ([]string, error) {
	adm, err := s.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	m, err := adm.ListTopics()
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out, nil
}

func (s saramaClient) DescribePartitions(_ context.Context, topic string) ([][]int32, error) {
	adm, err := s.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	md, err := adm.DescribeTopics([]string{topic})
	if err != nil {
		return nil, err
	}
	if len(md) != 1 {
		return nil, fmt.Errorf("%d topics described", len(md))
	}
	if !errors.Is(md[0].Err, sarama.ErrNoError) {
		return nil, md[0].Err
	}
	var out [][]int32
	for _, p := range md[0].Partitions {
		out = append(out, p.Replicas)
	}
	return out, nil
}

func (s saramaClient) DescribeConfig(_ context.Context, topic, key string) (string, error) {
	adm, err := s.admin()
	if err != nil {
		return "", err
	}
	defer adm.Close()
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.Name == key {
			return e.Value, nil
		}
	}
	return "", fmt.Errorf("%s missing", key)
}

func (s saramaClient) DeleteTopic(_ context.Context, topic string) error {
	adm, err := s.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	return adm.DeleteTopic(topic)
}

func saramaCodec(name string) sarama.CompressionCodec {
	switch name {
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	return sarama.CompressionNone
}

func (saramaClient) Produce(_ context.Context, topic, codec string, idempotent bool, recs []rec) ([]rec, error) {
	c := saramaConfig()
	c.Producer.Compression = saramaCodec(codec)
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Producer.Flush.Frequency = 20 * time.Millisecond
	if idempotent {
		c.Producer.Idempotent = true
		c.Net.MaxOpenRequests = 1
		c.Producer.Retry.Max = 5
	}
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		msgs[i] = toSarama(topic, r)
	}
	if err := p.SendMessages(msgs); err != nil {
		return nil, err
	}
	out := make([]rec, len(recs))
	for i, m := range msgs {
		out[i] = recs[i]
		out[i].Partition, out[i].Offset = m.Partition, m.Offset
	}
	return out, nil
}

func toSarama(topic string, r rec) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)}
	for k, v := range r.Headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	return m
}

func fromSarama(m *sarama.ConsumerMessage) rec {
	r := rec{Key: string(m.Key), Value: string(m.Value), Partition: m.Partition, Offset: m.Offset}
	for _, h := range m.Headers {
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		r.Headers[string(h.Key)] = string(h.Value)
	}
	return r
}

func (saramaClient) ReadAll(ctx context.Context, topic string, readCommitted bool, want int) ([]rec, error) {
	c := saramaConfig()
	if readCommitted {
		c.Consumer.IsolationLevel = sarama.ReadCommitted
	}
	cons, err := sarama.NewConsumer([]string{bootstrap}, c)
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	parts, err := cons.Partitions(topic)
	if err != nil {
		return nil, err
	}
	msgs := make(chan *sarama.ConsumerMessage)
	errs := make(chan error, len(parts))
	done := make(chan struct{})
	defer close(done)
	for _, p := range parts {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		defer pc.AsyncClose()
		go func() {
			for {
				select {
				case m, ok := <-pc.Messages():
					if !ok {
						return
					}
					select {
					case msgs <- m:
					case <-done:
						return
					}
				case e, ok := <-pc.Errors():
					if ok {
						errs <- e
					}
				case <-done:
					return
				}
			}
		}()
	}
	// Records of one partition arrive in order; sort the rest by offset.
	var out []rec
	timeout := time.After(wait)
	var grace <-chan time.Time
	for {
		select {
		case m := <-msgs:
			out = append(out, fromSarama(m))
			if len(out) >= want && grace == nil {
				grace = time.After(300 * time.Millisecond)
			}
		case e := <-errs:
			return out, e
		case <-grace:
			return out, nil
		case <-timeout:
			return out, fmt.Errorf("read %d of %d records within %v", len(out), want, wait)
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

type saramaMember struct {
	values
	group  sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Setup, Cleanup and ConsumeClaim make saramaMember a ConsumerGroupHandler.
func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	for _, ps := range s.Claims() {
		m.setAssigned(len(ps))
	}
	return nil
}

func (m *saramaMember) Cleanup(s sarama.ConsumerGroupSession) error {
	for _, ps := range s.Claims() {
		m.setAssigned(-len(ps))
	}
	return nil
}

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			m.add(string(msg.Value))
			s.MarkMessage(msg, "")
			s.Commit()
		case <-s.Context().Done():
			return nil
		}
	}
}

func (saramaClient) NewMember(group, topic string, kip848 bool) (member, error) {
	if kip848 {
		return nil, naf("sarama has no KIP-848 consumer protocol")
	}
	c := saramaConfig()
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Return.Errors = true
	g, err := sarama.NewConsumerGroup([]string{bootstrap}, group, c)
	if err != nil {
		return nil, err
	}
	m := &saramaMember{group: g, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		for e := range g.Errors() {
			m.fail(e)
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, m); err != nil && ctx.Err() == nil {
				m.fail(err)
				return
			}
		}
	}()
	return m, nil
}

// StopPolling ends the session; sarama commits marked offsets as it goes.
func (m *saramaMember) StopPolling() { m.cancel(); <-m.done }

func (m *saramaMember) Commit(context.Context) error { m.StopPolling(); return m.Err() }

func (m *saramaMember) Close() {
	m.once.Do(func() {
		m.StopPolling()
		m.group.Close()
	})
}

type saramaTxn struct {
	p sarama.SyncProducer
}

func (saramaClient) NewTxnProducer(txnID string) (txnProducer, error) {
	c := saramaConfig()
	c.Producer.Idempotent = true
	c.Producer.Transaction.ID = txnID
	c.Producer.Transaction.Timeout = 30 * time.Second
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer([]string{bootstrap}, c)
	if err != nil {
		return nil, err
	}
	return &saramaTxn{p}, nil
}

func (t *saramaTxn) Begin() error { return t.p.BeginTxn() }

func (t *saramaTxn) Produce(_ context.Context, topic string, recs []rec) error {
	for _, r := range recs {
		if _, _, err := t.p.SendMessage(toSarama(topic, r)); err != nil {
			return err
		}
	}
	return nil
}

func (t *saramaTxn) End(_ context.Context, commit bool) error {
	if commit {
		return t.p.CommitTxn()
	}
	return t.p.AbortTxn()
}

func (t *saramaTxn) Close() { t.p.Close() }

func (saramaClient) Lacks(scenario string) error {
	if scenario == "group-consumer" {
		return naf("sarama has no KIP-848 consumer protocol")
	}
	return nil
}
