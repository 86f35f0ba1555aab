package bench

import (
	"math"
	"sync"
	"testing"
	"time"
)

// within checks got is within 0.1% (the histogram's precision) of want.
func within(t *testing.T, name string, got, want time.Duration) {
	t.Helper()
	if math.Abs(float64(got-want)) > float64(want)*0.001+float64(time.Microsecond) {
		t.Errorf("%s = %v, want %v (±0.1%%)", name, got, want)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := NewHistogram()
	// 1 ms, 2 ms, ..., 1000 ms: the p-th percentile is p*10 ms.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	if h.Count() != 1000 {
		t.Fatalf("count %d", h.Count())
	}
	within(t, "p50", h.Quantile(50), 500*time.Millisecond)
	within(t, "p99", h.Quantile(99), 990*time.Millisecond)
	within(t, "p99.9", h.Quantile(99.9), 999*time.Millisecond)
	within(t, "max", h.Max(), 1000*time.Millisecond)
	if h.Mean() != 500500*time.Microsecond {
		t.Errorf("mean %v, want exactly 500.5ms", h.Mean())
	}
	s := h.Summary()
	if s.Count != 1000 || !(s.P50 <= s.P95 && s.P95 <= s.P99 && s.P99 <= s.P999 && s.P999 <= s.Max) {
		t.Errorf("summary not monotone: %+v", s)
	}
}

func TestHistogramEmptyAndClamp(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(99) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram must read zero")
	}
	h.Record(0)
	h.Record(-time.Second)
	h.Record(3 * time.Hour)
	if h.Count() != 3 {
		t.Fatalf("out-of-range values must be clamped, not dropped: count %d", h.Count())
	}
	within(t, "max", h.Max(), time.Hour)
	if h.Quantile(30) != time.Microsecond {
		t.Errorf("min clamps to 1µs, got %v", h.Quantile(30))
	}
}

func TestHistogramMergeAndConcurrency(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h := a
				if g%2 == 1 {
					h = b
				}
				h.Record(time.Duration(i+1) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	a.Merge(b)
	a.Merge(a) // no-op, must not deadlock
	if a.Count() != 4000 || b.Count() != 2000 {
		t.Fatalf("counts %d, %d", a.Count(), b.Count())
	}
	within(t, "merged p50", a.Quantile(50), 500*time.Microsecond)
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%100000) * time.Microsecond)
	}
}
