package replica

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// A bad coordinator setting stops the node at start, naming the setting,
// rather than failing every group or transaction request later.
func TestOpenRefusesBadCoordinatorSettings(t *testing.T) {
	for key, bad := range map[string]string{
		"group.max.size":             "0",
		"transaction.max.timeout.ms": "-5",
	} {
		cfg, err := config.Parse(map[string]string{
			"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "samsa.admin.listener": "",
			key: bad,
		})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			b.Close()
			t.Fatalf("%s=%s: the node started", key, bad)
		}
		if !strings.Contains(err.Error(), key) {
			t.Fatalf("%s=%s: error %q does not name the setting", key, bad, err)
		}
	}
}

// TestOpenOnMemFS: with Options.FS set, the logs and the metadata log live
// on that file system and nothing reaches the real disk.
func TestOpenOnMemFS(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir, "samsa.admin.listener": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := vfs.NewMem()
	b, err := Open(cfg, Options{Logger: slog.New(slog.DiscardHandler), FS: mem, AdvertisedAddr: "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: "t", NumPartitions: 2, ReplicationFactor: 1}); err != nil {
		b.Close()
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("real log dir holds %v (%v)", entries, err)
	}
	if _, err := mem.Stat(filepath.Join(cfg.MetadataLogDir, "raft.wal")); err != nil {
		t.Fatalf("metadata log not on the given file system: %v", err)
	}
}

// A topic created through the metadata store becomes replicas on this
// node; deleting it removes them and their logs.
// openWithTopic opens a node on the in-memory file system with the given
// settings on top of a test's (listeners, log.dirs, no admin server),
// creates a topic of one replica per partition and waits until its
// replicas exist. The node closes with the test.
func openWithTopic(t *testing.T, props map[string]string, topic string, partitions int32) (*Manager, context.Context) {
	t.Helper()
	all := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "samsa.admin.listener": ""}
	maps.Copy(all, props)
	cfg, err := config.Parse(all)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(cfg, Options{Logger: slog.New(slog.DiscardHandler), FS: vfs.NewMem(), AdvertisedAddr: "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	return m, ctx
}

func TestImageCreatesAndDeletesReplicas(t *testing.T) {
	m, ctx := openWithTopic(t, nil, "orders", 3)
	for p := int32(0); p < 3; p++ {
		if r := m.Replica("orders", p); r == nil || r.Partition() == nil || r.log == nil {
			t.Fatalf("no replica of orders-%d", p)
		}
	}
	if got := m.LogDirs(); len(got) != 1 || len(got[0].Partitions) != 3 {
		t.Fatalf("log dirs %+v", got)
	}
	if err := m.Metadata().DeleteTopicByName(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	if r := m.Replica("orders", 0); r != nil {
		t.Fatal("replica still there after the topic was deleted")
	}
	if got := m.LogDirs(); len(got[0].Partitions) != 0 {
		t.Fatalf("logs left after delete: %+v", got[0].Partitions)
	}
}

// A dynamic log.retention.hours, cluster-wide or of this broker, is applied
// to the logs at once (old segments go) and resolved to the same
// retention.ms, with the same source, that DescribeConfigs reports.
func TestDynamicRetentionHoursApplied(t *testing.T) {
	for _, tc := range []struct {
		resource string // the broker config resource: cluster-wide or this node's
		source   kmsg.ConfigSource
	}{
		{"", kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		{"1", kmsg.ConfigSourceDynamicBrokerConfig},
	} {
		t.Run("resource="+tc.resource, func(t *testing.T) { testDynamicRetentionHours(t, tc.resource, tc.source) })
	}
}

func testDynamicRetentionHours(t *testing.T, resource string, wantSource kmsg.ConfigSource) {
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": "/data", "samsa.admin.listener": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(cfg, Options{Logger: slog.New(slog.DiscardHandler), FS: vfs.NewMem(), AdvertisedAddr: "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: "old", NumPartitions: 1, ReplicationFactor: 1,
		Configs: map[string]string{"segment.bytes": "1048576"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	part, ok := m.Partition("old", 0)
	if !ok {
		t.Fatal("no partition")
	}
	twoHoursAgo := time.Now().Add(-2 * time.Hour).UnixMilli()
	for i := 0; i < 3; i++ {
		spec := record.DefaultBatchSpec()
		spec.BaseTimestamp = twoHoursAgo
		bld := record.NewBuilder(spec)
		if err := bld.Append(record.Record{Value: make([]byte, 700<<10)}); err != nil {
			t.Fatal(err)
		}
		batch, err := bld.Build(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := part.AppendAsLeader(batch, partition.AppendOptions{RequiredAcks: -1, MaxMessageBytes: 1 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	l := m.Replica("old", 0).log
	if l.NumSegments() < 2 {
		t.Fatalf("%d segments, want rolled ones", l.NumSegments())
	}
	lm := m.managerFor(l.TopicPartition())
	if lm.RunRetention(); l.LogStartOffset() != 0 {
		t.Fatalf("deleted under the default retention: log start %d", l.LogStartOffset())
	}

	one := "1"
	if err := m.Metadata().SetBrokerConfigsOf(ctx, resource, map[string]*string{"log.retention.hours": &one}, false, false); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	if n := lm.RunRetention(); n == 0 || l.LogStartOffset() == 0 {
		t.Fatalf("log.retention.hours=1 deleted %d segments; log start %d", n, l.LogStartOffset())
	}
	value, _, source, _ := metadata.NewConfigResolver(cfg, m.Metadata().Image()).Topic(metadata.TopicConfigDef("retention.ms"), nil)
	if value != "3600000" || source != wantSource {
		t.Fatalf("retention.ms resolves to %s from %v, want 3600000 from %v", value, source, wantSource)
	}
}

// A dynamic broker config reaches the topics that do not override it
// through any of its synonyms, scaled to the topic config's unit, with
// Kafka's precedence: the topic's own value, then the first synonym set
// dynamically, then the node's config.
func TestSettingsFromDynamicSynonyms(t *testing.T) {
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "log.retention.ms": "5000", "log.roll.hours": "2",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{cfg: cfg}
	for _, tc := range []struct {
		topic, dynamic         map[string]string
		retentionMs, segmentMs int64
	}{
		{nil, nil, 5000, 2 * 3600 * 1000},
		{nil, map[string]string{"log.retention.hours": "3"}, 3 * 3600 * 1000, 2 * 3600 * 1000},
		{nil, map[string]string{"log.retention.minutes": "4", "log.retention.hours": "3"}, 4 * 60 * 1000, 2 * 3600 * 1000},
		{nil, map[string]string{"log.retention.ms": "7", "log.retention.minutes": "4"}, 7, 2 * 3600 * 1000},
		{nil, map[string]string{"log.retention.hours": "-1", "log.roll.hours": "1"}, -1, 3600 * 1000},
		{nil, map[string]string{"log.roll.ms": "9", "log.roll.hours": "1"}, 5000, 9},
		{map[string]string{"retention.ms": "8"}, map[string]string{"log.retention.hours": "3"}, 8, 2 * 3600 * 1000},
	} {
		s, err := m.settingsFor(&metadata.Topic{Configs: tc.topic}, &metadata.Image{BrokerConfigs: tc.dynamic})
		if err != nil {
			t.Fatalf("%v %v: %v", tc.topic, tc.dynamic, err)
		}
		if s.log.RetentionMs != tc.retentionMs || s.log.SegmentMs != tc.segmentMs {
			t.Errorf("topic %v dynamic %v: retention.ms %d segment.ms %d, want %d %d", tc.topic, tc.dynamic, s.log.RetentionMs, s.log.SegmentMs, tc.retentionMs, tc.segmentMs)
		}
	}
}
