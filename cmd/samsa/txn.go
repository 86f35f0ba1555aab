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
	cmd.AddCommand(newTxnListCmd(flags), newTxnDescribeCmd(flags), newTxnAbortCmd(flags))
	return cmd
}

func newTxnListCmd(flags *clientFlags) *cobra.Command {
	var states []string
	var producerIDs []int64
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List transactional ids with their producer id and state",
		Example: "  samsa txn list\n  samsa txn list --state Ongoing",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				listed, err := adm.ListTransactions(ctx, producerIDs, states)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				t := format.NewTable("TRANSACTIONAL-ID", "PRODUCER-ID", "STATE", "COORDINATOR")
				for _, l := range listed.Sorted() {
					t.Row(l.TxnID, fmt.Sprint(l.ProducerID), l.State, fmt.Sprint(l.Coordinator))
				}
				return t.Write(cmd.OutOrStdout())
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only transactions in these states (Empty, Ongoing, PrepareCommit, ...)")
	cmd.Flags().Int64SliceVar(&producerIDs, "producer-id", nil, "only these producer ids")
	return cmd
}

func newTxnDescribeCmd(flags *clientFlags) *cobra.Command {
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
				return writeTxnDescriptions(cmd.OutOrStdout(), args, described, time.Now())
			})
		},
	}
	return cmd
}

func writeTxnDescriptions(w io.Writer, ids []string, described kadm.DescribedTransactions, now time.Time) error {
	t := format.NewTable("TRANSACTIONAL-ID", "STATE", "PRODUCER-ID", "EPOCH", "TIMEOUT", "RUNNING", "PARTITIONS", "ERROR")
	for _, id := range ids {
		d, ok := described[id]
		if !ok || d.Err != nil {
			msg := "not described"
			if ok {
				msg = d.Err.Error()
			}
			t.Row(id, "", "", "", "", "", "", msg)
			continue
		}
		running := ""
		if d.StartTimestamp > 0 {
			running = now.Sub(time.UnixMilli(d.StartTimestamp)).Round(time.Millisecond).String()
		}
		var parts []string
		for topic, ps := range d.Topics {
			for p := range ps {
				parts = append(parts, fmt.Sprintf("%s-%d", topic, p))
			}
		}
		sort.Strings(parts)
		t.Row(id, d.State, fmt.Sprint(d.ProducerID), fmt.Sprint(d.ProducerEpoch),
			(time.Duration(d.TimeoutMillis) * time.Millisecond).String(), running, strings.Join(parts, ","), "")
	}
	return t.Write(w)
}

func newTxnAbortCmd(flags *clientFlags) *cobra.Command {
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
				fmt.Fprintf(cmd.OutOrStdout(), "aborted the transaction of producer %d (epoch %d) on %s-%d\n", m.ProducerID, m.ProducerEpoch, topic, partition)
				return nil
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
