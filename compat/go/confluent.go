//go:build confluent

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// confluentGo is github.com/confluentinc/confluent-kafka-go/v2, librdkafka
// through cgo (the module bundles a static librdkafka). Built only with
// -tags confluent, since it needs cgo and a C compiler.
type confluentGo struct{}

func newConfluent() (client, error) { return confluentGo{}, nil }

func confluentVersion() string {
	_, v := kafka.LibraryVersion()
	return moduleVersion("confluent-kafka-go") + " (librdkafka " + v + ")"
}

func (confluentGo) Codecs() []string { return []string{"none", "gzip", "snappy", "lz4", "zstd"} }

func cfg(extra kafka.ConfigMap) *kafka.ConfigMap {
	c := kafka.ConfigMap{
		"bootstrap.servers":  bootstrap,
		"socket.timeout.ms":  10000,
		"message.timeout.ms": int(wait.Milliseconds()),
	}
	for k, v := range extra {
		c[k] = v
	}
	return &c
}

func (confluentGo) admin() (*kafka.AdminClient, error) {
	return kafka.NewAdminClient(cfg(nil))
}

func (c confluentGo) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	adm, err := c.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	res, err := adm.CreateTopics(ctx, []kafka.TopicSpecification{{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: int(replicationFactor), Config: configs}},
		kafka.SetAdminOperationTimeout(wait))
	if err != nil {
		return err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return res[0].Error
	}
	return nil
}

func (c confluentGo) metadata(topic *string) (*kafka.Metadata, error) {
	adm, err := c.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	return adm.GetMetadata(topic, topic == nil, int(wait.Milliseconds()))
}

func (c confluentGo) ListTopics(context.Context) ([]string, error) {
	md, err := c.metadata(nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for name := range md.Topics {
		out = append(out, name)
	}
	return out, nil
}

func (c confluentGo) DescribePartitions(ctx context.Context, topic string) ([][]int32, error) {
	adm, err := c.admin()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	res, err := adm.DescribeTopics(ctx, kafka.NewTopicCollectionOfTopicNames([]string{topic}))
	if err != nil {
		return nil, err
	}
	d := res.TopicDescriptions[0]
	if d.Error.Code() != kafka.ErrNoError {
		return nil, d.Error
	}
	var out [][]int32
	for _, p := range d.Partitions {
		var ids []int32
		for _, n := range p.Replicas {
			ids = append(ids, int32(n.ID))
		}
		out = append(out, ids)
	}
	return out, nil
}

func (c confluentGo) DescribeConfig(ctx context.Context, topic, key string) (string, error) {
	adm, err := c.admin()
	if err != nil {
		return "", err
	}
	defer adm.Close()
	res, err := adm.DescribeConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: topic}})
	if err != nil {
		return "", err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return "", res[0].Error
	}
	e, ok := res[0].Config[key]
	if !ok {
		return "", fmt.Errorf("%s missing", key)
	}
	return e.Value, nil
}

func (c confluentGo) DeleteTopic(ctx context.Context, topic string) error {
	adm, err := c.admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	res, err := adm.DeleteTopics(ctx, []string{topic}, kafka.SetAdminOperationTimeout(wait))
	if err != nil {
		return err
	}
	if res[0].Error.Code() != kafka.ErrNoError {
		return res[0].Error
	}
	return nil
}

func toConfluent(topic string, r rec) *kafka.Message {
	m := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}, Key: []byte(r.Key), Value: []byte(r.Value)}
	for k, v := range r.Headers {
		m.Headers = append(m.Headers, kafka.Header{Key: k, Value: []byte(v)})
	}
	return m
}

func fromConfluent(m *kafka.Message) rec {
	r := rec{Key: string(m.Key), Value: string(m.Value), Partition: m.TopicPartition.Partition, Offset: int64(m.TopicPartition.Offset)}
	for _, h := range m.Headers {
		if r.Headers == nil {
			r.Headers = map[string]string{}
		}
		r.Headers[h.Key] = string(h.Value)
	}
	return r
}

// produceAll sends recs and waits for every delivery report, in order.
func produceAll(p *kafka.Producer, topic string, recs []rec) ([]rec, error) {
	reports := make(chan kafka.Event, len(recs))
	for i, r := range recs {
		m := toConfluent(topic, r)
		m.Opaque = i // reports of different partitions arrive in any order
		if err := p.Produce(m, reports); err != nil {
			return nil, err
		}
	}
	out := make([]rec, len(recs))
	timeout := time.After(wait + 5*time.Second)
	for n := range recs {
		select {
		case ev := <-reports:
			m := ev.(*kafka.Message)
			if m.TopicPartition.Error != nil {
				return nil, m.TopicPartition.Error
			}
			i := m.Opaque.(int)
			out[i] = recs[i]
			out[i].Partition, out[i].Offset = m.TopicPartition.Partition, int64(m.TopicPartition.Offset)
		case <-timeout:
			return nil, fmt.Errorf("%d of %d delivery reports within %v", n, len(recs), wait)
		}
	}
	return out, nil
}

func (confluentGo) Produce(_ context.Context, topic, codec string, idempotent bool, recs []rec) ([]rec, error) {
	extra := kafka.ConfigMap{"linger.ms": 20, "enable.idempotence": idempotent}
	if codec != "" {
		extra["compression.codec"] = codec
	}
	if idempotent {
		extra["batch.size"] = 200 // many batches in flight
	}
	p, err := kafka.NewProducer(cfg(extra))
	if err != nil {
		return nil, err
	}
	defer p.Close()
	return produceAll(p, topic, recs)
}

func (confluentGo) ReadAll(ctx context.Context, topic string, readCommitted bool, want int) ([]rec, error) {
	iso := "read_uncommitted"
	if readCommitted {
		iso = "read_committed"
	}
	c, err := kafka.NewConsumer(cfg(kafka.ConfigMap{"group.id": "compat-confluent-go-reader", "isolation.level": iso, "enable.auto.commit": false}))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, int(wait.Milliseconds()))
	if err != nil {
		return nil, err
	}
	var tps []kafka.TopicPartition
	for _, p := range md.Topics[topic].Partitions {
		tps = append(tps, kafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
	}
	if err := c.Assign(tps); err != nil {
		return nil, err
	}
	var out []rec
	deadline := time.Now().Add(wait)
	var graceEnd time.Time
	for {
		switch ev := c.Poll(100).(type) {
		case *kafka.Message:
			out = append(out, fromConfluent(ev))
		case kafka.Error:
			if ev.IsFatal() || ev.Code() == kafka.ErrUnknownTopicOrPart {
				return out, ev
			}
		}
		if len(out) >= want && graceEnd.IsZero() {
			graceEnd = time.Now().Add(300 * time.Millisecond)
		}
		if !graceEnd.IsZero() && time.Now().After(graceEnd) {
			return out, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return out, fmt.Errorf("read %d of %d records within %v", len(out), want, wait)
		}
	}
}

type confluentMember struct {
	values
	c    *kafka.Consumer
	stop chan struct{}
	done chan struct{}
	once sync.Once
	mu   sync.Mutex // the consumer is used by the poll goroutine, then by Commit and Close
}

func (confluentGo) NewMember(group, topic string, kip848 bool) (member, error) {
	extra := kafka.ConfigMap{"group.id": group, "enable.auto.commit": false, "auto.offset.reset": "earliest"}
	if kip848 {
		extra["group.protocol"] = "consumer"
	}
	c, err := kafka.NewConsumer(cfg(extra))
	if err != nil {
		return nil, err
	}
	m := &confluentMember{c: c, stop: make(chan struct{}), done: make(chan struct{})}
	err = c.Subscribe(topic, func(c *kafka.Consumer, ev kafka.Event) error {
		switch e := ev.(type) {
		case kafka.AssignedPartitions:
			m.setAssigned(len(e.Partitions))
		case kafka.RevokedPartitions:
			m.setAssigned(-len(e.Partitions))
		}
		return nil
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	go func() {
		defer close(m.done)
		for {
			select {
			case <-m.stop:
				return
			default:
			}
			switch ev := c.Poll(100).(type) {
			case *kafka.Message:
				m.add(string(ev.Value)) // its offset is stored for Commit (enable.auto.offset.store)
			case kafka.Error:
				if ev.IsFatal() {
					m.fail(ev)
				}
			}
		}
	}()
	return m, nil
}

func (m *confluentMember) StopPolling() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}

func (m *confluentMember) Commit(context.Context) error {
	m.StopPolling()
	_, err := m.c.Commit()
	var kerr kafka.Error
	if errors.As(err, &kerr) && kerr.Code() == kafka.ErrNoOffset {
		return nil
	}
	return err
}

func (m *confluentMember) Close() {
	m.StopPolling()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.c != nil {
		m.c.Close()
		m.c = nil
	}
}

type confluentTxn struct{ p *kafka.Producer }

func (confluentGo) NewTxnProducer(txnID string) (txnProducer, error) {
	p, err := kafka.NewProducer(cfg(kafka.ConfigMap{"transactional.id": txnID, "transaction.timeout.ms": 30000}))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("init transactions: %w", err)
	}
	return &confluentTxn{p}, nil
}

func (t *confluentTxn) Begin() error { return t.p.BeginTransaction() }

func (t *confluentTxn) Produce(_ context.Context, topic string, recs []rec) error {
	_, err := produceAll(t.p, topic, recs)
	return err
}

func (t *confluentTxn) End(ctx context.Context, commit bool) error {
	if commit {
		return t.p.CommitTransaction(ctx)
	}
	return t.p.AbortTransaction(ctx)
}

func (t *confluentTxn) Close() { t.p.Close() }

func (confluentGo) Lacks(string) error { return nil }
