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
	of := addOutputFlag(cmd)
	cmd.AddCommand(
		newGroupListCmd(flags, of),
		newGroupDescribeCmd(flags, of),
		newGroupResetOffsetsCmd(flags, of),
		newGroupDeleteCmd(flags, of),
	)
	return cmd
}

// groupSummary is a group in the output of group list.
type groupSummary struct {
	Name string `json:"name" yaml:"name"`
	// Type is classic or consumer (KIP-848), empty if the broker does not
	// say.
	Type         string `json:"type" yaml:"type"`
	State        string `json:"state" yaml:"state"`
	ProtocolType string `json:"protocol_type" yaml:"protocol_type"`
	// Coordinator is the node id of the group's coordinator.
	Coordinator int32 `json:"coordinator" yaml:"coordinator"`
}

func newGroupListCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	var states, types []string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
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
				list := make([]groupSummary, 0, len(groups))
				for _, g := range groups.Sorted() {
					list = append(list, groupSummary{Name: g.Group, Type: g.GroupType, State: g.State, ProtocolType: g.ProtocolType, Coordinator: g.Coordinator})
				}
				w := cmd.OutOrStdout()
				return of.print(w, list, func(wide bool) error { return writeGroupList(w, list, wide) })
			})
		},
	}
	cmd.Flags().StringSliceVar(&states, "state", nil, "only groups in these states (Empty, Stable, PreparingRebalance, ...)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only groups of these types (classic, consumer)")
	return cmd
}

// writeGroupList prints one row per group; wide adds the coordinator.
func writeGroupList(w io.Writer, groups []groupSummary, wide bool) error {
	columns := []string{"GROUP", "TYPE", "STATE", "PROTOCOL-TYPE"}
	if wide {
		columns = append(columns, "COORDINATOR")
	}
	t := format.NewTable(columns...)
	for _, g := range groups {
		t.Row(g.Name, g.Type, g.State, g.ProtocolType, strconv.Itoa(int(g.Coordinator)))
	}
	return t.Write(w)
}

// groupDescription is the output of group describe.
type groupDescription struct {
	Name  string `json:"name" yaml:"name"`
	Type  string `json:"type" yaml:"type"`
	State string `json:"state" yaml:"state"`
	// Protocol is the partition assignor: the classic protocol's chosen
	// one (range, cooperative-sticky, ...) or the consumer protocol's
	// server-side assignor.
	Protocol string `json:"protocol" yaml:"protocol"`
	// Epoch is the group epoch of a consumer-protocol group, null for a
	// classic one.
	Epoch   *int32        `json:"epoch" yaml:"epoch"`
	Members []groupMember `json:"members" yaml:"members"`
	// Offsets has a row for each partition the group has an offset in or
	// is assigned, sorted by topic and partition.
	Offsets []groupOffset `json:"offsets" yaml:"offsets"`
	// TotalLag sums the lag of the partitions with a committed offset.
	TotalLag int64 `json:"total_lag" yaml:"total_lag"`
}

type groupMember struct {
	MemberID   string  `json:"member_id" yaml:"member_id"`
	InstanceID *string `json:"instance_id" yaml:"instance_id"`
	ClientID   string  `json:"client_id" yaml:"client_id"`
	Host       string  `json:"host" yaml:"host"`
}

type groupOffset struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	// CommittedOffset is null when the group has committed none.
	CommittedOffset *int64 `json:"committed_offset" yaml:"committed_offset"`
	// LogEndOffset is null when it could not be listed.
	LogEndOffset *int64 `json:"log_end_offset" yaml:"log_end_offset"`
	// Lag is the log end minus the committed offset, null when either is
	// unknown.
	Lag *int64 `json:"lag" yaml:"lag"`
	// MemberID is the member the partition is assigned to, null if none.
	MemberID *string `json:"member_id" yaml:"member_id"`

	clientID, host string
}

func newGroupDescribeCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe GROUP",
		Short:   "Show a group's state, members, assignments, committed offsets and lag",
		Example: "  samsa group describe orders-service",
		Args:    exactArgs(1, "one group name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			group := args[0]
			return withAdmin(cmd.Context(), flags, func(ctx context.Context, adm *kadm.Client) error {
				d, err := describeGroup(ctx, adm, group, flags.options())
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				return of.print(w, d, func(bool) error { return writeGroupDescription(w, d) })
			})
		},
	}
	return cmd
}

// describeGroup gathers a group's members, committed offsets, log end
// offsets and lag.
func describeGroup(ctx context.Context, adm *kadm.Client, group string, o cli.Options) (groupDescription, error) {
	d := groupDescription{Name: group, Members: []groupMember{}, Offsets: []groupOffset{}}
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return d, cli.Explain(err, o)
	}
	lg, ok := listed[group]
	if !ok {
		return d, cli.Sentencef(nil, "group %q does not exist", group)
	}
	d.Type, d.State = lg.GroupType, lg.State
	rows := map[string]map[int32]*groupOffset{}
	row := func(topic string, p int32) *groupOffset {
		if rows[topic] == nil {
			rows[topic] = map[int32]*groupOffset{}
		}
		r := rows[topic][p]
		if r == nil {
			r = &groupOffset{Topic: topic, Partition: p}
			rows[topic][p] = r
		}
		return r
	}
	assign := func(r *groupOffset, m groupMember) {
		id := m.MemberID
		r.MemberID, r.clientID, r.host = &id, m.ClientID, m.Host
	}
	if lg.GroupType == "consumer" {
		described, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return d, cli.Explain(err, o)
		}
		cg := described[group]
		if cg.Err != nil {
			return d, cli.Sentencef(cg.Err, "cannot describe group %q: %v", group, cg.Err)
		}
		epoch := cg.Epoch
		d.State, d.Protocol, d.Epoch = cg.State, cg.AssignorName, &epoch
		for _, m := range cg.Members {
			gm := groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost}
			d.Members = append(d.Members, gm)
			for topic, ps := range m.Assignment {
				for p := range ps {
					assign(row(topic, p), gm)
				}
			}
		}
	} else {
		described, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return d, cli.Explain(err, o)
		}
		cg := described[group]
		if cg.Err != nil {
			return d, cli.Sentencef(cg.Err, "cannot describe group %q: %v", group, cg.Err)
		}
		d.State, d.Protocol = cg.State, cg.Protocol
		for _, m := range cg.Members {
			gm := groupMember{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost}
			d.Members = append(d.Members, gm)
			a, ok := m.Assigned.AsConsumer()
			if !ok {
				continue
			}
			for _, t := range a.Topics {
				for _, p := range t.Partitions {
					assign(row(t.Topic, p), gm)
				}
			}
		}
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return d, cli.Explain(err, o)
	}
	committed.Each(func(c kadm.OffsetResponse) {
		if c.Err == nil && c.At >= 0 {
			at := c.At
			row(c.Topic, c.Partition).CommittedOffset = &at
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
			return d, cli.Explain(err, o)
		}
		ends.Each(func(e kadm.ListedOffset) {
			if r := rows[e.Topic][e.Partition]; r != nil && e.Err == nil {
				end := e.Offset
				r.LogEndOffset = &end
			}
		})
	}
	for _, topic := range topics {
		ps := make([]int32, 0, len(rows[topic]))
		for p := range rows[topic] {
			ps = append(ps, p)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		for _, p := range ps {
			r := rows[topic][p]
			if r.CommittedOffset != nil && r.LogEndOffset != nil {
				lag := *r.LogEndOffset - *r.CommittedOffset
				r.Lag = &lag
				d.TotalLag += lag
			}
			d.Offsets = append(d.Offsets, *r)
		}
	}
	return d, nil
}

// writeGroupDescription prints a group's summary line and a row per
// partition; the lag of a partition without a committed offset is "-".
func writeGroupDescription(w io.Writer, d groupDescription) error {
	fmt.Fprintf(w, "Group %s: %s, type %s", d.Name, d.State, orDash(d.Type))
	switch {
	case d.Epoch != nil:
		fmt.Fprintf(w, ", assignor %s, epoch %d", d.Protocol, *d.Epoch)
	case d.Protocol != "":
		fmt.Fprintf(w, ", %s", d.Protocol)
	}
	fmt.Fprintf(w, ", %s\n\n", plural(len(d.Members), "member"))
	t := format.NewTable("TOPIC", "PARTITION", "COMMITTED-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER", "CLIENT-ID", "HOST")
	for _, r := range d.Offsets {
		member := "-"
		if r.MemberID != nil {
			member = *r.MemberID
		}
		t.Row(r.Topic, strconv.Itoa(int(r.Partition)), offsetOrDash(r.CommittedOffset), offsetOrDash(r.LogEndOffset),
			offsetOrDash(r.Lag), member, orDash(r.clientID), orDash(r.host))
	}
	if err := t.Write(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nTotal lag: %d\n", d.TotalLag)
	return err
}

func offsetOrDash(o *int64) string {
	if o == nil {
		return "-"
	}
	return strconv.FormatInt(*o, 10)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newGroupResetOffsetsCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
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
				return resetOffsets(ctx, cmd.OutOrStdout(), of, adm, o, group, selected, resetTarget{earliest: toEarliest, latest: toLatest, atMilli: atMilli, byTime: toDatetime != "", offset: toOffset}, execute)
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

// offsetsReset is the output of group reset-offsets.
type offsetsReset struct {
	Group string `json:"group" yaml:"group"`
	// Executed says the new offsets were committed (--execute); false for
	// a dry run.
	Executed bool          `json:"executed" yaml:"executed"`
	Offsets  []offsetReset `json:"offsets" yaml:"offsets"`
}

type offsetReset struct {
	Topic     string `json:"topic" yaml:"topic"`
	Partition int32  `json:"partition" yaml:"partition"`
	// CurrentOffset is the offset committed before, null if none.
	CurrentOffset *int64 `json:"current_offset" yaml:"current_offset"`
	NewOffset     int64  `json:"new_offset" yaml:"new_offset"`
}

func resetOffsets(ctx context.Context, w io.Writer, of *outputFlag, adm *kadm.Client, o cli.Options, group string, selected map[string][]int32, target resetTarget, execute bool) error {
	names := make([]string, 0, len(selected))
	for t := range selected {
		names = append(names, t)
	}
	sort.Strings(names)
	if execute {
		described, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			if d, ok := described[group]; ok && d.Err == nil && len(d.Members) > 0 {
				return cli.Sentencef(nil, "group %q has %s: stop them before resetting its offsets", group, plural(len(d.Members), "active member"))
			}
		}
		if cd, err := adm.DescribeConsumerGroups(ctx, group); err == nil {
			if d, ok := cd[group]; ok && d.Err == nil && len(d.Members) > 0 {
				return cli.Sentencef(nil, "group %q has %s: stop them before resetting its offsets", group, plural(len(d.Members), "active member"))
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
	result := offsetsReset{Group: group, Offsets: []offsetReset{}}
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
			r := offsetReset{Topic: name, Partition: p, NewOffset: n}
			if c, ok := current.Lookup(name, p); ok && c.Err == nil && c.At >= 0 {
				at := c.At
				r.CurrentOffset = &at
			}
			next.AddOffset(name, p, n, -1)
			result.Offsets = append(result.Offsets, r)
		}
	}
	if !of.structured() {
		t := format.NewTable("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET")
		for _, r := range result.Offsets {
			t.Row(group, r.Topic, strconv.Itoa(int(r.Partition)), offsetOrDash(r.CurrentOffset), strconv.FormatInt(r.NewOffset, 10))
		}
		if err := t.Write(w); err != nil {
			return err
		}
	}
	if !execute {
		if of.structured() {
			return format.Encode(w, of.output, result)
		}
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
	if of.structured() {
		result.Executed = true
		return format.Encode(w, of.output, result)
	}
	_, err = fmt.Fprintf(w, "\nCommitted the new offsets of group %s.\n", group)
	return err
}

// groupDeleted is a group in the output of group delete.
type groupDeleted struct {
	Name    string `json:"name" yaml:"name"`
	Deleted bool   `json:"deleted" yaml:"deleted"`
}

func newGroupDeleteCmd(flags *clientFlags, of *outputFlag) *cobra.Command {
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
				deleted := []groupDeleted{}
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
						deleted = append(deleted, groupDeleted{Name: g, Deleted: true})
						if !of.structured() {
							fmt.Fprintf(cmd.OutOrStdout(), "Deleted group %s.\n", g)
						}
					}
				}
				if of.structured() {
					if err := format.Encode(cmd.OutOrStdout(), of.output, deleted); err != nil {
						return err
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
