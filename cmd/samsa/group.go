package main

// samsa group list|describe|reset-offsets|delete: consumer groups on any
// Kafka-compatible cluster, through kadm.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func newGroupCmd(flags *clientFlags) *cobra.Command {
	cmd := groupCommand(&cobra.Command{
		Use:   "group",
		Short: "List, describe, reset the offsets of and delete consumer groups",
	})
	cmd.AddCommand(
		newGroupListCmd(flags),
		newGroupDescribeCmd(flags),
		newGroupResetOffsetsCmd(flags),
		newGroupDeleteCmd(flags),
	)
	return cmd
}

func newGroupListCmd(flags *clientFlags) *cobra.Command {
	var states, types []string
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List consumer groups with their state and type",
		Example: "  samsa group list\n  samsa group list --state Stable --type consumer",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				var groups kadm.ListedGroups
				var err error
				if len(types) > 0 {
					groups, err = adm.ListGroupsByType(ctx, types, states...)
				} else {
					groups, err = adm.ListGroups(ctx, states...)
				}
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				return writeGroupList(cmd.OutOrStdout(), groups)
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (Empty, Stable, PreparingRebalance, ...)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only groups of these types (classic, consumer)")
	return cmd
}

func writeGroupList(w io.Writer, groups kadm.ListedGroups) error {
	t := format.NewTable("GROUP", "TYPE", "STATE", "PROTOCOL-TYPE")
	for _, g := range groups.Sorted() {
		t.Row(g.Group, g.GroupType, g.State, g.ProtocolType)
	}
	return t.Write(w)
}

// groupPartition is one row of a group description.
type groupPartition struct {
	topic     string
	partition int32
	committed int64 // -1: none
	end       int64 // -1: unknown
	member    string
	clientID  string
	host      string
}

func newGroupDescribeCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe GROUP",
		Short:   "Show a group's state, members, assignments, committed offsets and lag",
		Example: "  samsa group describe orders-service",
		Args:    exactArgs(1, "one group name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				return describeGroup(ctx, cmd.OutOrStdout(), adm, group, flags.options())
			})
		},
	}
	return cmd
}

func describeGroup(ctx context.Context, w io.Writer, adm *kadm.Client, group string, o cli.Options) error {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return cli.Explain(err, o)
	}
	lg, ok := listed[group]
	if !ok {
		return cli.Sentencef(nil, "group %q does not exist", group)
	}
	rows := map[string]map[int32]*groupPartition{}
	row := func(topic string, p int32) *groupPartition {
		if rows[topic] == nil {
			rows[topic] = map[int32]*groupPartition{}
		}
		r := rows[topic][p]
		if r == nil {
			r = &groupPartition{topic: topic, partition: p, committed: -1, end: -1, member: "-", clientID: "-", host: "-"}
			rows[topic][p] = r
		}
		return r
	}
	state, protocol, members := lg.State, "", 0
	if lg.GroupType == "consumer" {
		described, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return cli.Explain(err, o)
		}
		d := described[group]
		if d.Err != nil {
			return cli.Sentencef(d.Err, "cannot describe group %q: %v", group, d.Err)
		}
		state, protocol, members = d.State, "assignor "+d.AssignorName+", epoch "+strconv.Itoa(int(d.Epoch)), len(d.Members)
		for _, m := range d.Members {
			for topic, ps := range m.Assignment {
				for p := range ps {
					r := row(topic, p)
					r.member, r.clientID, r.host = m.MemberID, m.ClientID, m.ClientHost
				}
			}
		}
	} else {
		described, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return cli.Explain(err, o)
		}
		d := described[group]
		if d.Err != nil {
			return cli.Sentencef(d.Err, "cannot describe group %q: %v", group, d.Err)
		}
		state, protocol, members = d.State, d.Protocol, len(d.Members)
		for _, m := range d.Members {
			a, ok := m.Assigned.AsConsumer()
			if !ok {
				continue
			}
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					r := row(t.Topic, p)
					r.member, r.clientID, r.host = m.MemberID, m.ClientID, m.ClientHost
				}
			}
		}
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return cli.Explain(err, o)
	}
	committed.Each(func(c kadm.OffsetResponse) {
		if c.Err == nil {
			row(c.Topic, c.Partition).committed = c.At
		}
	})
	topics := make([]string, 0, len(rows))
	for t := range rows {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	if len(topics) > 0 {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			return cli.Explain(err, o)
		}
		ends.Each(func(e kadm.ListedOffset) {
			if r := rows[e.Topic][e.Partition]; r != nil && e.Err == nil {
				r.end = e.Offset
			}
		})
	}
	fmt.Fprintf(w, "Group %s: %s, type %s", group, state, orDash(lg.GroupType))
	if protocol != "" {
		fmt.Fprintf(w, ", %s", protocol)
	}
	fmt.Fprintf(w, ", %d members\n\n", members)
	t := format.NewTable("TOPIC", "PARTITION", "COMMITTED-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER", "CLIENT-ID", "HOST")
	var totalLag int64
	for _, topic := range topics {
		ps := make([]int32, 0, len(rows[topic]))
		for p := range rows[topic] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for _, p := range ps {
			r := rows[topic][p]
			lag := "-"
			if r.end >= 0 {
				l := r.end
				if r.committed >= 0 {
					l = r.end - r.committed
				}
				totalLag += l
				lag = strconv.FormatInt(l, 10)
			}
			t.Row(topic, strconv.Itoa(int(p)), offsetOrDash(r.committed), offsetOrDash(r.end), lag, r.member, r.clientID, r.host)
		}
	}
	if err := t.Write(w); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "\nTotal lag: %d\n", totalLag)
	return err
}

func offsetOrDash(o int64) string {
	if o < 0 {
		return "-"
	}
	return strconv.FormatInt(o, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupResetOffsetsCmd(flags *clientFlags) *cobra.Command {
	var (
		topics     []string
		toEarliest bool
		toLatest   bool
		toDatetime string
		toOffset   int64
		execute    bool
	)
	cmd := &cobra.Command{
		Use:   "reset-offsets GROUP --topic TOPIC[:PARTITIONS] (--to-earliest | --to-latest | --to-datetime TIME | --to-offset N) [--execute]",
		Short: "Move a group's committed offsets (a dry run unless --execute)",
		Long: `Move a group's committed offsets for whole topics or some partitions.

Without --execute the new offsets are only printed. The group must have no
active members, as with Kafka's kafka-consumer-groups tool. --to-datetime
takes RFC 3339 (2024-05-01T12:00:00Z) or a Unix time in milliseconds and
moves to the first offset at or after that time (the log end if none).`,
		Example: `  samsa group reset-offsets billing --topic orders --to-earliest
  samsa group reset-offsets billing --topic orders:0,1 --to-offset 1000 --execute
  samsa group reset-offsets billing --topic orders --to-datetime 2024-05-01T12:00:00Z --execute`,
		Args: exactArgs(1, "one group name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			n := 0
			for _, set := range []bool{toEarliest, toLatest, toDatetime != "", cmd.Flags().Changed("to-offset")} {
				if set {
					n++
				}
			}
			if n != 1 {
				return usagef("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset")
			}
			if len(topics) == 0 {
				return usagef("give at least one --topic")
			}
			if cmd.Flags().Changed("to-offset") && toOffset < 0 {
				return usagef("--to-offset must not be negative")
			}
			var atMilli int64
			if toDatetime != "" {
				ms, err := parseDatetime(toDatetime)
				if err != nil {
					return &usageError{err}
				}
				atMilli = ms
			}
			selected := map[string][]int32{} // nil slice: every partition
			for _, spec := range topics {
				name, parts, err := parseTopicPartitions(spec)
				if err != nil {
					return &usageError{err}
				}
				selected[name] = append(selected[name], parts...)
				if parts == nil {
					selected[name] = nil
				}
			}
			o := flags.options()
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				return resetOffsets(ctx, cmd.OutOrStdout(), adm, o, group, selected, resetTarget{earliest: toEarliest, latest: toLatest, atMilli: atMilli, byTime: toDatetime != "", offset: toOffset}, execute)
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&topics, "topic", nil, "topic to reset, optionally with partitions: orders or orders:0,2 (repeatable)")
	f.BoolVar(&toEarliest, "to-earliest", false, "reset to the earliest offset still in the log")
	f.BoolVar(&toLatest, "to-latest", false, "reset to the log end offset (skip everything now in the log)")
	f.StringVar(&toDatetime, "to-datetime", "", "reset to the first offset at or after this time")
	f.Int64Var(&toOffset, "to-offset", 0, "reset to this offset (clamped to the log's range)")
	f.BoolVar(&execute, "execute", false, "commit the new offsets (otherwise only print them)")
	return cmd
}

type resetTarget struct {
	earliest, latest, byTime bool
	atMilli, offset          int64
}

func parseDatetime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, errors.New("--to-datetime must not be before 1970")
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("--to-datetime %q is neither RFC 3339 (2024-05-01T12:00:00Z) nor Unix milliseconds", s)
	}
	if t.Before(time.Unix(0, 0)) {
		return 0, errors.New("--to-datetime must not be before 1970")
	}
	return t.UnixMilli(), nil
}

// parseTopicPartitions reads "topic" or "topic:0,1,2".
func parseTopicPartitions(spec string) (string, []int32, error) {
	name, list, has := strings.Cut(spec, ":")
	if name == "" {
		return "", nil, fmt.Errorf("--topic %q names no topic", spec)
	}
	if !has {
		return name, nil, nil
	}
	var parts []int32
	for _, s := range strings.Split(list, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil || p < 0 {
			return "", nil, fmt.Errorf("--topic %q: %q is not a partition number", spec, s)
		}
		parts = append(parts, int32(p))
	}
	return name, parts, nil
}

func resetOffsets(ctx context.Context, w io.Writer, adm *kadm.Client, o cli.Options, group string, selected map[string][]int32, target resetTarget, execute bool) error {
	names := make([]string, 0, len(selected))
	for t := range selected {
		names = append(names, t)
	}
	sort.Strings(names)
	if execute {
		described, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			if d, ok := described[group]; ok && d.Err == nil && len(d.Members) > 0 {
				return cli.Sentencef(nil, "group %q has %d active members: stop them before resetting its offsets", group, len(d.Members))
			}
		}
		if cd, err := adm.DescribeConsumerGroups(ctx, group); err == nil {
			if d, ok := cd[group]; ok && d.Err == nil && len(d.Members) > 0 {
				return cli.Sentencef(nil, "group %q has %d active members: stop them before resetting its offsets", group, len(d.Members))
			}
		}
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return cli.Explain(err, o)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return cli.Explain(err, o)
	}
	var byTime kadm.ListedOffsets
	if target.byTime {
		if byTime, err = adm.ListOffsetsAfterMilli(ctx, target.atMilli, names...); err != nil {
			return cli.Explain(err, o)
		}
	}
	current, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return cli.Explain(err, o)
	}
	next := kadm.Offsets{}
	t := format.NewTable("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET")
	for _, name := range names {
		e := ends[name]
		if len(e) == 0 {
			return cli.TopicError(name, kerr.UnknownTopicOrPartition, "", o)
		}
		parts := selected[name]
		if parts == nil {
			for p := range e {
				parts = append(parts, p)
			}
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
		for _, p := range parts {
			end, ok := e[p]
			if !ok {
				return cli.Sentencef(nil, "topic %q has no partition %d", name, p)
			}
			if end.Err != nil {
				return cli.TopicError(name, end.Err, "", o)
			}
			start := starts[name][p]
			var n int64
			switch {
			case target.earliest:
				n = start.Offset
			case target.latest:
				n = end.Offset
			case target.byTime:
				n = end.Offset
				if bt, ok := byTime[name][p]; ok && bt.Err == nil && bt.Offset >= 0 {
					n = bt.Offset
				}
			default:
				n = min(max(target.offset, start.Offset), end.Offset)
			}
			cur := "-"
			if c, ok := current.Lookup(name, p); ok && c.Err == nil && c.At >= 0 {
				cur = strconv.FormatInt(c.At, 10)
			}
			next.AddOffset(name, p, n, -1)
			t.Row(group, name, strconv.Itoa(int(p)), cur, strconv.FormatInt(n, 10))
		}
	}
	if err := t.Write(w); err != nil {
		return err
	}
	if !execute {
		_, err := fmt.Fprintln(w, "\nDry run: nothing was changed. Add --execute to commit these offsets.")
		return err
	}
	resp, err := adm.CommitOffsets(ctx, group, next)
	if err != nil {
		return cli.Explain(err, o)
	}
	if err := resp.Error(); err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) && (ke == kerr.UnknownMemberID || ke == kerr.IllegalGeneration || ke == kerr.RebalanceInProgress) {
			return cli.Sentencef(err, "group %q is active: stop its members before resetting its offsets", group)
		}
		return cli.Explain(err, o)
	}
	_, err = fmt.Fprintf(w, "\nCommitted the new offsets of group %s.\n", group)
	return err
}

func newGroupDeleteCmd(flags *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete GROUP...",
		Short:   "Delete consumer groups that have no members, with their committed offsets",
		Example: "  samsa group delete old-service",
		Args:    minArgs(1, "at least one group name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				resp, err := adm.DeleteGroups(ctx, args...)
				if err != nil {
					return cli.Explain(err, flags.options())
				}
				var errs []error
				for _, g := range args {
					r, ok := resp[g]
					switch {
					case !ok:
						errs = append(errs, cli.Sentencef(nil, "group %q: no answer", g))
					case errors.Is(r.Err, kerr.GroupIDNotFound):
						errs = append(errs, cli.Sentencef(r.Err, "group %q does not exist", g))
					case errors.Is(r.Err, kerr.NonEmptyGroup):
						errs = append(errs, cli.Sentencef(r.Err, "group %q still has members: stop them first", g))
					case r.Err != nil:
						errs = append(errs, cli.Sentencef(r.Err, "group %q: %v", g, cli.Explain(r.Err, flags.options())))
					default:
						fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s.\n", g)
					}
				}
				if len(errs) == 1 {
					return errs[0]
				}
				if len(errs) > 1 {
					msgs := make([]string, len(errs))
					for i, e := range errs {
						msgs[i] = e.Error()
					}
					return cli.Sentencef(errors.Join(errs...), "%s", strings.Join(msgs, "; "))
				}
				return nil
			})
		},
	}
	return cmd
}
