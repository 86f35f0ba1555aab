package bench

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultReportInterval is how often long runs print a progress line.
const DefaultReportInterval = 5 * time.Second

// ProducerSettings are the producer knobs shared by the producer and
// end-to-end benchmarks. Names follow Kafka's producer configs.
type ProducerSettings struct {
	// Acks is Kafka's acks: "all" (or "-1"), "1" or "0". Empty means "all".
	Acks string
	// Compression is Kafka's compression.type: none, gzip, snappy, lz4,
	// zstd. Empty means none.
	Compression string
	// BatchMaxBytes is the largest record batch per partition (Kafka's
	// batch.size, as franz-go's ProducerBatchMaxBytes). Zero keeps the
	// client default (1 MB).
	BatchMaxBytes int32
	// Linger is how long a partition's batch waits for more records
	// (linger.ms). Zero sends as soon as a request can go out.
	Linger time.Duration
	// Idempotent enables the idempotent producer; it requires Acks "all"
	// and is ignored (off) for other acks.
	Idempotent bool
	// MaxBufferedRecords bounds records in flight per client. Zero means
	// the client default (10,000).
	MaxBufferedRecords int
}

// Validate reports unusable settings.
func (p ProducerSettings) Validate() error {
	if _, err := cli.ParseAcks(p.Acks); err != nil {
		return err
	}
	if _, err := cli.ParseCompression(p.Compression); err != nil {
		return err
	}
	if p.BatchMaxBytes < 0 {
		return fmt.Errorf("batch max bytes %d is negative", p.BatchMaxBytes)
	}
	if p.Linger < 0 {
		return fmt.Errorf("linger %v is negative", p.Linger)
	}
	if p.MaxBufferedRecords < 0 {
		return fmt.Errorf("max buffered records %d is negative", p.MaxBufferedRecords)
	}
	return nil
}

func (p ProducerSettings) allAcks() bool {
	a := strings.ToLower(p.Acks)
	return a == "" || a == "all" || a == "-1"
}

// kgoOpts returns the client options for p; Validate must have passed.
func (p ProducerSettings) kgoOpts() []kgo.Opt {
	acks, _ := cli.ParseAcks(p.Acks)
	codec, _ := cli.ParseCompression(p.Compression)
	opts := []kgo.Opt{
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(p.Linger),
	}
	if !p.Idempotent || !p.allAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if p.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(p.BatchMaxBytes))
	}
	if p.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(p.MaxBufferedRecords))
	}
	return opts
}

// ProduceConfig configures [Produce].
type ProduceConfig struct {
	Client cli.Options
	// Topic receives the records. It is created with Partitions
	// partitions if it does not exist.
	Topic string
	// Partitions for a topic that must be created; zero or -1 lets the
	// broker choose (num.partitions). An existing topic is left alone.
	Partitions int32
	// NumRecords to send in total; must be positive.
	NumRecords int64
	// RecordSize is the value size in bytes; must be positive.
	RecordSize int
	// Throughput caps the total rate in records per second; -1 (or 0)
	// means unlimited.
	Throughput float64
	// Producers is the number of independent clients sharing the work;
	// zero means 1.
	Producers int
	ProducerSettings
	// ReportInterval between progress lines; zero means
	// DefaultReportInterval, negative disables them.
	ReportInterval time.Duration
	// Progress receives progress lines; nil discards them.
	Progress io.Writer
}

// Validate reports unusable settings.
func (c *ProduceConfig) Validate() error {
	if err := c.Client.Validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return errors.New("no topic given")
	}
	if c.NumRecords <= 0 {
		return fmt.Errorf("number of records must be positive, got %d", c.NumRecords)
	}
	if c.RecordSize <= 0 {
		return fmt.Errorf("record size must be positive, got %d", c.RecordSize)
	}
	if c.Producers < 0 {
		return fmt.Errorf("number of producers %d is negative", c.Producers)
	}
	if c.Throughput < -1 {
		return fmt.Errorf("throughput %v must be positive or -1 (unlimited)", c.Throughput)
	}
	return c.ProducerSettings.Validate()
}

func (c *ProduceConfig) producers() int { return max(c.Producers, 1) }

// ConsumeConfig configures [Consume].
type ConsumeConfig struct {
	Client cli.Options
	// Topic to read from the start of every partition.
	Topic string
	// Messages to read; must be positive.
	Messages int64
	// Timeout ends the run when no record arrives for this long; zero
	// means 10 seconds (as kafka-consumer-perf-test).
	Timeout time.Duration
	// FetchMaxBytes bounds a Fetch response (fetch.max.bytes); zero keeps
	// the client default (50 MiB).
	FetchMaxBytes int32
	// FetchMaxPartitionBytes bounds one partition in a Fetch response
	// (max.partition.fetch.bytes); zero keeps the client default (1 MiB).
	FetchMaxPartitionBytes int32
	// Group, if set, consumes as a member of this consumer group (from the
	// earliest offset when the group has none committed).
	Group string
	// ReportInterval and Progress as in ProduceConfig.
	ReportInterval time.Duration
	Progress       io.Writer
}

// Validate reports unusable settings.
func (c *ConsumeConfig) Validate() error {
	if err := c.Client.Validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return errors.New("no topic given")
	}
	if c.Messages <= 0 {
		return fmt.Errorf("number of messages must be positive, got %d", c.Messages)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout %v is negative", c.Timeout)
	}
	if c.FetchMaxBytes < 0 || c.FetchMaxPartitionBytes < 0 {
		return errors.New("fetch byte limits must not be negative")
	}
	return nil
}

func (c *ConsumeConfig) timeout() time.Duration {
	if c.Timeout == 0 {
		return 10 * time.Second
	}
	return c.Timeout
}

// E2EConfig configures [EndToEnd].
type E2EConfig struct {
	Client     cli.Options
	Topic      string
	Partitions int32
	// NumRecords to send; must be positive.
	NumRecords int64
	// RecordSize is the value size; at least 8 bytes (the send time).
	RecordSize int
	// Throughput in records per second; -1 (or 0) means unlimited, which
	// measures queueing more than delivery.
	Throughput float64
	ProducerSettings
	// Timeout ends the run when no record arrives for this long; zero
	// means 10 seconds.
	Timeout        time.Duration
	ReportInterval time.Duration
	Progress       io.Writer
}

// Validate reports unusable settings.
func (c *E2EConfig) Validate() error {
	if err := c.Client.Validate(); err != nil {
		return err
	}
	if c.Topic == "" {
		return errors.New("no topic given")
	}
	if c.NumRecords <= 0 {
		return fmt.Errorf("number of records must be positive, got %d", c.NumRecords)
	}
	if c.RecordSize < 8 {
		return fmt.Errorf("record size must be at least 8 bytes (the send time), got %d", c.RecordSize)
	}
	if c.Throughput < -1 {
		return fmt.Errorf("throughput %v must be positive or -1 (unlimited)", c.Throughput)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("timeout %v is negative", c.Timeout)
	}
	return c.ProducerSettings.Validate()
}

func reportInterval(d time.Duration) time.Duration {
	if d == 0 {
		return DefaultReportInterval
	}
	return d
}
