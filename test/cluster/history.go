package cluster

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A History is everything a Workload saw, kept for Check: what was
// acknowledged and where, what consumers read, what the group committed,
// which batches each node wrote and when. Each record's value is its id,
// unique over the run: "p<producer>:<seq>" for the idempotent producers,
// "t<writer>:<seq>" for the transactional writer and "end:<partition>" for
// the end markers the workload writes before its final read.
type History struct {
	Topic      string
	Partitions int
	// Acked are the acknowledged records: idempotent produces whose
	// promise succeeded, and the records of transactions whose commit
	// succeeded, with the partition and offset the ack gave.
	Acked []Ack
	// Aborted are the ids of records written in transactions the writer
	// aborted (never committed): no read_committed reader may see them.
	Aborted map[string]bool
	// Errors are the produce errors that reached the application.
	Errors []ProduceError
	// Reads are the records the group's members read (read_committed),
	// Final those of the full read from the start after healing.
	Reads, Final []Read
	// Commits are the group's committed offsets as seen over time: the
	// commits the members made (from request to answer) and the offsets
	// FetchOffsets answered (from request to answer).
	Commits []CommitObs
	// Batches are the batches nodes acknowledged, in the order the
	// producers learned of them.
	Batches []BatchAck
}

// Ack is one acknowledged record.
type Ack struct {
	ID        string
	Partition int32
	Offset    int64
	At        time.Time
}

// Read is one record a reader returned.
type Read struct {
	ID        string
	Partition int32
	Offset    int64
	By        string // "member 1", "final read"
}

// ProduceError is a record whose produce failed in the application's eyes.
type ProduceError struct {
	ID        string
	Partition int32
	At        time.Time
	Err       string
}

// CommitObs is one observation of a partition's committed group offset:
// made or seen by a request sent at Start and answered at End.
type CommitObs struct {
	Partition  int32
	Offset     int64
	Start, End time.Time
	By         string // "commit by member 1", "FetchOffsets"
}

// BatchAck is a batch a node acknowledged to a producer.
type BatchAck struct {
	Partition int32
	Node      int
	Records   int
	At        time.Time
}

// Violation kinds.
const (
	Lost            = "lost"             // acknowledged, absent from the final read
	WrongOffset     = "wrong_offset"     // present, but not at the acknowledged offset
	Duplicated      = "duplicated"       // one record at two offsets
	OffsetReused    = "offset_reused"    // two records at one offset (over all observations)
	ReadVanished    = "read_vanished"    // an offset a consumer read is absent from the final read
	AbortedRead     = "aborted_read"     // read_committed returned a record of an aborted transaction
	CommitRegressed = "commit_regressed" // a committed group offset went down
	Reordered       = "reordered"        // one producer's records out of order in a partition
)

// Violation is one broken invariant, with the record and offset it names.
type Violation struct {
	Kind   string
	Detail string
}

func (v Violation) String() string { return v.Kind + ": " + v.Detail }

type position struct {
	p int32
	o int64
}

func (x position) String() string { return fmt.Sprintf("partition %d offset %d", x.p, x.o) }

// Check holds the history to the safety invariants and returns every
// violation, in a stable order:
//
//   - every acknowledged record is in the final read exactly once, at the
//     partition and offset it was acknowledged with (lost, wrong_offset,
//     duplicated);
//   - no offset holds two records over all observations, acks, group reads
//     and the final read (offset_reused): offsets are never reused and
//     nothing read changes;
//   - every offset a group member read is in the final read (read_vanished);
//   - no record is at two offsets (duplicated);
//   - no reader saw a record of an aborted transaction (aborted_read);
//   - a committed group offset seen after another was answered is never
//     lower (commit_regressed);
//   - one producer's acknowledged records stand in a partition in the order
//     it sent them (reordered).
func Check(h *History) []Violation {
	var out []Violation
	add := func(kind, format string, args ...any) {
		out = append(out, Violation{kind, fmt.Sprintf(format, args...)})
	}

	// Every observation of every offset, and every position of every id.
	type seen struct {
		id, by string
	}
	atOffset := map[position][]seen{}
	note := func(x position, id, by string) {
		for _, s := range atOffset[x] {
			if s.id == id {
				return
			}
		}
		atOffset[x] = append(atOffset[x], seen{id, by})
	}
	for _, a := range h.Acked {
		note(position{a.Partition, a.Offset}, a.ID, "the ack")
	}
	for _, r := range h.Reads {
		note(position{r.Partition, r.Offset}, r.ID, r.By)
	}
	final := map[position]string{}
	finalAt := map[string][]position{}
	for _, r := range h.Final {
		x := position{r.Partition, r.Offset}
		note(x, r.ID, r.By)
		if _, ok := final[x]; ok {
			continue
		}
		final[x] = r.ID
		finalAt[r.ID] = append(finalAt[r.ID], x)
	}
	for _, x := range sortedPositions(atOffset) {
		if ss := atOffset[x]; len(ss) > 1 {
			var ids []string
			for _, s := range ss {
				ids = append(ids, fmt.Sprintf("%s (seen by %s)", s.id, s.by))
			}
			add(OffsetReused, "%s of %s holds %s", x, h.Topic, strings.Join(ids, " and "))
		}
	}

	// Acknowledged records: once, where acknowledged.
	for _, a := range h.Acked {
		x := position{a.Partition, a.Offset}
		at := finalAt[a.ID]
		switch {
		case len(at) == 0:
			add(Lost, "%s, acknowledged at %s of %s (%s), is not in the final read", a.ID, x, h.Topic, a.At.Format(time.StampMilli))
		case !slices.Contains(at, x):
			add(WrongOffset, "%s, acknowledged at %s, is in the final read at %s", a.ID, x, at[0])
		}
	}
	// Any record at two offsets, acknowledged or not (a retried produce
	// whose first answer was lost, for one), in the final read or read by
	// the group.
	allAt := map[string][]position{}
	for _, x := range sortedPositions(atOffset) {
		for _, s := range atOffset[x] {
			allAt[s.id] = append(allAt[s.id], x)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(allAt)) {
		if at := allAt[id]; len(at) > 1 {
			var where []string
			for _, x := range at {
				where = append(where, x.String())
			}
			add(Duplicated, "%s stands at %d offsets: %s", id, len(at), strings.Join(where, ", "))
		}
	}

	// What the group read is still there.
	reported := map[position]bool{}
	for _, r := range h.Reads {
		x := position{r.Partition, r.Offset}
		if _, ok := final[x]; !ok && !reported[x] {
			reported[x] = true
			add(ReadVanished, "%s read %s at %s, which the final read does not have", r.By, r.ID, x)
		}
	}

	// Aborted transactions stay invisible.
	for _, rs := range [][]Read{h.Reads, h.Final} {
		for _, r := range rs {
			if h.Aborted[r.ID] {
				add(AbortedRead, "%s read %s at %s, written in an aborted transaction", r.By, r.ID, position{r.Partition, r.Offset})
			}
		}
	}

	out = append(out, checkCommits(h.Commits)...)
	out = append(out, checkOrder(h.Acked)...)
	return out
}

// checkCommits: per partition, an observation that started after another
// was answered is not lower than it.
func checkCommits(obs []CommitObs) []Violation {
	var out []Violation
	byPart := map[int32][]CommitObs{}
	for _, o := range obs {
		if o.Offset >= 0 {
			byPart[o.Partition] = append(byPart[o.Partition], o)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(byPart)) {
		ended := slices.SortedFunc(slices.Values(byPart[p]), func(a, b CommitObs) int { return a.End.Compare(b.End) })
		started := slices.SortedFunc(slices.Values(byPart[p]), func(a, b CommitObs) int { return a.Start.Compare(b.Start) })
		var high *CommitObs // the highest of those answered before the current one started
		i := 0
		for _, o := range started {
			for ; i < len(ended) && ended[i].End.Before(o.Start); i++ {
				if high == nil || ended[i].Offset > high.Offset {
					high = &ended[i]
				}
			}
			if high != nil && o.Offset < high.Offset {
				out = append(out, Violation{CommitRegressed, fmt.Sprintf(
					"partition %d: %s saw committed offset %d at %s, after %s had %d at %s",
					p, o.By, o.Offset, o.Start.Format(time.StampMilli), high.By, high.Offset, high.End.Format(time.StampMilli))})
			}
		}
	}
	return out
}

// checkOrder: an idempotent producer's acknowledged records of one
// partition have offsets in the order of their sequence numbers.
func checkOrder(acked []Ack) []Violation {
	type key struct {
		producer string
		p        int32
	}
	type rec struct {
		seq int
		off int64
	}
	by := map[key][]rec{}
	for _, a := range acked {
		prod, seq, ok := splitID(a.ID)
		if !ok || !strings.HasPrefix(prod, "p") {
			continue
		}
		k := key{prod, a.Partition}
		by[k] = append(by[k], rec{seq, a.Offset})
	}
	keys := slices.SortedFunc(maps.Keys(by), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.producer, b.producer), cmp.Compare(a.p, b.p))
	})
	var out []Violation
	for _, k := range keys {
		rs := by[k]
		slices.SortFunc(rs, func(a, b rec) int { return cmp.Compare(a.seq, b.seq) })
		for i := 1; i < len(rs); i++ {
			if rs[i].off <= rs[i-1].off {
				out = append(out, Violation{Reordered, fmt.Sprintf("%s:%d is at partition %d offset %d, before %s:%d at offset %d",
					k.producer, rs[i].seq, k.p, rs[i].off, k.producer, rs[i-1].seq, rs[i-1].off)})
			}
		}
	}
	return out
}

// splitID splits "p3:1234" into "p3" and 1234.
func splitID(id string) (string, int, bool) {
	prod, s, ok := strings.Cut(id, ":")
	if !ok {
		return "", 0, false
	}
	seq, err := strconv.Atoi(s)
	return prod, seq, err == nil
}

func sortedPositions[V any](m map[position]V) []position {
	return slices.SortedFunc(maps.Keys(m), func(a, b position) int {
		return cmp.Or(cmp.Compare(a.p, b.p), cmp.Compare(a.o, b.o))
	})
}

// CheckSummary is Check's violations, counted by kind, with at most max of
// each kind written out; "" when there are none.
func CheckSummary(vs []Violation, max int) string {
	if len(vs) == 0 {
		return ""
	}
	count := map[string]int{}
	var b strings.Builder
	for _, v := range vs {
		count[v.Kind]++
		if count[v.Kind] <= max {
			b.WriteString("  " + v.String() + "\n")
		}
	}
	var head []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		head = append(head, fmt.Sprintf("%s=%d", k, count[k]))
	}
	return fmt.Sprintf("%d violations (%s):\n%s", len(vs), strings.Join(head, " "), b.String())
}
