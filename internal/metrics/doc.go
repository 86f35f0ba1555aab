// Package metrics holds the node's Prometheus metrics and the HTTP admin
// server that exposes them.
//
// Metrics owns one prometheus.Registry (not the global one, so tests can
// build many brokers in one process). The request path reports through
// small methods (Request, Errors, BytesIn, BytesOut, ConnOpened...), each
// safe for concurrent use and cheap: label lookups for the per-API series
// are cached per API key.
//
// Per-partition gauges (log start/end offsets, size) are not updated on the
// data path; a collector asks a PartitionLister for a snapshot at scrape time.
//
// The admin server answers:
//
//	/metrics  Prometheus text format
//	/healthz  200 while the process serves HTTP at all
//	/readyz   200 once the node is ready to serve Kafka clients, 503 otherwise
package metrics
