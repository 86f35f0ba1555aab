// Package metrics holds the node's Prometheus metrics and the HTTP admin
// server that exposes them.
//
// Metrics owns one prometheus.Registry (not the global one, so tests can
// build many brokers in one process). The request path reports through
// small methods (Request, Errors, BytesIn, BytesOut, ConnOpened...), each
// safe for concurrent use and cheap: label lookups for the per-API series
// are cached per API key.
//
// Per-topic traffic counters are handed out by Topic, once per topic, to
// the code that counts (the partitions' append hook, the Fetch handler).
// Each log directory's group committer reports through a CommitObserver,
// which has the methods of internal/log's observer interface, so that
// package does not import Prometheus.
//
// Gauges that describe state rather than events (per-partition offsets and
// sizes, consumer-group lag, the metadata Raft, log directories) are not
// updated on the data path: a collector calls the node's Sources at scrape
// time. docs/metrics.md lists every metric; a test holds it to what
// /metrics serves.
//
// The admin server answers:
//
//	/         the list of endpoints, as plain text
//	/metrics  Prometheus text format
//	/healthz  200 while the process serves HTTP at all
//	/readyz   200 once the node is ready to serve Kafka clients, 503 otherwise
package metrics
