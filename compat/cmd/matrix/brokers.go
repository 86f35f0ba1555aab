package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/samsa-streaming/samsa/compat/faultproxy"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// broker is what the scenarios run against: one node, or a cluster of
// nodes, each behind its own listener of one faultproxy.
type broker struct {
	describe string
	addr     string // where scenarios bootstrap: node 1 (through the proxy)
	nodes    []*node
	dir      string
	proxy    *faultproxy.Proxy // clients reach every node through it
	proxyLog *os.File          // what the proxy broke
	// rf is the replication factor the scenarios create their topics with
	// and the nodes' default.replication.factor; minISR the cluster's
	// min.insync.replicas.
	rf, minISR int
}

// minInsyncReplicas is the min.insync.replicas that goes with a
// replication factor: 2 from 3 replicas up (one replica may be down and
// acks=all still has two copies), else 1.
func minInsyncReplicas(rf int) int {
	if rf >= 3 {
		return 2
	}
	return 1
}

// node is one broker process.
type node struct {
	id         int
	listen     string // its Kafka listener
	advertised string // what it tells clients: its listener of the proxy
	cmd        *exec.Cmd
	done       chan struct{}
	log        *tailBuffer
	logFile    *os.File
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freeAddr() (string, error) {
	port, err := freePort()
	return "127.0.0.1:" + strconv.Itoa(port), err
}

// startBroker starts n nodes of kind (samsa or reference; broken starts
// nothing), each a combined broker and controller, all voters of one
// controller quorum when n > 1, with default.replication.factor rf and
// min.insync.replicas to match, and waits until node 1 lists all of them
// and every node answers.
func startBroker(s *suite, kind string, n, rf int, control bool) (*broker, error) {
	if n < 1 {
		return nil, fmt.Errorf("-nodes %d: want at least 1", n)
	}
	b := &broker{rf: rf, minISR: minInsyncReplicas(rf)}
	for i := 1; i <= n; i++ {
		nd := &node{id: i, log: &tailBuffer{max: 64 << 10}}
		var err error
		if nd.listen, err = freeAddr(); err != nil {
			return nil, err
		}
		b.nodes = append(b.nodes, nd)
	}
	b.addr = b.nodes[0].listen
	if kind == "broken" {
		if control {
			return nil, errors.New("-control needs a broker")
		}
		b.describe = "nothing listening (closed port): every scenario must fail"
		return b, nil
	}
	if kind != "samsa" && kind != "reference" {
		return nil, fmt.Errorf("unknown broker kind %q", kind)
	}
	// Clients reach every node through compat/faultproxy, one listener per
	// node, which the node advertises: under -control it loses record
	// batches; otherwise it is transparent but for the idempotent scenario,
	// where it drops one Produce response (the first to any node).
	var err error
	if b.proxyLog, err = os.Create(filepath.Join(s.logs, "faultproxy.log")); err != nil {
		return nil, err
	}
	cfg := faultproxy.Config{Logf: func(f string, a ...any) { fmt.Fprintf(b.proxyLog, f+"\n", a...) }}
	if control {
		cfg.DropFetchEvery = 100
	}
	if b.proxy, err = faultproxy.Listen("127.0.0.1:0", b.nodes[0].listen, cfg); err != nil {
		return nil, err
	}
	b.nodes[0].advertised = b.proxy.Addr()
	for _, nd := range b.nodes[1:] {
		if nd.advertised, err = b.proxy.Forward("127.0.0.1:0", nd.listen); err != nil {
			b.stop()
			return nil, err
		}
	}
	if b.dir, err = os.MkdirTemp("", "samsa-compat-"); err != nil {
		b.stop()
		return nil, err
	}
	controllers := make([]string, n)
	var voters []string
	for i := range controllers {
		if controllers[i], err = freeAddr(); err != nil {
			b.stop()
			return nil, err
		}
		voters = append(voters, strconv.Itoa(i+1)+"@"+controllers[i])
	}
	if kind == "samsa" {
		err = b.startSamsa(s, controllers, voters)
	} else {
		err = b.startReference(s, controllers, voters)
	}
	if err != nil {
		b.stop()
		return nil, err
	}
	if err := b.waitReady(90 * time.Second); err != nil {
		tails := err.Error()
		for _, nd := range b.nodes {
			tails += fmt.Sprintf("\n--- node %d ---\n%s", nd.id, lastLines(nd.log.String(), 40))
		}
		b.stop()
		return nil, errors.New(tails)
	}
	if kind == "samsa" && b.minISR > 1 {
		// Samsa reads min.insync.replicas only as a dynamic broker config
		// (it refuses it at start): set the cluster-wide default, as
		// kafka-configs --entity-type brokers --entity-default would.
		if err := b.setMinISR(); err != nil {
			b.stop()
			return nil, err
		}
	}
	if rf > 1 {
		b.describe += fmt.Sprintf("; topics with replication factor %d, min.insync.replicas %d", rf, b.minISR)
	}
	if control {
		b.describe += ", through a proxy that loses record batches (negative control)"
	}
	b.addr = b.proxy.Addr()
	return b, nil
}

// setMinISR sets min.insync.replicas cluster-wide (the default broker
// resource) with IncrementalAlterConfigs, then waits until every node
// describes it.
func (b *broker) setMinISR() error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.nodes[0].advertised))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	v := strconv.Itoa(b.minISR)
	resp, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: &v}})
	for _, r := range resp {
		if err == nil && r.Err != nil {
			err = fmt.Errorf("%w %s", r.Err, r.ErrMessage)
		}
	}
	if err != nil {
		return fmt.Errorf("set min.insync.replicas=%s cluster-wide: %w", v, err)
	}
	// Every node must have applied it before the scenarios run: ask each
	// one for the cluster-wide default.
	for _, nd := range b.nodes {
		for {
			req := kmsg.NewPtrDescribeConfigsRequest()
			res := kmsg.NewDescribeConfigsRequestResource()
			res.ResourceType = kmsg.ConfigResourceTypeBroker
			res.ConfigNames = []string{"min.insync.replicas"}
			req.Resources = append(req.Resources, res)
			var got string
			kresp, err := req.RequestWith(ctx, cl.Broker(nd.id))
			if err == nil && len(kresp.Resources) == 1 {
				for _, c := range kresp.Resources[0].Configs {
					if c.Name == "min.insync.replicas" && c.Value != nil {
						got = *c.Value
					}
				}
			}
			if got == v {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("min.insync.replicas=%s set cluster-wide, but node %d describes %q (%v)", v, nd.id, got, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (b *broker) startSamsa(s *suite, controllers, voters []string) error {
	bin := filepath.Join(s.out, "samsa")
	build := exec.Command("go", "build", "-o", bin, "./cmd/samsa")
	build.Dir = s.root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build samsa: %v\n%s", err, out)
	}
	rev, _ := exec.Command("git", "-C", s.root, "rev-parse", "--short", "HEAD").Output()
	b.describe = "samsa serve (commit " + strings.TrimSpace(string(rev)) + ")"
	var clusterID string
	if len(b.nodes) > 1 {
		b.describe = fmt.Sprintf("a %d-node samsa cluster, every node a broker and a controller (commit %s)", len(b.nodes), strings.TrimSpace(string(rev)))
		out, err := exec.Command(bin, "cluster", "new-id").Output()
		if err != nil {
			return fmt.Errorf("samsa cluster new-id: %v", err)
		}
		clusterID = strings.TrimSpace(string(out))
	}
	for i, nd := range b.nodes {
		listeners := "PLAINTEXT://" + nd.listen
		if len(b.nodes) > 1 {
			listeners += ",CONTROLLER://" + controllers[i]
		}
		nd.cmd = exec.Command(bin, "serve")
		nd.cmd.Env = append(os.Environ(),
			"SAMSA_LISTENERS="+listeners,
			"SAMSA_ADVERTISED_LISTENERS=PLAINTEXT://"+nd.advertised,
			"SAMSA_LOG_DIRS="+filepath.Join(b.dir, "node-"+strconv.Itoa(nd.id)),
			// The matrix reads no metrics: the admin server takes any
			// free port, so it cannot lose one picked in advance.
			"SAMSA_ADMIN_LISTENER=127.0.0.1:0",
		)
		if b.rf > 1 {
			nd.cmd.Env = append(nd.cmd.Env, "SAMSA_DEFAULT_REPLICATION_FACTOR="+strconv.Itoa(b.rf))
		}
		if len(b.nodes) > 1 {
			nd.cmd.Env = append(nd.cmd.Env,
				"SAMSA_NODE_ID="+strconv.Itoa(nd.id),
				"SAMSA_CONTROLLER_QUORUM_VOTERS="+strings.Join(voters, ","),
				"SAMSA_CLUSTER_ID="+clusterID,
			)
		}
	}
	return b.startNodes(s)
}

func (b *broker) startReference(s *suite, controllers, voters []string) error {
	cp, err := os.ReadFile(filepath.Join(s.root, "compat", "java", "target", "classpath.txt"))
	if err != nil {
		return fmt.Errorf("the Java classpath is not built (run compat/run.sh): %v", err)
	}
	b.describe = "Apache Kafka 4.4.0 (reference, KRaft combined mode)"
	if len(b.nodes) > 1 {
		b.describe = fmt.Sprintf("a %d-node Apache Kafka 4.4.0 cluster (reference, KRaft combined mode)", len(b.nodes))
	}
	java := []string{"java", "-Xmx768m", "-cp", strings.TrimSpace(string(cp))}
	for i, nd := range b.nodes {
		props := filepath.Join(b.dir, "server-"+strconv.Itoa(nd.id)+".properties")
		os.WriteFile(props, []byte(strings.Join([]string{
			"process.roles=broker,controller", "node.id=" + strconv.Itoa(nd.id),
			"controller.quorum.voters=" + strings.Join(voters, ","),
			"listeners=PLAINTEXT://" + nd.listen + ",CONTROLLER://" + controllers[i],
			"advertised.listeners=PLAINTEXT://" + nd.advertised,
			"controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"log.dirs=" + filepath.Join(b.dir, "node-"+strconv.Itoa(nd.id)),
			"default.replication.factor=" + strconv.Itoa(b.rf), "min.insync.replicas=" + strconv.Itoa(b.minISR),
			"offsets.topic.replication.factor=" + strconv.Itoa(b.rf), "transaction.state.log.replication.factor=" + strconv.Itoa(b.rf),
			"transaction.state.log.min.isr=" + strconv.Itoa(b.minISR), "group.initial.rebalance.delay.ms=0",
			// two shared cores: a slow heartbeat must not fence a broker
			"broker.session.timeout.ms=60000", "broker.heartbeat.interval.ms=2000",
		}, "\n")+"\n"), 0o644)
		format := exec.Command(java[0], append(java[1:], "kafka.tools.StorageTool", "format", "-t", "c2Ftc2EtY29tcGF0LXJlZg", "-c", props)...)
		if out, err := format.CombinedOutput(); err != nil {
			return fmt.Errorf("format Kafka storage of node %d: %v\n%s", nd.id, err, out)
		}
		nd.cmd = exec.Command(java[0], append(java[1:], "kafka.Kafka", props)...)
	}
	return b.startNodes(s)
}

// startNodes starts every node's process; each one's output goes to
// node-N.log in the logs directory.
func (b *broker) startNodes(s *suite) error {
	for _, nd := range b.nodes {
		f, err := os.Create(filepath.Join(s.logs, "node-"+strconv.Itoa(nd.id)+".log"))
		if err != nil {
			return err
		}
		nd.logFile = f
		nd.cmd.Stdout = io.MultiWriter(f, nd.log)
		nd.cmd.Stderr = nd.cmd.Stdout
		nd.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := nd.cmd.Start(); err != nil {
			return fmt.Errorf("node %d: %v", nd.id, err)
		}
		nd.done = make(chan struct{})
		go func() { nd.cmd.Wait(); close(nd.done) }()
	}
	return nil
}

// waitReady polls with real Metadata requests until every node answers,
// through its listener of the proxy, and lists every node as a broker.
func (b *broker) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, nd := range b.nodes {
		for {
			if nd := b.exitedNode(); nd != nil {
				return fmt.Errorf("node %d exited during start-up", nd.id)
			}
			var err error
			cl, err := kgo.NewClient(kgo.SeedBrokers(nd.advertised), kgo.RequestRetries(0))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				var md kadm.Metadata
				md, err = kadm.NewClient(cl).BrokerMetadata(ctx)
				cancel()
				cl.Close()
				if err == nil && len(md.Brokers) < len(b.nodes) {
					err = fmt.Errorf("it lists %d of %d brokers", len(md.Brokers), len(b.nodes))
				}
				if err == nil {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %d not ready after %v: %v", nd.id, limit, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// exitedNode is a node whose process has exited, or nil.
func (b *broker) exitedNode() *node {
	for _, nd := range b.nodes {
		if nd.exited() {
			return nd
		}
	}
	return nil
}

func (nd *node) exited() bool {
	if nd.done == nil {
		return false
	}
	select {
	case <-nd.done:
		return true
	default:
		return false
	}
}

// stop ends every node: SIGTERM to all at once (a cluster shuts down
// together), then SIGKILL to any still running after 30 s.
func (b *broker) stop() {
	for _, nd := range b.nodes {
		if nd.cmd != nil && nd.cmd.Process != nil && !nd.exited() {
			nd.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(30 * time.Second)
	for _, nd := range b.nodes {
		if nd.done == nil {
			continue
		}
		select {
		case <-nd.done:
		case <-deadline:
			syscall.Kill(-nd.cmd.Process.Pid, syscall.SIGKILL)
			<-nd.done
		}
		if nd.logFile != nil {
			nd.logFile.Close()
			nd.logFile = nil
		}
	}
	if b.proxy != nil {
		b.proxy.Close()
		b.proxy = nil
	}
	if b.proxyLog != nil {
		b.proxyLog.Close()
		b.proxyLog = nil
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir = ""
	}
}

// spread reads node 1's metadata after the run and says how the
// partitions spread over a cluster: the leaders by node of the scenarios'
// topics, then of the internal ones (__consumer_offsets,
// __transaction_state), whose leaders are the coordinators, and how many
// replicas the partitions have. short lists the scenarios' topics whose
// partitions do not have b.rf replicas (created by a client, by Kafka
// Streams, by Connect or by auto-creation, every one should).
func (b *broker) spread() (summary string, short []string, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr))
	if err != nil {
		return "", nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).Metadata(ctx)
	if err != nil {
		return "", nil, err
	}
	var parts []string
	for _, internal := range []bool{false, true} {
		byNode := map[int32]int{}
		byReplicas := map[int]int{}
		topics, total := 0, 0
		for name, t := range md.Topics {
			if strings.HasPrefix(name, "__") != internal {
				continue
			}
			topics++
			off := false
			for _, p := range t.Partitions {
				byNode[p.Leader]++
				byReplicas[len(p.Replicas)]++
				total++
				off = off || len(p.Replicas) != b.rf
			}
			if off && !internal {
				short = append(short, name)
			}
		}
		if topics == 0 {
			continue
		}
		what := "the scenarios' %d topics have %d partitions, leaders: %s; %s"
		if internal {
			what = "the %d internal topics have %d, leaders (the coordinators): %s; %s"
		}
		parts = append(parts, fmt.Sprintf(what, topics, total,
			counted(byNode, "%d on node %d"), counted(byReplicas, "%d with %d replicas")))
	}
	slices.Sort(short)
	return strings.Join(parts, "; "), short, nil
}

// counted formats a count per key, by key, each with format (count, key).
func counted[K int | int32](m map[K]int, format string) string {
	var keys []K
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf(format, m[k], k))
	}
	return strings.Join(out, ", ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
