package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"go.uber.org/goleak"
)

// The command tests run the commands in-process through run(), against a
// real broker: a `samsa serve` process built from this package and started
// once for the whole package, on a free port with a temporary log directory.
// SAMSA_TEST_BOOTSTRAP=host:port runs them against an existing cluster
// instead (any Kafka-compatible one).

var fixture struct {
	once    sync.Once
	addr    string // bootstrap address
	err     error
	cmd     *exec.Cmd
	exited  chan struct{}
	tmp     string
	logMu   sync.Mutex
	logs    bytes.Buffer
	started bool
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopBroker()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type lockedWriter struct{}

func (lockedWriter) Write(p []byte) (int, error) {
	fixture.logMu.Lock()
	defer fixture.logMu.Unlock()
	if fixture.logs.Len() < 1<<20 {
		fixture.logs.Write(p)
	}
	return len(p), nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startBroker builds samsa and starts `samsa serve`. It runs once per
// package.
func startBroker() {
	if addr := os.Getenv("SAMSA_TEST_BOOTSTRAP"); addr != "" {
		fixture.addr = addr
		return
	}
	tmp, err := os.MkdirTemp("", "samsa-cli-test")
	if err != nil {
		fixture.err = err
		return
	}
	fixture.tmp = tmp
	bin, err := samsaBinary()
	if err != nil {
		fixture.err = err
		return
	}
	addr, err := freeAddr()
	if err != nil {
		fixture.err = err
		return
	}
	admin, err := freeAddr()
	if err != nil {
		fixture.err = err
		return
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"SAMSA_LISTENERS=PLAINTEXT://"+addr,
		"SAMSA_LOG_DIRS="+filepath.Join(tmp, "data"),
		"SAMSA_ADMIN_LISTENER="+admin,
	)
	cmd.Stdout, cmd.Stderr = lockedWriter{}, lockedWriter{}
	if err := cmd.Start(); err != nil {
		fixture.err = fmt.Errorf("start samsa serve: %w", err)
		return
	}
	fixture.cmd = cmd
	fixture.exited = make(chan struct{})
	go func() { cmd.Wait(); close(fixture.exited) }()

	// Poll with a real request until the broker answers or gives up.
	deadline := time.Now().Add(30 * time.Second)
	o := cli.Options{BootstrapServers: []string{addr}, Timeout: time.Second}
	for {
		select {
		case <-fixture.exited:
			fixture.err = fmt.Errorf("samsa serve exited during start-up:\n%s", brokerLogs())
			return
		default:
		}
		cl, err := cli.Dial(context.Background(), o)
		if err == nil {
			cl.Close()
			fixture.addr = addr
			return
		}
		if time.Now().After(deadline) {
			fixture.err = fmt.Errorf("samsa serve not ready after 30s: %v\n%s", err, brokerLogs())
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func brokerLogs() string {
	fixture.logMu.Lock()
	defer fixture.logMu.Unlock()
	return fixture.logs.String()
}

// built is the samsa binary built from this package, once.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// samsaBinary builds samsa once per package run and returns its path.
func samsaBinary() (string, error) {
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "samsa-cli-bin")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "samsa")
		if out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("build samsa: %v\n%s", err, out)
		}
	})
	return built.path, built.err
}

func stopBroker() {
	if fixture.cmd != nil {
		fixture.cmd.Process.Kill()
		<-fixture.exited
	}
	if fixture.tmp != "" {
		os.RemoveAll(fixture.tmp)
	}
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// broker returns the bootstrap address of the test cluster, skipping the
// test when there is none.
func broker(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a broker process; skipped in -short mode")
	}
	fixture.once.Do(startBroker)
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	t.Cleanup(func() {
		if t.Failed() && fixture.cmd != nil {
			t.Logf("broker output:\n%s", brokerLogs())
		}
	})
	return fixture.addr
}

// result is one command run.
type result struct {
	stdout, stderr string
	code           int
}

// samsa runs the command line in-process with stdin and returns what it
// printed and its exit code.
func samsaCtx(ctx context.Context, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

func samsa(stdin string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return samsaCtx(ctx, stdin, args...)
}

// ok runs a command against the broker and fails the test unless it exits 0.
func ok(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	r := samsa(stdin, append([]string{"-b", addr}, args...)...)
	if r.code != 0 {
		t.Fatalf("samsa %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs a command against the broker, expects exit code 1, and checks
// that stderr is the sentence want (no stack trace, no usage dump).
func fails(t *testing.T, addr, stdin, want string, args ...string) result {
	t.Helper()
	r := samsa(stdin, append([]string{"-b", addr}, args...)...)
	if r.code != 1 {
		t.Fatalf("samsa %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		t.Fatalf("samsa %s: stderr %q does not say %q", strings.Join(args, " "), r.stderr, want)
	}
	assertSentence(t, r.stderr)
	return r
}

func assertSentence(t *testing.T, stderr string) {
	t.Helper()
	for _, bad := range []string{"goroutine ", "panic", "Usage:", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Fatalf("stderr has %q:\n%s", bad, stderr)
		}
	}
}

// topicName returns a topic name unique to the test.
func topicName(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name())) + "-" + fmt.Sprint(time.Now().UnixNano()%1_000_000)
}

var _ io.Writer = lockedWriter{}
