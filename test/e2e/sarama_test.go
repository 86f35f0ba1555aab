package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaIdempotentProduceConsume produces keyed records with sarama's
// idempotent producer (acks=all) in every codec and reads them back with
// sarama's partition consumer.
func TestSaramaIdempotentProduceConsume(t *testing.T) {
	b := startBroker(t)
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	codecs := map[string]sarama.CompressionCodec{
		"none": sarama.CompressionNone, "gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
		"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "sarama-" + name
			createTopic(t, b, topic, 3, nil)

			cfg := sarama.NewConfig()
			cfg.Version = sarama.V3_6_0_0
			cfg.Producer.Idempotent = true
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			cfg.Producer.Compression = codec
			cfg.Producer.Return.Successes = true
			cfg.Producer.Retry.Max = 10
			cfg.Producer.Flush.Messages = 500
			cfg.Producer.Flush.Frequency = 5 * time.Millisecond
			cfg.Net.MaxOpenRequests = 1
			prod, err := sarama.NewAsyncProducer(b.seeds(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			acked := map[int32][]sent{}
			done := make(chan error, 1)
			go func() {
				for i := 0; i < n; i++ {
					select {
					case s := <-prod.Successes():
						acked[s.Partition] = append(acked[s.Partition], sent{string(mustEncode(s.Key)), string(mustEncode(s.Value)), s.Offset})
					case e := <-prod.Errors():
						done <- e.Err
						return
					}
				}
				done <- nil
			}()
			for i := 0; i < n; i++ {
				prod.Input() <- &sarama.ProducerMessage{
					Topic: topic,
					Key:   sarama.StringEncoder(fmt.Sprintf("key-%d", i%997)),
					Value: sarama.StringEncoder(fmt.Sprintf("sarama-%s-%d", name, i)),
				}
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("produce: %v", err)
				}
			case <-time.After(3 * time.Minute):
				t.Fatal("produce timed out")
			}
			if err := prod.Close(); err != nil {
				t.Fatal(err)
			}
			// sarama reports successes per partition in order; sort by offset anyway.
			for p := range acked {
				sortSent(acked[p])
			}

			ccfg := sarama.NewConfig()
			ccfg.Version = sarama.V3_6_0_0
			consumer, err := sarama.NewConsumer(b.seeds(), ccfg)
			if err != nil {
				t.Fatal(err)
			}
			defer consumer.Close()
			for p, want := range acked {
				pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
				if err != nil {
					t.Fatal(err)
				}
				for i, w := range want {
					select {
					case m := <-pc.Messages():
						if string(m.Key) != w.key || string(m.Value) != w.value || m.Offset != w.offset {
							t.Fatalf("partition %d record %d: got (%d %q %q), want (%d %q %q)", p, i, m.Offset, m.Key, m.Value, w.offset, w.key, w.value)
						}
					case err := <-pc.Errors():
						t.Fatalf("consume partition %d: %v", p, err)
					case <-time.After(time.Minute):
						t.Fatalf("partition %d: only %d of %d records consumed", p, i, len(want))
					}
				}
				pc.Close()
			}
		})
	}
}

func mustEncode(e sarama.Encoder) []byte {
	b, _ := e.Encode()
	return b
}
