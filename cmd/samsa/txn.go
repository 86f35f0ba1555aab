package main

// samsa txn list|describe|abort: transactions on any Kafka-compatible
// cluster, through kadm — the counterpart of kafka-transactions.sh for
// finding and ending stuck (hanging) transactions.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func newTxnCmd(flags *clientFlags) *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "txn",
		Short: "List, describe and abort transactions",
	})
	of := addOutputFlag(cmd)
	cmd.AddCommand(newTxnListCmd(flags, of), newTxnDescribeCmd(flags, of), newTxnAbortCmd(flags, of))
	return cmd
}

// txnSummary is a transactional id in the output of txn list.
type txnSummary struct {
	TransactionalID string `json:"transactional_id" yaml:"transactional_id"`
	ProducerID      int64  `json:"producer_id" yaml:"producer_id"`
	State           string `json:"state" yaml:"state"`
	Coordinator     int32  `json:"coordinator" yaml:"coordinator"`
}

func newTxnListCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	var states []string
	var producerIDs []int64
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List transactional ids with their producer id and state",
		Example: "  samsa txn list\n  samsa txn list --state Ongoing",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				listed, err := adm.ListTransactions(ctx, producerIDs, states)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				list := make([]txnSummary, 0, len(listed))
				for _, l := range listed.Sorted() {
					list = append(list, txnSummary{TransactionalID: l.TxnID, ProducerID: l.ProducerID, State: l.State, Coordinator: l.Coordinator})
				}
				w := cmd.OutOrStdout()
				return of.print(w, list, func(bool) error {
					t := format.NewTable("TRANSACTIONAL-ID", "PRODUCER-ID", "STATE", "COORDINATOR")
					for _, l := range list {
						t.Row(l.TransactionalID, fmt.Sprint(l.ProducerID), l.State, fmt.Sprint(l.Coordinator))
					}
					return t.Write(w)
				})
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only transactions in these states (Empty, Ongoing, PrepareCommit, ...)")
	cmd.Flags().Int64SliceVar(&producerIDs, "producer-id", nil, "only these producer ids")
	return cmd
}

// txnDescription is a transactional id in the output of txn describe.
type txnDescription struct {
	TransactionalID string `json:"transactional_id" yaml:"transactional_id"`
	State           string `json:"state" yaml:"state"`
	ProducerID      int64  `json:"producer_id" yaml:"producer_id"`
	ProducerEpoch   int16  `json:"producer_epoch" yaml:"producer_epoch"`
	TimeoutMs       int32  `json:"timeout_ms" yaml:"timeout_ms"`
	// StartTimestamp is when the open transaction started (Unix
	// milliseconds), null when none is open.
	StartTimestamp *int64 `json:"start_timestamp" yaml:"start_timestamp"`
	// Partitions are those in the open transaction, sorted.
	Partitions  []topicPartition `json:"partitions" yaml:"partitions"`
	Coordinator int32            `json:"coordinator" yaml:"coordinator"`
	// Error says why the transactional id could not be described.
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

type topicPartition struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
}

func newTxnDescribeCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe TRANSACTIONAL-ID...",
		Short:   "Show the state, producer, timeout and partitions of transactions",
		Example: "  samsa txn describe payments-1",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("expected at least one transactional id")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				described, err := adm.DescribeTransactions(ctx, args...)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				descs := describeTxns(args, described)
				w := cmd.OutOrStdout()
				return of.print(w, descs, func(wide bool) error { return writeTxnDescriptions(w, descs, time.Now(), wide) })
			})
		},
	}
	return cmd
}

func describeTxns(ids []string, described kadm.DescribedTransactions) []txnDescription {
	out := make([]txnDescription, 0, len(ids))
	for _, id := range ids {
		d, ok := described[id]
		if !ok || d.Err != nil {
			msg := "not described"
			if ok {
				msg = d.Err.Error()
			}
			out = append(out, txnDescription{TransactionalID: id, Partitions: []topicPartition{}, Error: msg})
			continue
		}
		td := txnDescription{
			TransactionalID: id,
			State:           d.State,
			ProducerID:      d.ProducerID,
			ProducerEpoch:   d.ProducerEpoch,
			TimeoutMs:       d.TimeoutMillis,
			Partitions:      []topicPartition{},
			Coordinator:     d.Coordinator,
		}
		if d.StartTimestamp > 0 {
			ts := d.StartTimestamp
			td.StartTimestamp = &ts
		}
		for topic, ps := range d.Topics {
			for p := range ps {
				td.Partitions = append(td.Partitions, topicPartition{Topic: topic, Partition: p})
			}
		}
		sort.Slice(td.Partitions, func(i, j int) bool {
			a, b := td.Partitions[i], td.Partitions[j]
			return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
		})
		out = append(out, td)
	}
	return out
}

// writeTxnDescriptions prints a row per transactional id; wide adds the
// start time and the coordinator.
func writeTxnDescriptions(w io.Writer, descs []txnDescription, now time.Time, wide bool) error {
	columns := []string{"TRANSACTIONAL-ID", "STATE", "PRODUCER-ID", "EPOCH", "TIMEOUT", "RUNNING", "PARTITIONS", "ERROR"}
	if wide {
		columns = append(columns, "STARTED", "COORDINATOR")
	}
	t := format.NewTable(columns...)
	for _, d := range descs {
		if d.Error != "" {
			t.Row(d.TransactionalID, "", "", "", "", "", "", d.Error)
			continue
		}
		running, started := "", ""
		if d.StartTimestamp != nil {
			running = now.Sub(time.UnixMilli(*d.StartTimestamp)).Round(time.Millisecond).String()
			started = format.Millis(*d.StartTimestamp)
		}
		parts := make([]string, len(d.Partitions))
		for i, p := range d.Partitions {
			parts[i] = fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		}
		t.Row(d.TransactionalID, d.State, fmt.Sprint(d.ProducerID), fmt.Sprint(d.ProducerEpoch),
			(time.Duration(d.TimeoutMs) * time.Millisecond).String(), running, strings.Join(parts, ","), "",
			started, fmt.Sprint(d.Coordinator))
	}
	return t.Write(w)
}

// txnAborted is the output of txn abort.
type txnAborted struct {
	Topic            string `json:"topic" yaml:"topic"`
	Partition        int32  `json:"partition" yaml:"partition"`
	ProducerID       int64  `json:"producer_id" yaml:"producer_id"`
	ProducerEpoch    int16  `json:"producer_epoch" yaml:"producer_epoch"`
	CoordinatorEpoch int32  `json:"coordinator_epoch" yaml:"coordinator_epoch"`
}

func newTxnAbortCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	var (
		topic            string
		partition        int32
		startOffset      int64
		producerID       int64
		producerEpoch    int16
		coordinatorEpoch int32
	)
	cmd := &cobra.Command{
		Use:   "abort",
		Short: "Abort a hanging transaction on one partition by writing an abort marker",
		Long: `Abort a hanging transaction on one partition, as kafka-transactions.sh abort does:
an abort marker is written to the partition for the producer, which releases
the partition's last stable offset. Name the transaction by the first offset
it holds open (--start-offset, found with DescribeProducers), or give the
producer id, epoch and coordinator epoch yourself.`,
		Example: "  samsa txn abort --topic orders --partition 0 --start-offset 1200\n" +
			"  samsa txn abort --topic orders --partition 0 --producer-id 7 --producer-epoch 3 --coordinator-epoch 0",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" || partition < 0 {
				return usagef("--topic and --partition are required")
			}
			if (startOffset < 0) == (producerID < 0) {
				return usagef("give either --start-offset or --producer-id (with --producer-epoch and --coordinator-epoch)")
			}
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				m := kadm.TxnMarkers{ProducerID: producerID, ProducerEpoch: producerEpoch, CoordinatorEpoch: coordinatorEpoch,
					Topics: kadm.TopicsSet{topic: {partition: {}}}}
				if startOffset >= 0 {
					dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {partition: {}}})
					if err != nil {
						return cli.Explain(err, flags.options())
					}
					found := false
					dp.EachPartition(func(pp kadm.DescribedProducersPartition) {
						if pp.Err != nil {
							return
						}
						for _, ap := range pp.ActiveProducers {
							if ap.CurrentTxnStartOffset == startOffset {
								m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch = ap.ProducerID, ap.ProducerEpoch, ap.CoordinatorEpoch
								if m.CoordinatorEpoch < 0 {
									m.CoordinatorEpoch = 0
								}
								found = true
							}
						}
					})
					if !found {
						return fmt.Errorf("no open transaction starts at offset %d of %s-%d", startOffset, topic, partition)
					}
				}
				resp, err := adm.WriteTxnMarkers(ctx, m)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				var ferr error
				resp.EachPartition(func(p kadm.TxnMarkersPartitionResponse) {
					if p.Err != nil && ferr == nil {
						ferr = fmt.Errorf("abort marker for producer %d on %s-%d: %w", p.ProducerID, p.Topic, p.Partition, p.Err)
					}
				})
				if ferr != nil {
					return ferr
				}
				w := cmd.OutOrStdout()
				res := txnAborted{Topic: topic, Partition: partition, ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, CoordinatorEpoch: m.CoordinatorEpoch}
				return of.print(w, res, func(bool) error {
					_, err := fmt.Fprintf(w, "Aborted the transaction of producer %d (epoch %d) on %s-%d.\n", m.ProducerID, m.ProducerEpoch, topic, partition)
					return err
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "the partition's topic")
	f.Int32Var(&partition, "partition", -1, "the partition")
	f.Int64Var(&startOffset, "start-offset", -1, "first offset of the hanging transaction")
	f.Int64Var(&producerID, "producer-id", -1, "producer id of the transaction")
	f.Int16Var(&producerEpoch, "producer-epoch", 0, "producer epoch of the transaction")
	f.Int32Var(&coordinatorEpoch, "coordinator-epoch", 0, "coordinator epoch of the transaction")
	return cmd
}
