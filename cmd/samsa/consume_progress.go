package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// progress follows the partitions `samsa consume` reads: which ones it
// has, where it starts in each, and how far it got. A group's callbacks
// update it from the client's goroutines while the poll loop reads it;
// every change wakes the poll loop (see changed), and sentences meant for
// standard error are queued for the poll loop to print, so that only one
// goroutine writes there.
type progress struct {
	readCommitted bool  // the end of a partition is its last stable offset
	exitAtEnd     bool  // -e: stop each partition at its end when positioned
	untilMs       int64 // --until, or -1: stop each partition at this time

	mu sync.Mutex
	// joined says partitions were assigned, even none: at once without a
	// group, on the first OnPartitionsAssigned with one.
	joined bool
	// ready says every assigned partition has its start offset, since
	// readyAt. The idle clock runs only while ready.
	ready   bool
	readyAt time.Time
	parts   map[tp]*partProgress
	notes   []string
	err     error
	wake    context.Context
	wakeFn  context.CancelFunc
}

type partProgress struct {
	positioned bool  // the start offset is known
	next       int64 // the offset of the next record to read
	end        int64 // the end of the partition, as last listed or fetched
	// stop is the offset not to read, nor anything after it: the end at
	// the start with -e, the first offset at --until once that time has
	// come; -1 while there is none.
	stop     int64
	untilSet bool // stop accounts for --until
	done     bool // read up to stop, or to a record at or after --until
}

func newProgress(readCommitted, exitAtEnd bool, untilMs int64) *progress {
	pr := &progress{
		readCommitted: readCommitted,
		exitAtEnd:     exitAtEnd,
		untilMs:       untilMs,
		parts:         make(map[tp]*partProgress),
	}
	pr.wake, pr.wakeFn = context.WithCancel(context.Background())
	return pr
}

// changed returns a context canceled at the next change. Take it before
// looking at the state, so that no change goes unnoticed.
func (pr *progress) changed() context.Context {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.wake
}

// changedLocked wakes whoever waits on changed, and notes when every
// partition came to have a start offset.
func (pr *progress) changedLocked() {
	ready := pr.joined
	for _, p := range pr.parts {
		ready = ready && p.positioned
	}
	if ready && !pr.ready {
		pr.readyAt = time.Now()
	}
	pr.ready = ready
	pr.wakeFn()
	pr.wake, pr.wakeFn = context.WithCancel(context.Background())
}

// assign records partitions given to the consumer (possibly none).
func (pr *progress) assign(m map[string][]int32) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.joined = true
	for t, ps := range m {
		for _, p := range ps {
			if pr.parts[tp{t, p}] == nil {
				pr.parts[tp{t, p}] = &partProgress{stop: -1}
			}
		}
	}
	pr.changedLocked()
}

// revoke forgets partitions taken away by a rebalance.
func (pr *progress) revoke(m map[string][]int32) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			delete(pr.parts, tp{t, p})
		}
	}
	pr.changedLocked()
}

// position records where reading part starts, and where its end is.
func (pr *progress) position(part tp, start int64, b logBounds) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	p := pr.parts[part]
	if p == nil {
		p = &partProgress{stop: -1}
		pr.parts[part] = p
	}
	p.positioned, p.next, p.end = true, start, b.end
	if pr.exitAtEnd {
		p.stop = b.end
		p.done = p.next >= p.stop
	}
	pr.changedLocked()
}

// note queues a sentence for standard error.
func (pr *progress) note(s string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.notes = append(pr.notes, s)
	pr.changedLocked()
}

// fail records an error that ends the command.
func (pr *progress) fail(err error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.err == nil {
		pr.err = err
	}
	pr.changedLocked()
}

// drain returns the queued sentences and the error, if any.
func (pr *progress) drain() ([]string, error) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	notes := pr.notes
	pr.notes = nil
	return notes, pr.err
}

// idleSince says since when the idle clock runs, if it does: from the
// moment every assigned partition has a start offset. A group consumer
// spends its first seconds joining (group.initial.rebalance.delay.ms is 3s
// by default), and that is no reason to give up. lagging says some
// partition still to be read is known to hold records not yet read.
func (pr *progress) idleSince() (since time.Time, lagging, ok bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, p := range pr.parts {
		lagging = lagging || (!p.done && p.next < p.end)
	}
	return pr.readyAt, lagging, pr.ready
}

// observe notes the partition ends that came with fetched records.
func (pr *progress) observe(fs kgo.Fetches) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	fs.EachPartition(func(f kgo.FetchTopicPartition) {
		p := pr.parts[tp{f.Topic, f.Partition}]
		if p == nil || f.Err != nil || len(f.Records) == 0 {
			return
		}
		end := f.HighWatermark
		if pr.readCommitted {
			end = f.LastStableOffset
		}
		p.end = max(p.end, end)
	})
}

// take accounts for a fetched record. It says whether to show it, and
// whether it counts as read (for a group, to be committed): a control
// record (a transaction marker) is read but not printed; a record at or
// past where its partition stops is neither.
func (pr *progress) take(r *kgo.Record) (show, read bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	control := r.Attrs.IsControl()
	p := pr.parts[tp{r.Topic, r.Partition}]
	switch {
	case p == nil:
		return !control, true
	case p.done:
		return false, false
	case p.stop >= 0 && r.Offset >= p.stop,
		pr.untilMs >= 0 && !control && r.Timestamp.UnixMilli() >= pr.untilMs:
		p.done = true
		return false, false
	}
	p.next = r.Offset + 1
	p.done = p.stop >= 0 && p.next >= p.stop
	return !control, true
}

// allDone says every assigned partition is done (with -e or --until).
func (pr *progress) allDone() bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if !pr.ready {
		return false
	}
	for _, p := range pr.parts {
		if !p.done {
			return false
		}
	}
	return true
}

// needUntil lists the topics of partitions whose stop does not yet account
// for --until.
func (pr *progress) needUntil() []string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	seen := map[string]bool{}
	var topics []string
	for part, p := range pr.parts {
		if p.positioned && !p.untilSet && !p.done && !seen[part.topic] {
			seen[part.topic] = true
			topics = append(topics, part.topic)
		}
	}
	return topics
}

// applyUntil lowers the stops of the partitions of topics to the offsets
// listed for --until (a partition missing from at keeps its stop).
func (pr *progress) applyUntil(topics []string, at map[tp]int64) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for part, p := range pr.parts {
		if !p.positioned || p.untilSet || !slices.Contains(topics, part.topic) {
			continue
		}
		p.untilSet = true
		off, ok := at[part]
		if !ok {
			continue
		}
		if p.stop < 0 || off < p.stop {
			p.stop = off
		}
		p.done = p.done || p.next >= p.stop
	}
	pr.changedLocked()
}

// adjustGroupOffsets is the group's AdjustFetchOffsetsFn: called with the
// offsets the client is about to fetch from in newly assigned partitions,
// it returns exact offsets. A committed offset in the log stays; one
// outside the log follows --reset, with a sentence on standard error; a
// partition without a committed offset starts where the start rule says.
// The client's own start offset is AtStart or AtEnd, never AfterMilli, so
// that a non-negative offset here is always a committed one.
func adjustGroupOffsets(res *offsetResolver, pr *progress, group string) func(context.Context, map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	return func(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
		topics := make([]string, 0, len(offsets))
		for t := range offsets {
			topics = append(topics, t)
		}
		bounds, err := res.bounds(ctx, topics)
		if err != nil {
			if ctx.Err() == nil {
				pr.fail(err)
			}
			return offsets, nil
		}
		for t, ps := range offsets {
			for p, o := range ps {
				part := tp{t, p}
				b, ok := bounds[part]
				if !ok {
					pr.fail(fmt.Errorf("the cluster listed no offsets for %s", part))
					continue
				}
				if c := o.EpochOffset().Offset; c >= 0 {
					at, oor := res.within(b, c)
					if oor == nil {
						pr.position(part, at, b) // keep o, with its leader epoch
						continue
					}
					pr.note(oor.describe(fmt.Sprintf("The committed offset %d of group %q", c, group), part))
					ps[p] = kgo.NewOffset().At(at)
					pr.position(part, at, b)
					continue
				}
				at, _ := res.start(b)
				ps[p] = kgo.NewOffset().At(at)
				pr.position(part, at, b)
			}
		}
		return offsets, nil
	}
}
