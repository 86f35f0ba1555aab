package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// commitMetrics are the group committer's histograms, per log directory
// (label dir).
type commitMetrics struct {
	roundSeconds *prometheus.HistogramVec
	roundAppends *prometheus.HistogramVec
	roundFiles   *prometheus.HistogramVec
	fsyncSeconds *prometheus.HistogramVec
	fsyncErrors  *prometheus.CounterVec
}

// Latency buckets of fsyncs and commit rounds: from a fast NVMe drive's
// tens of microseconds to a struggling disk's seconds.
var syncBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Count buckets of appends and files per round.
var roundBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

func newCommitMetrics() *commitMetrics {
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "samsa", Name: name, Help: help, Buckets: buckets}, []string{"dir"})
	}
	return &commitMetrics{
		roundSeconds: hist("log_commit_round_duration_seconds",
			"Wall time of one group-commit round's fsyncs (run in parallel), by log directory; the count is the number of rounds. Only logs with samsa.log.durability=sync have rounds.", syncBuckets),
		roundAppends: hist("log_commit_round_appends",
			"Appends acknowledged together by one group-commit round, by log directory.", roundBuckets),
		roundFiles: hist("log_commit_round_files",
			"Segment files fsynced by one group-commit round, by log directory.", roundBuckets),
		fsyncSeconds: hist("log_fsync_duration_seconds",
			"Time of one segment file's fsync (fdatasync) by the group committer, by log directory.", syncBuckets),
		fsyncErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "samsa", Name: "log_fsync_errors_total",
			Help: "Failed fsyncs by the group committer, by log directory. Each one takes a partition offline until the node restarts."}, []string{"dir"}),
	}
}

func (c *commitMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.roundSeconds, c.roundAppends, c.roundFiles, c.fsyncSeconds, c.fsyncErrors}
}

// CommitObserver reports one log directory's group commits. It has the
// methods of internal/log's CommitObserver.
type CommitObserver struct {
	roundSeconds, roundAppends, roundFiles, fsyncSeconds prometheus.Observer
	fsyncErrors                                          prometheus.Counter
}

// CommitObserver returns the observer of the log directory dir's group
// committer; its series exist from now on, at zero. A nil *Metrics gives
// nil.
func (m *Metrics) CommitObserver(dir string) *CommitObserver {
	if m == nil {
		return nil
	}
	c := m.commit
	return &CommitObserver{
		roundSeconds: c.roundSeconds.WithLabelValues(dir),
		roundAppends: c.roundAppends.WithLabelValues(dir),
		roundFiles:   c.roundFiles.WithLabelValues(dir),
		fsyncSeconds: c.fsyncSeconds.WithLabelValues(dir),
		fsyncErrors:  c.fsyncErrors.WithLabelValues(dir),
	}
}

// CommitRound records one round.
func (o *CommitObserver) CommitRound(appends, files int, d time.Duration) {
	if o == nil {
		return
	}
	o.roundSeconds.Observe(d.Seconds())
	o.roundAppends.Observe(float64(appends))
	o.roundFiles.Observe(float64(files))
}

// Fsync records one fsync.
func (o *CommitObserver) Fsync(d time.Duration, err error) {
	if o == nil {
		return
	}
	o.fsyncSeconds.Observe(d.Seconds())
	if err != nil {
		o.fsyncErrors.Inc()
	}
}
