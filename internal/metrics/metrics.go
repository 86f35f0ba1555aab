package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// PartitionStat is one partition's gauges at scrape time.
type PartitionStat struct {
	Topic          string
	Partition      int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	SizeBytes      int64
}

// PartitionLister returns the node's partitions for a scrape.
type PartitionLister func() []PartitionStat

// Metrics is the node's metric set.
type Metrics struct {
	Registry *prometheus.Registry

	requests  *prometheus.CounterVec   // api, version
	errors    *prometheus.CounterVec   // api, error
	latency   *prometheus.HistogramVec // api
	bytesIn   prometheus.Counter
	bytesOut  prometheus.Counter
	conns     prometheus.Gauge
	connTotal prometheus.Counter
	// truncatedBelowHW counts follower truncations below the high
	// watermark the replica had exposed (0 unless an election was unclean).
	truncatedBelowHW prometheus.Counter

	topics *topicMetrics
	commit *commitMetrics

	mu       sync.Mutex
	perAPI   map[int16]*apiSeries
	sources  Sources
	listerMu sync.RWMutex // guards sources
}

type apiSeries struct {
	latency prometheus.Observer
	byVer   map[int16]prometheus.Counter
}

// New builds the metric set with a fresh registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "samsa", Name: "requests_total", Help: "Kafka requests served, by API and version.",
		}, []string{"api", "version"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "samsa", Name: "request_errors_total", Help: "Kafka error codes returned, by API and error (top-level and per-partition codes).",
		}, []string{"api", "error"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "samsa", Name: "request_duration_seconds", Help: "Time from a request's arrival to its response being written, by API.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api"}),
		bytesIn:   prometheus.NewCounter(prometheus.CounterOpts{Namespace: "samsa", Name: "network_bytes_in_total", Help: "Request bytes read from clients."}),
		bytesOut:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: "samsa", Name: "network_bytes_out_total", Help: "Response bytes written to clients."}),
		conns:     prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "samsa", Name: "connections", Help: "Open client connections."}),
		connTotal: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "samsa", Name: "connections_opened_total", Help: "Client connections accepted."}),
		truncatedBelowHW: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "samsa", Name: "replica_truncations_below_high_watermark_total",
			Help: "Follower log truncations below the high watermark the replica had exposed: records consumers may have read were taken back. Zero unless an election was unclean."}),
		perAPI: map[int16]*apiSeries{},
		topics: newTopicMetrics(),
		commit: newCommitMetrics(),
	}
	m.Registry.MustRegister(m.requests, m.errors, m.latency, m.bytesIn, m.bytesOut, m.conns, m.connTotal, m.truncatedBelowHW,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&nodeCollector{m: m})
	m.Registry.MustRegister(m.topics.collectors()...)
	m.Registry.MustRegister(m.commit.collectors()...)
	return m
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func apiName(key int16) string {
	if n := kmsg.NameForKey(key); n != "" {
		return n
	}
	return strconv.Itoa(int(key))
}

func (m *Metrics) series(key, version int16) (prometheus.Observer, prometheus.Counter) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.perAPI[key]
	if s == nil {
		s = &apiSeries{latency: m.latency.WithLabelValues(apiName(key)), byVer: map[int16]prometheus.Counter{}}
		m.perAPI[key] = s
	}
	c := s.byVer[version]
	if c == nil {
		c = m.requests.WithLabelValues(apiName(key), strconv.Itoa(int(version)))
		s.byVer[version] = c
	}
	return s.latency, c
}

// Request records one served request and its duration.
func (m *Metrics) Request(key, version int16, d time.Duration) {
	if m == nil {
		return
	}
	lat, c := m.series(key, version)
	c.Inc()
	lat.Observe(d.Seconds())
}

// Errors counts non-zero Kafka error codes returned by an API.
func (m *Metrics) Errors(key int16, codes ...int16) {
	if m == nil {
		return
	}
	for _, code := range codes {
		if code == 0 {
			continue
		}
		name := strconv.Itoa(int(code))
		if e := kerr.ErrorForCode(code); e != nil {
			var ke *kerr.Error
			if errors.As(e, &ke) {
				name = ke.Message
			}
		}
		m.errors.WithLabelValues(apiName(key), name).Inc()
	}
}

// BytesIn counts request bytes.
func (m *Metrics) BytesIn(n int) {
	if m != nil {
		m.bytesIn.Add(float64(n))
	}
}

// BytesOut counts response bytes.
func (m *Metrics) BytesOut(n int64) {
	if m != nil {
		m.bytesOut.Add(float64(n))
	}
}

// ConnOpened counts an accepted connection.
func (m *Metrics) ConnOpened() {
	if m != nil {
		m.conns.Inc()
		m.connTotal.Inc()
	}
}

// TruncatedBelowHighWatermark counts a follower truncation below the high
// watermark it had exposed.
func (m *Metrics) TruncatedBelowHighWatermark() {
	if m != nil {
		m.truncatedBelowHW.Inc()
	}
}

// ConnClosed counts a closed connection.
func (m *Metrics) ConnClosed() {
	if m != nil {
		m.conns.Dec()
	}
}

// AdminServer is the HTTP admin endpoint.
type AdminServer struct {
	srv *http.Server
	ln  net.Listener
}

// StartAdmin listens on addr and serves /metrics, /healthz and /readyz
// (and /debug/pprof with [WithPprof]), and at / the list of them. ready
// returns nil when the node is ready.
func StartAdmin(addr string, m *Metrics, ready func() error, logger *slog.Logger, opts ...AdminOption) (*AdminServer, error) {
	var o adminOptions
	for _, opt := range opts {
		opt(&o)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	endpoints := [][2]string{
		{"/metrics", "Prometheus metrics in the text format"},
		{"/healthz", "200 while the process serves HTTP at all (liveness)"},
		{"/readyz", "200 once the node serves Kafka clients, 503 while it starts or shuts down (readiness)"},
	}
	if o.pprof {
		registerPprof(mux)
		endpoints = append(endpoints, [2]string{"/debug/pprof/", "Go runtime profiles (samsa.admin.pprof.enable)"})
	}
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		var b strings.Builder
		b.WriteString("Samsa admin server\n\n")
		for _, e := range endpoints {
			fmt.Fprintf(&b, "%-14s %s\n", e[0], e[1])
		}
		_, _ = w.Write([]byte(b.String()))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	a := &AdminServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && logger != nil {
			logger.Error("admin server stopped", "err", err)
		}
	}()
	return a, nil
}

// Addr is the address the admin server listens on.
func (a *AdminServer) Addr() string { return a.ln.Addr().String() }

// Close stops the admin server.
func (a *AdminServer) Close(ctx context.Context) error { return a.srv.Shutdown(ctx) }
