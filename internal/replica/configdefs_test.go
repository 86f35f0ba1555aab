package replica

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
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
