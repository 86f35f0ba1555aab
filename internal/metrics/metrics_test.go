package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// TestAdminIndex: / lists the endpoints served, pprof only when enabled,
// and other unknown paths are 404.
func TestAdminIndex(t *testing.T) {
	t.Cleanup(func() {
		runtime.SetMutexProfileFraction(0)
		runtime.SetBlockProfileRate(0)
	})
	for _, pprof := range []bool{false, true} {
		a, err := StartAdmin("127.0.0.1:0", New(), func() error { return nil }, nil, WithPprof(pprof))
		if err != nil {
			t.Fatal(err)
		}
		base := "http://" + a.Addr()
		code, body := get(t, base+"/")
		if code != 200 {
			t.Fatalf("/ answered %d", code)
		}
		for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
			if !strings.Contains(body, p+" ") {
				t.Errorf("/ does not list %s:\n%s", p, body)
			}
		}
		if strings.Contains(body, "/debug/pprof/") != pprof {
			t.Errorf("pprof %v, / says:\n%s", pprof, body)
		}
		if code, _ := get(t, base+"/nope"); code != 404 {
			t.Errorf("/nope answered %d", code)
		}
		_ = a.Close(context.Background())
	}
	http.DefaultClient.CloseIdleConnections()
}

// scrape returns the registry's text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestNodeMetrics(t *testing.T) {
	m := New()
	m.SetSources(Sources{
		GroupLag: func() []GroupLag { return []GroupLag{{Group: "g", Topic: "t", Lag: 7}} },
		Raft: func() RaftStatus {
			return RaftStatus{State: "Leader", Term: 3, LastLogIndex: 12, CommitIndex: 11, AppliedIndex: 10, ImageEpoch: 10, ControllerID: 1, NodeID: 1, Active: true, Brokers: map[string]int{"live": 2, "fenced": 1}}
		},
		LogDirs: func() []LogDirSpace {
			return []LogDirSpace{{Dir: "/d", TotalBytes: 1000, AvailableBytes: 400, PartitionLogs: 2, PartitionLogsBytes: 50}, {Dir: "/unknown", TotalBytes: -1, AvailableBytes: -1}}
		},
	})
	m.SetPartitionLister(func() []PartitionStat { return []PartitionStat{{Topic: "t", Partition: 0, HighWatermark: 9}} })
	m.Topic("t").Produced(100, 4)
	m.Topic("t").Fetched(60, 3)
	m.Topic("gone").Produced(1, 1)
	m.ForgetTopic("gone")
	obs := m.CommitObserver("/d")
	obs.CommitRound(3, 2, 2*time.Millisecond)
	obs.Fsync(time.Millisecond, nil)
	obs.Fsync(time.Millisecond, errors.New("EIO"))
	m.CommitObserver("/e") // series at zero

	body := scrape(t, m)
	for _, want := range []string{
		`samsa_consumer_group_lag{group="g",topic="t"} 7`,
		`samsa_raft_state{state="Leader"} 1`,
		`samsa_raft_state{state="Follower"} 0`,
		`samsa_raft_term 3`,
		`samsa_raft_commit_index 11`,
		`samsa_metadata_image_epoch 10`,
		`samsa_controller_active 1`,
		`samsa_controller_id 1`,
		`samsa_cluster_brokers{state="live"} 2`,
		`samsa_cluster_brokers{state="fenced"} 1`,
		`samsa_cluster_brokers{state="shutting_down"} 0`,
		`samsa_broker_fenced 0`,
		`samsa_log_dir_available_bytes{dir="/d"} 400`,
		`samsa_log_dir_partitions{dir="/unknown"} 0`,
		`samsa_partition_high_watermark{partition="0",topic="t"} 9`,
		`samsa_topic_produced_bytes_total{topic="t"} 100`,
		`samsa_topic_produced_records_total{topic="t"} 4`,
		`samsa_topic_fetched_bytes_total{topic="t"} 60`,
		`samsa_topic_fetched_records_total{topic="t"} 3`,
		`samsa_log_commit_round_appends_sum{dir="/d"} 3`,
		`samsa_log_commit_round_files_sum{dir="/d"} 2`,
		`samsa_log_fsync_duration_seconds_count{dir="/d"} 2`,
		`samsa_log_fsync_errors_total{dir="/d"} 1`,
		`samsa_log_fsync_errors_total{dir="/e"} 0`,
		`samsa_log_commit_round_duration_seconds_count{dir="/e"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, bad := range []string{`topic="gone"`, `samsa_log_dir_total_bytes{dir="/unknown"}`} {
		if strings.Contains(body, bad) {
			t.Errorf("metrics have %s", bad)
		}
	}
	// A nil *Metrics hands out nil counters that count nothing.
	var none *Metrics
	none.Topic("t").Produced(1, 1)
	none.CommitObserver("/d").Fsync(0, nil)
	none.ForgetTopic("t")
}
