package main

// samsa cluster elect-leaders: preferred (or, by name, unclean) leader
// elections, as kafka-leader-election.sh runs them: ElectLeaders (KIP-183)
// through any broker, which forwards it to the active controller.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/cli"
)

// electResult is one partition's line of elect-leaders.
type electResult struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	// Result is elected, not_needed (the leader it would elect leads
	// already) or failed.
	Result string `json:"result" yaml:"result"`
	// Error is the Kafka error name when the result is not elected.
	Error *string `json:"error" yaml:"error"`
	// Message is the broker's message with the error.
	Message *string `json:"message" yaml:"message"`
}

func newClusterElectCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	var (
		topic      string
		partitions []int32
		how        string
	)
	cmd := &cobra.Command{
		Use:   "elect-leaders",
		Short: "Give partitions back to their preferred leaders (a leader election)",
		Long: `Elects partition leaders, as kafka-leader-election.sh does.

With --type preferred (the default) each partition's first replica, its
preferred leader, becomes its leader again when it is in the ISR and its
broker is live: after a broker restarted, its partitions stay led by the
other replicas until it is elected back (the controller also does this by
itself, every leader.imbalance.check.interval.seconds, unless
auto.leader.rebalance.enable is false).

With --type unclean a partition without a leader gets one, but only from
its in-sync replicas: Samsa never elects a replica outside the ISR, which
may lack acknowledged records.

Without --topic every partition of the cluster is elected, and only those
that needed an election are listed.`,
		Example: `  samsa cluster elect-leaders
  samsa cluster elect-leaders --topic orders
  samsa cluster elect-leaders --topic orders --partition 0 --partition 3`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var typ int8
			switch strings.ToLower(how) {
			case "preferred":
			case "unclean":
				typ = 1
			default:
				return usagef("--type must be preferred or unclean, not %q", how)
			}
			if len(partitions) > 0 && topic == "" {
				return usagef("--partition needs --topic")
			}
			o := flags.options()
			return withClient(cmd.Context(), flags, func(ctx context.Context, cl *kgo.Client) error {
				req := kmsg.NewPtrElectLeadersRequest()
				req.ElectionType = typ
				req.TimeoutMillis = int32(o.EffectiveTimeout().Milliseconds())
				if topic != "" {
					ps := partitions
					if len(ps) == 0 {
						var err error
						if ps, err = topicPartitions(ctx, cl, topic, o); err != nil {
							return err
						}
					}
					rt := kmsg.NewElectLeadersRequestTopic()
					rt.Topic, rt.Partitions = topic, ps
					req.Topics = append(req.Topics, rt)
				}
				// The request itself, not kadm.Client.ElectLeaders, which
				// drops the top-level error code: a request for every
				// partition that failed as a whole would read as one that
				// needed no election.
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					return cli.Explain(err, o)
				}
				if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
					return cli.Explain(err, o)
				}
				results, errs := electResults(resp, typ)
				w := cmd.OutOrStdout()
				if err := of.print(w, results, func(bool) error { return writeElectResults(w, results, typ, topic == "") }); err != nil {
					return err
				}
				return joinSentences(errs)
			})
		},
	}
	cmd.Flags().StringVarP(&topic, "topic", "t", "", "elect the partitions of this topic only (default: every partition)")
	cmd.Flags().Int32SliceVarP(&partitions, "partition", "p", nil, "elect this partition of --topic only (repeatable)")
	cmd.Flags().StringVar(&how, "type", "preferred", "election type: preferred or unclean (from the ISR only)")
	return cmd
}

// topicPartitions lists a topic's partition ids.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string, o cli.Options) ([]int32, error) {
	td, err := cli.Admin(cl).ListTopics(ctx, topic)
	if err != nil {
		return nil, cli.Explain(err, o)
	}
	d, ok := td[topic]
	if !ok || d.Err != nil {
		if !ok {
			d.Err = kerr.UnknownTopicOrPartition
		}
		return nil, cli.TopicError(topic, d.Err, "", o)
	}
	var ps []int32
	for _, p := range d.Partitions.Sorted() {
		ps = append(ps, p.Partition)
	}
	return ps, nil
}

// electResults turns the answer into one result per partition and a
// sentence per partition that could not be elected.
func electResults(resp *kmsg.ElectLeadersResponse, typ int8) ([]electResult, []error) {
	results := []electResult{}
	var errs []error
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			r := electResult{Topic: t.Topic, Partition: p.Partition, Result: "elected", Message: p.ErrorMessage}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				name := kerr.ErrorForCode(p.ErrorCode).(*kerr.Error).Message
				r.Error = &name
				r.Result = "failed"
				if errors.Is(err, kerr.ElectionNotNeeded) {
					r.Result = "not_needed"
				} else {
					errs = append(errs, electionError(t.Topic, p.Partition, err, typ))
				}
			}
			results = append(results, r)
		}
	}
	return results, errs
}

// electionError says why a partition's leader could not be elected.
func electionError(topic string, partition int32, err error, typ int8) error {
	tp := fmt.Sprintf("%s-%d", topic, partition)
	switch {
	case errors.Is(err, kerr.PreferredLeaderNotAvailable):
		return cli.Sentencef(err, "%s: its preferred leader cannot lead now: it is not in the ISR (it may still be catching up), or its broker is fenced or shutting down (PREFERRED_LEADER_NOT_AVAILABLE)", tp)
	case errors.Is(err, kerr.EligibleLeadersNotAvailable):
		return cli.Sentencef(err, "%s: no in-sync replica is live to lead it, and Samsa does not elect a replica outside the ISR (ELIGIBLE_LEADERS_NOT_AVAILABLE)", tp)
	case errors.Is(err, kerr.UnknownTopicOrPartition):
		return cli.Sentencef(err, "%s does not exist", tp)
	}
	kind := "preferred"
	if typ == 1 {
		kind = "unclean"
	}
	return cli.Sentencef(err, "%s: the %s election failed: %v", tp, kind, err)
}

func writeElectResults(w io.Writer, results []electResult, typ int8, all bool) error {
	if len(results) == 0 && all {
		_, err := fmt.Fprintln(w, "No partition needed a leader election.")
		return err
	}
	for _, r := range results {
		var line string
		switch r.Result {
		case "elected":
			line = "elected its preferred leader"
			if typ == 1 {
				line = "elected a leader from its in-sync replicas"
			}
		case "not_needed":
			line = "no election needed: its preferred leader leads it"
			if typ == 1 {
				line = "no election needed: it has a leader"
			}
		default:
			line = "not elected (" + *r.Error + ")"
		}
		if _, err := fmt.Fprintf(w, "%s-%d: %s\n", r.Topic, r.Partition, line); err != nil {
			return err
		}
	}
	return nil
}
