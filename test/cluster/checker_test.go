package cluster

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// cleanHistory is a run with nothing wrong: two producers, one aborted
// transaction, the group reading everything and committing upwards.
func cleanHistory() *History {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	h := &History{Topic: "chaos", Partitions: 2, Aborted: map[string]bool{"t0:0": true}}
	log := map[int32][]string{
		0: {"p0:0", "p1:0", "p0:2", "t0:0", "p1:2"},
		1: {"p0:1", "p1:1", "p0:3", "p1:3"},
	}
	for p, ids := range log {
		for o, id := range ids {
			r := Read{ID: id, Partition: p, Offset: int64(o)}
			if id != "t0:0" {
				h.Acked = append(h.Acked, Ack{ID: id, Partition: p, Offset: int64(o), At: at(o)})
				r.By = "member 1"
				h.Reads = append(h.Reads, r)
				r.By = "final read"
				h.Final = append(h.Final, r)
			}
		}
	}
	h.Commits = []CommitObs{
		{Partition: 0, Offset: 2, Start: at(10), End: at(20), By: "commit by member 1"},
		{Partition: 0, Offset: 5, Start: at(30), End: at(40), By: "FetchOffsets"},
		{Partition: 0, Offset: 2, Start: at(35), End: at(50), By: "FetchOffsets"}, // overlaps: either is fine
		{Partition: 1, Offset: 4, Start: at(30), End: at(40), By: "FetchOffsets"},
	}
	return h
}

// TestCheckClean: a history with nothing wrong has no violation.
func TestCheckClean(t *testing.T) {
	if vs := Check(cleanHistory()); len(vs) > 0 {
		t.Fatal(CheckSummary(vs, 10))
	}
}

// TestCheckFindsEachViolation breaks a clean history in one way at a time
// (the negative controls of the checker): Check must report that kind,
// naming the record and offset.
func TestCheckFindsEachViolation(t *testing.T) {
	at := func(ms int) time.Time {
		return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond)
	}
	cases := []struct {
		name   string
		break_ func(h *History)
		kind   string
		names  []string // each must be in the detail
	}{
		{"an acknowledged record missing from the final read", func(h *History) {
			h.Final = slices.DeleteFunc(h.Final, func(r Read) bool { return r.ID == "p0:2" })
		}, Lost, []string{"p0:2", "partition 0 offset 2"}},
		{"an acknowledged record elsewhere", func(h *History) {
			for i := range h.Acked {
				if h.Acked[i].ID == "p1:3" {
					h.Acked[i].Offset = 7
				}
			}
		}, WrongOffset, []string{"p1:3", "partition 1 offset 7", "partition 1 offset 3"}},
		{"a record twice in the final read", func(h *History) {
			h.Final = append(h.Final, Read{ID: "p0:1", Partition: 1, Offset: 4, By: "final read"})
		}, Duplicated, []string{"p0:1", "partition 1 offset 0", "partition 1 offset 4"}},
		{"an offset that changed after a member read it", func(h *History) {
			for i := range h.Final {
				if h.Final[i].Partition == 0 && h.Final[i].Offset == 1 {
					h.Final[i].ID = "p9:9"
				}
			}
		}, OffsetReused, []string{"partition 0 offset 1", "p1:0", "p9:9"}},
		{"an offset read that vanished", func(h *History) {
			h.Final = slices.DeleteFunc(h.Final, func(r Read) bool { return r.Partition == 1 && r.Offset == 3 })
			h.Acked = slices.DeleteFunc(h.Acked, func(a Ack) bool { return a.Partition == 1 && a.Offset == 3 })
		}, ReadVanished, []string{"member 1", "p1:3", "partition 1 offset 3"}},
		{"an aborted record read", func(h *History) {
			h.Reads = append(h.Reads, Read{ID: "t0:0", Partition: 0, Offset: 3, By: "member 2"})
		}, AbortedRead, []string{"member 2", "t0:0", "partition 0 offset 3"}},
		{"a committed offset that went down", func(h *History) {
			h.Commits = append(h.Commits, CommitObs{Partition: 1, Offset: 3, Start: at(41), End: at(45), By: "FetchOffsets"})
		}, CommitRegressed, []string{"partition 1", "committed offset 3", "had 4"}},
		{"a producer's records out of order", func(h *History) {
			for i := range h.Acked {
				switch h.Acked[i].ID {
				case "p0:1":
					h.Acked[i].Offset = 2
				case "p0:3":
					h.Acked[i].Offset = 0
				}
			}
		}, Reordered, []string{"p0:3", "p0:1", "partition 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := cleanHistory()
			tc.break_(h)
			vs := Check(h)
			i := slices.IndexFunc(vs, func(v Violation) bool { return v.Kind == tc.kind })
			if i < 0 {
				t.Fatalf("no %s violation; got:\n%s", tc.kind, CheckSummary(vs, 10))
			}
			for _, name := range tc.names {
				if !strings.Contains(vs[i].Detail, name) {
					t.Errorf("%s does not name %q", vs[i], name)
				}
			}
		})
	}
}
