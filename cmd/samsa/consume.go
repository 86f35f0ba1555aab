package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/samsa-streaming/samsa/internal/cli/format"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type consumeFlags struct {
	fromBeginning bool
	fromEnd       bool
	offset        int64
	fromTime      string
	partition     int32
	count         int
	group         string
	format        string
	printKey      bool
	keySeparator  string
	idleTimeout   time.Duration
	reset         string
	exitAtEnd     bool
	until         string
	regex         bool
	isolation     string
}

func newConsumeCmd(flags *clientFlags) *cobra.Command {
	cf := &consumeFlags{}
	cmd := &cobra.Command{
		Use:   "consume TOPIC...",
		Short: "Print records from topics",
		Long: `Print records from each TOPIC on standard output, one per line. With
--regex, each TOPIC is a regular expression matching whole topic names
(internal topics excepted); without --group, the topics are those that match
when the command starts.

--format json prints one object per record; a template prints each record
as kcat's -f does: '%k=%v\n' (%t topic, %p partition, %o offset, %T
timestamp in Unix milliseconds, %k key, %v value, %h headers as k=v,...,
%K and %S key and value lengths; \n, \t, \0 and \xHH escapes, %% for %).
Nothing is added after a template, and a null key or value prints as
nothing.

By default only records produced after the command starts are printed
(--from-end). Start elsewhere with --from-beginning, --offset N (with
--partition for one partition; a negative N counts back from the end) or
--from-time (RFC 3339 or Unix milliseconds; the first record at or after that
time, found with ListOffsets by timestamp). An offset that is not in the log
(past its end, or before its start) follows --reset, Kafka's
auto.offset.reset: latest (the default) starts at the end, earliest at the
beginning; either way a line on standard error says so. Without a start flag,
--reset also says where to start.

Stop after --count records, after --idle-timeout without a record, with -e
once every partition is read up to where it ended at the start, with --until
once every partition reached its first record at or after that time, or on
Ctrl-C.

With --group, the group assigns partitions and remembers offsets: a
partition resumes at its committed offset, and the start flags (or --reset)
apply only to partitions without one. The idle clock starts once partitions
are assigned (joining a new group takes seconds).`,
		Example: `  samsa consume orders --from-beginning --count 10
  samsa consume orders --from-beginning -e
  samsa consume orders --from-time 2024-05-01T12:00:00Z --until 2024-05-01T13:00:00Z
  samsa consume orders --partition 0 --offset 42 --format json
  samsa consume orders --from-beginning -e -f '%p/%o %k=%v\n'
  samsa consume orders --from-time 2024-05-01T12:00:00Z --print-key
  samsa consume orders payments --from-beginning -e
  samsa consume --regex 'orders-.*' --group audit`,
		Args: minArgs(1, "at least one topic name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			return runConsume(cmd, flags.options(), args, cf, fl.Changed("offset"), fl.Changed("partition"))
		},
	}
	f := cmd.Flags()
	f.BoolVar(&cf.fromBeginning, "from-beginning", false, "start at the earliest record of each partition")
	f.BoolVar(&cf.fromEnd, "from-end", false, "start after the latest record (the default, unless --reset earliest)")
	f.Int64VarP(&cf.offset, "offset", "o", 0, "start at this offset in each partition (negative: this many before the end)")
	f.StringVar(&cf.fromTime, "from-time", "", "start at the first record at or after this time (RFC 3339 or Unix milliseconds)")
	f.Int32VarP(&cf.partition, "partition", "p", -1, "consume only this partition")
	f.IntVarP(&cf.count, "count", "n", 0, "exit after this many records (0: no limit)")
	f.StringVarP(&cf.group, "group", "g", "", "consume as a member of this consumer group, committing what was printed")
	f.StringVarP(&cf.format, "format", "f", "text", `output format: text, json (one object per line), or a template such as '%k=%v\n' (%t topic, %p partition, %o offset, %T timestamp, %k key, %v value, %h headers)`)
	f.BoolVar(&cf.printKey, "print-key", false, "in text output, print the key before the value")
	f.StringVar(&cf.keySeparator, "key-separator", "\t", "in text output with --print-key, what goes between key and value")
	f.DurationVar(&cf.idleTimeout, "idle-timeout", 0, "exit when no record arrives for this long (0: wait forever)")
	f.BoolVarP(&cf.exitAtEnd, "exit-at-end", "e", false, "exit once every partition is read up to where it ended at the start (with --group: when assigned)")
	f.StringVar(&cf.until, "until", "", "stop each partition at its first record at or after this time (RFC 3339 or Unix milliseconds)")
	f.BoolVar(&cf.regex, "regex", false, "each TOPIC is a regular expression matching whole topic names")
	f.StringVar(&cf.isolation, "isolation-level", "read_uncommitted", "read_uncommitted: every record; read_committed: no records of aborted or open transactions")
	f.StringVar(&cf.reset, "reset", string(resetLatest), "where to start without a start flag or committed offset, or when the offset asked for is not in the log: latest or earliest (auto.offset.reset)")
	return cmd
}

// parseTime reads the value of the flag named flag: RFC 3339 or Unix
// milliseconds.
func parseTime(flag, s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("%s %d is negative", flag, ms)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("%s %q is neither RFC 3339 (2006-01-02T15:04:05Z) nor Unix milliseconds", flag, s)
	}
	if t.UnixMilli() < 0 {
		return 0, fmt.Errorf("%s %q is before 1970", flag, s)
	}
	return t.UnixMilli(), nil
}

// startRule turns the start flags into a rule. At most one of them may be
// given; with none, the reset policy says where to start.
func (cf *consumeFlags) startRule(offsetSet bool, reset resetPolicy) (startRule, error) {
	n := 0
	for _, b := range []bool{cf.fromBeginning, cf.fromEnd, offsetSet, cf.fromTime != ""} {
		if b {
			n++
		}
	}
	if n > 1 {
		return startRule{}, errors.New("give at most one of --from-beginning, --from-end, --offset and --from-time")
	}
	switch {
	case cf.fromBeginning:
		return startRule{kind: startEarliest}, nil
	case cf.fromEnd:
		return startRule{kind: startLatest}, nil
	case offsetSet:
		return startRule{kind: startOffset, offset: cf.offset}, nil
	case cf.fromTime != "":
		ms, err := parseTime("--from-time", cf.fromTime)
		if err != nil {
			return startRule{}, err
		}
		return startRule{kind: startTime, ms: ms}, nil
	case reset == resetEarliest:
		return startRule{kind: startEarliest}, nil
	}
	return startRule{kind: startLatest}, nil
}

// consumeSettings are the validated flags.
type consumeSettings struct {
	rule    startRule
	reset   resetPolicy
	kind    format.Kind
	tmpl    *format.Template // for kind format.Custom
	untilMs int64            // -1: none
	// readCommitted hides records of aborted and open transactions; the
	// end of a partition is then its last stable offset.
	readCommitted bool
}

func (cf *consumeFlags) validate(offsetSet, partitionSet bool) (consumeSettings, error) {
	var s consumeSettings
	var err error
	if s.kind, s.tmpl, err = format.ParseRecordFormat(cf.format); err != nil {
		return s, err
	}
	if s.reset, err = parseReset(cf.reset); err != nil {
		return s, err
	}
	if s.rule, err = cf.startRule(offsetSet, s.reset); err != nil {
		return s, err
	}
	if cf.count < 0 {
		return s, fmt.Errorf("--count %d is negative", cf.count)
	}
	if partitionSet && cf.partition < 0 {
		return s, fmt.Errorf("--partition %d is negative", cf.partition)
	}
	if cf.group != "" && (partitionSet || offsetSet) {
		return s, errors.New("--group cannot be combined with --partition or --offset (the group assigns partitions and remembers offsets)")
	}
	if cf.idleTimeout < 0 {
		return s, fmt.Errorf("--idle-timeout %v is negative", cf.idleTimeout)
	}
	switch strings.ToLower(cf.isolation) {
	case "read_committed":
		s.readCommitted = true
	case "read_uncommitted":
	default:
		return s, fmt.Errorf("unknown --isolation-level %q (want read_uncommitted or read_committed)", cf.isolation)
	}
	s.untilMs = -1
	if cf.until != "" {
		if s.untilMs, err = parseTime("--until", cf.until); err != nil {
			return s, err
		}
		if s.rule.kind == startTime && s.untilMs <= s.rule.ms {
			return s, fmt.Errorf("--until %s is not after --from-time %s", cf.until, cf.fromTime)
		}
	}
	return s, nil
}

// anchored makes a --regex pattern match whole topic names, as Java's
// subscribe(Pattern) does.
func anchored(pattern string) string { return "^(?:" + pattern + ")$" }

// selectTopics returns the topics to read: the names given, each of which
// must exist, or with --regex those matching a pattern, at least one.
// With --partition, every topic must have that partition.
func selectTopics(ctx context.Context, adm *kadm.Client, o cli.Options, args []string, res []*regexp.Regexp, cf *consumeFlags, partitionSet bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.EffectiveTimeout())
	defer cancel()
	var named []string
	if !cf.regex {
		named = args
	}
	details, err := adm.ListTopics(ctx, named...) // all but internal ones for --regex
	if err != nil {
		return nil, cli.Explain(err, o)
	}
	var topics []string
	if cf.regex {
		for _, name := range details.Names() {
			if slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
				topics = append(topics, name)
			}
		}
		if len(topics) == 0 {
			return nil, cli.Sentencef(nil, "no topic matches %s", strings.Join(args, " or "))
		}
	} else {
		for _, name := range args {
			td, ok := details[name]
			if !ok {
				return nil, cli.Sentencef(nil, "topic %q does not exist", name)
			}
			if td.Err != nil {
				return nil, cli.TopicError(name, td.Err, "", o)
			}
			if !slices.Contains(topics, name) {
				topics = append(topics, name)
			}
		}
	}
	if partitionSet {
		for _, name := range topics {
			if _, ok := details[name].Partitions[cf.partition]; !ok {
				return nil, cli.Sentencef(nil, "topic %q has no partition %d (it has %s)", name, cf.partition, plural(len(details[name].Partitions), "partition"))
			}
		}
	}
	return topics, nil
}

func runConsume(cmd *cobra.Command, o cli.Options, args []string, cf *consumeFlags, offsetSet, partitionSet bool) error {
	set, err := cf.validate(offsetSet, partitionSet)
	if err != nil {
		return &usageError{err}
	}
	var res []*regexp.Regexp
	if cf.regex {
		for _, a := range args {
			re, err := regexp.Compile(anchored(a))
			if err != nil {
				return usagef("--regex %q is not a regular expression: %v", a, err)
			}
			res = append(res, re)
		}
	}
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()

	// Check the topics first: a consumer of a missing topic would
	// otherwise wait silently forever.
	meta, err := cli.Dial(ctx, o)
	if err != nil {
		return err
	}
	defer meta.Close()
	adm := cli.Admin(meta)
	topics, err := selectTopics(ctx, adm, o, args, res, cf, partitionSet)
	if err != nil {
		return err
	}

	resolver := &offsetResolver{adm: adm, o: o, rule: set.rule, reset: set.reset, readCommitted: set.readCommitted}
	pr := newProgress(set.readCommitted, cf.exitAtEnd, set.untilMs)
	bounded := cf.exitAtEnd || set.untilMs >= 0
	untilTime := time.UnixMilli(set.untilMs)
	opts := []kgo.Opt{
		kgo.ConsumeResetOffset(set.reset.kgoOffset()),
		kgo.KeepControlRecords(), // they move the position; see progress.take
		// Kafka's fetch.max.wait.ms rather than franz-go's 5s: partitions
		// that join while a fetch waits on others are fetched soon.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if set.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if cf.group != "" {
		// The start offsets are fixed in adjustGroupOffsets; the client's
		// own must be AtStart or AtEnd there.
		startAt := kgo.NewOffset().AtEnd()
		if set.rule.kind == startEarliest {
			startAt = kgo.NewOffset().AtStart()
		}
		opts = append(opts,
			kgo.ConsumerGroup(cf.group),
			kgo.ConsumeStartOffset(startAt),
			kgo.AutoCommitMarks(),
			kgo.AdjustFetchOffsetsFn(adjustGroupOffsets(resolver, pr, cf.group)),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				pr.assign(m)
			}),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
				pr.revoke(m)
				// What the client does by default: commit what was
				// printed before another member takes over.
				cl.CommitMarkedOffsets(ctx)
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				pr.revoke(m)
			}),
		)
		if cf.regex {
			// The group follows topics created later that match.
			patterns := make([]string, len(args))
			for i, a := range args {
				patterns[i] = anchored(a)
			}
			opts = append(opts, kgo.ConsumeTopics(patterns...), kgo.ConsumeRegex())
		} else {
			opts = append(opts, kgo.ConsumeTopics(topics...))
		}
	} else {
		// Exact start offsets, resolved here: see consume_offsets.go.
		bounds, err := resolver.bounds(ctx, topics)
		if err != nil {
			return err
		}
		parts := make(map[string]map[int32]kgo.Offset)
		var notes []string
		for _, p := range sortedPartitions(bounds) {
			if partitionSet && p.partition != cf.partition {
				continue
			}
			at, oor := resolver.start(bounds[p])
			if oor != nil {
				notes = append(notes, oor.describe(fmt.Sprintf("Offset %d", oor.offset), p))
			}
			if parts[p.topic] == nil {
				parts[p.topic] = make(map[int32]kgo.Offset)
			}
			parts[p.topic][p.partition] = kgo.NewOffset().At(at)
			pr.position(p, at, bounds[p])
		}
		printNotes(stderr, notes)
		pr.assign(nil)
		opts = append(opts, kgo.ConsumePartitions(parts))
	}
	cl, err := cli.Dial(ctx, o, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	out := bufio.NewWriterSize(cmd.OutOrStdout(), 1<<16)
	rw := &format.RecordWriter{W: out, Kind: set.kind, Template: set.tmpl, PrintKey: cf.printKey, KeySeparator: cf.keySeparator}
	consumed := 0
	defer func() {
		fmt.Fprintf(stderr, "Consumed %s.\n", plural(consumed, "record"))
	}()
	// Hints for a person at a terminal, never for scripts: what the
	// command waits for, when it waits.
	hint := cli.IsTerminal(stderr) && !bounded
	if hint && cf.group != "" {
		fmt.Fprintf(stderr, "Joining group %q; records of %s are printed once it assigns partitions. Ctrl-C to stop.\n", cf.group, topicList(topics))
	}
	var lastRecord time.Time
	for cf.count == 0 || consumed < cf.count {
		wake := pr.changed()
		notes, err := pr.drain()
		printNotes(stderr, notes)
		if err != nil {
			return err
		}
		if set.untilMs >= 0 && !time.Now().Before(untilTime) {
			// --until has come: stop at the offsets for that time.
			if topics := pr.needUntil(); len(topics) > 0 {
				at, err := resolver.atTime(ctx, set.untilMs, topics)
				if err != nil {
					if ctx.Err() != nil {
						break
					}
					return err
				}
				pr.applyUntil(topics, at)
				continue
			}
		}
		if bounded && pr.allDone() {
			fmt.Fprintln(stderr, doneSentence(cf.exitAtEnd, cf.until))
			break
		}
		if hint {
			if _, lagging, ok := pr.idleSince(); ok && !lagging {
				hint = false
				if consumed == 0 && cf.group == "" && set.rule.kind == startLatest {
					fmt.Fprintf(stderr, "Waiting for new records at the end of %s; --from-beginning reads existing ones.\n", topicList(topics))
				} else {
					fmt.Fprintf(stderr, "Up to date with %s; waiting for new records. Ctrl-C to stop.\n", topicList(topics))
				}
			}
		}
		pctx, cancel := context.WithCancel(ctx)
		if cf.idleTimeout > 0 {
			if since, lagging, ok := pr.idleSince(); ok {
				timeout := cf.idleTimeout
				if lagging {
					// Records are known to be waiting: wait for
					// them longer than the idle timeout, though
					// not forever (they may have been deleted).
					timeout = max(timeout, lagPatience)
				}
				deadline := later(since, lastRecord).Add(timeout)
				if !time.Now().Before(deadline) {
					if lagging {
						fmt.Fprintf(stderr, "No record for %v, though the partitions' ends are further; stopping.\n", timeout)
					} else {
						fmt.Fprintf(stderr, "No record for %v; stopping.\n", timeout)
					}
					cancel()
					break
				}
				cancel()
				pctx, cancel = context.WithDeadline(ctx, deadline)
			}
		}
		if set.untilMs >= 0 && time.Now().Before(untilTime) {
			if d, ok := pctx.Deadline(); !ok || untilTime.Before(d) {
				cancel()
				pctx, cancel = context.WithDeadline(ctx, untilTime)
			}
		}
		// Wake up on a change (partitions assigned, an error in a
		// callback), to start the idle clock or stop.
		stopWake := context.AfterFunc(wake, cancel)
		limit := -1
		if cf.count > 0 {
			limit = cf.count - consumed
		}
		fetches := cl.PollRecords(pctx, limit)
		stopWake()
		cancel()
		if ctx.Err() != nil {
			break // interrupted: a clean exit
		}
		if fetches.IsClientClosed() {
			break
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if fetchErr == nil {
				fetchErr = cli.TopicError(t, err, "", o)
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		if fetches.NumRecords() > 0 {
			lastRecord = time.Now()
			pr.observe(fetches)
		}
		for _, r := range fetches.Records() {
			show, read := pr.take(r)
			if show {
				if err := rw.Write(r); err != nil {
					return fmt.Errorf("write output: %w", err)
				}
				consumed++
			}
			if read && cf.group != "" {
				cl.MarkCommitRecords(r)
			}
		}
		if err := out.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	if cf.group != "" {
		cctx, cancel := context.WithTimeout(context.Background(), o.EffectiveTimeout())
		defer cancel()
		if err := cl.CommitMarkedOffsets(cctx); err != nil {
			return cli.Sentencef(err, "commit offsets of group %q: %v", cf.group, cli.Explain(err, o))
		}
	}
	return nil
}

// topicList names topics in a sentence, or counts them if there are many.
func topicList(topics []string) string {
	if len(topics) > 3 {
		return fmt.Sprintf("%s and %d more topics", strings.Join(topics[:2], ", "), len(topics)-2)
	}
	return strings.Join(topics, ", ")
}

// doneSentence says why a bounded consumer stopped.
func doneSentence(exitAtEnd bool, until string) string {
	switch {
	case exitAtEnd && until != "":
		return fmt.Sprintf("Reached the end or --until %s in every partition; stopping.", until)
	case exitAtEnd:
		return "Reached the end of every partition; stopping."
	}
	return fmt.Sprintf("Reached --until %s in every partition; stopping.", until)
}

// lagPatience is how long --idle-timeout waits for records known to be in
// a partition before giving up on them anyway.
const lagPatience = 30 * time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
