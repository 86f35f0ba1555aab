package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultBootstrapServer is where a client looks for a cluster when told
// nothing else: the address `samsa serve` listens on with no flags.
const DefaultBootstrapServer = "127.0.0.1:9092"

// Options are the connection settings every command shares.
type Options struct {
	// BootstrapServers are host:port pairs to ask for cluster metadata
	// (Kafka's bootstrap.servers). At least one is required.
	BootstrapServers []string
	// ClientID is sent in every request header (Kafka's client.id).
	// Empty means "samsa".
	ClientID string
	// Timeout bounds each administrative operation and the first contact
	// with the cluster. Zero means 10 seconds.
	Timeout time.Duration
}

// Validate reports settings that cannot work.
func (o Options) Validate() error {
	if len(o.BootstrapServers) == 0 {
		return errors.New("no bootstrap server given (use --bootstrap-server host:port)")
	}
	for _, s := range o.BootstrapServers {
		if strings.TrimSpace(s) == "" {
			return errors.New("empty bootstrap server address")
		}
	}
	if o.Timeout < 0 {
		return fmt.Errorf("timeout %v is negative", o.Timeout)
	}
	return nil
}

// EffectiveTimeout is Timeout with its default applied.
func (o Options) EffectiveTimeout() time.Duration {
	if o.Timeout == 0 {
		return 10 * time.Second
	}
	return o.Timeout
}

// ParseBootstrap splits a comma-separated server list, dropping blanks.
func ParseBootstrap(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// KgoOpts are the client options implied by o.
func (o Options) KgoOpts() []kgo.Opt {
	id := o.ClientID
	if id == "" {
		id = "samsa"
	}
	return []kgo.Opt{
		kgo.SeedBrokers(o.BootstrapServers...),
		kgo.ClientID(id),
		kgo.DialTimeout(o.EffectiveTimeout()),
	}
}

// Dial creates a client with o and extra, and checks that the cluster
// answers a Metadata request within o's timeout. The returned error is
// already explained (see [Explain]).
func Dial(ctx context.Context, o Options, extra ...kgo.Opt) (*kgo.Client, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(o.KgoOpts(), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("bad client settings: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, o.EffectiveTimeout())
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		if ctx.Err() != nil {
			return nil, Sentencef(ctx.Err(), "interrupted")
		}
		return nil, Explain(err, o)
	}
	return cl, nil
}

// Admin wraps cl for administrative requests.
func Admin(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }
