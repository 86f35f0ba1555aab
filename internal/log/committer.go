package log

import (
	"fmt"
	"sync"
	"time"
)

// CommitObserver receives the group committer's rounds and fsyncs, for
// metrics (ManagerOptions.CommitObserver). Its methods are called from the
// committer's goroutines, several at once for Fsync, and must be quick.
type CommitObserver interface {
	// CommitRound reports a round whose fsyncs are done: the appends
	// registered in it, the segment files it fsynced and how long the
	// fsyncs took together (they run in parallel). It is called before the
	// round's appends are acknowledged.
	CommitRound(appends, files int, d time.Duration)
	// Fsync reports the fsync of one segment file (preceded, the first
	// time a partition syncs, by the fsync of its directories) and its
	// error. Fsyncs run inline after the manager closed are reported too.
	Fsync(d time.Duration, err error)
}

// committer is the Manager's group committer. An append with
// DurabilitySync writes its batches and, still under the log's appender
// lock, registers its segment and its end offset in the current round; it
// does not wait. The committer goroutine takes the whole round (every
// segment written since the last round began, across all partitions),
// fsyncs those files (several at once), then advances each log's durable
// offset to the highest end offset registered for it and wakes the log's
// durability waiters. While a round's fsyncs run, the next round fills up,
// so under load many appends share one fsync per file.
//
// Rounds run one after the other and a log registers in offset order, so
// when a round ends every append of the log up to the round's end offset
// is on disk: its segments written since the previous round were fsynced
// in this round, everything before in earlier rounds.
//
// A registration carries the log's truncation generation. A truncation
// (Log.TruncateTo) makes what it keeps durable itself and moves the
// durable offset to its cut; a round that registered appends before it
// still fsyncs their files (harmless, the handles stay valid) but does not
// move the durable offset: those appends may lie beyond the cut, and are
// never acknowledged.
type committer struct {
	files    *fileCache
	parallel int
	obs      CommitObserver // nil: nothing reported

	mu      sync.Mutex
	cur     *syncRound
	stopped bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	rounds int64 // rounds run, for tests and benchmarks (mu)
	// manual: no goroutine; rounds run in Manager.CommitRound and close.
	manual bool
}

type syncRound struct {
	segs    map[*segment]*Log  // each holds one file reference, released after the fsync
	ends    map[*Log]roundMark // the latest end offset registered per log
	appends int                // registrations, for the observer
}

// roundMark is where a log's registrations in a round end: the end offset
// of the latest, in the truncation generation it was written in.
type roundMark struct {
	gen uint64
	end int64
}

func newRound() *syncRound {
	return &syncRound{segs: make(map[*segment]*Log), ends: make(map[*Log]roundMark)}
}

func newCommitter(files *fileCache, parallel int, obs CommitObserver) *committer {
	c := makeCommitter(files, parallel, obs)
	go c.loop()
	return c
}

// makeCommitter is newCommitter without the goroutine.
func makeCommitter(files *fileCache, parallel int, obs CommitObserver) *committer {
	return &committer{files: files, parallel: max(parallel, 1), obs: obs, cur: newRound(),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// registerLocked asks for everything written to s so far to be fsynced, and
// for l's durable offset to advance to end once it is. The caller holds
// l.mu (so a log registers in offset order, and its truncation generation
// is the one the data was written in) and passes in a file reference on s,
// which the committer releases. After the committer stopped (the manager
// closed) the fsync runs inline.
func (c *committer) registerLocked(l *Log, s *segment, end int64) {
	mark := roundMark{gen: l.truncGen.Load(), end: end}
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		c.syncInlineLocked(l, s, mark)
		return
	}
	r := c.cur
	r.appends++
	if _, ok := r.segs[s]; ok {
		c.files.release(s)
	} else {
		r.segs[s] = l
	}
	// Registrations of a log come in offset order, but a truncation
	// between two of them starts a new generation whose end may be lower.
	if cur, ok := r.ends[l]; !ok || mark.gen != cur.gen || mark.end > cur.end {
		r.ends[l] = mark
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.run(c.takeLast())
			return
		}
		if r := c.take(); r != nil {
			c.run(r)
		}
	}
}

// take closes the round being filled and starts the next; it returns the
// closed round, or nil if nothing registered since the last one.
func (c *committer) take() *syncRound {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.cur
	if len(r.segs) == 0 {
		return nil
	}
	c.cur = newRound()
	c.rounds++
	return r
}

// takeLast returns the round being filled; registrations after it fsync
// inline.
func (c *committer) takeLast() *syncRound {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.cur
	c.cur = newRound()
	c.stopped = true
	return r
}

// run fsyncs a round's files, at most parallel at once, fails the logs
// whose fsync failed, then advances the durable offset of the others and
// wakes every log's waiters.
func (c *committer) run(r *syncRound) {
	if len(r.segs) == 0 {
		return
	}
	start := time.Now()
	sync1 := func(s *segment, l *Log) {
		defer c.files.release(s)
		c.files.mu.Lock()
		f := s.file
		c.files.mu.Unlock()
		if f == nil {
			l.fail(fmt.Errorf("sync segment %d: file closed", s.base))
			return
		}
		start := time.Now()
		if err := l.syncDirs(); err != nil {
			c.observeFsync(start, err)
			l.fail(err)
			return
		}
		err := syncData(f)
		c.observeFsync(start, err)
		if err != nil {
			l.fail(fmt.Errorf("sync segment %d: %w", s.base, err))
		}
	}
	if len(r.segs) == 1 || c.parallel == 1 {
		for s, l := range r.segs {
			sync1(s, l)
		}
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, c.parallel)
		for s, l := range r.segs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				sync1(s, l)
				<-sem
			}()
		}
		wg.Wait()
	}
	// Reported before the waiters wake, so an append that returned is
	// counted.
	if c.obs != nil {
		c.obs.CommitRound(r.appends, len(r.segs), time.Since(start))
	}
	for l, mark := range r.ends {
		// A failed fsync anywhere in this log, in this round or an earlier
		// one, means this round's data may be lost too: the log is failed
		// for good and its durable offset stays where it is.
		if l.isFailed.Load() {
			l.durableChanged()
			continue
		}
		l.advanceDurableAt(mark.gen, mark.end)
	}
}

// observeFsync reports an fsync that began at start.
func (c *committer) observeFsync(start time.Time, err error) {
	if c.obs != nil {
		c.obs.Fsync(time.Since(start), err)
	}
}

// syncInlineLocked is registerLocked after the committer stopped: fsync
// now, under l.mu.
func (c *committer) syncInlineLocked(l *Log, s *segment, mark roundMark) {
	c.files.mu.Lock()
	f := s.file // the caller's reference keeps it open
	c.files.mu.Unlock()
	start := time.Now()
	err := l.syncDirs()
	if err == nil {
		err = syncData(f)
	}
	c.observeFsync(start, err)
	c.files.release(s)
	if err != nil {
		l.failLocked(fmt.Errorf("sync segment %d: %w", s.base, err))
		return
	}
	l.advanceDurableAt(mark.gen, mark.end)
}

// close runs the pending round and stops the goroutine; later
// registrations fsync inline.
func (c *committer) close() {
	if c.manual {
		c.run(c.takeLast())
		return
	}
	close(c.stop)
	<-c.done
}
