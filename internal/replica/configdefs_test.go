package replica

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/samsa-streaming/samsa/internal/vfs"
)

// The coordinators' settings are read from SAMSA_* variables like any
// registered setting, and reach their typed configs.
func TestCoordinatorSettingsFromEnv(t *testing.T) {
	config.Register(ConfigDefs()...)
	cfg, err := config.Load(config.Sources{Env: []string{
		"SAMSA_TRANSACTION_MAX_TIMEOUT_MS=1234",
		"SAMSA_TRANSACTION_STATE_LOG_NUM_PARTITIONS=3",
		"SAMSA_OFFSETS_TOPIC_NUM_PARTITIONS=7",
	}})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := txn.ConfigFromProps(cfg.NodeID, cfg.Props)
	if err != nil {
		t.Fatal(err)
	}
	if tc.TransactionMaxTimeoutMs != 1234 || tc.TransactionStateLogNumPartitions != 3 {
		t.Fatalf("txn config from env: %+v", tc)
	}
	gc, err := group.ConfigFromProps(cfg.NodeID, cfg.Props)
	if err != nil {
		t.Fatal(err)
	}
	if gc.OffsetsTopicNumPartitions != 7 {
		t.Fatalf("group config from env: %+v", gc)
	}
	registered := map[string]bool{}
	for _, d := range config.Defs {
		registered[d.Name] = true
	}
	for _, d := range txn.ConfigDefs {
		if !registered[d[0]] {
			t.Errorf("%s is not registered", d[0])
		}
	}
}

// TestStaticTopicDefaults: a topic default given at start (Kafka's
// server.properties min.insync.replicas) is the broker default of every
// topic without its own, and a bad value stops the node.
func TestStaticTopicDefaults(t *testing.T) {
	RegisterConfigs()
	m, _ := openWithTopic(t, map[string]string{"min.insync.replicas": "2"}, "orders", 1)
	if got := m.AppendOptions(m.Replica("orders", 0)).MinInsyncReplicas; got != 2 {
		t.Fatalf("min.insync.replicas of a topic without its own: %d, want the static 2", got)
	}

	bad, err := config.Parse(map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": t.TempDir(), "min.insync.replicas": "0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad, Options{Logger: slog.New(slog.DiscardHandler), FS: vfs.NewMem(), AdvertisedAddr: "127.0.0.1:9092"}); err == nil || !strings.Contains(err.Error(), "min.insync.replicas") {
		t.Fatalf("min.insync.replicas=0 at start: %v, want a refusal naming it", err)
	}
}
