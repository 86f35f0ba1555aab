// Package broker turns Kafka requests into calls on the replica manager,
// the metadata store and the coordinators. Each API lives in its own file,
// named after its key (00_produce.go, 01_fetch.go, ...), which opens with
// the versions it serves and registers them in the API table; handler.go
// decodes requests and dispatches them, and the fetch-session files keep
// KIP-227 sessions. Everything else about the node (its logs, replicas,
// coordinators' storage, start and close order) is internal/replica's.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"sort"
	"time"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	// Context, RaftStream and ControllerAPIs are replica.Options'.
	Context        context.Context
	RaftStream     raft.StreamLayer
	ControllerAPIs func(*controller.Server)
}

// New opens the node (replica.Open) and the handlers' environment over
// it. The caller serves it (server.New(..., b)) and must Close it.
func New(cfg *config.Config, opts Options) (*Broker, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	rm, err := replica.Open(cfg, replica.Options{Logger: logger, Metrics: opts.Metrics, AdvertisedAddr: opts.AdvertisedAddr, FS: opts.FS, Now: opts.Now,
		Context: opts.Context, RaftStream: opts.RaftStream, ControllerAPIs: opts.ControllerAPIs})
	if err != nil {
		return nil, err
	}
	return &Broker{
		cfg:      cfg,
		logger:   logger,
		metrics:  opts.Metrics,
		meta:     rm.Controller(),
		replicas: rm,
		sessions: newFetchSessionCache(int(cfg.FetchMaxSessions), opts.Now),
	}, nil
}

// Ready reports nil once the node serves requests.
func (b *Broker) Ready() error { return b.replicas.Ready() }

// Close closes the node (replica.Manager.Close). The server must be shut
// down first.
func (b *Broker) Close() error { return b.replicas.Close() }

// BeginShutdown moves this node's leaderships to other replicas before it
// stops serving (replica.Manager.BeginShutdown).
func (b *Broker) BeginShutdown() { b.replicas.BeginShutdown() }

// Replicas is the node's replica manager.
func (b *Broker) Replicas() *replica.Manager { return b.replicas }

// RequestContext carries what a handler knows about the request beyond its
// body: the header fields and the connection it came from.
type RequestContext struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32
	ClientID      string
	ClientAddr    string
	Logger        *slog.Logger
}

// HandlerFunc serves one API. It returns the response to send (nil for a
// request that gets no response, such as Produce with acks=0), or a Go error
// when the connection must be closed. Kafka error codes go in the response,
// never in the Go error.
type HandlerFunc func(ctx context.Context, b *Broker, rc *RequestContext, req kmsg.Request) (kmsg.Response, error)

// handlerEntry is one row of the API table: the versions served and the
// function that serves them.
type handlerEntry struct {
	key        int16
	minVersion int16
	maxVersion int16
	fn         HandlerFunc
}

var handlers = map[int16]handlerEntry{}

// register adds an API to the table. Each handler file calls it from init
// with the versions it fully serves; ApiVersions advertises exactly this
// table.
func register(key, minVersion, maxVersion int16, fn HandlerFunc) {
	if _, dup := handlers[key]; dup {
		panic("broker: API registered twice") // programming error at init, not input
	}
	handlers[key] = handlerEntry{key: key, minVersion: minVersion, maxVersion: maxVersion, fn: fn}
}

// Lookup returns the handler for an API key and version.
func Lookup(key, version int16) (HandlerFunc, bool) {
	h, ok := handlers[key]
	if !ok || version < h.minVersion || version > h.maxVersion {
		return nil, false
	}
	return h.fn, true
}

// SupportedAPIs lists the served APIs sorted by key, for ApiVersions.
func SupportedAPIs() []kmsg.ApiVersionsResponseApiKey {
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(handlers))
	for _, h := range handlers {
		out = append(out, kmsg.ApiVersionsResponseApiKey{ApiKey: h.key, MinVersion: h.minVersion, MaxVersion: h.maxVersion})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ApiKey < out[j].ApiKey })
	return out
}

// Serve implements server.Handler: it decodes the request body with kmsg,
// runs the API's handler and encodes the response. An unknown API or
// version closes the connection, except ApiVersions, which answers an
// unsupported version in the v0 format listing what is served (KIP-511).
func (b *Broker) Serve(ctx context.Context, req *server.Request) (*server.Response, error) {
	start := time.Now()
	fn, ok := Lookup(req.Key, req.Version)
	if !ok {
		if req.Key == 18 {
			return b.unsupportedAPIVersions(req, start), nil
		}
		return nil, fmt.Errorf("unsupported api %s (key %d) version %d", kmsg.NameForKey(req.Key), req.Key, req.Version)
	}
	kreq := kmsg.RequestForKey(req.Key)
	kreq.SetVersion(req.Version)
	if err := kreq.ReadFrom(req.Body); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(req.Key), req.Version, err)
	}
	rc := &RequestContext{
		APIKey:        req.Key,
		APIVersion:    req.Version,
		CorrelationID: req.CorrelationID,
		ClientAddr:    req.ClientAddr,
		Logger:        b.logger,
	}
	if req.ClientID != nil {
		rc.ClientID = *req.ClientID
	}
	resp, err := fn(ctx, b, rc, kreq)
	if req.Key == 0 {
		// Produce keeps nothing of the request once its handler returns:
		// the records were written to the segment (a copy), and the
		// response holds only copied strings and numbers. Its frame, the
		// bulk of all bytes received, goes back to the server for reuse.
		req.Recycle()
	}
	if err != nil {
		return nil, err
	}
	if resp == nil {
		b.metrics.Request(req.Key, req.Version, time.Since(start))
		return nil, nil
	}
	resp.SetVersion(req.Version)
	out := &server.Response{
		CorrelationID:  req.CorrelationID,
		FlexibleHeader: resp.IsFlexible() && req.Key != 18, // ApiVersions responses always use header v0
	}
	if d, ok := resp.(deferredResponse); ok {
		out.Await = func(ctx context.Context) error {
			final := d.complete(ctx)
			out.Parts = []server.Part{{Bytes: final.AppendTo(make([]byte, 0, 256))}}
			countErrorCodes(b.metrics, req.Key, final)
			return nil
		}
	} else if pe, ok := resp.(partsEncoder); ok {
		if f, ok := pe.(*fetchResponse); ok {
			b.countFetched(f) // before encodeParts, which marks the file parts
		}
		out.Parts, out.Release = pe.encodeParts()
	} else {
		out.Parts = []server.Part{{Bytes: resp.AppendTo(make([]byte, 0, 256))}}
		countErrorCodes(b.metrics, req.Key, resp)
	}
	key, version := req.Key, req.Version
	out.Observe = func(n int64, _ error) {
		b.metrics.BytesOut(n)
		b.metrics.Request(key, version, time.Since(start))
	}
	return out, nil
}

// partsEncoder is a response that encodes itself as byte parts and file
// ranges (Fetch, whose record batches are sent from the segment files).
// release is called once the parts were written.
type partsEncoder interface {
	kmsg.Response
	encodeParts() (parts []server.Part, release func())
}

// deferredResponse is a response that is final only later (a produce
// waiting for its records to be committed). Serve returns it to the server
// as a deferred response: the connection's writer calls complete, in
// request order, and encodes what it returns, while the connection's next
// requests are served.
type deferredResponse interface {
	kmsg.Response
	complete(ctx context.Context) kmsg.Response
}

// unsupportedAPIVersions is the KIP-511 answer to an ApiVersions request of
// a version this broker does not serve: UNSUPPORTED_VERSION in the v0
// format, still listing the supported ranges so the client can pick one.
func (b *Broker) unsupportedAPIVersions(req *server.Request, start time.Time) *server.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = SupportedAPIs()
	// Not counted as an error: this is how a client newer than the broker
	// learns its versions, once per connection.
	b.metrics.Request(req.Key, req.Version, time.Since(start))
	return &server.Response{CorrelationID: req.CorrelationID, Parts: []server.Part{{Bytes: resp.AppendTo(nil)}}}
}

// countFetched counts the record bytes of a Fetch response, and the
// offsets they span, in their topics' traffic. The partitions whose
// RecordBatches is nil are the file ranges, in order.
func (b *Broker) countFetched(f *fetchResponse) {
	if b.metrics == nil {
		return
	}
	i := 0
	for ti := range f.Topics {
		t := &f.Topics[ti]
		var bytes, offsets int64
		for pi := range t.Partitions {
			if t.Partitions[pi].RecordBatches == nil && i < len(f.files) {
				bytes += f.files[i].Size()
				offsets += f.files[i].NextOffset() - f.files[i].BaseOffset()
				i++
			}
		}
		name := t.Topic
		if name == "" && bytes > 0 { // v13+ names topics by id
			if tt := b.meta.Image().TopicsByID[t.TopicID]; tt != nil {
				name = tt.Name
			}
		}
		if bytes > 0 && name != "" {
			b.metrics.Topic(name).Fetched(bytes, offsets)
		}
	}
}

// countErrorCodes reports every non-zero ErrorCode field of a response (top
// level and nested, such as per-partition codes) to the metrics.
func countErrorCodes(m *metrics.Metrics, key int16, resp kmsg.Response) {
	if m == nil {
		return
	}
	if pr, ok := resp.(*kmsg.ProduceResponse); ok {
		// The response served most often, and the only place its codes
		// are: no reflection for it.
		for i := range pr.Topics {
			for j := range pr.Topics[i].Partitions {
				if c := pr.Topics[i].Partitions[j].ErrorCode; c != 0 {
					m.Errors(key, c)
				}
			}
		}
		return
	}
	var walk func(v reflect.Value, depth int)
	walk = func(v reflect.Value, depth int) {
		if depth > 6 {
			return
		}
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), depth)
			}
		case reflect.Struct:
			t := v.Type()
			for i := 0; i < v.NumField(); i++ {
				f := t.Field(i)
				if f.Name == "ErrorCode" && f.Type.Kind() == reflect.Int16 {
					if c := int16(v.Field(i).Int()); c != 0 {
						m.Errors(key, c)
					}
					continue
				}
				switch f.Type.Kind() {
				case reflect.Slice, reflect.Struct, reflect.Pointer:
					walk(v.Field(i), depth+1)
				}
			}
		case reflect.Slice:
			if v.Type().Elem().Kind() != reflect.Struct {
				return
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), depth+1)
			}
		}
	}
	walk(reflect.ValueOf(resp), 0)
}

// hostedPartition is this node's partition state of a partition, or nil.
func (b *Broker) hostedPartition(topic string, index int32) *partition.Partition {
	p, _ := b.replicas.Partition(topic, index)
	return p
}

// topicPartition names a partition in a request.
type topicPartition struct {
	Topic     string
	Partition int32
}

// Controller is what the handlers ask of the cluster's controller: the
// current metadata image and the operations that change it. Each operation
// validates against the image it will apply to and returns a *metadata.Error
// with the Kafka code on refusal. On one node it is the local metadata
// store; with a controller quorum, operations reach the active controller.
type Controller interface {
	Image() *metadata.Image
	CreateTopic(ctx context.Context, req metadata.CreateTopicRequest) (*metadata.Topic, error)
	DeleteTopic(ctx context.Context, id metadata.Uuid) error
	DeleteTopicByName(ctx context.Context, name string) error
	CreatePartitions(ctx context.Context, topic string, newTotal int32, assignments [][]int32, validateOnly bool) error
	SetTopicConfigs(ctx context.Context, topic string, configs map[string]*string, replaceAll, validateOnly bool) error
	SetBrokerConfigsOf(ctx context.Context, resource string, configs map[string]*string, replaceAll, validateOnly bool) error
	AllocateProducerIDs(ctx context.Context, count int64) (first int64, err error)
	ElectLeaders(ctx context.Context, req metadata.ElectLeadersRequest) ([]metadata.ElectLeadersTopicResult, error)
}

// controllerForClients is the controller id Metadata and DescribeCluster
// report. Clients send admin requests (CreateTopics, ...) to it; every
// broker forwards them to the active controller, so, as KRaft brokers do,
// a cluster names a live broker rather than the active controller itself:
// this one. A client then never waits on a dead controller's address while
// the quorum elects a new one. A cluster of one names itself either way.
// DescribeQuorum (samsa cluster status, kafka-metadata-quorum.sh) names
// the active controller.
func (b *Broker) controllerForClients(im *metadata.Image) int32 {
	if br, ok := im.Brokers[b.cfg.NodeID]; ok && !br.Fenced {
		return b.cfg.NodeID
	}
	for _, id := range im.BrokerIDs() {
		if !im.Brokers[id].Fenced {
			return id
		}
	}
	return im.ControllerID
}

// leaderHint is KIP-951's answer to a client that sent a partition's
// request to a node that does not lead it: the leader and leader epoch
// the image names and, when the leader is a live broker that listed does
// not hold yet, its endpoint for the response's brokers (Produce's type;
// Fetch's has the same fields and converts). Clients retry at once against
// it instead of refreshing metadata first.
func leaderHint(im *metadata.Image, topic string, p int32, listed func(id int32) bool) (leader, epoch int32, add *kmsg.ProduceResponseBroker) {
	part, found := im.Partition(topic, p)
	if !found {
		return -1, -1, nil
	}
	if part.Leader < 0 {
		return -1, part.LeaderEpoch, nil
	}
	br, ok := im.Brokers[part.Leader]
	if !ok || br.Fenced || listed(br.ID) {
		return part.Leader, part.LeaderEpoch, nil
	}
	rb := kmsg.NewProduceResponseBroker()
	rb.NodeID, rb.Host, rb.Port = br.ID, br.Host, br.Port
	if br.Rack != "" {
		rack := br.Rack
		rb.Rack = &rack
	}
	return part.Leader, part.LeaderEpoch, &rb
}

// Helpers shared by the admin handlers (CreateTopics, DeleteTopics,
// configs, DescribeCluster, InitProducerId, ...).

// errCode splits an error from the metadata or partition package into the
// Kafka code and message a response carries. A nil error gives (0, nil).
func errCode(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		msg := err.Error()
		return kerr.RequestTimedOut.Code, &msg
	}
	var pe *partition.Error
	if errors.As(err, &pe) {
		msg := pe.Message
		return pe.Code.Code, nonEmpty(msg)
	}
	code, msg := metadata.ErrorCode(err)
	return code, nonEmpty(msg)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func strPtr(s string) *string { return &s }

// timeoutCtx bounds a controller operation by the request's timeout_ms;
// a timeout <= 0 means the handler's own context.
func timeoutCtx(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	if ms <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}

// localPartition finds this node's leader state of a partition, or the
// Kafka error for its absence: UNKNOWN_TOPIC_OR_PARTITION when the metadata
// has no such partition, NOT_LEADER_OR_FOLLOWER when it exists but is not
// (yet) hosted here.
func (b *Broker) localPartition(topic string, idx int32) (*partition.Partition, *kerr.Error) {
	if p, ok := b.replicas.Partition(topic, idx); ok {
		return p, nil
	}
	if _, ok := b.meta.Image().Partition(topic, idx); ok {
		return nil, kerr.NotLeaderForPartition
	}
	return nil, kerr.UnknownTopicOrPartition
}

// The handlers' way to the coordinators: each group or transaction handler
// asks for its coordinator and answers COORDINATOR_NOT_AVAILABLE (clients
// retry) while the replica manager cannot provide one.

// groupsOrCode is the handlers' way in: the coordinator, or the error code
// to answer with.
func (b *Broker) groupsOrCode(rc *RequestContext) (*group.Coordinator, int16) {
	c, err := b.replicas.Groups()
	if err != nil {
		if rc != nil && rc.Logger != nil {
			rc.Logger.Warn("group coordinator unavailable", "err", err)
		}
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return c, 0
}

// clientHost is the client's address as Kafka reports it ("/1.2.3.4").
func clientHost(rc *RequestContext) string {
	host := rc.ClientAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return "/" + host
}

// txnsOrCode is the handlers' way in: the coordinator, or the error code
// to answer with.
func (b *Broker) txnsOrCode(rc *RequestContext) (*txn.Coordinator, int16) {
	c, err := b.replicas.Txns()
	if err != nil {
		if rc != nil && rc.Logger != nil {
			rc.Logger.Warn("transaction coordinator unavailable", "err", err)
		}
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return c, 0
}
