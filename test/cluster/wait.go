package cluster

import (
	"testing"
	"time"
)

// pollInterval is how often the waits of the harness look again.
const pollInterval = 50 * time.Millisecond

// WaitFor calls cond every 50 ms until it returns nil, and fails the test
// with cond's last error if that has not happened within timeout.
func WaitFor(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatal(err)
	}
}

// Poll calls cond every 50 ms until it returns nil (Poll returns nil) or
// timeout passes (Poll returns an error with cond's last error). Unlike
// WaitFor it may be called from any goroutine.
func Poll(timeout time.Duration, cond func() error) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return &TimeoutError{Waited: time.Since(start), Last: err}
		}
		time.Sleep(pollInterval)
	}
}

// TimeoutError is Poll's error: how long it waited and cond's last error.
type TimeoutError struct {
	Waited time.Duration
	Last   error
}

func (e *TimeoutError) Error() string {
	return "condition not met after " + e.Waited.Round(time.Millisecond).String() + ": " + e.Last.Error()
}

func (e *TimeoutError) Unwrap() error { return e.Last }
