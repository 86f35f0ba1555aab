// Package e2e runs the real samsa binary as a separate process and drives it
// with independent Kafka clients (franz-go, sarama, segmentio/kafka-go), as a
// user would: real sockets, real files, real SIGTERM and SIGKILL.
package e2e

import (
	"context"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// clusterNodes is how many nodes startBroker runs: one process, or, with
// SAMSA_E2E_NODES=3, a cluster of three combined nodes (broker and
// controller) whose topics spread their partitions over the nodes.
var clusterNodes = func() int {
	v := os.Getenv("SAMSA_E2E_NODES")
	if v == "" {
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		fmt.Fprintf(os.Stderr, "SAMSA_E2E_NODES=%q: want a number of nodes (1 or 3)\n", v)
		os.Exit(2)
	}
	return n
}()

// broker is what a test runs against: one samsa serve process, or a cluster
// of clusterNodes processes, each with a fixed data directory and ports, so
// it can be stopped and started again on the same data. addr is node 1's
// Kafka address; clients bootstrap from every node (seeds).
type broker struct {
	t         *testing.T
	addr      string
	nodes     []*node
	extra     []string // extra KEY=VALUE environment settings, on every node
	overrides []string // key=value settings passed as --override, on every node
	clusterID string   // the cluster's id; empty for a single node
	voters    string   // controller.quorum.voters; empty for a single node
}

// node is one samsa serve process of a broker.
type node struct {
	id        int
	dataDir   string
	addr      string // Kafka listener
	ctrlAddr  string // controller listener; empty for a single node
	adminAddr string
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

// clusterAddrs picks n free loopback addresses for a cluster's nodes,
// below Linux's ephemeral port range (32768 and up): a port in that range
// can become the local end of one of the test's own connections while its
// node is down for a restart. The ports are held until all are picked, so
// they differ.
func clusterAddrs(t *testing.T, n int) []string {
	t.Helper()
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries == 1000 {
			t.Fatalf("no %d free loopback ports between 20000 and 32767", n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(20000+mathrand.IntN(12768)))
		if err != nil {
			continue
		}
		held = append(held, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// startBroker starts a fresh broker on temporary directories. env holds
// extra settings as SAMSA_* variables (e.g. "SAMSA_LOG_SEGMENT_BYTES=1048576").
func startBroker(t *testing.T, env ...string) *broker {
	t.Helper()
	return newBroker(t, env, nil)
}

// newBroker starts a fresh broker (clusterNodes nodes) with extra
// environment settings and --override settings.
func newBroker(t *testing.T, env, overrides []string) *broker {
	t.Helper()
	b := &broker{t: t, extra: env, overrides: overrides}
	// Cleanups run last-registered first: the directory is removed after
	// the nodes are killed.
	dir := t.TempDir()
	t.Cleanup(func() {
		b.kill()
		if t.Failed() {
			for _, n := range b.nodes {
				if len(b.nodes) == 1 {
					t.Logf("broker output:\n%s", n.output())
				} else {
					t.Logf("node %d output:\n%s", n.id, n.output())
				}
			}
		}
	})
	if clusterNodes == 1 {
		b.nodes = []*node{{id: 1, dataDir: dir, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), adminAddr: "127.0.0.1:" + strconv.Itoa(freePort(t))}}
		b.addr = b.nodes[0].addr
		b.start()
		return b
	}
	// A cluster's ports (three a node) are picked before its nodes start;
	// one taken meanwhile by another process fails the start, which is then
	// tried again on new ports and directories.
	for attempt := 1; ; attempt++ {
		b.newCluster(t, dir)
		err := b.tryStart()
		if err == nil {
			return b
		}
		if attempt == 3 || !strings.Contains(b.output(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("start attempt %d: a port was taken, trying new ones: %v", attempt, err)
		b.kill()
	}
}

// newCluster gives the broker clusterNodes new nodes with their own
// directories (under dir) and ports, and a new cluster id.
func (b *broker) newCluster(t *testing.T, dir string) {
	t.Helper()
	addrs := clusterAddrs(t, 3*clusterNodes)
	b.nodes = nil
	var voters []string
	for i := 1; i <= clusterNodes; i++ {
		dataDir, err := os.MkdirTemp(dir, "node"+strconv.Itoa(i)+"-")
		if err != nil {
			t.Fatal(err)
		}
		n := &node{id: i, dataDir: dataDir, addr: addrs[3*i-3], ctrlAddr: addrs[3*i-2], adminAddr: addrs[3*i-1]}
		b.nodes = append(b.nodes, n)
		voters = append(voters, strconv.Itoa(n.id)+"@"+n.ctrlAddr)
	}
	b.addr = b.nodes[0].addr
	b.voters = strings.Join(voters, ",")
	out, err := exec.Command(samsaBin, "cluster", "new-id").Output()
	if err != nil {
		t.Fatalf("samsa cluster new-id: %v", err)
	}
	b.clusterID = strings.TrimSpace(string(out))
}

// clustered reports whether the broker is a cluster of several nodes.
func (b *broker) clustered() bool { return len(b.nodes) > 1 }

// seeds are the Kafka addresses of every node, for a client's bootstrap.
func (b *broker) seeds() []string {
	s := make([]string, len(b.nodes))
	for i, n := range b.nodes {
		s[i] = n.addr
	}
	return s
}

// output is what the nodes printed, each node's under a header when there
// are several.
func (b *broker) output() string {
	if len(b.nodes) == 1 {
		return b.nodes[0].output()
	}
	var s strings.Builder
	for _, n := range b.nodes {
		fmt.Fprintf(&s, "--- node %d ---\n%s", n.id, n.output())
	}
	return s.String()
}

func (n *node) output() string {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	return n.logBuf.String()
}

type logWriter struct{ n *node }

func (w logWriter) Write(p []byte) (int, error) {
	w.n.logMu.Lock()
	defer w.n.logMu.Unlock()
	if w.n.logBuf.Len() < 4<<20 {
		w.n.logBuf.Write(p)
	}
	return len(p), nil
}

// env is a node's environment: where it listens and keeps its data, in a
// cluster its node id and the quorum, then the broker's extra settings.
func (b *broker) env(n *node) []string {
	env := append(os.Environ(),
		"SAMSA_LOG_DIRS="+n.dataDir,
		"SAMSA_ADMIN_LISTENER="+n.adminAddr,
	)
	if b.clustered() {
		env = append(env,
			"SAMSA_LISTENERS=PLAINTEXT://"+n.addr+",CONTROLLER://"+n.ctrlAddr,
			"SAMSA_NODE_ID="+strconv.Itoa(n.id),
			"SAMSA_CONTROLLER_QUORUM_VOTERS="+b.voters,
			"SAMSA_CLUSTER_ID="+b.clusterID,
		)
	} else {
		env = append(env, "SAMSA_LISTENERS=PLAINTEXT://"+n.addr)
	}
	return append(env, b.extra...)
}

// start runs every node's process (all at once: a cluster's nodes need each
// other to elect a controller) and waits until the broker answers.
func (b *broker) start() {
	b.t.Helper()
	if err := b.tryStart(); err != nil {
		b.t.Fatal(err)
	}
}

func (b *broker) tryStart() error {
	args := []string{"serve"}
	for _, o := range b.overrides {
		args = append(args, "--override", o)
	}
	for _, n := range b.nodes {
		cmd := exec.Command(samsaBin, args...)
		cmd.Env = b.env(n)
		cmd.Stdout, cmd.Stderr = logWriter{n}, logWriter{n}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start samsa: %v", err)
		}
		n.cmd = cmd
		exited := make(chan struct{})
		n.exited = exited
		go func() { cmd.Wait(); close(exited) }()
	}
	// A restart re-forms the quorum, re-registers every broker and opens
	// every partition: tens of thousands of them (the large-create test)
	// take a while on a slow disk.
	return b.waitReady(90 * time.Second)
}

// waitReady polls the broker with real requests until it answers, a process
// exits, or the deadline passes. A cluster is ready when every node answers
// Metadata listing every broker (Metadata lists unfenced brokers only) and
// a leader for every partition.
func (b *broker) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		for _, n := range b.nodes {
			select {
			case <-n.exited:
				if b.clustered() {
					return fmt.Errorf("samsa node %d exited during start-up (%v):\n%s", n.id, n.cmd.ProcessState, b.output())
				}
				return fmt.Errorf("samsa exited during start-up:\n%s", b.output())
			default:
			}
		}
		var err error
		if b.clustered() {
			err = b.clusterReady()
		} else {
			var cl *kgo.Client
			cl, err = kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err = kadm.NewClient(cl).BrokerMetadata(ctx)
				cancel()
				cl.Close()
			}
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("samsa not ready after %v: %v\n%s", limit, err, b.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterReady asks every node for the metadata of every topic and checks
// that each lists all the brokers, a controller and a leader for every
// partition.
func (b *broker) clusterReady() error {
	for _, n := range b.nodes {
		if err := b.nodeReady(n); err != nil {
			return fmt.Errorf("node %d: %w", n.id, err)
		}
	}
	return nil
}

func (b *broker) nodeReady(n *node) error {
	// Seeded with this node alone, the client's first request goes to it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.addr), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		return err
	}
	m := resp.(*kmsg.MetadataResponse)
	if len(m.Brokers) != len(b.nodes) {
		return fmt.Errorf("lists %d brokers, want %d", len(m.Brokers), len(b.nodes))
	}
	if m.ControllerID < 0 {
		return errors.New("knows no controller")
	}
	for _, t := range m.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return fmt.Errorf("topic %s: %w", *t.Topic, err)
		}
		for _, p := range t.Partitions {
			if p.Leader < 0 || p.ErrorCode != 0 {
				return fmt.Errorf("%s/%d has no leader (%v)", *t.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
	}
	return nil
}

// stop shuts every node down gracefully with SIGTERM, all at once, and
// waits for them; a cluster's node first moves its leaderships away
// (controlled shutdown, bounded by a fifth of samsa.shutdown.timeout.ms).
func (b *broker) stop() {
	b.t.Helper()
	if err := b.stopWithin(60 * time.Second); err != nil {
		b.t.Fatal(err)
	}
}

// stopWithin sends SIGTERM to every node and waits for them, failing if
// one is still running after limit.
func (b *broker) stopWithin(limit time.Duration) error {
	for _, n := range b.nodes {
		if n.cmd != nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(limit)
	for _, n := range b.nodes {
		if n.cmd == nil {
			continue
		}
		select {
		case <-n.exited:
		case <-deadline:
			if len(b.nodes) == 1 {
				return fmt.Errorf("samsa did not stop within %v of SIGTERM", limit)
			}
			return fmt.Errorf("samsa node %d did not stop within %v of SIGTERM", n.id, limit)
		}
		n.cmd = nil
	}
	return nil
}

// dataDirs are the nodes' data directories.
func (b *broker) dataDirs() []string {
	d := make([]string, len(b.nodes))
	for i, n := range b.nodes {
		d[i] = n.dataDir
	}
	return d
}

// kill stops every node with SIGKILL, as a crash (of every machine) would.
func (b *broker) kill() {
	for _, n := range b.nodes {
		if n.cmd != nil {
			n.cmd.Process.Kill()
		}
	}
	for _, n := range b.nodes {
		if n.cmd != nil {
			<-n.exited
			n.cmd = nil
		}
	}
}

// restart starts the processes again on the same data and ports.
func (b *broker) restart() {
	b.t.Helper()
	b.start()
}

// client returns a franz-go client for the broker, closed with the test.
func (b *broker) client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.seeds()...)}, opts...)...)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

func (b *broker) admin() *kadm.Client {
	return kadm.NewClient(b.client())
}

// waitNodes waits until every node of a cluster gives an answer to req()
// that check accepts: a change made through one node (a created topic, an
// altered config) is applied by each node from the metadata log a little
// later, and a test that sends the next request anywhere waits, as Kafka's
// own tests do after creating a topic. A single node has applied the
// change when it answers, so it is not polled.
func (b *broker) waitNodes(t *testing.T, what string, req func() kmsg.Request, check func(kmsg.Response) error) {
	t.Helper()
	if !b.clustered() {
		return
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range b.nodes {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := cl.Broker(n.id).Request(ctx, req())
			cancel()
			if err == nil {
				err = check(resp)
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: %s: %v", n.id, what, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitTopic waits until every node knows topic with its partitions and
// their leaders.
func (b *broker) waitTopic(t *testing.T, topic string, partitions int) {
	t.Helper()
	b.waitNodes(t, "topic "+topic+" in the metadata", func() kmsg.Request {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		return req
	}, func(r kmsg.Response) error {
		m := r.(*kmsg.MetadataResponse)
		if len(m.Topics) != 1 {
			return fmt.Errorf("%d topics in the answer", len(m.Topics))
		}
		mt := m.Topics[0]
		if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
			return err
		}
		if len(mt.Partitions) != partitions {
			return fmt.Errorf("%d partitions, want %d", len(mt.Partitions), partitions)
		}
		for _, p := range mt.Partitions {
			if p.Leader < 0 || p.ErrorCode != 0 {
				return fmt.Errorf("partition %d has no leader (%v)", p.Partition, kerr.ErrorForCode(p.ErrorCode))
			}
		}
		return nil
	})
}

// waitTopicConfig waits until every node describes topic's key as value.
func (b *broker) waitTopicConfig(t *testing.T, topic, key, value string) {
	t.Helper()
	b.waitNodes(t, fmt.Sprintf("%s=%s on topic %s", key, value, topic), func() kmsg.Request {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType = kmsg.ConfigResourceTypeTopic
		rr.ResourceName = topic
		rr.ConfigNames = []string{key}
		req.Resources = append(req.Resources, rr)
		return req
	}, func(r kmsg.Response) error {
		for _, res := range r.(*kmsg.DescribeConfigsResponse).Resources {
			if err := kerr.ErrorForCode(res.ErrorCode); err != nil {
				return err
			}
			for _, c := range res.Configs {
				if c.Name == key && c.Value != nil && *c.Value == value {
					return nil
				}
			}
		}
		return fmt.Errorf("%s is not %s yet", key, value)
	})
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
