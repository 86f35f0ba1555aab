package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/metrics"
	"github.com/samsa-streaming/samsa/internal/server"
)

// clusterNode is one node of an in-process cluster, wired as serve wires
// a node of a quorum: a controller listener carrying the metadata log's
// Raft traffic and the controller APIs, a client listener for the
// broker's APIs.
type clusterNode struct {
	id       int32
	cfg      *config.Config
	addr     string // the client (and inter-broker) listener
	ctrlAddr string // the controller listener
	metrics  *metrics.Metrics
	b        *Broker
	srv      *server.Server
	ctrlSrv  *server.Server
	mux      *controller.Mux
	stopped  bool
}

// startCluster starts n combined nodes (broker and controller) as one
// cluster over loopback TCP and waits until all are registered and
// unfenced. props apply to every node.
func startCluster(t *testing.T, n int, props map[string]string) []*clusterNode {
	t.Helper()
	clusterID := metadata.NewClusterID()
	clients, ctrls := make([]net.Listener, n), make([]net.Listener, n)
	var voters []string
	for i := range n {
		var err error
		if clients[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ctrls[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, ctrls[i].Addr()))
	}
	nodes := make([]*clusterNode, n)
	for i := range n {
		all := map[string]string{
			"process.roles":                         "broker,controller",
			"node.id":                               fmt.Sprint(i + 1),
			"listeners":                             fmt.Sprintf("PLAINTEXT://%s,CONTROLLER://%s", clients[i].Addr(), ctrls[i].Addr()),
			"controller.quorum.voters":              strings.Join(voters, ","),
			"controller.quorum.election.timeout.ms": "500",
			"samsa.cluster.id":                      clusterID,
			"log.dirs":                              t.TempDir(),
			"samsa.admin.listener":                  "",
			"samsa.shutdown.timeout.ms":             "5000",
			"group.initial.rebalance.delay.ms":      "0",
		}
		for k, v := range props {
			all[k] = v
		}
		cfg, err := config.Parse(all)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = &clusterNode{id: int32(i + 1), cfg: cfg, addr: clients[i].Addr().String(), ctrlAddr: ctrls[i].Addr().String()}
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, node := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				node.stop(t)
			}()
		}
		wg.Wait()
	})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = node.serve(clients[i], ctrls[i])
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
	}
	return nodes
}

// serve opens the node on its listeners; it returns once the node is
// registered and unfenced, which needs a quorum of the voters serving.
func (n *clusterNode) serve(client, ctrl net.Listener) error {
	n.stopped = false
	n.metrics = metrics.New()
	n.mux = controller.NewMux(ctrl)
	apis := &ControllerListener{}
	n.ctrlSrv = server.New(server.Config{Logger: slog.New(slog.DiscardHandler)}, apis)
	if err := n.ctrlSrv.Serve(n.mux.Kafka()); err != nil {
		client.Close()
		return err
	}
	b, err := New(n.cfg, Options{Logger: slog.New(slog.DiscardHandler), Metrics: n.metrics, AdvertisedAddr: n.addr,
		RaftStream: n.mux.Raft(n.ctrlAddr), ControllerAPIs: apis.Bind})
	if err != nil {
		client.Close()
		return err
	}
	n.b = b
	n.srv = server.New(server.Config{MaxRequestBytes: n.cfg.SocketRequestMaxBytes, Observer: n.metrics}, b)
	return n.srv.Serve(client)
}

// restart starts a stopped node again on its addresses and data.
func (n *clusterNode) restart(t *testing.T) {
	t.Helper()
	client, err := net.Listen("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := net.Listen("tcp", n.ctrlAddr)
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	if err := n.serve(client, ctrl); err != nil {
		t.Fatalf("node %d restarts: %v", n.id, err)
	}
}

// stop shuts the node down as serve does: clients first, then the node
// (a controlled shutdown), then its controller listener.
func (n *clusterNode) stop(t *testing.T) {
	if n.stopped {
		return
	}
	n.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.srv != nil {
		if err := n.srv.Shutdown(ctx); err != nil {
			t.Errorf("node %d: shutdown: %v", n.id, err)
		}
	}
	if n.b != nil {
		if err := n.b.Close(); err != nil {
			t.Errorf("node %d: close: %v", n.id, err)
		}
	}
	if n.ctrlSrv != nil {
		_ = n.ctrlSrv.Shutdown(ctx)
	}
	if n.mux != nil {
		n.mux.Close()
	}
}

// requestCount is samsa_requests_total of an API, all versions.
func requestCount(t *testing.T, m *metrics.Metrics, api string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, f := range families {
		if f.GetName() != "samsa_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "api" && l.GetValue() == api {
					n += s.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// seeds lists the nodes' client addresses.
func seeds(nodes []*clusterNode) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.addr)
	}
	return out
}

// createSpreadTopic creates a topic of 3 partitions per node and returns
// each partition's leader, checking that every node leads some.
func createSpreadTopic(t *testing.T, adm *kadm.Client, topic string, nodes int) map[int32]int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, int32(3*nodes), 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for {
		leaders := map[int32]int32{}
		by := map[int32]bool{}
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			for _, p := range md.Topics[topic].Partitions {
				if p.Leader >= 0 {
					leaders[p.Partition] = p.Leader
					by[p.Leader] = true
				}
			}
			if len(leaders) == 3*nodes {
				if len(by) != nodes {
					t.Fatalf("partitions of %s led by %d of %d nodes: %v", topic, len(by), nodes, leaders)
				}
				return leaders
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("partitions of %s without leaders: %v %v", topic, leaders, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
