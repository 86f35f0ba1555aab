package log

import (
	"fmt"
	"sync"
)

// committer is the Manager's group committer. An append with
// DurabilitySync writes its batches, registers its segment in the current
// round and waits. The committer goroutine takes the whole round (every
// segment written since the last round began, across all partitions),
// fsyncs those files (several at once), and wakes every waiter of the
// round. While a round's fsyncs run, the next round fills up, so under load
// many appends share one fsync per file.
type committer struct {
	files    *fileCache
	parallel int

	mu      sync.Mutex
	cur     *syncRound
	stopped bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	rounds int64 // rounds run, for tests and benchmarks (mu)
}

type syncRound struct {
	segs map[*segment]*Log // each holds one file reference, released after the fsync
	done chan struct{}
}

func newRound() *syncRound {
	return &syncRound{segs: make(map[*segment]*Log), done: make(chan struct{})}
}

func newCommitter(files *fileCache, parallel int) *committer {
	c := &committer{files: files, parallel: max(parallel, 1), cur: newRound(),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// sync waits until everything written to s before the call is on disk.
// The caller passes in a file reference on s, which sync releases.
func (c *committer) sync(l *Log, s *segment) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		r := newRound()
		r.segs[s] = l
		c.run(r)
		return l.Failed()
	}
	r := c.cur
	if _, ok := r.segs[s]; ok {
		c.mu.Unlock()
		c.files.release(s)
	} else {
		r.segs[s] = l
		c.mu.Unlock()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-r.done
	// A failed fsync anywhere in this log, in this round or an earlier one,
	// means our data may be lost too: the log is failed for good.
	return l.Failed()
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.mu.Lock()
			r := c.cur
			c.cur = newRound()
			c.stopped = true
			c.mu.Unlock()
			c.run(r)
			return
		}
		c.mu.Lock()
		r := c.cur
		if len(r.segs) == 0 {
			c.mu.Unlock()
			continue
		}
		c.cur = newRound()
		c.rounds++
		c.mu.Unlock()
		c.run(r)
	}
}

// run fsyncs a round's files, at most parallel at once, fails the logs
// whose fsync failed, and wakes the round's waiters.
func (c *committer) run(r *syncRound) {
	defer close(r.done)
	sync1 := func(s *segment, l *Log) {
		defer c.files.release(s)
		c.files.mu.Lock()
		f := s.file
		c.files.mu.Unlock()
		if f == nil {
			l.fail(fmt.Errorf("sync segment %d: file closed", s.base))
			return
		}
		if err := syncData(f); err != nil {
			l.fail(fmt.Errorf("sync segment %d: %w", s.base, err))
		}
	}
	if len(r.segs) == 1 || c.parallel == 1 {
		for s, l := range r.segs {
			sync1(s, l)
		}
		return
	}
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

// close runs the pending round and stops the goroutine; later syncs run
// inline.
func (c *committer) close() {
	close(c.stop)
	<-c.done
}
