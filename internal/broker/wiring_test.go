package broker

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
func TestNewRefusesBadCoordinatorSettings(t *testing.T) {
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
		b, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			b.Close()
			t.Fatalf("%s=%s: the node started", key, bad)
		}
		if !strings.Contains(err.Error(), key) {
			t.Fatalf("%s=%s: error %q does not name the setting", key, bad, err)
		}
	}
}

// TestNewOnMemFS: with Options.FS set, the logs and the metadata log live
// on that file system and nothing reaches the real disk.
func TestNewOnMemFS(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir, "samsa.admin.listener": "",
	})
	if err != nil {
		t.Fatal(err)
	}
	mem := vfs.NewMem()
	b, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler), FS: mem, AdvertisedAddr: "127.0.0.1:9092"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.meta.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "t", NumPartitions: 2, ReplicationFactor: 1}); err != nil {
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
