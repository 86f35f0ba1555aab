package main

// Where `samsa consume` starts in each partition. The command lists the log
// bounds itself (ListOffsets) and hands the client exact offsets, so an
// offset outside the log follows --reset, as Kafka's auto.offset.reset, and
// is reported on standard error instead of being left to the client's
// recovery from OffsetOutOfRange (which would replay from offset 0).

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// tp names one partition.
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("topic %q partition %d", p.topic, p.partition) }

// logBounds are one partition's offsets as listed at one moment.
type logBounds struct {
	start  int64 // the log start offset: the first record still in the log
	hwm    int64 // the high watermark: one past the last record
	end    int64 // where "latest" is: the high watermark, or the last stable offset under read_committed
	atTime int64 // with --from-time: the first offset at or after it, or end if none
}

// resetPolicy is Kafka's auto.offset.reset: where to start when there is
// no start offset to use, or the one asked for is not in the log.
type resetPolicy string

const (
	resetEarliest resetPolicy = "earliest"
	resetLatest   resetPolicy = "latest"
)

func parseReset(s string) (resetPolicy, error) {
	switch p := resetPolicy(strings.ToLower(s)); p {
	case resetEarliest, resetLatest:
		return p, nil
	}
	return "", fmt.Errorf("unknown --reset %q (want earliest or latest)", s)
}

type startKind int

const (
	startLatest   startKind = iota // the end of the log
	startEarliest                  // the log start
	startTime                      // the first record at or after a time
	startOffset                    // an offset, or when negative a count back from the end
)

// startRule says where to start in a partition without a committed offset.
type startRule struct {
	kind   startKind
	offset int64 // startOffset
	ms     int64 // startTime
}

// offsetResolver lists log bounds and turns the start flags into offsets.
type offsetResolver struct {
	adm           *kadm.Client
	o             cli.Options
	readCommitted bool
	rule          startRule
	reset         resetPolicy
}

// bounds lists the log bounds of every partition of topics.
func (r *offsetResolver) bounds(ctx context.Context, topics []string) (map[tp]logBounds, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.EffectiveTimeout())
	defer cancel()
	list := func(what string, f func() (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
		l, err := f()
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			var topic string
			l.Each(func(lo kadm.ListedOffset) {
				if lo.Err != nil && topic == "" {
					topic = lo.Topic
				}
			})
			if topic != "" {
				return nil, cli.TopicError(topic, err, "", r.o)
			}
			return nil, cli.Sentencef(err, "list the %s offsets: %v", what, cli.Explain(err, r.o))
		}
		return l, nil
	}
	starts, err := list("start", func() (kadm.ListedOffsets, error) { return r.adm.ListStartOffsets(ctx, topics...) })
	if err != nil {
		return nil, err
	}
	ends, err := list("end", func() (kadm.ListedOffsets, error) { return r.adm.ListEndOffsets(ctx, topics...) })
	if err != nil {
		return nil, err
	}
	stable := ends
	if r.readCommitted {
		if stable, err = list("last stable", func() (kadm.ListedOffsets, error) { return r.adm.ListCommittedOffsets(ctx, topics...) }); err != nil {
			return nil, err
		}
	}
	var times kadm.ListedOffsets
	if r.rule.kind == startTime {
		if times, err = list("--from-time", func() (kadm.ListedOffsets, error) { return r.adm.ListOffsetsAfterMilli(ctx, r.rule.ms, topics...) }); err != nil {
			return nil, err
		}
	}
	out := make(map[tp]logBounds)
	ends.Each(func(e kadm.ListedOffset) {
		b := logBounds{start: 0, hwm: e.Offset, end: e.Offset}
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Offset >= 0 {
			b.start = s.Offset
		}
		if s, ok := stable.Lookup(e.Topic, e.Partition); ok && s.Offset >= 0 {
			b.end = s.Offset
		}
		b.atTime = b.end
		if t, ok := times.Lookup(e.Topic, e.Partition); ok && t.Offset >= 0 {
			b.atTime = t.Offset
		}
		out[tp{e.Topic, e.Partition}] = b
	})
	return out, nil
}

// atTime lists, in every partition of topics, the first offset at or after
// ms, or the end offset where there is none.
func (r *offsetResolver) atTime(ctx context.Context, ms int64, topics []string) (map[tp]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.EffectiveTimeout())
	defer cancel()
	l, err := r.adm.ListOffsetsAfterMilli(ctx, ms, topics...)
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		return nil, cli.Sentencef(err, "list the offsets at --until: %v", cli.Explain(err, r.o))
	}
	out := make(map[tp]int64)
	l.Each(func(lo kadm.ListedOffset) {
		if lo.Offset >= 0 {
			out[tp{lo.Topic, lo.Partition}] = lo.Offset
		}
	})
	return out, nil
}

// outOfRange is an offset that is not in the log, and where --reset sent
// the consumer instead.
type outOfRange struct {
	offset int64
	past   bool  // past the end, else before the start
	bound  int64 // the end or the start it is past or before
	to     int64
	reset  resetPolicy
}

// describe is the sentence printed on standard error; what names the
// offset ("Offset 500", "The committed offset 500 of group \"g\"").
func (o *outOfRange) describe(what string, p tp) string {
	where := "before the start"
	if o.past {
		where = "past the end"
	}
	to := "the beginning"
	if o.reset == resetLatest {
		to = "the end"
	}
	return fmt.Sprintf("%s is %s of %s (%d); starting at %s (offset %d), as --reset %s says.",
		what, where, p, o.bound, to, o.to, o.reset)
}

// resetTo is where the reset policy starts in b.
func (r *offsetResolver) resetTo(b logBounds) int64 {
	if r.reset == resetEarliest {
		return b.start
	}
	return b.end
}

// within returns n if it is in the log, else where the reset policy goes.
func (r *offsetResolver) within(b logBounds, n int64) (int64, *outOfRange) {
	switch {
	case n < b.start:
		to := r.resetTo(b)
		return to, &outOfRange{offset: n, bound: b.start, to: to, reset: r.reset}
	case n > b.hwm:
		to := r.resetTo(b)
		return to, &outOfRange{offset: n, past: true, bound: b.hwm, to: to, reset: r.reset}
	}
	return n, nil
}

// start is where to begin reading a partition with bounds b by the start
// rule. A negative offset counts back from the end and stops at the log
// start: the last 50 records of a partition holding 10 are those 10.
func (r *offsetResolver) start(b logBounds) (int64, *outOfRange) {
	switch r.rule.kind {
	case startEarliest:
		return b.start, nil
	case startTime:
		return b.atTime, nil
	case startOffset:
		if r.rule.offset < 0 {
			return max(b.start, b.end+r.rule.offset), nil
		}
		return r.within(b, r.rule.offset)
	}
	return b.end, nil
}

// kgoOffset is the reset policy as a client offset, for the out-of-range
// cases the client meets on its own (records deleted under a slow reader).
func (p resetPolicy) kgoOffset() kgo.Offset {
	if p == resetEarliest {
		return kgo.NewOffset().AtStart()
	}
	return kgo.NewOffset().AtEnd()
}

// printNotes prints the sentences on w, at most a few of them: a topic of
// a hundred partitions all past their end needs five lines, not a hundred.
func printNotes(w io.Writer, notes []string) {
	const most = 5
	for i, n := range notes {
		if i == most {
			fmt.Fprintf(w, "(%s more like this.)\n", plural(len(notes)-most, "partition"))
			return
		}
		fmt.Fprintln(w, n)
	}
}

// sortedPartitions returns the keys of m by topic, then partition.
func sortedPartitions[V any](m map[tp]V) []tp {
	out := make([]tp, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b tp) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return cmp.Compare(a.partition, b.partition)
	})
	return out
}
