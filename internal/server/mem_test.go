package server

import (
	"runtime"
	"testing"
)

// runtimeMem checks that a function allocates far less than a frame body.
type runtimeMem struct{}

func (runtimeMem) check(t *testing.T, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("allocated %d bytes for a refused frame", d)
	}
}
