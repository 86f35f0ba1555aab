package group

import (
	"bytes"
	"sort"
)

// Server-side assignors of KIP-848 consumer groups.
const (
	// AssignorUniform spreads all subscribed partitions evenly over the
	// members, keeping each member's partitions where balance allows.
	AssignorUniform = "uniform"
	// AssignorRange gives each member a contiguous range of every topic it
	// subscribes to, as the classic range assignor does.
	AssignorRange = "range"
)

// tp names one partition by topic id.
type tp struct {
	id [16]byte
	p  int32
}

func tpLess(a, b tp) bool {
	if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
		return c < 0
	}
	return a.p < b.p
}

type tpSet map[tp]struct{}

func (s tpSet) has(x tp) bool { _, ok := s[x]; return ok }

func (s tpSet) clone() tpSet {
	out := make(tpSet, len(s))
	for k := range s {
		out[k] = struct{}{}
	}
	return out
}

func (s tpSet) equal(o tpSet) bool {
	if len(s) != len(o) {
		return false
	}
	for k := range s {
		if !o.has(k) {
			return false
		}
	}
	return true
}

func (s tpSet) sorted() []tp {
	out := make([]tp, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return tpLess(out[i], out[j]) })
	return out
}

// assignMember is one member as an assignor sees it.
type assignMember struct {
	id      string
	topics  map[[16]byte]bool // subscribed topic ids (resolved)
	current tpSet             // its target assignment of the previous epoch
}

// assignTopic is one subscribed topic.
type assignTopic struct {
	id         [16]byte
	name       string
	partitions int32
}

// assignor computes a target assignment. members are sorted by id;
// topics by name. It returns every member's partitions (possibly empty).
type assignor interface {
	assign(members []assignMember, topics []assignTopic) map[string]tpSet
}

func newAssignor(name string) assignor {
	switch name {
	case AssignorUniform:
		return uniformAssignor{}
	case AssignorRange:
		return rangeAssignor{}
	}
	return nil
}

type uniformAssignor struct{}

func (uniformAssignor) assign(members []assignMember, topics []assignTopic) map[string]tpSet {
	out := make(map[string]tpSet, len(members))
	for _, m := range members {
		out[m.id] = tpSet{}
	}
	if len(members) == 0 {
		return out
	}
	var all []tp
	for _, t := range topics {
		for p := int32(0); p < t.partitions; p++ {
			all = append(all, tp{t.id, p})
		}
	}
	subscribers := 0
	for _, m := range members {
		if len(m.topics) > 0 {
			subscribers++
		}
	}
	quota := len(all)
	if subscribers > 0 {
		quota = (len(all) + subscribers - 1) / subscribers
	}
	// Keep what members had, up to the quota.
	taken := tpSet{}
	for _, m := range members {
		for _, x := range m.current.sorted() {
			if !m.topics[x.id] || taken.has(x) || len(out[m.id]) >= quota || !validTP(x, topics) {
				continue
			}
			out[m.id][x] = struct{}{}
			taken[x] = struct{}{}
		}
	}
	// Hand out the rest, each to the least loaded subscriber.
	for _, x := range all {
		if taken.has(x) {
			continue
		}
		best := ""
		for _, m := range members {
			if m.topics[x.id] && (best == "" || len(out[m.id]) < len(out[best])) {
				best = m.id
			}
		}
		if best != "" {
			out[best][x] = struct{}{}
			taken[x] = struct{}{}
		}
	}
	balance(members, out)
	return out
}

func validTP(x tp, topics []assignTopic) bool {
	for _, t := range topics {
		if t.id == x.id {
			return x.p < t.partitions
		}
	}
	return false
}

// balance moves partitions from the most to the least loaded members that
// can take them until no move narrows a gap of more than one.
func balance(members []assignMember, out map[string]tpSet) {
	byID := make(map[string]assignMember, len(members))
	for _, m := range members {
		byID[m.id] = m
	}
	for iter := 0; iter < 10000; iter++ {
		order := make([]string, 0, len(members))
		for _, m := range members {
			order = append(order, m.id)
		}
		sort.SliceStable(order, func(i, j int) bool { return len(out[order[i]]) > len(out[order[j]]) })
		moved := false
	search:
		for _, hi := range order {
			for k := len(order) - 1; k >= 0; k-- {
				lo := order[k]
				if len(out[hi])-len(out[lo]) <= 1 {
					break
				}
				parts := out[hi].sorted()
				for i := len(parts) - 1; i >= 0; i-- {
					if byID[lo].topics[parts[i].id] {
						delete(out[hi], parts[i])
						out[lo][parts[i]] = struct{}{}
						moved = true
						break search
					}
				}
			}
		}
		if !moved {
			return
		}
	}
}

type rangeAssignor struct{}

func (rangeAssignor) assign(members []assignMember, topics []assignTopic) map[string]tpSet {
	out := make(map[string]tpSet, len(members))
	for _, m := range members {
		out[m.id] = tpSet{}
	}
	for _, t := range topics {
		var subs []string
		for _, m := range members {
			if m.topics[t.id] {
				subs = append(subs, m.id)
			}
		}
		if len(subs) == 0 {
			continue
		}
		n, extra := int(t.partitions)/len(subs), int(t.partitions)%len(subs)
		p := int32(0)
		for i, id := range subs {
			count := n
			if i < extra {
				count++
			}
			for j := 0; j < count; j++ {
				out[id][tp{t.id, p}] = struct{}{}
				p++
			}
		}
	}
	return out
}
