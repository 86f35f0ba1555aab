package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// window accumulates one progress interval's records, bytes and latencies.
type window struct {
	mu      sync.Mutex
	count   int64
	bytes   int64
	latSum  time.Duration
	latMax  time.Duration
	started time.Time
}

func (w *window) add(bytes int64, lat time.Duration) {
	w.mu.Lock()
	w.count++
	w.bytes += bytes
	w.latSum += lat
	w.latMax = max(w.latMax, lat)
	w.mu.Unlock()
}

// take returns the interval's totals and starts a new interval.
func (w *window) take(now time.Time) (count, bytes int64, avg, maxLat, elapsed time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	count, bytes, maxLat, elapsed = w.count, w.bytes, w.latMax, now.Sub(w.started)
	if count > 0 {
		avg = w.latSum / time.Duration(count)
	}
	w.count, w.bytes, w.latSum, w.latMax, w.started = 0, 0, 0, 0, now
	return
}

// rates returns records/s and MiB/s.
func rates(count, bytes int64, elapsed time.Duration) (float64, float64) {
	s := elapsed.Seconds()
	if s <= 0 {
		return 0, 0
	}
	return float64(count) / s, float64(bytes) / s / (1 << 20)
}

// reportEvery calls line every interval until ctx is done, writing what it
// returns to w. It returns when ctx is done; wait on the returned channel.
func reportEvery(ctx context.Context, interval time.Duration, w io.Writer, line func(now time.Time) string) <-chan struct{} {
	done := make(chan struct{})
	if interval < 0 || w == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				fmt.Fprintln(w, line(now))
			}
		}
	}()
	return done
}
