package broker

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"time"

	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
				bytes += f.files[i].Size
				offsets += f.files[i].NextOffset - f.files[i].BaseOffset
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
