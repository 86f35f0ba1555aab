package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnSaramaProducer: sarama's transactional producer commits one
// transaction (records and a group's offsets) and aborts another;
// read_committed readers (franz-go) see only the committed records,
// read_uncommitted ones all of them, and only the committed offsets apply.
func TestTxnSaramaProducer(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t, 2*time.Minute)
	const topic, groupID = "sarama-txn", "sarama-txn-group"
	createTopic(t, b, topic, 2, nil)

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Transaction.ID = "sarama-tx"
	cfg.Producer.Retry.Max = 10
	cfg.Net.MaxOpenRequests = 1
	prod, err := sarama.NewSyncProducer(b.seeds(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	send := func(prefix string, n int) {
		t.Helper()
		msgs := make([]*sarama.ProducerMessage, n)
		for i := range msgs {
			msgs[i] = &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i)), Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", prefix, i))}
		}
		if err := prod.SendMessages(msgs); err != nil {
			t.Fatalf("send %s: %v", prefix, err)
		}
	}
	offsets := func(off int64) map[string][]*sarama.PartitionOffsetMetadata {
		return map[string][]*sarama.PartitionOffsetMetadata{topic: {{Partition: 0, Offset: off}}}
	}

	if err := prod.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	send("committed", 10)
	if err := prod.AddOffsetsToTxn(offsets(7), groupID); err != nil {
		t.Fatalf("add offsets: %v", err)
	}
	if err := prod.CommitTxn(); err != nil {
		t.Fatalf("commit: %v", err)
	}

	if err := prod.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	send("aborted", 10)
	if err := prod.AddOffsetsToTxn(offsets(99), groupID); err != nil {
		t.Fatalf("add offsets: %v", err)
	}
	if err := prod.AbortTxn(); err != nil {
		t.Fatalf("abort: %v", err)
	}

	read := func(iso kgo.IsolationLevel, want int) map[string]bool {
		t.Helper()
		cl := b.client(kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		got := map[string]bool{}
		deadline := time.Now().Add(30 * time.Second)
		for len(got) < want && time.Now().Before(deadline) {
			fctx, cancel := context.WithTimeout(ctx, time.Second)
			cl.PollFetches(fctx).EachRecord(func(r *kgo.Record) {
				if got[string(r.Value)] {
					t.Errorf("%s read twice", r.Value)
				}
				got[string(r.Value)] = true
			})
			cancel()
		}
		// Nothing more arrives (an aborted record after the committed ones).
		fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		cl.PollFetches(fctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
		cancel()
		return got
	}
	committed := read(kgo.ReadCommitted(), 10)
	if len(committed) != 10 {
		t.Fatalf("read_committed: %d records %v, want the 10 committed", len(committed), committed)
	}
	for v := range committed {
		if !strings.HasPrefix(v, "committed-") {
			t.Fatalf("read_committed returned %q", v)
		}
	}
	if all := read(kgo.ReadUncommitted(), 20); len(all) != 20 {
		t.Fatalf("read_uncommitted: %d records, want 20", len(all))
	}

	fetched, err := b.admin().FetchOffsets(ctx, groupID)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup(topic, 0); !ok || o.At != 7 {
		t.Fatalf("group offset %+v (found %v), want 7 from the committed transaction", o, ok)
	}
}
