package cluster

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Fixed ports on every node's address.
const (
	KafkaPort      = 9092
	ControllerPort = 9093
	AdminPort      = 9644
)

// Clients is the id of the clients' address (127.x.y.100) in Partition:
// Partition([]int{Clients}, []int{2}) cuts every client made by Client,
// Admin or Node.Client off node 2.
const Clients = 100

// controlHost is the last byte of the address the harness's own probes
// come from; partitions never cut it.
const controlHost = 101

// Options describe a cluster. The zero value is one combined node.
type Options struct {
	// Nodes is the number of combined broker+controller nodes (the Raft
	// voters), ids 1..Nodes; 0 means 1.
	Nodes int
	// Brokers is the number of broker-only nodes, ids Nodes+1..Nodes+Brokers.
	Brokers int
	// Racks[i-1] is node i's broker.rack; "" or missing: none.
	Racks []string
	// HeartbeatMs and SessionMs are broker.heartbeat.interval.ms and
	// broker.session.timeout.ms; 0 means 1000 and 6000.
	HeartbeatMs, SessionMs int
	// ExtraProps[i] are more properties for node i, over the harness's;
	// ExtraProps[0] are for every node (a node's own entry wins).
	ExtraProps map[int]map[string]string
	// ExtraEnv[i] are KEY=VALUE environment settings for node i, [0] for
	// every node (test-only switches such as SAMSA_TEST_VFS).
	ExtraEnv map[int][]string
	// LogLevel is the nodes' --log-level; "" means debug.
	LogLevel string
	// Binary is the samsa binary; "" means the one Main built.
	Binary string
	// StartTimeout bounds every wait for readiness (Start, Restart,
	// WaitReady without a timeout); 0 means 60 s.
	StartTimeout time.Duration
	// StopTimeout bounds Stop's wait after SIGTERM; 0 means 60 s.
	StopTimeout time.Duration
}

// Cluster is a set of samsa processes started by Start and stopped, all of
// them, when the test ends (passed or failed).
type Cluster struct {
	t        testing.TB
	opts     Options
	id       string // samsa.cluster.id
	x, y     int    // the block 127.x.y.0/24
	dir      string
	bin      string
	multi    bool // nodes get the cluster settings
	nodes    []*Node
	logLevel string

	http *http.Client

	nftMu    sync.Mutex
	nftTable bool // our nft table exists
}

// Start starts a cluster and waits until it is ready (see WaitReady). A
// cluster of more than one node, or with options that need the cluster
// settings, skips the test while the binary lacks them (ClusterSupported).
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.Brokers < 0 || opts.Nodes+opts.Brokers >= Clients {
		t.Fatalf("cluster: %d nodes and %d brokers: at most %d in all", opts.Nodes, opts.Brokers, Clients-1)
	}
	if opts.HeartbeatMs == 0 {
		opts.HeartbeatMs = 1000
	}
	if opts.SessionMs == 0 {
		opts.SessionMs = 6000
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 60 * time.Second
	}
	c := &Cluster{t: t, opts: opts, bin: opts.Binary, logLevel: opts.LogLevel}
	if c.bin == "" {
		c.bin = env.binary
	}
	if c.bin == "" {
		t.Fatal("cluster: no samsa binary: call cluster.Main from the package's TestMain")
	}
	if c.logLevel == "" {
		c.logLevel = "debug"
	}
	multi, reason := ClusterSupported()
	if !multi {
		var needs []string
		if opts.Nodes+opts.Brokers > 1 || opts.Brokers > 0 {
			needs = append(needs, fmt.Sprintf("%d nodes", opts.Nodes+opts.Brokers))
		}
		if slices.ContainsFunc(opts.Racks, func(r string) bool { return r != "" }) {
			needs = append(needs, "racks")
		}
		if opts.HeartbeatMs != 1000 || opts.SessionMs != 6000 {
			needs = append(needs, "heartbeat and session timeouts")
		}
		if len(needs) > 0 {
			t.Skipf("cluster with %s: %s", strings.Join(needs, ", "), reason)
		}
	}
	c.multi = multi
	c.id = newClusterID()
	c.x, c.y = allocateBlock(t, opts.Nodes+opts.Brokers)
	c.http = c.newHTTPClient()
	t.Cleanup(func() { releaseBlock(c.x, c.y) })

	dir, err := os.MkdirTemp(env.root, "cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // nodes may run under other user ids
		t.Fatal(err)
	}
	artifacts := t.ArtifactDir() // now: it registers a cleanup of its own

	for i := 1; i <= opts.Nodes+opts.Brokers; i++ {
		n := &Node{
			c:          c,
			id:         i,
			controller: i <= opts.Nodes,
			host:       c.host(i),
			dataDir:    filepath.Join(dir, fmt.Sprintf("node-%d", i)),
			uid:        -1,
		}
		if env.netns {
			n.uid = nodeUID(c.x, c.y, i)
		}
		if err := n.makeDataDir(); err != nil {
			t.Fatal(err)
		}
		n.props = c.props(n)
		c.nodes = append(c.nodes, n)
	}
	// Registered after the directory's removal, so it runs before it.
	t.Cleanup(func() { c.cleanup(artifacts) })

	mode := "single-node settings"
	if c.multi {
		mode = "cluster settings"
	}
	t.Logf("cluster %s: %d combined nodes, %d broker-only, on 127.%d.%d.0/24 (%s), in %s",
		c.id, opts.Nodes, opts.Brokers, c.x, c.y, mode, dir)
	for _, n := range c.nodes {
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReady(t, opts.StartTimeout)
	return c
}

// cleanup kills every node, removes the nft rules, closes the probes and,
// when the test failed, prints the end of every node's log (the whole logs
// go to the test's artifact directory: go test -artifacts keeps them).
func (c *Cluster) cleanup(artifacts string) {
	for _, n := range c.nodes {
		n.kill("cleanup")
	}
	c.deleteTable()
	for _, n := range c.nodes {
		n.closeControl()
	}
	if !c.t.Failed() {
		return
	}
	for _, n := range c.nodes {
		logs := n.Logs()
		path := filepath.Join(artifacts, fmt.Sprintf("node-%d.log", n.id))
		if err := os.WriteFile(path, []byte(logs), 0o644); err != nil {
			path = "not written: " + err.Error()
		}
		c.t.Logf("node %d (%s), last 150 lines of its output (all of it in %s, which go test -artifacts -outputdir DIR keeps):\n%s",
			n.id, n.host, path, lastLines(logs, 150))
	}
}

// props are the properties a node starts with.
func (c *Cluster) props(n *Node) map[string]string {
	p := map[string]string{
		"node.id":              strconv.Itoa(n.id),
		"advertised.listeners": "PLAINTEXT://" + n.Addr(),
		"log.dirs":             n.dataDir,
		"samsa.admin.listener": n.AdminAddr(),
		"samsa.cluster.id":     c.id,
	}
	if !c.multi {
		p["listeners"] = "PLAINTEXT://" + n.Addr()
	} else {
		roles, listeners := "broker", "PLAINTEXT://"+n.Addr()
		if n.controller {
			roles = "broker,controller"
			listeners += ",CONTROLLER://" + n.ControllerAddr()
		}
		var voters []string
		for i := 1; i <= c.opts.Nodes; i++ {
			voters = append(voters, fmt.Sprintf("%d@%s", i, net.JoinHostPort(c.host(i), strconv.Itoa(ControllerPort))))
		}
		p["process.roles"] = roles
		p["listeners"] = listeners
		p["controller.listener.names"] = "CONTROLLER"
		p["inter.broker.listener.name"] = "PLAINTEXT"
		p["controller.quorum.voters"] = strings.Join(voters, ",")
		p["broker.heartbeat.interval.ms"] = strconv.Itoa(c.opts.HeartbeatMs)
		p["broker.session.timeout.ms"] = strconv.Itoa(c.opts.SessionMs)
		if n.id <= len(c.opts.Racks) && c.opts.Racks[n.id-1] != "" {
			p["broker.rack"] = c.opts.Racks[n.id-1]
		}
	}
	maps.Copy(p, c.opts.ExtraProps[0])
	maps.Copy(p, c.opts.ExtraProps[n.id])
	return p
}

// host is the address of node i (or of Clients, or of the harness).
func (c *Cluster) host(i int) string { return fmt.Sprintf("127.%d.%d.%d", c.x, c.y, i) }

// ID is the cluster id (samsa.cluster.id of every node).
func (c *Cluster) ID() string { return c.id }

// Dir is the directory holding the nodes' data directories and properties.
func (c *Cluster) Dir() string { return c.dir }

// Multi reports whether the nodes run with the cluster settings (false:
// one node with today's single-node settings).
func (c *Cluster) Multi() bool { return c.multi }

// Node returns node i (1-based); the test fails for an unknown id.
func (c *Cluster) Node(i int) *Node {
	c.t.Helper()
	if i < 1 || i > len(c.nodes) {
		c.t.Fatalf("cluster: no node %d (nodes 1..%d)", i, len(c.nodes))
	}
	return c.nodes[i-1]
}

// Nodes returns every node, by id.
func (c *Cluster) Nodes() []*Node { return slices.Clone(c.nodes) }

// IDs are the ids of every node.
func (c *Cluster) IDs() []int {
	ids := make([]int, len(c.nodes))
	for i := range ids {
		ids[i] = i + 1
	}
	return ids
}

// Bootstrap is every node's Kafka address, comma-separated.
func (c *Cluster) Bootstrap() string { return strings.Join(c.addrs(), ",") }

func (c *Cluster) addrs() []string {
	a := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		a[i] = n.Addr()
	}
	return a
}

// ClientAddr is the address clients connect from (127.x.y.100).
func (c *Cluster) ClientAddr() string { return c.host(Clients) }

// Client returns a franz-go client seeded with every node, connecting from
// the clients' address, closed when the test ends. opts come after the
// harness's, so kgo.SeedBrokers among them replaces the seeds.
func (c *Cluster) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(c.addrs()...), kgo.Dialer(c.dialer(Clients))}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client over Client(t, opts...).
func (c *Cluster) Admin(t testing.TB, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(c.Client(t, opts...))
}

// dialer connects from address 127.x.y.from.
func (c *Cluster) dialer(from int) func(ctx context.Context, network, host string) (net.Conn, error) {
	timeout := 10 * time.Second
	if from == controlHost {
		timeout = 3 * time.Second
	}
	d := &net.Dialer{
		Timeout:   timeout,
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.host(from))},
	}
	return d.DialContext
}

// newHTTPClient is the harness's HTTP client for the admin endpoints, from
// the harness's address, a new connection each time (nodes come and go).
func (c *Cluster) newHTTPClient() *http.Client {
	return &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{DialContext: c.dialer(controlHost), DisableKeepAlives: true},
	}
}

// KillAll sends SIGKILL to every running node, all at once as a power
// loss would, and waits until they are all gone.
func (c *Cluster) KillAll() {
	c.t.Helper()
	waits := make([]func() error, len(c.nodes))
	for i, n := range c.nodes {
		waits[i] = n.sigkill("SIGKILL (every node)")
	}
	for _, wait := range waits {
		if err := wait(); err != nil {
			c.t.Fatal(err)
		}
	}
}

// WaitReady waits, at most timeout (0: Options.StartTimeout), until every
// running node that is not paused answers /readyz with 200 and its Metadata
// lists every one of those nodes as a broker, with a controller id >= 0.
// It fails the test at once if one of them exits.
func (c *Cluster) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	if timeout == 0 {
		timeout = c.opts.StartTimeout
	}
	var up []*Node
	for _, n := range c.nodes {
		if n.Running() && !n.Paused() {
			up = append(up, n)
		}
	}
	if err := c.waitReady(up, up, timeout); err != nil {
		t.Fatal(err)
	}
}

// waitReady polls until every node of check is ready and lists every node
// of want, a node exits, or timeout passes.
func (c *Cluster) waitReady(check, want []*Node, timeout time.Duration) error {
	ids := make([]int, len(want))
	for i, n := range want {
		ids[i] = n.id
	}
	start := time.Now()
	deadline := start.Add(timeout)
	var last error
	for {
		last = nil
		for _, n := range check {
			if err := n.exitedErr(); err != nil {
				return fmt.Errorf("cluster: waiting for readiness: %w\nits output ends with:\n%s", err, lastLines(n.Logs(), 60))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := n.ready(ctx, ids)
			cancel()
			if err != nil {
				last = err
				break
			}
		}
		if last == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: nodes %v not ready after %v: %v", ids, time.Since(start).Round(time.Millisecond), last)
		}
		time.Sleep(pollInterval)
	}
}

// ActiveController returns the active controller every running node that
// is not paused agrees on (Node.ActiveController); an error when one of
// them does not know or they disagree.
func (c *Cluster) ActiveController(ctx context.Context) (int, error) {
	id, from := -1, 0
	for _, n := range c.nodes {
		if !n.Running() || n.Paused() {
			continue
		}
		got, err := n.ActiveController(ctx)
		if err != nil {
			return -1, err
		}
		if id >= 0 && got != id {
			return -1, fmt.Errorf("cluster: node %d says the active controller is %d, node %d says %d", from, id, n.id, got)
		}
		id, from = got, n.id
	}
	if id < 0 {
		return -1, errors.New("cluster: no node is running")
	}
	return id, nil
}

// newClusterID is a random cluster id in Kafka's form: a version-4 UUID in
// URL-safe base64 without padding (22 characters).
func newClusterID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// Blocks in use by this test binary's clusters.
var blocks struct {
	sync.Mutex
	used map[[2]int]bool
}

// allocateBlock picks a free 127.x.y.0/24 for a cluster of n nodes: not
// used by another cluster of this binary, x never 0, and every port the
// cluster will listen on free (outside a namespace of our own other
// programs may use loopback addresses too).
func allocateBlock(t testing.TB, n int) (x, y int) {
	t.Helper()
	blocks.Lock()
	defer blocks.Unlock()
	if blocks.used == nil {
		blocks.used = map[[2]int]bool{}
	}
	for range 50 {
		x, y = 1+rand.IntN(254), rand.IntN(256)
		if blocks.used[[2]int{x, y}] || !portsFree(x, y, n) {
			continue
		}
		blocks.used[[2]int{x, y}] = true
		return x, y
	}
	t.Fatal("cluster: no free 127.x.y.0/24 block after 50 tries")
	return 0, 0
}

func releaseBlock(x, y int) {
	blocks.Lock()
	defer blocks.Unlock()
	delete(blocks.used, [2]int{x, y})
}

func portsFree(x, y, n int) bool {
	for i := 1; i <= n; i++ {
		for _, port := range []int{KafkaPort, ControllerPort, AdminPort} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.%d.%d.%d:%d", x, y, i, port))
			if err != nil {
				return false
			}
			l.Close()
		}
	}
	return true
}

// nodeUID is the user id node i of block x.y runs under inside the
// namespace: distinct for every node of every block.
func nodeUID(x, y, i int) int { return 1_000_000 + (x<<16 | y<<8 | i) }
