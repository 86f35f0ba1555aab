// Package e2e runs the real samsa binary as a separate process and drives it
// with independent Kafka clients (franz-go, sarama, segmentio/kafka-go), as a
// user would: real sockets, real files, real SIGTERM and SIGKILL.
package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// samsaBin is the binary built once for the whole package in TestMain.
var samsaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "samsa-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	samsaBin = filepath.Join(dir, "samsa")
	build := exec.Command("go", "build", "-o", samsaBin, "../../cmd/samsa")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build samsa:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// broker is a samsa serve process with a fixed data directory and port, so it
// can be stopped and started again on the same data.
type broker struct {
	t         *testing.T
	dataDir   string
	addr      string
	adminAddr string
	extra     []string // extra KEY=VALUE environment settings
	cmd       *exec.Cmd
	exited    chan struct{}
	logMu     sync.Mutex
	logBuf    strings.Builder
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBroker starts a fresh broker on a temporary directory. env holds
// extra settings as SAMSA_* variables (e.g. "SAMSA_LOG_SEGMENT_BYTES=1048576").
func startBroker(t *testing.T, env ...string) *broker {
	t.Helper()
	b := &broker{
		t:         t,
		dataDir:   t.TempDir(),
		addr:      "127.0.0.1:" + strconv.Itoa(freePort(t)),
		adminAddr: "127.0.0.1:" + strconv.Itoa(freePort(t)),
		extra:     env,
	}
	b.start()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			t.Logf("broker output:\n%s", b.output())
		}
	})
	return b
}

func (b *broker) output() string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	return b.logBuf.String()
}

type logWriter struct{ b *broker }

func (w logWriter) Write(p []byte) (int, error) {
	w.b.logMu.Lock()
	defer w.b.logMu.Unlock()
	if w.b.logBuf.Len() < 4<<20 {
		w.b.logBuf.Write(p)
	}
	return len(p), nil
}

// start runs the process and waits until it answers Kafka requests.
func (b *broker) start() {
	b.t.Helper()
	cmd := exec.Command(samsaBin, "serve")
	cmd.Env = append(os.Environ(),
		"SAMSA_LISTENERS=PLAINTEXT://"+b.addr,
		"SAMSA_LOG_DIRS="+b.dataDir,
		"SAMSA_ADMIN_LISTENER="+b.adminAddr,
	)
	cmd.Env = append(cmd.Env, b.extra...)
	cmd.Stdout, cmd.Stderr = logWriter{b}, logWriter{b}
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start samsa: %v", err)
	}
	b.cmd = cmd
	b.exited = make(chan struct{})
	go func() { cmd.Wait(); close(b.exited) }()
	b.waitReady(30 * time.Second)
}

// waitReady polls the broker with a real request until it answers, the
// process exits, or the deadline passes.
func (b *broker) waitReady(limit time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-b.exited:
			b.t.Fatalf("samsa exited during start-up:\n%s", b.output())
		default:
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
			cancel()
			cl.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("samsa not ready after %v: %v\n%s", limit, err, b.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop shuts the broker down gracefully with SIGTERM and waits for it.
func (b *broker) stop() {
	b.t.Helper()
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(60 * time.Second):
		b.t.Fatalf("samsa did not stop within 60s of SIGTERM")
	}
	b.cmd = nil
}

// kill stops the broker with SIGKILL, as a crash would.
func (b *broker) kill() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Kill()
	<-b.exited
	b.cmd = nil
}

// restart starts the process again on the same data and port.
func (b *broker) restart() {
	b.t.Helper()
	b.start()
}

// client returns a franz-go client for the broker, closed with the test.
func (b *broker) client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.addr)}, opts...)...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

func (b *broker) admin() *kadm.Client {
	return kadm.NewClient(b.client())
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
