package bench

import (
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: one microsecond to one hour, three significant digits
// (every reading is within 0.1% of the true value).
const (
	histMinMicros = 1
	histMaxMicros = int64(time.Hour / time.Microsecond)
	histSigFigs   = 3
)

// Histogram records latencies. It is safe for concurrent use.
type Histogram struct {
	mu  sync.Mutex
	h   *hdrhistogram.Histogram
	sum time.Duration // exact, for the mean
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)}
}

// Record adds one latency. Values outside the range are clamped to it, so
// nothing is silently dropped.
func (h *Histogram) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	us = min(max(us, histMinMicros), histMaxMicros)
	h.mu.Lock()
	_ = h.h.RecordValue(us) // cannot fail: us is within the range
	h.sum += d
	h.mu.Unlock()
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if h == o {
		return
	}
	o.mu.Lock()
	snap := hdrhistogram.Import(o.h.Export())
	sum := o.sum
	o.mu.Unlock()
	h.mu.Lock()
	h.h.Merge(snap)
	h.sum += sum
	h.mu.Unlock()
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.h.TotalCount()
}

// Quantile returns the latency at percentile p (0 to 100), e.g. 99.9. An
// empty histogram returns 0.
func (h *Histogram) Quantile(p float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.ValueAtQuantile(p)) * time.Microsecond
}

// Mean is the exact average of the recorded latencies.
func (h *Histogram) Mean() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.h.TotalCount()
	if n == 0 {
		return 0
	}
	return h.sum / time.Duration(n)
}

// Max is the largest recorded latency (to the histogram's precision).
func (h *Histogram) Max() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return 0
	}
	return time.Duration(h.h.Max()) * time.Microsecond
}

// Latency is a summary of a histogram in milliseconds, for reports.
type Latency struct {
	Count int64   `json:"count"`
	Avg   float64 `json:"avg_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summary reads the usual percentiles from h.
func (h *Histogram) Summary() Latency {
	return Latency{
		Count: h.Count(),
		Avg:   ms(h.Mean()),
		P50:   ms(h.Quantile(50)),
		P95:   ms(h.Quantile(95)),
		P99:   ms(h.Quantile(99)),
		P999:  ms(h.Quantile(99.9)),
		Max:   ms(h.Max()),
	}
}
