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
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newTopicCmd(flags *clientFlags) *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, alter and delete topics",
	})
	of := addOutputFlag(cmd)
	cmd.AddCommand(
		newTopicCreateCmd(flags, of),
		newTopicListCmd(flags, of),
		newTopicDescribeCmd(flags, of),
		newTopicAlterCmd(flags, of),
		newTopicDeleteCmd(flags, of),
	)
	return cmd
}

// topicSummary is a topic in the output of topic list and topic create,
// and the first fields of topic describe.
type topicSummary struct {
	Name string `json:"name" yaml:"name"`
	// ID is the topic id as Kafka's tools print it (22 characters of
	// URL-safe base64).
	ID                string `json:"id" yaml:"id"`
	PartitionCount    int    `json:"partition_count" yaml:"partition_count"`
	ReplicationFactor int    `json:"replication_factor" yaml:"replication_factor"`
	Internal          bool   `json:"internal" yaml:"internal"`
}

func summarize(td kadm.TopicDetail) topicSummary {
	return topicSummary{
		Name:              td.Topic,
		ID:                format.TopicID(td.ID),
		PartitionCount:    len(td.Partitions),
		ReplicationFactor: replicationFactor(td),
		Internal:          td.IsInternal,
	}
}

// topicCreated is the output of topic create.
type topicCreated struct {
	topicSummary `json:",inline" yaml:",inline"`
	// Created is false when --if-not-exists found the topic already there.
	Created bool `json:"created" yaml:"created"`
}

// withClient dials the cluster, runs fn with the client under the
// --timeout deadline, and closes the client.
func withClient(ctx context.Context, flags *clientFlags, fn func(context.Context, *kgo.Client) error) error {
	o := flags.options()
	cl, err := cli.Dial(ctx, o)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, o.EffectiveTimeout())
	defer cancel()
	return fn(ctx, cl)
}

// withAdmin is withClient with an admin client.
func withAdmin(ctx context.Context, flags *clientFlags, fn func(context.Context, *kadm.Client) error) error {
	return withClient(ctx, flags, func(ctx context.Context, cl *kgo.Client) error { return fn(ctx, cli.Admin(cl)) })
}

func newTopicCreateCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
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
			w := cmd.OutOrStdout()
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				resp, err := adm.CreateTopic(ctx, partitions, rf, cfg, name)
				if ifNotExists && errors.Is(err, kerr.TopicAlreadyExists) {
					if !of.structured() {
						_, err := fmt.Fprintf(w, "Topic %q already exists.\n", name)
						return err
					}
					topics, err := adm.ListTopicsWithInternal(ctx, name)
					if err != nil {
						return cli.Explain(err, o)
					}
					td := topics[name]
					if td.Err != nil {
						return cli.TopicError(name, td.Err, "", o)
					}
					return format.Encode(w, of.output, topicCreated{topicSummary: summarize(td)})
				}
				if err != nil {
					return cli.TopicError(name, err, resp.ErrMessage, o)
				}
				created := topicCreated{
					topicSummary: topicSummary{
						Name:              name,
						ID:                format.TopicID(resp.ID),
						PartitionCount:    int(resp.NumPartitions),
						ReplicationFactor: int(resp.ReplicationFactor),
					},
					Created: true,
				}
				return of.print(w, created, func(bool) error {
					_, err := fmt.Fprintf(w, "Created topic %q (%s, replication factor %s, id %s).\n",
						name, plural(resp.NumPartitions, "partition"), orDefault(int64(resp.ReplicationFactor)), created.ID)
					return err
				})
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

func newTopicListCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics with their partition counts and replication factors",
		Example: "  samsa topic list\n  samsa topic list --format json",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				topics, err := adm.ListTopicsWithInternal(ctx)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				list := make([]topicSummary, 0, len(topics))
				for _, name := range topics.Names() {
					list = append(list, summarize(topics[name]))
				}
				w := cmd.OutOrStdout()
				return of.print(w, list, func(wide bool) error { return writeTopicList(w, list, wide) })
			})
		},
	}
	return cmd
}

// writeTopicList prints one row per topic; wide adds the topic ids.
func writeTopicList(w io.Writer, topics []topicSummary, wide bool) error {
	columns := []string{"TOPIC", "PARTITIONS", "REPLICATION-FACTOR", "INTERNAL"}
	if wide {
		columns = append(columns, "ID")
	}
	t := format.NewTable(columns...)
	for _, ts := range topics {
		t.Row(ts.Name, strconv.Itoa(ts.PartitionCount), strconv.Itoa(ts.ReplicationFactor), strconv.FormatBool(ts.Internal), ts.ID)
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

// topicDescription is a topic in the output of topic describe.
type topicDescription struct {
	topicSummary `json:",inline" yaml:",inline"`
	// Configs are those set on the topic, or with --all-configs all of
	// them, sorted by name.
	Configs    []topicConfig     `json:"configs" yaml:"configs"`
	Partitions []partitionDetail `json:"partitions" yaml:"partitions"`
}

type topicConfig struct {
	Name string `json:"name" yaml:"name"`
	// Value is null for a sensitive config or one without a value.
	Value *string `json:"value" yaml:"value"`
	// Source is Kafka's name for where the value comes from:
	// DYNAMIC_TOPIC_CONFIG (set on the topic), STATIC_BROKER_CONFIG,
	// DEFAULT_CONFIG, ...
	Source    string `json:"source" yaml:"source"`
	Sensitive bool   `json:"sensitive" yaml:"sensitive"`

	kafkaSource kmsg.ConfigSource
}

type partitionDetail struct {
	Partition       int32   `json:"partition" yaml:"partition"`
	Leader          int32   `json:"leader" yaml:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch" yaml:"leader_epoch"`
	Replicas        []int32 `json:"replicas" yaml:"replicas"`
	ISR             []int32 `json:"isr" yaml:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas" yaml:"offline_replicas"`
	// LogStartOffset and LogEndOffset are null when ListOffsets failed
	// for the partition.
	LogStartOffset *int64 `json:"log_start_offset" yaml:"log_start_offset"`
	LogEndOffset   *int64 `json:"log_end_offset" yaml:"log_end_offset"`
	// Error is the partition's error code in the metadata, if any.
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

func newTopicDescribeCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	var allConfigs bool
	cmd := &cobra.Command{
		Use:     "describe NAME...",
		Short:   "Describe topics: id, partitions with leader, replicas, ISR and offsets, and configs",
		Example: "  samsa topic describe orders\n  samsa topic describe orders audit --all-configs --format yaml",
		Args:    minArgs(1, "at least one topic name"),
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
				// A partition without a leader has no offsets to list: the
				// others are still described, and its row shows the error.
				starts, err := adm.ListStartOffsets(ctx, args...)
				if err != nil && !isShardErrors(err) {
					return cli.Explain(err, o)
				}
				ends, err := adm.ListEndOffsets(ctx, args...)
				if err != nil && !isShardErrors(err) {
					return cli.Explain(err, o)
				}
				rcs, err := adm.DescribeTopicConfigs(ctx, args...)
				if err != nil {
					return cli.Explain(err, o)
				}
				var descs []topicDescription
				for _, name := range args {
					var cfgs []kadm.Config
					for _, rc := range rcs {
						if rc.Name == name {
							if rc.Err != nil {
								return cli.TopicError(name, rc.Err, rc.ErrMessage, o)
							}
							cfgs = rc.Configs
						}
					}
					descs = append(descs, describeTopic(topics[name], starts, ends, cfgs, allConfigs))
				}
				w := cmd.OutOrStdout()
				return of.print(w, descs, func(bool) error {
					for i, d := range descs {
						if i > 0 {
							fmt.Fprintln(w)
						}
						if err := writeTopicDescription(w, d, allConfigs); err != nil {
							return err
						}
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().BoolVar(&allConfigs, "all-configs", false, "show every config with its source, not only those set on the topic")
	return cmd
}

// describeTopic gathers a topic's metadata, offsets and configs (those set
// on the topic, or all of them).
func describeTopic(td kadm.TopicDetail, starts, ends kadm.ListedOffsets, cfgs []kadm.Config, all bool) topicDescription {
	d := topicDescription{topicSummary: summarize(td), Configs: []topicConfig{}, Partitions: []partitionDetail{}}
	for _, c := range cfgs {
		if all || c.Source == kmsg.ConfigSourceDynamicTopicConfig {
			d.Configs = append(d.Configs, topicConfig{Name: c.Key, Value: c.Value, Source: c.Source.String(), Sensitive: c.Sensitive, kafkaSource: c.Source})
		}
	}
	sort.Slice(d.Configs, func(i, j int) bool { return d.Configs[i].Name < d.Configs[j].Name })
	for _, p := range td.Partitions.Sorted() {
		d.Partitions = append(d.Partitions, partitionDetail{
			Partition:       p.Partition,
			Leader:          p.Leader,
			LeaderEpoch:     p.LeaderEpoch,
			Replicas:        orEmpty(p.Replicas),
			ISR:             orEmpty(p.ISR),
			OfflineReplicas: orEmpty(p.OfflineReplicas),
			LogStartOffset:  listedOffset(starts, td.Topic, p.Partition),
			LogEndOffset:    listedOffset(ends, td.Topic, p.Partition),
			Error:           errCell(p.Err),
		})
	}
	return d
}

func orEmpty(xs []int32) []int32 {
	if xs == nil {
		return []int32{}
	}
	return xs
}

// writeTopicDescription prints a topic's summary, its configs (with their
// source when all were asked for) and its partition table.
func writeTopicDescription(w io.Writer, d topicDescription, all bool) error {
	fmt.Fprintf(w, "Topic:              %s\n", d.Name)
	fmt.Fprintf(w, "ID:                 %s\n", d.ID)
	fmt.Fprintf(w, "Partitions:         %d\n", d.PartitionCount)
	fmt.Fprintf(w, "Replication factor: %d\n", d.ReplicationFactor)
	fmt.Fprintf(w, "Internal:           %t\n", d.Internal)
	if len(d.Configs) == 0 {
		fmt.Fprintf(w, "Configs:            (none set on the topic)\n")
	} else {
		fmt.Fprintf(w, "Configs:\n")
		for _, c := range d.Configs {
			v := ""
			if c.Value != nil {
				v = *c.Value
			}
			if c.Sensitive {
				v = "(sensitive)"
			}
			if all {
				fmt.Fprintf(w, "  %s=%s  (%s)\n", c.Name, v, configSource(c.kafkaSource))
			} else {
				fmt.Fprintf(w, "  %s=%s\n", c.Name, v)
			}
		}
	}
	fmt.Fprintln(w)

	t := format.NewTable("PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "OFFLINE", "LOG-START", "LOG-END", "ERROR")
	for _, p := range d.Partitions {
		t.Row(
			strconv.Itoa(int(p.Partition)),
			strconv.Itoa(int(p.Leader)),
			strconv.Itoa(int(p.LeaderEpoch)),
			ints(p.Replicas),
			ints(p.ISR),
			ints(p.OfflineReplicas),
			offsetCell(p.LogStartOffset),
			offsetCell(p.LogEndOffset),
			p.Error,
		)
	}
	return t.Write(w)
}

// listedOffset is the offset listed for a partition, or nil if there is
// none.
func listedOffset(l kadm.ListedOffsets, topic string, p int32) *int64 {
	o, ok := l.Lookup(topic, p)
	if !ok || o.Err != nil {
		return nil
	}
	return &o.Offset
}

func offsetCell(o *int64) string {
	if o == nil {
		return "?"
	}
	return strconv.FormatInt(*o, 10)
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

// topicAltered is the output of topic alter.
type topicAltered struct {
	Name           string            `json:"name" yaml:"name"`
	SetConfigs     map[string]string `json:"set_configs" yaml:"set_configs"`
	DeletedConfigs []string          `json:"deleted_configs" yaml:"deleted_configs"`
	// PartitionCount is the new partition count, null when unchanged.
	PartitionCount *int `json:"partition_count" yaml:"partition_count"`
}

func newTopicAlterCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
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
			if of.structured() {
				out = io.Discard
			}
			result := topicAltered{Name: name, SetConfigs: map[string]string{}, DeletedConfigs: []string{}}
			for _, a := range alters {
				if a.Op == kadm.SetConfig {
					result.SetConfigs[a.Name] = *a.Value
				} else {
					result.DeletedConfigs = append(result.DeletedConfigs, a.Name)
				}
			}
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
					result.PartitionCount = &partitions
				}
				if of.structured() {
					return format.Encode(cmd.OutOrStdout(), of.output, result)
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

// topicDeleted is a topic in the output of topic delete.
type topicDeleted struct {
	Name string `json:"name" yaml:"name"`
	// Deleted is false for a topic that --if-exists found missing.
	Deleted bool `json:"deleted" yaml:"deleted"`
}

func newTopicDeleteCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
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
				deleted := []topicDeleted{}
				for _, name := range args {
					r, ok := rs[name]
					switch {
					case !ok:
						errs = append(errs, cli.Sentencef(nil, "topic %q: no answer in the delete response", name))
					case r.Err == nil:
						deleted = append(deleted, topicDeleted{Name: name, Deleted: true})
						if !of.structured() {
							fmt.Fprintf(cmd.OutOrStdout(), "Deleted topic %q.\n", name)
						}
					case ifExists && errors.Is(r.Err, kerr.UnknownTopicOrPartition):
						deleted = append(deleted, topicDeleted{Name: name})
					default:
						errs = append(errs, cli.TopicError(name, r.Err, r.ErrMessage, o))
					}
				}
				if of.structured() {
					if err := format.Encode(cmd.OutOrStdout(), of.output, deleted); err != nil {
						return err
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

// orDefault prints -1 (the broker chose) as "default".
func orDefault(n int64) string {
	if n < 0 {
		return "default"
	}
	return strconv.FormatInt(n, 10)
}

// isShardErrors reports whether err is kadm's report that some partitions
// (those without a leader, say) failed while the others were answered.
func isShardErrors(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se)
}
