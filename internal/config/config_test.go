package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	cfg := Default()
	if cfg.NodeID != 1 || len(cfg.Listeners) != 1 || cfg.Listeners[0].String() != "PLAINTEXT://127.0.0.1:9092" {
		t.Fatalf("node %d listeners %v", cfg.NodeID, cfg.Listeners)
	}
	if cfg.AdvertisedListeners[0].Addr() != "127.0.0.1:9092" {
		t.Fatalf("advertised %v", cfg.AdvertisedListeners)
	}
	if len(cfg.LogDirs) != 1 || cfg.LogDirs[0] != "./data" {
		t.Fatalf("log dirs %v", cfg.LogDirs)
	}
	if cfg.MessageMaxBytes != 1048588 || cfg.SocketRequestMaxBytes != 104857600 {
		t.Fatalf("sizes %d %d", cfg.MessageMaxBytes, cfg.SocketRequestMaxBytes)
	}
	if cfg.LogRetentionMs != 168*3600*1000 || cfg.LogDurability != DurabilitySync || !cfg.AutoCreateTopicsEnable {
		t.Fatalf("retention %d durability %q autocreate %v", cfg.LogRetentionMs, cfg.LogDurability, cfg.AutoCreateTopicsEnable)
	}
	if cfg.MetadataLogDir != filepath.Join("data", "__cluster_metadata") {
		t.Fatalf("metadata dir %q", cfg.MetadataLogDir)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "server.properties")
	props := "# comment\nnode.id=3\nlog.dirs=/from/file\nnum.partitions : 4\nlog.retention.hours=1\nsome.unknown=x\nlisteners=PLAINTEXT://0.0.0.0:9093,\\\n  OTHER://:9094\n"
	if err := os.WriteFile(file, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Sources{File: file})
	if err == nil || !strings.Contains(err.Error(), "only PLAINTEXT") {
		t.Fatalf("want a listener error, got %v", err)
	}
	cfg, err := Load(Sources{
		File:         file,
		Env:          []string{"SAMSA_LOG_DIRS=/from/env", "SAMSA_NUM_PARTITIONS=5", "SAMSA_LOG_DURABILITY=pagecache", "HOME=/x"},
		Overrides:    map[string]string{"num.partitions": "6", "listeners": "PLAINTEXT://127.0.0.1:0"},
		AllowUnknown: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeID != 3 || cfg.LogDirs[0] != "/from/env" || cfg.NumPartitions != 6 || cfg.LogDurability != DurabilityPageCache {
		t.Fatalf("node %d dirs %v partitions %d durability %q", cfg.NodeID, cfg.LogDirs, cfg.NumPartitions, cfg.LogDurability)
	}
	if cfg.LogRetentionMs != 3600*1000 {
		t.Fatalf("retention %d", cfg.LogRetentionMs)
	}
	if len(cfg.Unknown) != 1 || cfg.Unknown[0].Key != "some.unknown" || cfg.Unknown[0].Source != file+" line 6" {
		t.Fatalf("unknown %+v", cfg.Unknown)
	}
}

func TestRetentionSynonyms(t *testing.T) {
	cfg, err := Parse(map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"})
	if err != nil || cfg.LogRetentionMs != 120000 {
		t.Fatalf("%v %d", err, cfg.LogRetentionMs)
	}
	cfg, err = Parse(map[string]string{"log.retention.minutes": "2", "log.retention.ms": "-1", "log.roll.ms": "10"})
	if err != nil || cfg.LogRetentionMs != -1 || cfg.LogRollMs != 10 {
		t.Fatalf("%v %+v", err, cfg)
	}
}

// Each synonym group resolves highest precedence first, as Synonyms says.
func TestSynonymsOrder(t *testing.T) {
	got := func(cfg *Config, group []string) string {
		switch group[0] {
		case "log.dirs":
			return cfg.LogDirs[0]
		case "log.retention.ms":
			return strconv.FormatInt(cfg.LogRetentionMs, 10)
		case "log.roll.ms":
			return strconv.FormatInt(cfg.LogRollMs, 10)
		}
		t.Fatalf("no check for the synonyms of %s", group[0])
		return ""
	}
	scale := map[string]int64{"log.retention.minutes": 60000, "log.retention.hours": 3600000, "log.roll.hours": 3600000}
	for _, group := range Synonyms {
		for i := range group {
			props := map[string]string{}
			for j, k := range group[i:] {
				props[k] = strconv.Itoa(10 + i + j)
				if k == "log.dirs" || k == "log.dir" {
					props[k] = "/d" + props[k]
				}
			}
			cfg, err := Parse(props)
			if err != nil {
				t.Fatal(err)
			}
			want := props[group[i]]
			if s, ok := scale[group[i]]; ok {
				want = strconv.FormatInt(int64(10+i)*s, 10)
			}
			if g := got(cfg, group); g != want {
				t.Errorf("%v: %s, want %s (from %s)", props, g, want, group[i])
			}
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, props := range []map[string]string{
		{"node.id": "x"},
		{"node.id": "-1"},
		{"num.partitions": "0"},
		{"message.max.bytes": "99999999999"},
		{"listeners": "nonsense"},
		{"listeners": "PLAINTEXT://127.0.0.1:70000"},
		{"samsa.log.durability": "maybe"},
		{"auto.create.topics.enable": "yes"},
		{"log.cleanup.policy": "shred"},
		{"samsa.admin.listener": "nohostport"},
		{"log.dirs": "/d1,/d2,/d1/"},
		{"log.dirs": "/d1,/d2", "metadata.log.dir": "/d2"},
	} {
		if _, err := Parse(props); err == nil {
			t.Errorf("%v: want an error", props)
		}
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{"log.dirs": "SAMSA_LOG_DIRS", "node.id": "SAMSA_NODE_ID", "samsa.log.durability": "SAMSA_LOG_DURABILITY"} {
		if got := EnvName(key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
}

func FuzzParseProperties(f *testing.F) {
	f.Add([]byte("a=b\n# c\nd:e\n"))
	f.Add([]byte("x=\\\n"))
	f.Add([]byte("listeners=PLAINTEXT://:9092\nnode.id=2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := ParseProperties(data)
		if err != nil {
			return
		}
		_, _ = Parse(props) // must not panic
	})
}

// host:port is a PLAINTEXT listener; Kafka requires the NAME:// part.
func TestListenersWithoutName(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9093":                  "PLAINTEXT://127.0.0.1:9093",
		":9093":                           "PLAINTEXT://:9093",
		"plaintext://127.0.0.1:9093":      "PLAINTEXT://127.0.0.1:9093",
		"[::1]:9093":                      "PLAINTEXT://[::1]:9093",
		"localhost:1, PLAINTEXT://[::]:2": "PLAINTEXT://localhost:1,PLAINTEXT://[::]:2",
	} {
		ls, err := ParseListeners(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		var got []string
		for _, l := range ls {
			got = append(got, l.String())
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%q: %v, want %s", in, got, want)
		}
	}
	for _, in := range []string{"localhost", "://127.0.0.1:1", "127.0.0.1:x"} {
		if _, err := ParseListeners(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
	cfg, err := Parse(map[string]string{"listeners": "127.0.0.1:0"})
	if err != nil || cfg.Listeners[0].Name != "PLAINTEXT" {
		t.Fatalf("%v %v", err, cfg)
	}
}

// A listener that binds every interface is advertised under the host name
// when advertised.listeners is not set; an explicit wildcard is refused.
func TestAdvertisedWildcard(t *testing.T) {
	hostname = func() (string, error) { return "node-a.example", nil }
	t.Cleanup(func() { hostname = os.Hostname })
	for _, tc := range []struct {
		listeners, advertised, want, err string
	}{
		{"PLAINTEXT://127.0.0.1:9092", "", "PLAINTEXT://127.0.0.1:9092", ""},
		{"PLAINTEXT://:9092", "", "PLAINTEXT://node-a.example:9092", ""},
		{"0.0.0.0:9092", "", "PLAINTEXT://node-a.example:9092", ""},
		{"[::]:9092", "", "PLAINTEXT://node-a.example:9092", ""},
		{"0.0.0.0:9092", "PLAINTEXT://broker-1:19092", "PLAINTEXT://broker-1:19092", ""},
		{"0.0.0.0:9092", ":19092", "PLAINTEXT://node-a.example:19092", ""},
		{"0.0.0.0:9092", "0.0.0.0:9092", "", `tells clients to connect to "0.0.0.0"`},
		{"0.0.0.0:9092", "PLAINTEXT://[::]:9092", "", `tells clients to connect to "::"`},
	} {
		props := map[string]string{"listeners": tc.listeners}
		if tc.advertised != "" {
			props["advertised.listeners"] = tc.advertised
		}
		cfg, err := Parse(props)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: error %v, want %q", props, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.AdvertisedListeners[0].String() != tc.want {
			t.Errorf("%v: %v %v, want %s", props, err, cfg, tc.want)
		}
	}
	hostname = func() (string, error) { return "", errors.New("no name") }
	if _, err := Parse(map[string]string{"listeners": "0.0.0.0:9092"}); err == nil || !strings.Contains(err.Error(), "advertised.listeners") {
		t.Errorf("without a host name: %v", err)
	}
}

// TestLeaderRebalance: Kafka's defaults, the interval off when
// auto.leader.rebalance.enable is false, and the ranges.
func TestLeaderRebalance(t *testing.T) {
	cfg := Default()
	if got := cfg.LeaderImbalanceCheckInterval(); got != 300*time.Second || cfg.LeaderImbalancePerBrokerPercentage != 10 {
		t.Fatalf("defaults: interval %s, percentage %d", got, cfg.LeaderImbalancePerBrokerPercentage)
	}
	cfg, err := Parse(map[string]string{"leader.imbalance.check.interval.seconds": "2", "leader.imbalance.per.broker.percentage": "0"})
	if err != nil || cfg.LeaderImbalanceCheckInterval() != 2*time.Second || cfg.LeaderImbalancePerBrokerPercentage != 0 {
		t.Fatalf("%v: interval %s, percentage %d", err, cfg.LeaderImbalanceCheckInterval(), cfg.LeaderImbalancePerBrokerPercentage)
	}
	cfg, err = Parse(map[string]string{"auto.leader.rebalance.enable": "false"})
	if err != nil || cfg.LeaderImbalanceCheckInterval() != 0 {
		t.Fatalf("disabled: %v, interval %s", err, cfg.LeaderImbalanceCheckInterval())
	}
	for k, v := range map[string]string{"leader.imbalance.check.interval.seconds": "0", "leader.imbalance.per.broker.percentage": "101"} {
		if _, err := Parse(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), k) {
			t.Fatalf("%s=%s: %v", k, v, err)
		}
	}
}
