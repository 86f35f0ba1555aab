package cluster

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Node is one samsa process of a cluster, kept across restarts: its id,
// address, data directory, properties and output.
//
// Methods that fail the test (Kill, Stop, Pause, Resume, Restart, Wipe,
// WaitExit) call the Fatal of the test that started the cluster, so call
// them from that test's goroutine; Start, WaitReady and the requests
// return errors and may be called from any goroutine.
type Node struct {
	c          *Cluster
	id         int
	controller bool // a voter: process.roles has controller
	host       string
	dataDir    string
	uid        int // the user id it runs under; -1: the test's own
	logs       logBuffer

	mu      sync.Mutex
	props   map[string]string
	proc    *process // the last process started
	paused  bool
	starts  int
	control *kgo.Client // the harness's connection, see Request
}

// process is one run of a node's binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it exited and was reaped
	err  error         // what Wait returned; read after done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ID is the node id.
func (n *Node) ID() int { return n.id }

// Host is the node's loopback address, 127.x.y.id.
func (n *Node) Host() string { return n.host }

// Addr is the node's Kafka listener, host:9092.
func (n *Node) Addr() string { return net.JoinHostPort(n.host, strconv.Itoa(KafkaPort)) }

// ControllerAddr is the node's controller listener, host:9093; "" for a
// broker-only node. With the single-node settings nothing listens there.
func (n *Node) ControllerAddr() string {
	if !n.controller {
		return ""
	}
	return net.JoinHostPort(n.host, strconv.Itoa(ControllerPort))
}

// AdminAddr is the node's admin HTTP server, host:9644.
func (n *Node) AdminAddr() string { return net.JoinHostPort(n.host, strconv.Itoa(AdminPort)) }

// IsController reports whether the node is a controller (a Raft voter).
func (n *Node) IsController() bool { return n.controller }

// DataDir is the node's log.dirs.
func (n *Node) DataDir() string { return n.dataDir }

// Logs is everything the node wrote to stdout and stderr over all its
// starts (the first MiB and the last 7 MiB), with the harness's notes of
// starts, signals and exits. The end of it is printed when the test fails.
func (n *Node) Logs() string { return n.logs.String() }

// Props returns a copy of the properties the node starts with.
func (n *Node) Props() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.props)
}

// SetProp changes a property for the node's next start; an empty value
// removes the key.
func (n *Node) SetProp(key, value string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if value == "" {
		delete(n.props, key)
	} else {
		n.props[key] = value
	}
}

// Running reports whether the node's process is alive (paused counts).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && !n.proc.exited()
}

// Paused reports whether the node was paused and not resumed since.
func (n *Node) Paused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused && n.proc != nil && !n.proc.exited()
}

// Pid is the process id of the running node, 0 when it is not running.
func (n *Node) Pid() int {
	if p := n.running(); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// running is the node's process if it is alive.
func (n *Node) running() *process {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || n.proc.exited() {
		return nil
	}
	return n.proc
}

// exitedErr is non-nil when the node was started and its process has
// exited since.
func (n *Node) exitedErr() error {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil || !p.exited() {
		return nil
	}
	return fmt.Errorf("node %d exited: %v", n.id, exitString(p.err))
}

func exitString(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Start starts the node's process on its data directory with its
// properties and returns without waiting for it to be ready.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.exited() {
		return fmt.Errorf("cluster: node %d is already running", n.id)
	}
	path := filepath.Join(n.c.dir, fmt.Sprintf("node-%d.properties", n.id))
	if err := os.WriteFile(path, []byte(formatProps(n.props)), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(n.c.bin, "serve", "--config", path, "--log-level", n.c.logLevel)
	cmd.Dir = n.c.dir
	cmd.Env = n.env()
	cmd.Stdout, cmd.Stderr = &n.logs, &n.logs
	cmd.SysProcAttr = nodeSysProcAttr(n.uid)
	// The output pipe closes when the process dies; this only bounds Wait
	// if something else held it open.
	cmd.WaitDelay = 10 * time.Second
	n.starts++
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster: start node %d: %w", n.id, err)
	}
	n.logs.mark("node %d: start %d, pid %d", n.id, n.starts, cmd.Process.Pid)
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		n.logs.mark("node %d: pid %d ended: %s", n.id, cmd.Process.Pid, exitString(p.err))
		close(p.done)
	}()
	n.proc, n.paused = p, false
	return nil
}

// env is the node's environment: the test's, without SAMSA_* variables
// (the properties file is the whole configuration), plus ExtraEnv.
func (n *Node) env() []string {
	var e []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SAMSA_") {
			e = append(e, kv)
		}
	}
	e = append(e, n.c.opts.ExtraEnv[0]...)
	return append(e, n.c.opts.ExtraEnv[n.id]...)
}

func formatProps(p map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(p)) {
		fmt.Fprintf(&b, "%s=%s\n", k, p[k])
	}
	return b.String()
}

// WaitReady waits, at most timeout (0: Options.StartTimeout), until the
// node answers /readyz with 200 and its Metadata lists it as a broker with
// a controller id >= 0. It returns early with an error if the process
// exits.
func (n *Node) WaitReady(timeout time.Duration) error {
	if timeout == 0 {
		timeout = n.c.opts.StartTimeout
	}
	if n.running() == nil {
		return fmt.Errorf("cluster: node %d is not running", n.id)
	}
	return n.c.waitReady([]*Node{n}, []*Node{n}, timeout)
}

// Restart starts the node again on the same data directory and properties
// (stopping it with SIGTERM first if it runs) and waits until it is ready.
func (n *Node) Restart() {
	n.c.t.Helper()
	if n.running() != nil {
		n.Stop()
	}
	if err := n.Start(); err != nil {
		n.c.t.Fatal(err)
	}
	if err := n.WaitReady(0); err != nil {
		n.c.t.Fatal(err)
	}
}

// Kill stops the node with SIGKILL to its process group, as a crash would,
// and waits until it is gone. A node that is not running is left alone.
func (n *Node) Kill() {
	n.c.t.Helper()
	if err := n.kill("SIGKILL"); err != nil {
		n.c.t.Fatal(err)
	}
}

func (n *Node) kill(why string) error {
	return n.sigkill(why)()
}

// sigkill sends SIGKILL to the node's process group and returns a wait
// for it to be gone.
func (n *Node) sigkill(why string) (wait func() error) {
	p := n.running()
	if p == nil {
		return func() error { return nil }
	}
	n.logs.mark("node %d: %s", n.id, why)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	return func() error { return n.waitKilled(p) }
}

func (n *Node) waitKilled(p *process) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("cluster: node %d (pid %d) still there 30s after SIGKILL", n.id, p.cmd.Process.Pid)
	}
}

// Stop sends SIGTERM (and SIGCONT, if the node is paused), waits until the
// process exits and returns how it exited (nil for status 0). Past
// Options.StopTimeout the test fails and the node is killed.
func (n *Node) Stop() error {
	n.c.t.Helper()
	p := n.running()
	if p == nil {
		return nil
	}
	n.logs.mark("node %d: SIGTERM", n.id)
	_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	if n.Paused() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(n.c.opts.StopTimeout):
	}
	_ = n.kill("SIGKILL: no exit after SIGTERM")
	n.c.t.Fatalf("cluster: node %d did not exit within %v of SIGTERM (killed)", n.id, n.c.opts.StopTimeout)
	return nil
}

// Pause stops the node's process group with SIGSTOP: it keeps its sockets
// and state but answers nothing until Resume.
func (n *Node) Pause() {
	n.c.t.Helper()
	n.signal(syscall.SIGSTOP, "SIGSTOP", true)
	// kill returns before every thread of the target has stopped: wait
	// until the process is seen stopped, so a test's next step runs
	// against a node that really is paused.
	if p := n.running(); p != nil {
		if err := Poll(5*time.Second, func() error { return stoppedState(p.cmd.Process.Pid) }); err != nil {
			n.c.t.Fatalf("cluster: node %d after SIGSTOP: %v", n.id, err)
		}
	}
}

// Resume continues a paused node with SIGCONT.
func (n *Node) Resume() {
	n.c.t.Helper()
	n.signal(syscall.SIGCONT, "SIGCONT", false)
}

func (n *Node) signal(sig syscall.Signal, name string, paused bool) {
	n.c.t.Helper()
	p := n.running()
	if p == nil {
		n.c.t.Fatalf("cluster: node %d is not running: cannot send %s", n.id, name)
	}
	n.logs.mark("node %d: %s", n.id, name)
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		n.c.t.Fatalf("cluster: %s to node %d: %v", name, n.id, err)
	}
	n.mu.Lock()
	n.paused = paused
	n.mu.Unlock()
}

// WaitExit waits, at most timeout, for the node's process to exit by itself
// and returns how it exited (nil for status 0); the test fails if it is
// still running then.
func (n *Node) WaitExit(timeout time.Duration) error {
	n.c.t.Helper()
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p == nil {
		n.c.t.Fatalf("cluster: node %d was never started", n.id)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		n.c.t.Fatalf("cluster: node %d still running after %v", n.id, timeout)
		return nil
	}
}

// Wipe empties the node's data directory, as a replaced disk would. The
// node must not be running.
func (n *Node) Wipe() {
	n.c.t.Helper()
	if n.running() != nil {
		n.c.t.Fatalf("cluster: wipe node %d: it is running", n.id)
	}
	n.logs.mark("node %d: data directory wiped", n.id)
	if err := os.RemoveAll(n.dataDir); err != nil {
		n.c.t.Fatal(err)
	}
	if err := n.makeDataDir(); err != nil {
		n.c.t.Fatal(err)
	}
}

// makeDataDir creates the empty data directory, owned by the node's user.
func (n *Node) makeDataDir() error {
	if err := os.Mkdir(n.dataDir, 0o755); err != nil {
		return err
	}
	if n.uid >= 0 {
		return os.Chown(n.dataDir, n.uid, n.uid)
	}
	return nil
}

// Client returns a franz-go client seeded with this node only, connecting
// from the clients' address, closed when the test ends.
func (n *Node) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return n.c.Client(t, append([]kgo.Opt{kgo.SeedBrokers(n.Addr())}, opts...)...)
}

// Request sends req to this node (not to the controller or a leader, as
// a kgo client would route it) and returns its response. It goes over the
// harness's own connection from 127.x.y.101, which partitions never cut.
func (n *Node) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	cl, err := n.controlClient()
	if err != nil {
		return nil, err
	}
	seeds := cl.SeedBrokers()
	if len(seeds) != 1 {
		return nil, fmt.Errorf("cluster: node %d: the harness's client has %d seeds", n.id, len(seeds))
	}
	return seeds[0].Request(ctx, req)
}

// Metadata asks this node for metadata: the brokers, the controller id and
// topics (every topic when none is named), over Request.
func (n *Node) Metadata(ctx context.Context, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if len(topics) == 0 {
		req.Topics = nil // all
	} else {
		for _, tp := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(tp)
			req.Topics = append(req.Topics, rt)
		}
	}
	return n.metadata(ctx, req)
}

// brokerMetadata is Metadata for no topic: brokers and controller.
func (n *Node) brokerMetadata(ctx context.Context) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = []kmsg.MetadataRequestTopic{} // none
	return n.metadata(ctx, req)
}

func (n *Node) metadata(ctx context.Context, req *kmsg.MetadataRequest) (*kmsg.MetadataResponse, error) {
	resp, err := n.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("node %d: metadata: %w", n.id, err)
	}
	return resp.(*kmsg.MetadataResponse), nil
}

func (n *Node) controlClient() (*kgo.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.control == nil {
		// A request the node took is answered or given up within 3 s
		// (plus the request's own timeout, for those that have one),
		// whatever the caller's context says: kgo waits for a request it
		// sent. A paused node must not hold a probe for kgo's default 10 s.
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(n.Addr()),
			kgo.Dialer(n.c.dialer(controlHost)),
			kgo.RequestTimeoutOverhead(3*time.Second),
		)
		if err != nil {
			return nil, err
		}
		n.control = cl
	}
	return n.control, nil
}

func (n *Node) closeControl() {
	n.mu.Lock()
	cl := n.control
	n.control = nil
	n.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}

// ActiveController asks this node which node is the active controller: the
// leader DescribeQuorum reports, when the node answers it, otherwise the
// ControllerID of its Metadata.
func (n *Node) ActiveController(ctx context.Context) (int, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = append(rt.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, rt)
	resp, err := n.Request(ctx, req)
	if err == nil {
		r := resp.(*kmsg.DescribeQuorumResponse)
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return -1, fmt.Errorf("node %d: DescribeQuorum: %w", n.id, err)
		}
		if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 {
			return -1, fmt.Errorf("node %d: DescribeQuorum answered %d topics", n.id, len(r.Topics))
		}
		p := r.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return -1, fmt.Errorf("node %d: DescribeQuorum: %w", n.id, err)
		}
		if p.LeaderID < 0 {
			return -1, fmt.Errorf("node %d: DescribeQuorum: no leader", n.id)
		}
		return int(p.LeaderID), nil
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("node %d: DescribeQuorum: %w", n.id, err)
	}
	// Not served (the single-node binary): Metadata's controller.
	m, err := n.brokerMetadata(ctx)
	if err != nil {
		return -1, err
	}
	if m.ControllerID < 0 {
		return -1, fmt.Errorf("node %d knows no controller", n.id)
	}
	return int(m.ControllerID), nil
}

// Readyz is the status of the node's /readyz (200 when ready) and its body.
func (n *Node) Readyz(ctx context.Context) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.AdminAddr()+"/readyz", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := n.c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

// ready is nil when the node answers /readyz with 200 and its Metadata
// lists every node of want as a broker, with a controller id >= 0.
func (n *Node) ready(ctx context.Context, want []int) error {
	code, body, err := n.Readyz(ctx)
	if err != nil {
		return fmt.Errorf("node %d: /readyz: %w", n.id, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("node %d: /readyz: %d %s", n.id, code, body)
	}
	m, err := n.brokerMetadata(ctx)
	if err != nil {
		return err
	}
	have := make([]int, 0, len(m.Brokers))
	for _, b := range m.Brokers {
		have = append(have, int(b.NodeID))
	}
	for _, id := range want {
		if !slices.Contains(have, id) {
			slices.Sort(have)
			return fmt.Errorf("node %d: metadata lists brokers %v, not yet %d", n.id, have, id)
		}
	}
	if m.ControllerID < 0 {
		return fmt.Errorf("node %d: metadata has no controller (%d)", n.id, m.ControllerID)
	}
	return nil
}
