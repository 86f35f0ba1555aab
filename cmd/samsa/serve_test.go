package main

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// serve --help lists serve's own flags with their defaults, and none of the
// client commands' flags.
func TestServeHelp(t *testing.T) {
	r := samsa("", "serve", "--help")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		`--listeners string`, `(default "PLAINTEXT://127.0.0.1:9092")`,
		`--log-dirs string`, `(default "./data")`,
		`--admin-listener string`, `(default "127.0.0.1:9644")`,
		`--log-durability string`, `(default "sync")`,
		`--node-id string`, `(default "1")`,
		`--allow-unknown-config`, `--override stringArray`, `--config string`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("serve --help does not say %q:\n%s", want, r.stdout)
		}
	}
	for _, bad := range []string{"Global Flags", "--bootstrap-server", "--client-id", "--timeout"} {
		if strings.Contains(r.stdout, bad) {
			t.Errorf("serve --help shows %q:\n%s", bad, r.stdout)
		}
	}
	for _, args := range [][]string{{"-b", "127.0.0.1:1", "serve"}, {"serve", "--timeout", "1s"}} {
		r := samsa("", args...)
		if r.code != 2 || !strings.Contains(r.stderr, "is a flag of the client commands; serve does not use it") {
			t.Errorf("samsa %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// Every SAMSA_ variable the repository's tests, benchmarks and client
// commands use is left alone by serve, and no two keys share a variable.
func TestServeIgnoresOtherSamsaVariables(t *testing.T) {
	env := []string{
		"SAMSA_BOOTSTRAP_SERVER=127.0.0.1:1", "SAMSA_TEST_BOOTSTRAP=127.0.0.1:1",
		"SAMSA_BENCH_DIR=/tmp", "SAMSA_BENCH_LARGE=1", "SAMSA_CLEAN_BENCH_MB=8", "SAMSA_GROUP_BENCH=1",
		"SAMSA_E2E_TXN_TRANSFORMER=x", "SAMSA_LOG_KILL_CHILD_DIR=/tmp",
	}
	cfg, err := config.Load(config.Sources{Env: env})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Unknown) != 0 {
		t.Fatalf("unknown: %v", cfg.Unknown)
	}
	seen := map[string]string{}
	check := func(key string) {
		if other, dup := seen[config.EnvName(key)]; dup && other != key {
			t.Errorf("%s and %s are both %s", key, other, config.EnvName(key))
		}
		seen[config.EnvName(key)] = key
	}
	for _, d := range config.Defs {
		check(d.Name)
	}
	for _, d := range metadata.BrokerConfigDefs() {
		check(d.Name)
	}
	for _, d := range metadata.TopicConfigDefs() {
		check(d.Name)
	}
}

// logAdvertised says what clients are told when the listener binds every
// interface and advertised.listeners is not set.
func TestLogAdvertised(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"listeners": "0.0.0.0:9092"}, `level=WARN msg="the listener binds every interface (0.0.0.0) and advertised.listeners is not set: clients cannot connect to 0.0.0.0, so they are told this machine's host name instead`},
		{map[string]string{"listeners": "[::]:9092"}, `clients cannot connect to ::`},
		{map[string]string{"listeners": ":9092"}, `level=INFO msg="the listener binds every interface and advertised.listeners is not set: clients are told this machine's host name, as Kafka does`},
		{map[string]string{"listeners": "0.0.0.0:9092", "advertised.listeners": "broker:9092"}, ""},
		{map[string]string{"listeners": "127.0.0.1:9092"}, ""},
	} {
		cfg, err := config.Parse(tc.props)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		logAdvertised(slog.New(slog.NewTextHandler(&buf, nil)), cfg, "node-a:9092")
		if tc.want == "" && buf.Len() != 0 || !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%v: logged %q, want %q", tc.props, buf.String(), tc.want)
		}
		if tc.want != "" && !strings.Contains(buf.String(), "advertised=node-a:9092") {
			t.Errorf("%v: logged %q without the advertised address", tc.props, buf.String())
		}
	}
}

// syncBuffer is a bytes.Buffer for a child process's output read while it
// runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveProc is a `samsa serve` child process.
type serveProc struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{} // closed when it has exited
	err     error         // cmd.Wait's, once done
	dataDir string
}

// serveProcess starts `samsa serve` with a properties file holding props,
// on a free loopback port (written as host:port, no PLAINTEXT://) with its
// data in a temporary directory and no admin server.
func serveProcess(t *testing.T, props string, args ...string) *serveProc {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs samsa serve; skipped in -short mode")
	}
	bin, err := samsaBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(file, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{out: &syncBuffer{}, done: make(chan struct{}), dataDir: filepath.Join(dir, "data")}
	p.cmd = exec.Command(bin, append([]string{"serve", "--config", file, "--listeners", "127.0.0.1:0", "--log-dirs", p.dataDir, "--admin-listener", ""}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// A misspelt key in the properties file stops serve before it touches
// anything, with the closest key and the way out.
func TestServeRefusesUnknownKey(t *testing.T) {
	p := serveProcess(t, "# one typo\nnode.id=1\nlog.retention.hour=24\n")
	select {
	case <-p.done:
		ee, ok := p.err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit %v, want 1\n%s", p.err, p.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("samsa serve did not stop within 30s:\n%s", p.out)
	}
	for _, want := range []string{
		`samsa: configuration: unknown config key "log.retention.hour" (`,
		`server.properties line 3): did you mean "log.retention.hours"?`,
		`start with --allow-unknown-config to ignore them`,
	} {
		if !strings.Contains(p.out.String(), want) {
			t.Errorf("output does not say %q:\n%s", want, p.out)
		}
	}
	assertSentence(t, p.out.String())
	if _, err := os.Stat(p.dataDir); !os.IsNotExist(err) {
		t.Errorf("the data directory was created: %v", err)
	}
}

// With --allow-unknown-config the same file starts the node, with a warning
// naming the key.
func TestServeAllowUnknownConfig(t *testing.T) {
	p := serveProcess(t, "node.id=1\nlog.retention.hour=24\n", "--allow-unknown-config")
	deadline := time.After(60 * time.Second)
	for !strings.Contains(p.out.String(), "samsa node started") {
		select {
		case <-p.done:
			t.Fatalf("samsa serve exited (%v):\n%s", p.err, p.out)
		case <-deadline:
			t.Fatalf("samsa serve did not start within 60s:\n%s", p.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if want := `level=WARN msg="ignored (--allow-unknown-config): unknown config key \"log.retention.hour\"`; !strings.Contains(p.out.String(), want) {
		t.Errorf("output does not say %q:\n%s", want, p.out)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("exit %v after SIGTERM:\n%s", p.err, p.out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("samsa serve did not stop within 60s of SIGTERM:\n%s", p.out)
	}
}
