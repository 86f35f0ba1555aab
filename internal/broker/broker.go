// Package broker turns Kafka requests into calls on the storage, metadata
// and coordinator subsystems. Each API lives in its own file, named after its
// key (00_produce.go, 01_fetch.go, ...), which opens with the versions it
// serves and registers them in the API table.
package broker

import (
	"log/slog"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metrics"
)

// Broker is one node's request-serving state. Handlers read it concurrently;
// its fields are set by New and never reassigned, so accessors need no lock.
type Broker struct {
	cfg     *config.Config
	logger  *slog.Logger
	metrics *metrics.Metrics // nil-safe: a nil *Metrics records nothing

	*dataPlane // metadata store, logs, replicas, fetch sessions
}

// Config is the node's static configuration.
func (b *Broker) Config() *config.Config { return b.cfg }

// NodeID is this node's id (node.id).
func (b *Broker) NodeID() int32 { return b.cfg.NodeID }

// Logger is the broker's structured logger.
func (b *Broker) Logger() *slog.Logger { return b.logger }

// Metrics is the node's metric set (nil when metrics are off).
func (b *Broker) Metrics() *metrics.Metrics { return b.metrics }
