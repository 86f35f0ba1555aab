package metrics

import (
	"net/http"
	"net/http/pprof"
	"runtime"
)

// AdminOption changes what the admin server serves.
type AdminOption func(*adminOptions)

type adminOptions struct {
	pprof bool
}

// WithPprof serves Go's runtime profiles under /debug/pprof (the
// net/http/pprof handlers: profile, heap, allocs, mutex, block, goroutine,
// trace) when enable is true (samsa.admin.pprof.enable). It also turns on
// sampling of mutex contention (1 in MutexProfileFraction events) and of
// blocking (one sample per BlockProfileRateNs of blocked time), which cost a
// little on every contended lock and channel wait, so it is off by default.
func WithPprof(enable bool) AdminOption {
	return func(o *adminOptions) { o.pprof = enable }
}

// Sampling rates set when profiles are served.
const (
	MutexProfileFraction = 10
	BlockProfileRateNs   = 100_000
)

func registerPprof(mux *http.ServeMux) {
	runtime.SetMutexProfileFraction(MutexProfileFraction)
	runtime.SetBlockProfileRate(BlockProfileRateNs)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}
