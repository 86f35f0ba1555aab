package metrics

import (
	"context"
	"runtime"
	"strings"
	"testing"
)

func TestAdminPprof(t *testing.T) {
	t.Cleanup(func() {
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
	})
	for _, enable := range []bool{false, true} {
		a, err := StartAdmin("127.0.0.1:0", New(), func() error { return nil }, nil, WithPprof(enable))
		if err != nil {
			t.Fatal(err)
		}
		base := "http://" + a.Addr()
		code, body := get(t, base+"/debug/pprof/")
		if !enable {
			if code != 404 {
				t.Errorf("pprof disabled: /debug/pprof/ answered %d", code)
			}
		} else {
			if code != 200 || !strings.Contains(body, "mutex") || !strings.Contains(body, "block") {
				t.Errorf("pprof enabled: /debug/pprof/ answered %d: %.200s", code, body)
			}
			if code, body := get(t, base+"/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "heap profile") {
				t.Errorf("heap profile: %d %.200s", code, body)
			}
			if got := runtime.SetMutexProfileFraction(-1); got != MutexProfileFraction {
				t.Errorf("mutex profile fraction %d, want %d", got, MutexProfileFraction)
			}
		}
		// The other endpoints are unaffected.
		if code, _ := get(t, base+"/healthz"); code != 200 {
			t.Errorf("healthz answered %d", code)
		}
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}
