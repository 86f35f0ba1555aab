// Command cluster measures a 3-node Samsa cluster on one machine: how long
// admin operations stop after the active controller is killed (kill -9),
// how long a committed metadata change takes to reach every node, and how
// long a cold start of three nodes holding many partitions takes until
// every partition has a leader. It runs real samsa serve processes on
// 127.x.y.1-3 and speaks Kafka to them with franz-go, as a user would.
//
//	go run ./bench/cluster -runs 20 -partitions 10000
//
// It prints a Markdown section for docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type node struct {
	id   int
	host string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

type cluster struct {
	bin       string
	clusterID string
	nodes     []*node
}

func main() {
	bin := flag.String("samsa", "", "the samsa binary (default: build ./cmd/samsa)")
	runs := flag.Int("runs", 20, "controller kills to time")
	changes := flag.Int("changes", 200, "metadata changes whose propagation is timed")
	partitions := flag.Int("partitions", 10000, "partitions for the cold-start measurement (0 skips it)")
	keep := flag.Bool("keep", false, "keep the data and logs")
	flag.Parse()
	if err := run(*bin, *runs, *changes, *partitions, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "cluster bench:", err)
		os.Exit(1)
	}
}

func run(bin string, runs, changes, partitions int, keep bool) error {
	work, err := os.MkdirTemp("", "samsa-cluster-bench")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	} else {
		fmt.Fprintln(os.Stderr, "data and logs in", work)
	}
	if bin == "" {
		bin = filepath.Join(work, "samsa")
		build := exec.Command("go", "build", "-o", bin, "./cmd/samsa")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	out, err := exec.Command(bin, "cluster", "new-id").Output()
	if err != nil {
		return fmt.Errorf("cluster new-id: %w", err)
	}
	c := &cluster{bin: bin, clusterID: strings.TrimSpace(string(out))}
	block := fmt.Sprintf("127.%d.%d", 100+rand.IntN(100), 1+rand.IntN(250))
	for i := 1; i <= 3; i++ {
		c.nodes = append(c.nodes, &node{id: i, host: fmt.Sprintf("%s.%d", block, i), dir: filepath.Join(work, fmt.Sprintf("node-%d", i))})
	}
	defer c.killAll()
	for _, n := range c.nodes {
		if err := c.start(n); err != nil {
			return err
		}
	}
	if err := c.waitReady(60 * time.Second); err != nil {
		return err
	}
	fmt.Printf("## Cluster\n\n3 combined nodes (broker and controller) on one machine, defaults (controller.quorum.election.timeout.ms 1000, broker.heartbeat.interval.ms 1000, broker.session.timeout.ms 6000). Command: `go run ./bench/cluster -runs %d -changes %d -partitions %d`, %s.\n\n", runs, changes, partitions, time.Now().UTC().Format("2006-01-02"))

	failovers, err := c.controllerFailover(runs)
	if err != nil {
		return err
	}
	fmt.Printf("- **Controller failover** (kill -9 of the active controller until CreateTopics through a surviving node succeeds), %d runs: p50 %s, p99 %s, max %s.\n", len(failovers), pct(failovers, 50), pct(failovers, 99), pct(failovers, 100))

	delays, err := c.propagation(changes)
	if err != nil {
		return err
	}
	fmt.Printf("- **Metadata propagation** (CreateTopics answered by the node it was sent to, until every node's Metadata lists the topic), %d changes: p50 %s, p99 %s, max %s.\n", len(delays), pct(delays, 50), pct(delays, 99), pct(delays, 100))

	if partitions > 0 {
		d, err := c.coldStart(partitions)
		if err != nil {
			return err
		}
		fmt.Printf("- **Cold start** of the 3 nodes holding %d partitions (SIGTERM all, start all, until every node is ready and every partition has a leader): %s.\n", partitions, d.Round(time.Millisecond))
	}
	return nil
}

func (c *cluster) voters() string {
	var v []string
	for _, n := range c.nodes {
		v = append(v, fmt.Sprintf("%d@%s:9093", n.id, n.host))
	}
	return strings.Join(v, ",")
}

func (c *cluster) start(n *node) error {
	logf, err := os.OpenFile(filepath.Join(filepath.Dir(n.dir), fmt.Sprintf("node-%d.log", n.id)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "serve",
		"--override", fmt.Sprintf("node.id=%d", n.id),
		"--override", fmt.Sprintf("listeners=PLAINTEXT://%s:9092,CONTROLLER://%s:9093", n.host, n.host),
		"--override", "controller.quorum.voters="+c.voters(),
		"--override", "samsa.cluster.id="+c.clusterID,
		"--override", "log.dirs="+n.dir,
		"--override", fmt.Sprintf("samsa.admin.listener=%s:9644", n.host),
		"--override", "max.broker.partitions=100000",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	n.cmd, n.log, n.done = cmd, logf, make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(n.done) }()
	return nil
}

func (c *cluster) kill(n *node) {
	if n.cmd == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.done
	n.cmd = nil
}

func (c *cluster) stop(n *node) {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	<-n.done
	n.cmd = nil
}

func (c *cluster) killAll() {
	for _, n := range c.nodes {
		c.kill(n)
	}
}

// admin is a client seeded with the given nodes only.
func (c *cluster) admin(nodes ...*node) (*kgo.Client, *kadm.Client, error) {
	var seeds []string
	for _, n := range nodes {
		seeds = append(seeds, n.host+":9092")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, nil, err
	}
	return cl, kadm.NewClient(cl), nil
}

// waitReady waits until every node's /readyz answers 200 and Metadata
// from node 1 lists three unfenced brokers.
func (c *cluster) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		last = c.ready()
		if last == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("cluster not ready within %s: %v", limit, last)
}

func (c *cluster) ready() error {
	for _, n := range c.nodes {
		resp, err := http.Get("http://" + n.host + ":9644/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("node %d: /readyz %d", n.id, resp.StatusCode)
		}
	}
	cl, adm, err := c.admin(c.nodes[0])
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if len(m.Brokers) != 3 {
		return fmt.Errorf("%d brokers live", len(m.Brokers))
	}
	return nil
}

// activeController asks DescribeQuorum for the quorum's leader.
func (c *cluster) activeController() (int, error) {
	cl, _, err := c.admin(c.nodes...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	t.Partitions = append(t.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, errors.New("DescribeQuorum: no partition")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return 0, err
	}
	return int(p.LeaderID), nil
}

func (c *cluster) controllerFailover(runs int) ([]time.Duration, error) {
	var out []time.Duration
	for r := 0; r < runs; r++ {
		id, err := c.activeController()
		if err != nil {
			return nil, err
		}
		victim := c.nodes[id-1]
		var survivors []*node
		for _, n := range c.nodes {
			if n != victim {
				survivors = append(survivors, n)
			}
		}
		cl, adm, err := c.admin(survivors...)
		if err != nil {
			return nil, err
		}
		c.kill(victim)
		start := time.Now()
		name := fmt.Sprintf("failover-%d-%d", r, rand.Int())
		var took time.Duration
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			resp, err := adm.CreateTopic(ctx, 1, 1, nil, name)
			cancel()
			if err == nil && resp.Err == nil {
				took = time.Since(start)
				break
			}
			if time.Since(start) > 30*time.Second {
				cl.Close()
				return nil, fmt.Errorf("run %d: no create within 30 s: %v %v", r, err, resp.Err)
			}
		}
		cl.Close()
		out = append(out, took)
		fmt.Fprintf(os.Stderr, "failover run %d: node %d killed, create after %s\n", r, id, took.Round(time.Millisecond))
		if err := c.start(victim); err != nil {
			return nil, err
		}
		if err := c.waitReady(60 * time.Second); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *cluster) propagation(changes int) ([]time.Duration, error) {
	clients := make([]*kgo.Client, len(c.nodes))
	for i, n := range c.nodes {
		// A client per node that sends its Metadata to that node only.
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.host+":9092"), kgo.MetadataMinAge(10*time.Millisecond))
		if err != nil {
			return nil, err
		}
		defer cl.Close()
		clients[i] = cl
	}
	var out []time.Duration
	for r := 0; r < changes; r++ {
		via := c.nodes[r%len(c.nodes)]
		cl, adm, err := c.admin(via)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("prop-%d-%d", r, rand.Int())
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		resp, err := adm.CreateTopic(ctx, 1, 1, nil, name)
		cancel()
		cl.Close()
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		answered := time.Now()
		for i, ncl := range clients {
			for {
				if seen, err := hasTopic(ncl, c.nodes[i], name); err != nil {
					return nil, err
				} else if seen {
					break
				}
				if time.Since(answered) > 10*time.Second {
					return nil, fmt.Errorf("node %d never listed %s", c.nodes[i].id, name)
				}
				time.Sleep(200 * time.Microsecond)
			}
		}
		out = append(out, time.Since(answered))
	}
	return out, nil
}

// hasTopic asks one node (by its seed connection) whether its Metadata
// lists the topic.
func hasTopic(cl *kgo.Client, n *node, topic string) (bool, error) {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = false
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return false, fmt.Errorf("no seed for node %d", n.id)
	}
	r, err := seeds[0].Request(ctx, req)
	if err != nil {
		return false, err
	}
	resp := r.(*kmsg.MetadataResponse)
	return len(resp.Topics) == 1 && resp.Topics[0].ErrorCode == 0, nil
}

func (c *cluster) coldStart(partitions int) (time.Duration, error) {
	cl, adm, err := c.admin(c.nodes...)
	if err != nil {
		return 0, err
	}
	const perTopic = 1000
	var topics []string
	for made := 0; made < partitions; made += perTopic {
		n := min(perTopic, partitions-made)
		name := fmt.Sprintf("cold-%d", made/perTopic)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		resp, err := adm.CreateTopic(ctx, int32(n), 1, nil, name)
		cancel()
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			cl.Close()
			return 0, fmt.Errorf("create %s: %w", name, err)
		}
		topics = append(topics, name)
	}
	cl.Close()
	for _, n := range c.nodes {
		c.stop(n)
	}
	start := time.Now()
	for _, n := range c.nodes {
		if err := c.start(n); err != nil {
			return 0, err
		}
	}
	if err := c.waitReady(120 * time.Second); err != nil {
		return 0, err
	}
	cl, adm, err = c.admin(c.nodes...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		td, err := adm.ListTopics(ctx, topics...)
		cancel()
		if err == nil && allLed(td, partitions) {
			return time.Since(start), nil
		}
		if time.Since(start) > 120*time.Second {
			return 0, fmt.Errorf("partitions without a leader 120 s after start: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func allLed(td kadm.TopicDetails, want int) bool {
	n := 0
	for _, t := range td {
		for _, p := range t.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false
			}
			n++
		}
	}
	return n == want
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return s[i].Round(time.Millisecond)
}
