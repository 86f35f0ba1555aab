package group

import "time"

// Clock is the coordinator's time source. Timer callbacks run on a
// goroutine of the clock's choosing and must expect to race with Stop: the
// coordinator re-checks its own state when a callback fires.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending callback.
type Timer interface {
	// Stop cancels the callback; false if it already ran or is running.
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
