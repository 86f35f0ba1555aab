package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3},
		{"log.retention.hour", "log.retention.hours", 1}, {"listener", "listeners", 1}, {"node.id", "node.id", 0},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	for key, want := range map[string]string{
		"log.retention.hour":   "log.retention.hours",
		"listener":             "listeners",
		"advertised.listener":  "advertised.listeners",
		"LOG_DIRS":             "log.dirs",
		"log-dirs":             "log.dirs",
		"logdirs":              "log.dirs",
		"log.retention.minute": "log.retention.minutes",
		"admin.listener":       "samsa.admin.listener",
		"samsa.log.durabilty":  "samsa.log.durability",
		"log.durability":       "samsa.log.durability",
		"completely.unrelated": "",
		"zz":                   "",
	} {
		if got := Suggest(key); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", key, got, want)
		}
	}
}

// A misspelt key in the file, on the command line or in a SAMSA_ variable
// stops Load with one sentence per key: where it was and the closest key.
func TestUnknownKeysRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "server.properties")
	if err := os.WriteFile(file, []byte("# retention\nnode.id=2\nlog.retention.hour=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := Sources{
		File: file,
		Env: []string{
			"SAMSA_NUM_PARTITION=3",              // one letter short
			"SAMSA_SAMSA_LOG_DURABILITY=sync",    // written from samsa.log.durability
			"SAMSA_log_dirs=/x",                  // the right name in the wrong case
			"SAMSA_TEST_BOOTSTRAP=127.0.0.1:1",   // a test harness's: not config
			"SAMSA_BOOTSTRAP_SERVER=127.0.0.1:1", // the client commands': not config
			"SAMSA_BENCH_DIR=/tmp", "SAMSA_BENCH_LARGE=1", "SAMSA_CLEAN_BENCH_MB=8", "SAMSA_GROUP_BENCH=1",
			"SAMSA_E2E_TXN_TRANSFORMER=x", "SAMSA_LOG_KILL_CHILD_DIR=/tmp",
			"SAMSA_NODE_ID=3", "PATH=/bin",
		},
		Overrides: map[string]string{"listener": "PLAINTEXT://127.0.0.1:0"},
	}
	_, err := Load(src)
	var ue *UnknownKeysError
	if !errors.As(err, &ue) {
		t.Fatalf("want an *UnknownKeysError, got %v", err)
	}
	want := []string{
		`unknown config key "listener" (command line): did you mean "listeners"?`,
		`unknown config key "log.retention.hour" (` + file + ` line 3): did you mean "log.retention.hours"?`,
		`environment variable SAMSA_NUM_PARTITION names no config key: did you mean SAMSA_NUM_PARTITIONS (num.partitions)?`,
		`environment variable SAMSA_SAMSA_LOG_DURABILITY names no config key: did you mean SAMSA_LOG_DURABILITY (samsa.log.durability)?`,
		`environment variable SAMSA_log_dirs names no config key: did you mean SAMSA_LOG_DIRS (log.dirs)?`,
	}
	if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("error:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	src.AllowUnknown = true
	cfg, err := Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Unknown) != len(want) || cfg.NodeID != 3 {
		t.Fatalf("unknown %+v, node %d", cfg.Unknown, cfg.NodeID)
	}
	for i, u := range cfg.Unknown {
		if u.String() != want[i] {
			t.Errorf("unknown %d: %q, want %q", i, u, want[i])
		}
	}
}

// An unknown key and an invalid value are both reported.
func TestUnknownAndInvalid(t *testing.T) {
	_, err := Load(Sources{Overrides: map[string]string{"num.partition": "2", "num.partitions": "0"}})
	var ue *UnknownKeysError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "num.partitions must be >= 1") {
		t.Fatalf("got %v", err)
	}
}

// A key registered with a hint is refused with the hint, and a key close
// to it gets both the suggestion and the hint.
func TestHints(t *testing.T) {
	RegisterHint("test.dynamic.only", "set it some other way")
	RegisterHint("node.id", "never used: node.id is a start-up setting")
	t.Cleanup(func() { delete(hints, "test.dynamic.only") })
	if Hint("node.id") != "" {
		t.Fatal("a start-up setting got a hint")
	}
	_, err := Load(Sources{
		Overrides: map[string]string{"test.dynamic.only": "1", "test.dynamic.onyl": "2", "broker.id": "1"},
		Env:       []string{"SAMSA_TEST_DYNAMIC_ONLY=3"},
	})
	want := []string{
		`config key "broker.id" (command line) is not read at start: the node's id is node.id`,
		`config key "test.dynamic.only" (command line) is not read at start: set it some other way`,
		`unknown config key "test.dynamic.onyl" (command line): did you mean "test.dynamic.only"? (test.dynamic.only is not read at start either: set it some other way)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	_, err = Load(Sources{Env: []string{"SAMSA_TEST_DYNAMIC_ONLY=3"}})
	if want := `config key "test.dynamic.only" (environment variable SAMSA_TEST_DYNAMIC_ONLY) is not read at start: set it some other way`; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
}

// Variables that are not within reach of a key are not configuration.
func TestEnvRule(t *testing.T) {
	keys := envKeys()
	for name, want := range map[string][2]string{
		"SAMSA_LOG_DIRS":             {"log.dirs", ""},
		"SAMSA_LOG_DURABILITY":       {"samsa.log.durability", ""},
		"SAMSA_LOG_DIR":              {"log.dir", ""},
		"SAMSA_LOG_DIRSS":            {"", "log.dirs"},
		"SAMSA_SAMSA_ADMIN_LISTENER": {"", "samsa.admin.listener"},
		"SAMSA_SAMSA_BOGUS":          {"", ""},
		"SAMSA_BOOTSTRAP_SERVER":     {"", ""},
		"SAMSA_TEST_BOOTSTRAP":       {"", ""},
		"SAMSA_WHATEVER":             {"", ""},
	} {
		key, miss := classifyEnv(name, keys)
		if key != want[0] || miss != want[1] {
			t.Errorf("%s: key %q miss %q, want %q %q", name, key, miss, want[0], want[1])
		}
	}
}

func TestPropertiesLines(t *testing.T) {
	props, lines, err := parseProperties([]byte("# c\n\na=1\nb = x,\\\n  y\nc:3\na=2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if props["b"] != "x,y" || props["a"] != "2" || lines["a"] != 7 || lines["b"] != 4 || lines["c"] != 6 {
		t.Fatalf("props %v lines %v", props, lines)
	}
}
