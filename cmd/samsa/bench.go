package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli/bench"
	"github.com/spf13/cobra"
)

func newBenchCmd(flags *clientFlags) *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster's throughput and latency",
		Long: `Benchmarks in the manner of Kafka's perf-test tools, against any
Kafka-compatible cluster: 'bench produce' (kafka-producer-perf-test),
'bench consume' (kafka-consumer-perf-test) and 'bench e2e' (end-to-end
latency from send to delivery). Progress lines go to standard error every 5
seconds; the summary goes to standard output, as JSON with --json.

The client's own CPU is part of every figure, and on a machine it shares
with the broker it takes CPU from the broker too; so the benchmarks run the
Go garbage collector less often than Go's default (GOGC=400), unless GOGC
is set in the environment.`,
		PersistentPreRun: func(*cobra.Command, []string) {
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(benchGCPercent)
			}
		},
	})
	cmd.AddCommand(newBenchProduceCmd(flags), newBenchConsumeCmd(flags), newBenchE2ECmd(flags))
	return cmd
}

// benchGCPercent is the benchmarks' GOGC: a quarter of the collections of
// Go's default, for a heap that stays small (the records in flight) while
// allocating a few objects per record, at millions of records a second.
const benchGCPercent = 400

// producerSettingFlags registers the producer knobs shared by 'bench
// produce' and 'bench e2e'.
func producerSettingFlags(cmd *cobra.Command, ps *bench.ProducerSettings) {
	f := cmd.Flags()
	f.StringVar(&ps.Acks, "acks", "all", "acknowledgements to wait for: all, 1 or 0")
	f.StringVar(&ps.Compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.Int32Var(&ps.BatchMaxBytes, "batch-max-bytes", 0, "largest record batch per partition in bytes (0: client default, 1 MB)")
	f.DurationVar(&ps.Linger, "linger", 0, "how long a batch waits for more records (linger.ms)")
	f.BoolVar(&ps.Idempotent, "idempotent", true, "idempotent producer (only with --acks all)")
	f.IntVar(&ps.MaxBufferedRecords, "max-buffered-records", 0, "records in flight per producer (0: client default, 10000)")
}

// printResult writes a benchmark result as text or JSON, then turns the
// benchmark's error (if any) into the command's.
func printResult(w io.Writer, asJSON bool, res texter, err error) error {
	if res != nil {
		if asJSON {
			b, jerr := json.MarshalIndent(res, "", "  ")
			if jerr != nil {
				return jerr
			}
			fmt.Fprintf(w, "%s\n", b)
		} else {
			io.WriteString(w, res.Text())
		}
	}
	if errors.Is(err, context.Canceled) {
		return &exitError{code: 130, msg: "interrupted"}
	}
	return err
}

// texter is a benchmark result.
type texter interface{ Text() string }

// resultOrNil keeps a nil result pointer from becoming a non-nil interface.
func resultOrNil[T any, P interface {
	*T
	texter
}](p P) texter {
	if p == nil {
		return nil
	}
	return p
}

func newBenchProduceCmd(flags *clientFlags) *cobra.Command {
	cfg := bench.ProduceConfig{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Producer throughput and latency (like kafka-producer-perf-test)",
		Example: `  samsa bench produce --topic bench --num-records 1000000 --record-size 1024 --partitions 6
  samsa bench produce --topic bench --num-records 300000 --record-size 1024 --throughput 51200 --json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Client = flags.options()
			cfg.Progress = cmd.ErrOrStderr()
			if err := cfg.Validate(); err != nil {
				return &usageError{err}
			}
			res, err := bench.Produce(cmd.Context(), cfg)
			return printResult(cmd.OutOrStdout(), asJSON, resultOrNil(res), err)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", "samsa-bench", "topic to write (created if missing)")
	f.Int64VarP(&cfg.NumRecords, "num-records", "n", 1_000_000, "records to send")
	f.IntVarP(&cfg.RecordSize, "record-size", "s", 1024, "value size in bytes")
	f.Float64Var(&cfg.Throughput, "throughput", -1, "target records/s in total (-1: unlimited)")
	f.Int32Var(&cfg.Partitions, "partitions", 0, "partitions if the topic must be created (0: broker default)")
	f.IntVar(&cfg.Producers, "producers", 1, "independent producer clients sharing the work")
	f.DurationVar(&cfg.ReportInterval, "report-interval", bench.DefaultReportInterval, "time between progress lines (negative: none)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	producerSettingFlags(cmd, &cfg.ProducerSettings)
	return cmd
}

func newBenchConsumeCmd(flags *clientFlags) *cobra.Command {
	cfg := bench.ConsumeConfig{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "consume",
		Short:   "Consumer throughput (like kafka-consumer-perf-test)",
		Example: `  samsa bench consume --topic bench --messages 1000000`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Client = flags.options()
			cfg.Progress = cmd.ErrOrStderr()
			if err := cfg.Validate(); err != nil {
				return &usageError{err}
			}
			res, err := bench.Consume(cmd.Context(), cfg)
			return printResult(cmd.OutOrStdout(), asJSON, resultOrNil(res), err)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", "samsa-bench", "topic to read from the beginning")
	f.Int64VarP(&cfg.Messages, "messages", "n", 1_000_000, "records to read")
	f.DurationVar(&cfg.Timeout, "idle-timeout", 10*time.Second, "give up when no record arrives for this long")
	f.Int32Var(&cfg.FetchMaxBytes, "fetch-max-bytes", 0, "largest Fetch response (fetch.max.bytes; 0: client default, 50 MiB)")
	f.Int32Var(&cfg.FetchMaxPartitionBytes, "fetch-max-partition-bytes", 0, "largest share of one partition in a Fetch response (max.partition.fetch.bytes; 0: client default, 1 MiB)")
	f.StringVarP(&cfg.Group, "group", "g", "", "consume as this consumer group (default: no group, direct partition assignment)")
	f.DurationVar(&cfg.ReportInterval, "report-interval", bench.DefaultReportInterval, "time between progress lines (negative: none)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func newBenchE2ECmd(flags *clientFlags) *cobra.Command {
	cfg := bench.E2EConfig{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "End-to-end latency: from send to delivery to a consumer",
		Long: `Produce timestamped records at a steady rate while a consumer reads them,
and report the delivery latency distribution (send call to consumer poll) as
well as the produce latency (send call to acknowledgement).`,
		Example: `  samsa bench e2e --topic e2e --num-records 50000 --throughput 5000 --record-size 1024`,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Client = flags.options()
			cfg.Progress = cmd.ErrOrStderr()
			if err := cfg.Validate(); err != nil {
				return &usageError{err}
			}
			res, err := bench.EndToEnd(cmd.Context(), cfg)
			return printResult(cmd.OutOrStdout(), asJSON, resultOrNil(res), err)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Topic, "topic", "t", "samsa-e2e", "topic to use (created if missing)")
	f.Int64VarP(&cfg.NumRecords, "num-records", "n", 10_000, "records to send")
	f.IntVarP(&cfg.RecordSize, "record-size", "s", 1024, "value size in bytes (at least 8)")
	f.Float64Var(&cfg.Throughput, "throughput", 1000, "records/s (-1: unlimited, which measures queueing)")
	f.Int32Var(&cfg.Partitions, "partitions", 0, "partitions if the topic must be created (0: broker default)")
	f.DurationVar(&cfg.Timeout, "idle-timeout", 10*time.Second, "give up when no record arrives for this long")
	f.DurationVar(&cfg.ReportInterval, "report-interval", bench.DefaultReportInterval, "time between progress lines (negative: none)")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	producerSettingFlags(cmd, &cfg.ProducerSettings)
	return cmd
}
