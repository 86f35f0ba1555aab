package main

import (
	"context"
	"fmt"
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
	readCommitted bool // the end of a partition is its last stable offset

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
}

func newProgress(readCommitted bool) *progress {
	pr := &progress{readCommitted: readCommitted, parts: make(map[tp]*partProgress)}
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
				pr.parts[tp{t, p}] = &partProgress{}
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
		p = &partProgress{}
		pr.parts[part] = p
	}
	p.positioned, p.next, p.end = true, start, b.end
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
// partition is known to hold records not yet read.
func (pr *progress) idleSince() (since time.Time, lagging, ok bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, p := range pr.parts {
		lagging = lagging || p.next < p.end
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

// take accounts for a fetched record and says whether to print it:
// control records (transaction markers) only move the position.
func (pr *progress) take(r *kgo.Record) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if p := pr.parts[tp{r.Topic, r.Partition}]; p != nil {
		p.next = r.Offset + 1
	}
	return !r.Attrs.IsControl()
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
