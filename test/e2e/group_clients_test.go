package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafka "github.com/segmentio/kafka-go"
)

// saramaHandler processes records, marks them for commit and reports its
// partitions to the ownership checker; Setup and Cleanup bracket each
// generation.
type saramaHandler struct {
	name  string
	topic string
	own   *ownership
	proc  *processed
}

func (h *saramaHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.own.assign(h.name, s.Claims()[h.topic])
	return nil
}

func (h *saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	s.Commit()
	h.own.release(h.name, s.Claims()[h.topic])
	return nil
}

func (h *saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for msg := range c.Messages() {
		h.proc.add(msg.Partition, msg.Offset)
		s.MarkMessage(msg, "")
	}
	return nil
}

type saramaMember struct {
	cg     sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
}

func startSaramaMember(t *testing.T, b *broker, name, group, topic string, own *ownership, proc *processed) *saramaMember {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = name
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cg, err := sarama.NewConsumerGroup(b.seeds(), group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{cg: cg, cancel: cancel, done: make(chan struct{})}
	h := &saramaHandler{name: name, topic: topic, own: own, proc: proc}
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && ctx.Err() == nil {
				t.Logf("%s: consume: %v", name, err)
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	return m
}

func (m *saramaMember) leave() {
	m.cancel()
	<-m.done
	m.cg.Close()
}

// TestSaramaGroupMembershipChurn: three sarama members share a
// 12-partition topic while one joins late and one leaves; every record is
// processed, no partition has two owners, and the commits reach the log
// end; a new member then resumes exactly at the committed offsets.
func TestSaramaGroupMembershipChurn(t *testing.T) {
	b := startGroupBroker(t)
	const topic, group, total = "sarama-churn", "sarama-g", 30000
	createTopic(t, b, topic, 12, nil)
	produceN(t, b, topic, total)
	own, proc := newOwnership(t), newProcessed()
	m1 := startSaramaMember(t, b, "s1", group, topic, own, proc)
	m2 := startSaramaMember(t, b, "s2", group, topic, own, proc)
	waitFor(t, "a third processed", time.Minute, func() bool { return proc.distinct() >= total/3 })
	m3 := startSaramaMember(t, b, "s3", group, topic, own, proc)
	waitFor(t, "two thirds processed", time.Minute, func() bool { return proc.distinct() >= 2*total/3 })
	m1.leave()
	waitFor(t, "every record processed", 2*time.Minute, func() bool { return proc.distinct() >= total })
	waitFor(t, "commits at the log end", time.Minute, func() bool { return committedAtEnd(b, group, topic) })
	m2.leave()
	m3.leave()
	own.check()
	committed := committedEqualsEnd(t, b, group, topic)

	produceN(t, b, topic, 600)
	own2, proc2 := newOwnership(t), newProcessed()
	m4 := startSaramaMember(t, b, "s4", group, topic, own2, proc2)
	waitFor(t, "the new records", time.Minute, func() bool { return proc2.distinct() >= 600 })
	m4.leave()
	proc2.mu.Lock()
	defer proc2.mu.Unlock()
	for p, offs := range proc2.seen {
		lowest := int64(-1)
		for o := range offs {
			if lowest < 0 || o < lowest {
				lowest = o
			}
		}
		if lowest != committed[p] {
			t.Errorf("partition %d: resumed at %d, committed %d", p, lowest, committed[p])
		}
	}
	if proc2.n != 600 {
		t.Errorf("processed %d records after resuming, want exactly the 600 new ones", proc2.n)
	}
}

// TestKafkaGoGroupConsume: three segmentio/kafka-go readers in one group
// share a 12-partition topic while one leaves; every record is processed
// and committed, and a new reader resumes at the committed offsets.
func TestKafkaGoGroupConsume(t *testing.T) {
	b := startGroupBroker(t)
	const topic, group, total = "kafkago-churn", "kafkago-g", 20000
	createTopic(t, b, topic, 12, nil)
	produceN(t, b, topic, total)
	proc := newProcessed()

	type reader struct {
		r      *kafka.Reader
		cancel context.CancelFunc
		done   chan struct{}
	}
	start := func(p *processed) *reader {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:           b.seeds(),
			GroupID:           group,
			Topic:             topic,
			MaxWait:           200 * time.Millisecond,
			SessionTimeout:    6 * time.Second,
			HeartbeatInterval: 500 * time.Millisecond,
			RebalanceTimeout:  6 * time.Second,
			CommitInterval:    200 * time.Millisecond,
			StartOffset:       kafka.FirstOffset,
		})
		ctx, cancel := context.WithCancel(context.Background())
		rd := &reader{r: r, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(rd.done)
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					return
				}
				p.add(int32(m.Partition), m.Offset)
				if err := r.CommitMessages(ctx, m); err != nil {
					return
				}
			}
		}()
		return rd
	}
	stop := func(rd *reader) {
		rd.cancel()
		<-rd.done
		rd.r.Close() // flushes pending commits and leaves
	}
	readers := []*reader{start(proc), start(proc), start(proc)}
	waitFor(t, "half processed", 2*time.Minute, func() bool { return proc.distinct() >= total/2 })
	stop(readers[0])
	waitFor(t, "every record processed", 2*time.Minute, func() bool { return proc.distinct() >= total })
	waitFor(t, "commits at the log end", time.Minute, func() bool { return committedAtEnd(b, group, topic) })
	stop(readers[1])
	stop(readers[2])
	committed := committedEqualsEnd(t, b, group, topic)

	produceN(t, b, topic, 600)
	proc2 := newProcessed()
	rd := start(proc2)
	waitFor(t, "the new records", time.Minute, func() bool { return proc2.distinct() >= 600 })
	stop(rd)
	proc2.mu.Lock()
	defer proc2.mu.Unlock()
	for p, offs := range proc2.seen {
		for o := range offs {
			if o < committed[p] {
				t.Errorf("partition %d: read offset %d below the committed %d", p, o, committed[p])
			}
		}
	}
	if proc2.n != 600 {
		t.Errorf("processed %d records after resuming, want exactly the 600 new ones", proc2.n)
	}
}
