package replica

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// TestMetricsSources: the manager feeds the metrics: appends count in
// their topic, the group committer reports per log directory, a committed
// offset shows as lag against the high watermark, the Raft and the log
// directories are there, and a deleted topic's series go.
func TestMetricsSources(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir, "samsa.admin.listener": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	mx := metrics.New()
	m, err := Open(cfg, Options{Logger: slog.New(slog.DiscardHandler), FS: vfs.NewMem(), AdvertisedAddr: "127.0.0.1:9092", Metrics: mx})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: "orders", NumPartitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	batch, err := record.EncodeBatch(record.DefaultBatchSpec(), []record.Record{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}})
	if err != nil {
		t.Fatal(err)
	}
	size := len(batch)
	r := m.Replica("orders", 1)
	if _, err := r.Partition().AppendAsLeader(batch, m.AppendOptions(r)); err != nil {
		t.Fatal(err)
	}
	gc := awaitGroupPartitions(t, m)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 8, "readers", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 1}}}}
	if code := gc.OffsetCommit(commit).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: error %d", code)
	}

	body := scrape(t, mx)
	for _, want := range []string{
		`samsa_topic_produced_records_total{topic="orders"} 3`,
		`samsa_topic_produced_bytes_total{topic="orders"} ` + strconv.Itoa(size),
		`samsa_topic_fetched_bytes_total{topic="orders"} 0`,
		`samsa_consumer_group_lag{group="readers",topic="orders"} 2`,
		`samsa_partition_high_watermark{partition="1",topic="orders"} 3`,
		`samsa_log_commit_round_appends_count{dir="` + dir + `"}`,
		`samsa_log_fsync_errors_total{dir="` + dir + `"} 0`,
		`samsa_raft_state{state="Leader"} 1`,
		`samsa_controller_active 1`,
		`samsa_log_dir_partitions{dir="` + dir + `"}`,
		`samsa_log_dir_available_bytes{dir="` + dir + `"}`,
		`samsa_replicas{role="follower"} 0`,
		`samsa_under_replicated_partitions 0`,
		`samsa_under_min_isr_partitions 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, `samsa_log_commit_round_appends_count{dir="`+dir+`"} 0`) {
		t.Error("no group-commit round counted")
	}

	if err := m.Metadata().DeleteTopicByName(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	if body := scrape(t, mx); strings.Contains(body, `topic="orders"`) {
		t.Error("series of the deleted topic remain")
	}
}
