package replica

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
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
func TestImageCreatesAndDeletesReplicas(t *testing.T) {
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "samsa.admin.listener": "",
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
	if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: "orders", NumPartitions: 3, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		if r := m.Replica("orders", p); r == nil || r.Partition() == nil || r.Log() == nil {
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
