// Package interbroker is a node's client of the other brokers of its
// cluster: it sends Kafka requests (the transaction coordinator's
// WriteTxnMarkers, a partition leader's AddPartitionsToTxn) to a broker by
// node id, at the inter-broker endpoint the broker registered in the
// metadata, through franz-go, as Kafka's brokers reach each other through
// their NetworkClient.
//
// It keeps one franz-go client per destination broker, seeded with that
// broker's address alone, and sends through the seed: no Metadata round
// trip is needed to reach a broker the image already names, and a broker
// that registers again at another address gets a new client. It only
// sends: callers batch, map errors and retry.
package interbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Config configures a Client.
type Config struct {
	// NodeID is this node's id, used in the client id the other brokers
	// see ("samsa-broker-<id>").
	NodeID int32
	// Endpoint is a broker's inter-broker address (host:port) as the
	// current metadata registers it; ok is false for a broker that is not
	// registered.
	Endpoint func(id int32) (addr string, ok bool)
	// DialTimeout bounds a connection attempt; 0 means 5 s.
	DialTimeout time.Duration
	// RequestTimeout bounds a request once written, on top of the
	// caller's context; 0 means 30 s (Kafka's request.timeout.ms).
	RequestTimeout time.Duration
	Logger         *slog.Logger // nil means slog.Default()
}

// ErrUnknownBroker is the error of a request to a broker the metadata
// does not register.
var ErrUnknownBroker = errors.New("broker not registered")

// ErrClosed is the error of a request after Close.
var ErrClosed = errors.New("inter-broker client closed")

// Client sends requests to the other brokers. It is safe for concurrent
// use.
type Client struct {
	cfg Config

	mu     sync.Mutex
	conns  map[int32]*conn
	closed bool
}

// conn is the franz-go client of one destination broker at one address.
type conn struct {
	addr string
	cl   *kgo.Client
}

// New returns a client; it connects to nothing until a request is sent.
func New(cfg Config) *Client {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Client{cfg: cfg, conns: map[int32]*conn{}}
}

// Request sends req to broker id and returns its response. The request's
// version is the highest both sides support (franz-go negotiates it with
// ApiVersions on each new connection), never below minVersions. Nothing
// is retried: the error is
// ErrUnknownBroker, ErrClosed, the context's, or franz-go's for a
// connection that failed or a response that did not come in time, and
// the caller decides whether to try again.
func (c *Client) Request(ctx context.Context, id int32, req kmsg.Request) (kmsg.Response, error) {
	cl, err := c.client(id)
	if err != nil {
		return nil, err
	}
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, fmt.Errorf("broker %d: %w", id, ErrUnknownBroker)
	}
	resp, err := seeds[0].Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("broker %d: %w", id, err)
	}
	return resp, nil
}

// client returns the franz-go client of broker id at its current
// address, replacing one for an address it no longer has.
func (c *Client) client(id int32) (*kgo.Client, error) {
	addr, ok := c.cfg.Endpoint(id)
	if !ok {
		return nil, fmt.Errorf("broker %d: %w", id, ErrUnknownBroker)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	cn := c.conns[id]
	if cn != nil && cn.addr == addr {
		c.mu.Unlock()
		return cn.cl, nil
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID(fmt.Sprintf("samsa-broker-%d", c.cfg.NodeID)),
		kgo.DialTimeout(c.cfg.DialTimeout),
		kgo.RequestTimeoutOverhead(c.cfg.RequestTimeout),
		kgo.MinVersions(minVersions()),
	)
	if err != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("broker %d at %s: %w", id, addr, err)
	}
	c.conns[id] = &conn{addr: addr, cl: cl}
	c.mu.Unlock()
	if cn != nil {
		// The broker registered again elsewhere: requests still in
		// flight on the old client fail and their callers retry.
		c.cfg.Logger.Info("broker moved; reconnecting", "broker", id, "from", cn.addr, "to", addr)
		cn.cl.Close()
	}
	return cl, nil
}

// minVersions are the lowest versions requests may be downgraded to:
// AddPartitionsToTxn 4, the batched form with VerifyOnly that brokers send
// each other (below it the request would add the partitions, not verify
// them), WriteTxnMarkers 1, and Fetch 13, the first with topic ids (a
// follower's fetch needs the diverging epoch of v12 too). A broker that
// cannot take them fails the request instead.
func minVersions() *kversion.Versions {
	v := new(kversion.Versions)
	v.SetMaxKeyVersion(int16(kmsg.AddPartitionsToTxn), 4)
	v.SetMaxKeyVersion(int16(kmsg.WriteTxnMarkers), 1)
	v.SetMaxKeyVersion(int16(kmsg.Fetch), 13)
	return v
}

// Close closes every connection; requests in flight fail and later ones
// get ErrClosed.
func (c *Client) Close() {
	c.mu.Lock()
	conns := c.conns
	c.conns = map[int32]*conn{}
	c.closed = true
	c.mu.Unlock()
	for _, cn := range conns {
		cn.cl.Close()
	}
}
