package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests hold the harness to what it promises, on one node: they pass
// with the single-node binary and with the cluster one.

func TestProduceConsume(t *testing.T) {
	c := Start(t, Options{})
	ctx := testContext(t, 60*time.Second)
	n := c.Node(1)
	if n.Addr() != n.Host()+":9092" || n.AdminAddr() != n.Host()+":9644" || n.ControllerAddr() != n.Host()+":9093" {
		t.Fatalf("addresses %s %s %s", n.Addr(), n.ControllerAddr(), n.AdminAddr())
	}
	if !strings.HasPrefix(n.Host(), "127.") || strings.HasPrefix(n.Host(), "127.0.0.") || !strings.HasSuffix(n.Host(), ".1") {
		t.Fatalf("node 1 on %s, want 127.x.y.1 with x > 0", n.Host())
	}
	if _, err := c.Admin(t).CreateTopic(ctx, 3, 1, nil, "harness"); err != nil {
		t.Fatal(err)
	}
	want := produce(t, ctx, c.Client(t), "harness", "v", 100)
	sameValues(t, consume(t, ctx, func(o ...kgo.Opt) *kgo.Client { return n.Client(t, o...) }, "harness", 100), want)

	m, err := n.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Brokers) != 1 || m.Brokers[0].NodeID != 1 || m.Brokers[0].Host != n.Host() || m.Brokers[0].Port != 9092 {
		t.Fatalf("metadata brokers %+v, want node 1 on %s", m.Brokers, n.Addr())
	}
	if m.ClusterID == nil || *m.ClusterID != c.ID() || len(c.ID()) != 22 {
		t.Fatalf("cluster id %v, want %s (22 characters)", m.ClusterID, c.ID())
	}
}

func TestKillRestart(t *testing.T) {
	c := Start(t, Options{})
	ctx := testContext(t, 60*time.Second)
	n := c.Node(1)
	if _, err := c.Admin(t).CreateTopic(ctx, 2, 1, nil, "crash"); err != nil {
		t.Fatal(err)
	}
	cl := c.Client(t)
	want := produce(t, ctx, cl, "crash", "before", 50)
	pid := n.Pid()
	n.Kill()
	if n.Running() || n.Pid() != 0 {
		t.Fatalf("node still running after Kill (pid %d)", n.Pid())
	}
	if err := n.exitedErr(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("exit after SIGKILL: %v", err)
	}
	if _, _, err := n.Readyz(ctx); err == nil {
		t.Fatal("/readyz answered after Kill")
	}
	n.Restart()
	if n.Pid() == pid || n.Pid() == 0 {
		t.Fatalf("pid %d after restart, was %d", n.Pid(), pid)
	}
	want = append(want, produce(t, ctx, cl, "crash", "after", 50)...)
	sameValues(t, consume(t, ctx, func(o ...kgo.Opt) *kgo.Client { return c.Client(t, o...) }, "crash", 100), want)
	if got := strings.Count(n.Logs(), "node 1: start "); got != 2 {
		t.Fatalf("logs show %d starts, want 2", got)
	}
}

func TestStopWipeRestart(t *testing.T) {
	c := Start(t, Options{})
	ctx := testContext(t, 60*time.Second)
	n := c.Node(1)
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, "wiped"); err != nil {
		t.Fatal(err)
	}
	produce(t, ctx, c.Client(t), "wiped", "v", 10)
	if err := n.Stop(); err != nil {
		t.Fatalf("SIGTERM: %v, want exit status 0", err)
	}
	n.Wipe()
	if entries, err := os.ReadDir(n.DataDir()); err != nil || len(entries) != 0 {
		t.Fatalf("data dir after Wipe: %d entries, %v", len(entries), err)
	}
	n.Restart()
	m, err := n.Metadata(ctx, "wiped")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Topics) != 1 || m.Topics[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("metadata of a wiped topic: %+v, want UNKNOWN_TOPIC_OR_PARTITION", m.Topics)
	}
}

func TestPauseResume(t *testing.T) {
	c := Start(t, Options{})
	ctx := testContext(t, 60*time.Second)
	n := c.Node(1)
	if _, err := c.Admin(t).CreateTopic(ctx, 1, 1, nil, "paused"); err != nil {
		t.Fatal(err)
	}
	cl := c.Client(t)
	want := produce(t, ctx, cl, "paused", "before", 10)

	n.Pause()
	if !n.Paused() || !n.Running() {
		t.Fatal("Paused or Running false after Pause")
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	_, _, err := n.Readyz(short)
	cancel()
	if err == nil {
		t.Fatal("/readyz answered while paused")
	}
	impatient := impatientClient(t, func(o ...kgo.Opt) *kgo.Client { return c.Client(t, o...) })
	start := time.Now()
	short, cancel = context.WithTimeout(ctx, 10*time.Second)
	err = impatient.ProduceSync(short, &kgo.Record{Topic: "paused", Value: []byte("while-paused")}).FirstErr()
	cancel()
	if err == nil {
		t.Fatal("a produce succeeded while the node was paused")
	}
	t.Logf("produce to the paused node failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	n.Resume()
	c.WaitReady(t, 0)
	// The record produced while paused may or may not have been written:
	// only the later ones are counted.
	WaitFor(t, 30*time.Second, func() error {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return cl.ProduceSync(short, &kgo.Record{Topic: "paused", Value: []byte("after")}).FirstErr()
	})
	got := consume(t, ctx, func(o ...kgo.Opt) *kgo.Client { return c.Client(t, o...) }, "paused", 11)
	for _, v := range want {
		if !slices.Contains(got, v) {
			t.Fatalf("record %s lost over pause and resume: %q", v, got)
		}
	}
}

// TestWrongNodeID restarts a node whose data directory says it is another
// node: the process must exit non-zero naming both ids. With the cluster
// settings it is the last node of three.
func TestWrongNodeID(t *testing.T) {
	opts := Options{}
	if ok, _ := ClusterSupported(); ok {
		opts.Nodes = 3
	}
	c := Start(t, opts)
	n := c.Node(len(c.Nodes()))
	if err := n.Stop(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	const wrong = 42
	if rewritten := rewriteNodeID(t, n.DataDir(), n.ID(), wrong); rewritten == 0 {
		t.Fatalf("no meta.properties with node.id=%d under %s", n.ID(), n.DataDir())
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	err := n.WaitExit(30 * time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("node %d with node.id=%d on its data directory exited with %v, want a non-zero status", n.ID(), wrong, err)
	}
	logs := n.Logs()
	run := logs[strings.LastIndex(logs, fmt.Sprintf("node %d: start ", n.ID())):]
	both := regexp.MustCompile(fmt.Sprintf(`(\b%d\b.*\b%d\b)|(\b%d\b.*\b%d\b)`, wrong, n.ID(), n.ID(), wrong))
	found := false
	sc := bufio.NewScanner(strings.NewReader(run))
	for sc.Scan() {
		// Paths (node-3/...) name no id.
		line := strings.ReplaceAll(sc.Text(), c.Dir(), "")
		if !strings.HasPrefix(line, "===") && both.MatchString(line) {
			t.Logf("refused: %s", sc.Text())
			found = true
		}
	}
	if !found {
		t.Fatalf("no line of the node's output names both node.id %d and %d:\n%s", n.ID(), wrong, run)
	}
}

// rewriteNodeID replaces node.id=from by node.id=to in every
// meta.properties under dir, and returns how many it changed.
func rewriteNodeID(t *testing.T, dir string, from, to int) int {
	t.Helper()
	changed := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "meta.properties" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		re := regexp.MustCompile(fmt.Sprintf(`(?m)^node\.id=%d$`, from))
		if !re.Match(data) {
			return nil
		}
		changed++
		return os.WriteFile(path, re.ReplaceAll(data, []byte(fmt.Sprintf("node.id=%d", to))), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return changed
}

func TestWaitForReportsLastError(t *testing.T) {
	calls := 0
	err := Poll(150*time.Millisecond, func() error {
		calls++
		return fmt.Errorf("attempt %d", calls)
	})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Last.Error() != fmt.Sprintf("attempt %d", calls) || calls < 2 {
		t.Fatalf("Poll: %v after %d calls", err, calls)
	}
	if err := Poll(time.Second, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestLogBufferKeepsHeadAndTail(t *testing.T) {
	var b logBuffer
	line := strings.Repeat("x", 1023) + "\n"
	for range (headLimit + tailLimit) / 1024 * 2 {
		b.Write([]byte(line))
	}
	b.mark("the end")
	s := b.String()
	if !strings.Contains(s, "bytes of output dropped here") || !strings.HasSuffix(s, "cluster: the end\n") {
		t.Fatalf("no drop note or end: %d bytes", len(s))
	}
	if len(s) > headLimit+tailLimit+200 || len(s) < headLimit+tailLimit-2048 {
		t.Fatalf("kept %d bytes, want about %d", len(s), headLimit+tailLimit)
	}
	if got := lastLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Fatalf("lastLines: %q", got)
	}
	if got := lastLines("a\nb", 5); got != "a\nb" {
		t.Fatalf("lastLines: %q", got)
	}
}

func TestClusterSupportedMatchesStart(t *testing.T) {
	ok, reason := ClusterSupported()
	t.Logf("cluster settings supported: %v %s", ok, reason)
	if !ok && !strings.Contains(reason, "process.roles") {
		t.Fatalf("reason %q does not name the missing settings", reason)
	}
	c := Start(t, Options{})
	if c.Multi() != ok {
		t.Fatalf("Multi() = %v, ClusterSupported = %v", c.Multi(), ok)
	}
	if _, set := c.Node(1).Props()["process.roles"]; set != ok {
		t.Fatalf("process.roles set: %v, supported: %v", set, ok)
	}
	ctx := testContext(t, 10*time.Second)
	code, _, err := c.Node(1).Readyz(ctx)
	if err != nil || code != http.StatusOK {
		t.Fatalf("/readyz: %d %v", code, err)
	}
	id, err := c.ActiveController(ctx)
	if err != nil || id != 1 {
		t.Fatalf("active controller %d, %v; want 1", id, err)
	}
}
