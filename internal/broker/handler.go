package broker

import (
	"context"
	"log/slog"
	"sort"

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
