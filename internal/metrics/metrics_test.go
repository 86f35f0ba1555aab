package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminEndpoints(t *testing.T) {
	m := New()
	m.Request(0, 9, 3*time.Millisecond)
	m.Errors(0, 0, 6)
	m.BytesIn(100)
	m.BytesOut(200)
	m.SetPartitionLister(func() []PartitionStat {
		return []PartitionStat{{Topic: "t", Partition: 2, LogEndOffset: 42, SizeBytes: 1000}}
	})
	var ready atomic.Bool
	a, err := StartAdmin("127.0.0.1:0", m, func() error {
		if !ready.Load() {
			return errors.New("starting")
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = a.Close(context.Background())
		http.DefaultClient.CloseIdleConnections()
	}()
	base := "http://" + a.Addr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Fatalf("readyz before ready %d", code)
	}
	ready.Store(true)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`samsa_requests_total{api="Produce",version="9"} 1`,
		`samsa_request_errors_total{api="Produce",error="NOT_LEADER_FOR_PARTITION"} 1`,
		`samsa_partition_log_end_offset{partition="2",topic="t"} 42`,
		`samsa_network_bytes_out_total 200`,
		`samsa_request_duration_seconds_count{api="Produce"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
