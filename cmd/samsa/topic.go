package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCmd(flags *clientFlags) *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics",
	})
	cmd.AddCommand(
		newTopicCreateCmd(flags),
		newTopicListCmd(flags),
		newTopicDescribeCmd(flags),
		newTopicAlterCmd(flags),
		newTopicDeleteCmd(flags),
	)
	return cmd
}

// withAdmin dials the cluster, runs fn with an admin client under the
// --timeout deadline, and closes the client.
func withAdmin(ctx context.Context, flags *clientFlags, fn func(context.Context, *kadm.Client) error) error {
	o := flags.options()
	cl, err := cli.Dial(ctx, o)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, o.EffectiveTimeout())
	defer cancel()
	return fn(ctx, cli.Admin(cl))
}

func newTopicCreateCmd(flags *clientFlags) *cobra.Command {
	var (
		partitions  int32
		rf          int16
		configs     []string
		ifNotExists bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Example: `  samsa topic create orders --partitions 3
  samsa topic create audit --config retention.ms=86400000 --config cleanup.policy=compact`,
		Args: exactArgs(1, "one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			cfg, err := cli.ParseConfigs(configs)
			if err != nil {
				return &usageError{err}
			}
			if partitions == 0 || partitions < -1 {
				return usagef("--partitions must be positive (or -1 for the broker's num.partitions)")
			}
			if rf == 0 || rf < -1 {
				return usagef("--replication-factor must be positive (or -1 for the broker's default.replication.factor)")
			}
			o := flags.options()
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				resp, err := adm.CreateTopic(ctx, partitions, rf, cfg, name)
				if ifNotExists && errors.Is(err, kerr.TopicAlreadyExists) {
					fmt.Fprintf(cmd.OutOrStdout(), "Topic %q already exists.\n", name)
					return nil
				}
				if err != nil {
					return cli.TopicError(name, err, resp.ErrMessage, o)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Created topic %q (%s, replication factor %s, id %s).\n",
					name, plural(int(resp.NumPartitions), "partition"), orDefault(int64(resp.ReplicationFactor)), format.TopicID(resp.ID))
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's num.partitions)")
	f.Int16VarP(&rf, "replication-factor", "r", -1, "replicas per partition (-1: the broker's default.replication.factor)")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config as key=value (repeatable), e.g. retention.ms=3600000")
	f.BoolVar(&ifNotExists, "if-not-exists", false, "succeed if the topic already exists")
	return cmd
}

func newTopicListCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partition counts and replication factors",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				topics, err := adm.ListTopicsWithInternal(ctx)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				return writeTopicList(cmd.OutOrStdout(), topics)
			})
		},
	}
	return cmd
}

// writeTopicList prints one row per topic, sorted by name.
func writeTopicList(w io.Writer, topics kadm.TopicDetails) error {
	t := format.NewTable("TOPIC", "PARTITIONS", "REPLICATION-FACTOR", "INTERNAL")
	for _, name := range topics.Names() {
		td := topics[name]
		t.Row(name, strconv.Itoa(len(td.Partitions)), strconv.Itoa(replicationFactor(td)), strconv.FormatBool(td.IsInternal))
	}
	return t.Write(w)
}

// replicationFactor is the largest replica count over td's partitions (they
// differ only while a reassignment is in progress).
func replicationFactor(td kadm.TopicDetail) int {
	rf := 0
	for _, p := range td.Partitions {
		rf = max(rf, len(p.Replicas))
	}
	return rf
}

func newTopicDescribeCmd(flags *clientFlags) *cobra.Command {
	var allConfigs bool
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Describe topics: id, partitions with leader, replicas, ISR and offsets, and configs",
		Args:  minArgs(1, "at least one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := flags.options()
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				topics, err := adm.ListTopicsWithInternal(ctx, args...)
				if err != nil {
					return cli.Explain(err, o)
				}
				for _, name := range args {
					if td, ok := topics[name]; !ok || td.Err != nil {
						if !ok {
							return cli.Sentencef(nil, "topic %q does not exist", name)
						}
						return cli.TopicError(name, td.Err, "", o)
					}
				}
				starts, err := adm.ListStartOffsets(ctx, args...)
				if err != nil {
					return cli.Explain(err, o)
				}
				ends, err := adm.ListEndOffsets(ctx, args...)
				if err != nil {
					return cli.Explain(err, o)
				}
				rcs, err := adm.DescribeTopicConfigs(ctx, args...)
				if err != nil {
					return cli.Explain(err, o)
				}
				out := cmd.OutOrStdout()
				for i, name := range args {
					if i > 0 {
						fmt.Fprintln(out)
					}
					var cfgs []kadm.Config
					for _, rc := range rcs {
						if rc.Name == name {
							if rc.Err != nil {
								return cli.TopicError(name, rc.Err, rc.ErrMessage, o)
							}
							cfgs = rc.Configs
						}
					}
					if err := writeTopicDescription(out, topics[name], starts, ends, cfgs, allConfigs); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&allConfigs, "all-configs", false, "show every config with its source, not only those set on the topic")
	return cmd
}

// writeTopicDescription prints a topic's summary, its partition table and
// its configs (those set on the topic, or all of them with their source).
func writeTopicDescription(w io.Writer, td kadm.TopicDetail, starts, ends kadm.ListedOffsets, cfgs []kadm.Config, all bool) error {
	fmt.Fprintf(w, "Topic:              %s\n", td.Topic)
	fmt.Fprintf(w, "ID:                 %s\n", format.TopicID(td.ID))
	fmt.Fprintf(w, "Partitions:         %d\n", len(td.Partitions))
	fmt.Fprintf(w, "Replication factor: %d\n", replicationFactor(td))
	fmt.Fprintf(w, "Internal:           %t\n", td.IsInternal)

	var shown []kadm.Config
	for _, c := range cfgs {
		if all || c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			shown = append(shown, c)
		}
	}
	sort.Slice(shown, func(i, j int) bool { return shown[i].Key < shown[j].Key })
	if len(shown) == 0 {
		fmt.Fprintf(w, "Configs:            (none set on the topic)\n")
	} else {
		fmt.Fprintf(w, "Configs:\n")
		for _, c := range shown {
			v := c.MaybeValue()
			if c.Sensitive {
				v = "(sensitive)"
			}
			if all {
				fmt.Fprintf(w, "  %s=%s  (%s)\n", c.Key, v, configSource(c.Source))
			} else {
				fmt.Fprintf(w, "  %s=%s\n", c.Key, v)
			}
		}
	}
	fmt.Fprintln(w)

	t := format.NewTable("PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE", "LOG-START", "LOG-END", "ERROR")
	for _, p := range td.Partitions.Sorted() {
		t.Row(
			strconv.Itoa(int(p.Partition)),
			strconv.Itoa(int(p.Leader)),
			strconv.Itoa(int(p.LeaderEpoch)),
			ints(p.Replicas),
			ints(p.ISR),
			ints(p.OfflineReplicas),
			offsetCell(starts, td.Topic, p.Partition),
			offsetCell(ends, td.Topic, p.Partition),
			errCell(p.Err),
		)
	}
	return t.Write(w)
}

func offsetCell(l kadm.ListedOffsets, topic string, p int32) string {
	o, ok := l.Lookup(topic, p)
	if !ok || o.Err != nil {
		return "?"
	}
	return strconv.FormatInt(o.Offset, 10)
}

func errCell(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func ints(xs []int32) string {
	if len(xs) == 0 {
		return "-"
	}
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

func configSource(s kmsg.ConfigSource) string {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return "topic"
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return "dynamic broker"
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return "dynamic cluster default"
	case kmsg.ConfigSourceStaticBrokerConfig:
		return "static broker"
	case kmsg.ConfigSourceDefaultConfig:
		return "default"
	case kmsg.ConfigSourceDynamicBrokerLoggerConfig:
		return "broker logger"
	}
	return "unknown"
}

func newTopicAlterCmd(flags *clientFlags) *cobra.Command {
	var (
		set        []string
		del        []string
		partitions int
	)
	cmd := &cobra.Command{
		Use:   "alter NAME",
		Short: "Change a topic's configs or raise its partition count",
		Example: `  samsa topic alter orders --config retention.ms=3600000
  samsa topic alter orders --delete-config retention.ms
  samsa topic alter orders --partitions 6`,
		Args: exactArgs(1, "one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			alters, err := alterConfigs(set, del)
			if err != nil {
				return &usageError{err}
			}
			if partitions < 0 {
				return usagef("--partitions must be positive")
			}
			if len(alters) == 0 && partitions == 0 {
				return usagef("nothing to change: give --config, --delete-config or --partitions")
			}
			o := flags.options()
			out := cmd.OutOrStdout()
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				if len(alters) > 0 {
					rs, err := adm.AlterTopicConfigs(ctx, alters, name)
					if err != nil {
						return cli.Explain(err, o)
					}
					for _, r := range rs {
						if r.Err != nil {
							return cli.TopicError(name, r.Err, r.ErrMessage, o)
						}
					}
					fmt.Fprintf(out, "Updated %s of topic %q.\n", plural(len(alters), "config"), name)
				}
				if partitions > 0 {
					rs, err := adm.UpdatePartitions(ctx, partitions, name)
					if err != nil {
						return cli.Explain(err, o)
					}
					if r, ok := rs[name]; ok && r.Err != nil {
						return cli.TopicError(name, r.Err, r.ErrMessage, o)
					}
					fmt.Fprintf(out, "Topic %q now has %s.\n", name, plural(partitions, "partition"))
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&set, "config", "c", nil, "set a topic config, key=value (repeatable)")
	f.StringArrayVar(&del, "delete-config", nil, "remove a topic config so the default applies again (repeatable)")
	f.IntVarP(&partitions, "partitions", "p", 0, "new total number of partitions (can only grow)")
	return cmd
}

// alterConfigs turns --config and --delete-config flags into incremental
// alterations; naming one key in both is a mistake.
func alterConfigs(set, del []string) ([]kadm.AlterConfig, error) {
	cfg, err := cli.ParseConfigs(set)
	if err != nil {
		return nil, err
	}
	var out []kadm.AlterConfig
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: cfg[k]})
	}
	seen := map[string]bool{}
	for _, k := range del {
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, errors.New("bad --delete-config: empty key")
		}
		if _, both := cfg[k]; both {
			return nil, fmt.Errorf("%q is both set and deleted", k)
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	return out, nil
}

func newTopicDeleteCmd(flags *clientFlags) *cobra.Command {
	var ifExists bool
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete topics and all their records",
		Args:  minArgs(1, "at least one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := flags.options()
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				rs, err := adm.DeleteTopics(ctx, args...)
				if err != nil {
					return cli.Explain(err, o)
				}
				var errs []error
				for _, name := range args {
					r, ok := rs[name]
					switch {
					case !ok:
						errs = append(errs, cli.Sentencef(nil, "topic %q: no answer in the delete response", name))
					case r.Err == nil:
						fmt.Fprintf(cmd.OutOrStdout(), "Deleted topic %q.\n", name)
					case ifExists && errors.Is(r.Err, kerr.UnknownTopicOrPartition):
					default:
						errs = append(errs, cli.TopicError(name, r.Err, r.ErrMessage, o))
					}
				}
				return joinSentences(errs)
			})
		},
	}
	cmd.Flags().BoolVar(&ifExists, "if-exists", false, "succeed for topics that do not exist")
	return cmd
}

// joinSentences joins errors one per line, or returns nil for none.
func joinSentences(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return cli.Sentencef(errors.Join(errs...), "%s", strings.Join(msgs, "\nsamsa: "))
}

// plural counts a noun: "1 record", "2 records".
func plural[N ~int | ~int32 | ~int64](n N, noun string) string { return cli.Plural(n, noun) }

// orDefault prints -1 (the broker chose) as "default".
func orDefault(n int64) string {
	if n < 0 {
		return "default"
	}
	return strconv.FormatInt(n, 10)
}
