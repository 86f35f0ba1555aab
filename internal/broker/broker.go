// Package broker turns Kafka requests into calls on the replica manager,
// the metadata store and the coordinators. Each API lives in its own file,
// named after its key (00_produce.go, 01_fetch.go, ...), which opens with
// the versions it serves and registers them in the API table; handler.go
// decodes requests and dispatches them, and the fetch-session files keep
// KIP-227 sessions. Everything else about the node (its logs, replicas,
// coordinators' storage, start and close order) is internal/replica's.
package broker

import (
	"log/slog"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// Broker is the environment every handler runs in. Handlers read it
// concurrently; its fields are set by New and never reassigned.
type Broker struct {
	cfg      *config.Config
	logger   *slog.Logger
	metrics  *metrics.Metrics   // nil-safe: a nil *Metrics records nothing
	meta     Controller         // the controller operations and the current image
	replicas *replica.Manager   // this node's replicas and coordinators
	sessions *fetchSessionCache // fetch sessions (KIP-227)
}

// Options are the parts of a broker that are not configuration.
type Options struct {
	Logger  *slog.Logger     // nil means slog.Default()
	Metrics *metrics.Metrics // nil disables metrics
	// AdvertisedAddr overrides the host:port registered for this node (the
	// first advertised listener); serve passes the bound address when the
	// configured port is 0.
	AdvertisedAddr string
	// FS is the file system of the logs and the metadata log; nil means
	// the real one.
	FS vfs.FS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New opens the node (replica.Open) and the handlers' environment over
// it. The caller serves it (server.New(..., b)) and must Close it.
func New(cfg *config.Config, opts Options) (*Broker, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	rm, err := replica.Open(cfg, replica.Options{Logger: logger, Metrics: opts.Metrics, AdvertisedAddr: opts.AdvertisedAddr, FS: opts.FS, Now: opts.Now})
	if err != nil {
		return nil, err
	}
	return &Broker{
		cfg:      cfg,
		logger:   logger,
		metrics:  opts.Metrics,
		meta:     rm.Metadata(),
		replicas: rm,
		sessions: newFetchSessionCache(int(cfg.FetchMaxSessions), opts.Now),
	}, nil
}

// Ready reports nil once the node serves requests.
func (b *Broker) Ready() error { return b.replicas.Ready() }

// Close closes the node (replica.Manager.Close). The server must be shut
// down first.
func (b *Broker) Close() error { return b.replicas.Close() }

// Replicas is the node's replica manager.
func (b *Broker) Replicas() *replica.Manager { return b.replicas }
