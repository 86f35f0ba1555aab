package e2e

import (
	"fmt"
	"sort"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
)

func sortSent(s []sent) { sort.Slice(s, func(i, j int) bool { return s[i].offset < s[j].offset }) }

// TestKafkaGoProduceConsume writes keyed records with segmentio/kafka-go's
// Writer (acks=all) in every codec and reads each partition back with its
// Reader, comparing content and order exactly.
func TestKafkaGoProduceConsume(t *testing.T) {
	b := startBroker(t)
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	codecs := map[string]compress.Compression{
		"none": 0, "gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "kafkago-" + name
			createTopic(t, b, topic, 3, nil)
			ctx := testContext(t, 3*time.Minute)

			// Hash balancing keeps each key on one partition; with one
			// synchronous batch at a time, per-partition order is the
			// order of the messages in a batch.
			w := &kafka.Writer{
				Addr:         kafka.TCP(b.seeds()...),
				Topic:        topic,
				Balancer:     &kafka.Hash{},
				RequiredAcks: kafka.RequireAll,
				Compression:  codec,
				BatchSize:    1000,
				BatchTimeout: time.Millisecond,
				// A transport of its own: the default one caches metadata
				// from before this subtest's topic existed.
				Transport: &kafka.Transport{},
			}
			defer w.Close()
			start := time.Now()
			const batch = 1000
			msgs := make([]kafka.Message, 0, batch)
			for i := 0; i < n; i++ {
				msgs = append(msgs, kafka.Message{
					Key:   []byte(fmt.Sprintf("key-%d", i%997)),
					Value: []byte(fmt.Sprintf("kafkago-%s-%d", name, i)),
				})
				if len(msgs) == batch {
					if err := w.WriteMessages(ctx, msgs...); err != nil {
						t.Fatalf("write: %v", err)
					}
					msgs = msgs[:0]
				}
			}
			if len(msgs) > 0 {
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			t.Logf("wrote %d records in %v", n, time.Since(start))
			// Expected per-partition order: the hash balancer's choice,
			// in production order.
			hash := &kafka.Hash{}
			parts := []int{0, 1, 2}
			want := map[int][]sent{}
			for i := 0; i < n; i++ {
				k := []byte(fmt.Sprintf("key-%d", i%997))
				p := hash.Balance(kafka.Message{Key: k}, parts...)
				want[p] = append(want[p], sent{key: string(k), value: fmt.Sprintf("kafkago-%s-%d", name, i), offset: int64(len(want[p]))})
			}
			total := 0
			for p, ws := range want {
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: b.seeds(), Topic: topic, Partition: p, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond})
				for i, w := range ws {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						t.Fatalf("partition %d record %d: %v", p, i, err)
					}
					if string(m.Key) != w.key || string(m.Value) != w.value || m.Offset != w.offset {
						t.Fatalf("partition %d record %d: got (%d %q %q), want (%d %q %q)", p, i, m.Offset, m.Key, m.Value, w.offset, w.key, w.value)
					}
				}
				r.Close()
				total += len(ws)
			}
			t.Logf("compared %d records exactly", total)
		})
	}
}
