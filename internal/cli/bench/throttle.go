package bench

import (
	"context"
	"time"
)

// throttle paces a sender to a target rate: the n-th record is due at
// start + n/rate, and the sender sleeps when it is ahead. Sleeping only when
// at least a millisecond ahead keeps the number of timer wake-ups small at
// high rates.
type throttle struct {
	rate  float64 // records per second; <= 0 means unlimited
	start time.Time
	timer *time.Timer
}

func newThrottle(rate float64, start time.Time) *throttle {
	return &throttle{rate: rate, start: start}
}

// wait blocks until record n (counting from 0) is due, or ctx is done.
func (t *throttle) wait(ctx context.Context, n int64) error {
	if t.rate <= 0 {
		return ctx.Err()
	}
	due := t.start.Add(time.Duration(float64(n) / t.rate * float64(time.Second)))
	ahead := time.Until(due)
	if ahead < time.Millisecond {
		return ctx.Err()
	}
	if t.timer == nil {
		t.timer = time.NewTimer(ahead)
	} else {
		t.timer.Reset(ahead)
	}
	select {
	case <-t.timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
