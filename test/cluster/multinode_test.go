package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Multi-node tests: they skip until the binary takes the cluster settings
// (ClusterSupported), and say what a cluster must do.

// TestThreeNodesForm: every node's Metadata lists the three brokers with
// their addresses and racks, and a controller among them; a topic of 6
// partitions (RF 1) created through node 2 has leaders on all three nodes;
// a client seeded with node 3 only produces to and consumes from all of it.
func TestThreeNodesForm(t *testing.T) {
	RequireCluster(t)
	racks := []string{"rack-a", "rack-b", "rack-c"}
	c := Start(t, Options{Nodes: 3, Racks: racks})
	ctx := testContext(t, 2*time.Minute)

	for _, n := range c.Nodes() {
		m, err := n.Metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Brokers) != 3 {
			t.Fatalf("node %d lists %d brokers, want 3: %+v", n.ID(), len(m.Brokers), m.Brokers)
		}
		for _, b := range m.Brokers {
			want := c.Node(int(b.NodeID))
			if b.Host != want.Host() || b.Port != KafkaPort {
				t.Errorf("node %d lists broker %d at %s:%d, want %s", n.ID(), b.NodeID, b.Host, b.Port, want.Addr())
			}
			if b.Rack == nil || *b.Rack != racks[b.NodeID-1] {
				t.Errorf("node %d lists broker %d in rack %v, want %s", n.ID(), b.NodeID, b.Rack, racks[b.NodeID-1])
			}
		}
		if m.ControllerID < 1 || m.ControllerID > 3 {
			t.Errorf("node %d says the controller is %d, want one of 1..3", n.ID(), m.ControllerID)
		}
	}
	if _, err := c.ActiveController(ctx); err != nil {
		t.Fatal(err)
	}

	createTopic(t, ctx, c.Node(2), "spread", 6)
	leaders := waitLeaders(t, c, "spread", 6)
	if led := slices.Sorted(maps.Values(leaders)); !slices.Contains(led, 1) || !slices.Contains(led, 2) || !slices.Contains(led, 3) {
		t.Fatalf("leaders of spread's partitions: %v, want every node to lead some", leaders)
	}

	cl := c.Node(3).Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	var want []string
	for i := range 60 {
		v := fmt.Sprintf("v-%d", i)
		want = append(want, v)
		recs = append(recs, &kgo.Record{Topic: "spread", Partition: int32(i % 6), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce through a client seeded with node 3: %v", err)
	}
	sameValues(t, consume(t, ctx, func(o ...kgo.Opt) *kgo.Client { return c.Node(3).Client(t, o...) }, "spread", 60), want)
}

// TestControllerFailover kills the active controller with SIGKILL and
// measures how long until CreateTopics through a surviving node succeeds;
// the killed node then rejoins.
func TestControllerFailover(t *testing.T) {
	RequireCluster(t)
	c := Start(t, Options{Nodes: 3})
	ctx := testContext(t, 2*time.Minute)

	var ctrl int
	WaitFor(t, 30*time.Second, func() error {
		var err error
		ctrl, err = c.ActiveController(ctx)
		return err
	})
	survivor := c.Node(ctrl%3 + 1)
	c.Node(ctrl).Kill()
	killed := time.Now()
	WaitFor(t, 30*time.Second, func() error {
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		err := tryCreateTopic(short, survivor, "after-failover", 3)
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil // an earlier attempt created it, its answer was lost
		}
		return err
	})
	t.Logf("CreateTopics through node %d succeeded %v after the controller (node %d) was killed",
		survivor.ID(), time.Since(killed).Round(time.Millisecond), ctrl)

	c.Node(ctrl).Restart()
	c.WaitReady(t, 0)
	waitLeaders(t, c, "after-failover", 3)
}

// TestPausedBrokerFenced pauses a broker (not the active controller) for
// longer than the session timeout: the others stop listing it and its
// partitions (RF 1) have no leader; resumed, it comes back with them.
func TestPausedBrokerFenced(t *testing.T) {
	RequireCluster(t)
	opts := Options{Nodes: 3, HeartbeatMs: 250, SessionMs: 2000}
	c := Start(t, opts)
	ctx := testContext(t, 2*time.Minute)

	createTopic(t, ctx, c.Node(1), "fenced", 6)
	leaders := waitLeaders(t, c, "fenced", 6)
	var ctrl int
	WaitFor(t, 30*time.Second, func() error {
		var err error
		ctrl, err = c.ActiveController(ctx)
		return err
	})
	victim, observer := c.Node(ctrl%3+1), c.Node(ctrl)
	var victims []int32
	for p, l := range leaders {
		if l == victim.ID() {
			victims = append(victims, p)
		}
	}
	if len(victims) == 0 {
		t.Fatalf("node %d leads none of %v", victim.ID(), leaders)
	}

	victim.Pause()
	paused := time.Now()
	WaitFor(t, time.Duration(opts.SessionMs)*time.Millisecond+20*time.Second, func() error {
		m, err := observer.Metadata(ctx, "fenced")
		if err != nil {
			return err
		}
		for _, b := range m.Brokers {
			if int(b.NodeID) == victim.ID() {
				return fmt.Errorf("node %d still lists paused node %d", observer.ID(), victim.ID())
			}
		}
		for _, p := range m.Topics[0].Partitions {
			if slices.Contains(victims, p.Partition) && p.Leader != -1 && p.ErrorCode != kerr.LeaderNotAvailable.Code {
				return fmt.Errorf("partition %d led by the paused node has leader %d", p.Partition, p.Leader)
			}
		}
		return nil
	})
	t.Logf("node %d fenced %v after SIGSTOP (session timeout %d ms)", victim.ID(), time.Since(paused).Round(time.Millisecond), opts.SessionMs)

	victim.Resume()
	c.WaitReady(t, 30*time.Second)
	waitLeaders(t, c, "fenced", 6)
}

// createTopic creates topic (RF 1) through node n itself.
func createTopic(t *testing.T, ctx context.Context, n *Node, topic string, partitions int32) {
	t.Helper()
	if err := tryCreateTopic(ctx, n, topic, partitions); err != nil {
		t.Fatalf("create %s through node %d: %v", topic, n.ID(), err)
	}
}

func tryCreateTopic(ctx context.Context, n *Node, topic string, partitions int32) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := n.Request(ctx, req)
	if err != nil {
		return err
	}
	r := resp.(*kmsg.CreateTopicsResponse)
	if len(r.Topics) != 1 {
		return fmt.Errorf("CreateTopics answered %d topics", len(r.Topics))
	}
	return kerr.ErrorForCode(r.Topics[0].ErrorCode)
}

// waitLeaders waits until every running node's Metadata gives each of the
// topic's partitions the same leader, a node that runs, and returns
// partition → leader.
func waitLeaders(t *testing.T, c *Cluster, topic string, partitions int) map[int32]int {
	t.Helper()
	var leaders map[int32]int
	WaitFor(t, 60*time.Second, func() error {
		leaders = nil
		for _, n := range c.Nodes() {
			if !n.Running() || n.Paused() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err := n.Metadata(ctx, topic)
			cancel()
			if err != nil {
				return err
			}
			if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != partitions {
				return fmt.Errorf("node %d: metadata of %s: %+v", n.ID(), topic, m.Topics)
			}
			got := map[int32]int{}
			for _, p := range m.Topics[0].Partitions {
				if p.ErrorCode != 0 || p.Leader < 1 || int(p.Leader) > len(c.nodes) || !c.Node(int(p.Leader)).Running() {
					return fmt.Errorf("node %d: %s[%d] has leader %d (%v)", n.ID(), topic, p.Partition, p.Leader, kerr.ErrorForCode(p.ErrorCode))
				}
				got[p.Partition] = int(p.Leader)
			}
			if leaders != nil && !maps.Equal(leaders, got) {
				return fmt.Errorf("nodes disagree on %s's leaders: %v and node %d's %v", topic, leaders, n.ID(), got)
			}
			leaders = got
		}
		return nil
	})
	return leaders
}

// TestIsolatedControllerReplaced cuts the active controller off every
// other node and the clients: the two others elect a controller of their
// own, fence the isolated node and still create topics; after Heal the
// isolated node is back in the cluster.
func TestIsolatedControllerReplaced(t *testing.T) {
	RequireCluster(t)
	RequirePartitions(t)
	opts := Options{Nodes: 3, HeartbeatMs: 250, SessionMs: 2000}
	c := Start(t, opts)
	ctx := testContext(t, 2*time.Minute)

	var ctrl int
	WaitFor(t, 30*time.Second, func() error {
		var err error
		ctrl, err = c.ActiveController(ctx)
		return err
	})
	var majority []*Node
	for _, n := range c.Nodes() {
		if n.ID() != ctrl {
			majority = append(majority, n)
		}
	}
	c.Isolate(ctrl)
	isolated := time.Now()
	WaitFor(t, 30*time.Second, func() error {
		for _, n := range majority {
			got, err := n.ActiveController(ctx)
			if err != nil {
				return err
			}
			if got == ctrl {
				return fmt.Errorf("node %d still has node %d as the active controller", n.ID(), ctrl)
			}
			m, err := n.brokerMetadata(ctx)
			if err != nil {
				return err
			}
			for _, b := range m.Brokers {
				if int(b.NodeID) == ctrl {
					return fmt.Errorf("node %d still lists the isolated node %d", n.ID(), ctrl)
				}
			}
		}
		return nil
	})
	t.Logf("the majority replaced and fenced the isolated controller (node %d) in %v", ctrl, time.Since(isolated).Round(time.Millisecond))
	createTopic(t, ctx, majority[0], "majority", 2)

	c.Heal()
	c.WaitReady(t, 30*time.Second)
	waitLeaders(t, c, "majority", 2)
}

// TestBrokerOnlyNode: a broker-only node (process.roles=broker, no
// controller listener) registers with the three voters, follows the
// metadata log as a non-voter, is listed by every node and serves the
// partitions it leads.
func TestBrokerOnlyNode(t *testing.T) {
	RequireCluster(t)
	c := Start(t, Options{Nodes: 3, Brokers: 1, StartTimeout: 30 * time.Second})
	n := c.Node(4)
	if n.IsController() || n.ControllerAddr() != "" || n.Props()["process.roles"] != "broker" ||
		strings.Contains(n.Props()["listeners"], "CONTROLLER") {
		t.Fatalf("node 4 is not broker-only: %v", n.Props())
	}
	ctx := testContext(t, time.Minute)
	for _, m := range c.Nodes() {
		md, err := m.brokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(md.Brokers) != 4 {
			t.Fatalf("node %d lists %d brokers, want 4", m.ID(), len(md.Brokers))
		}
	}
	if id, err := c.ActiveController(ctx); err != nil || id == 4 {
		t.Fatalf("active controller %d (%v): want one of the voters", id, err)
	}
	// A topic created through the broker-only node spreads over all four.
	createTopic(t, ctx, n, "with-observer", 8)
	waitLeaders(t, c, "with-observer", 8)
}
