package controller_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/broker"
	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/server"
)

// testNode is one node of an in-process quorum: its metadata store over a
// real TCP listener shared by Raft and the controller APIs.
type testNode struct {
	id     int32
	addr   string
	store  *metadata.Store
	ctrl   *controller.Controller
	client *controller.Client
	srv    *server.Server
	mux    *controller.Mux
	epoch  int64
	closed bool
}

func (n *testNode) close() {
	if n.closed {
		return
	}
	n.closed = true
	n.client.Close()
	n.ctrl.Close()
	_ = n.srv.Shutdown(context.Background())
	n.mux.Close()
	n.store.Close()
}

const sessionTimeout = 800 * time.Millisecond

func startQuorum(t *testing.T, n int) []*testNode {
	t.Helper()
	clusterID := metadata.NewClusterID()
	lns := make([]net.Listener, n)
	var voters []metadata.Voter
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		voters = append(voters, metadata.Voter{ID: int32(i + 1), Addr: ln.Addr().String()})
	}
	nodes := make([]*testNode, n)
	for i, ln := range lns {
		node := &testNode{id: int32(i + 1), addr: ln.Addr().String(), mux: controller.NewMux(ln)}
		logger := slog.New(slog.DiscardHandler)
		apis := &broker.ControllerListener{}
		node.srv = server.New(server.Config{Logger: logger}, apis)
		if err := node.srv.Serve(node.mux.Kafka()); err != nil {
			t.Fatal(err)
		}
		store, err := metadata.Open(metadata.Config{
			NodeID: node.id, Dir: t.TempDir(), ClusterID: clusterID, Logger: logger,
			Voters: voters, Stream: node.mux.Raft(node.addr), ElectionTimeout: 300 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		node.store = store
		node.ctrl = controller.New(store, controller.Config{SessionTimeout: sessionTimeout, CheckInterval: 50 * time.Millisecond, Logger: logger})
		apis.Bind(controller.NewServer(store, node.ctrl))
		node.client = controller.NewClient(controller.ClientConfig{NodeID: node.id, Store: store, Controller: node.ctrl, Voters: voters, Logger: logger})
		nodes[i] = node
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.close()
		}
	})
	return nodes
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func activeNode(nodes []*testNode) (*testNode, error) {
	for _, n := range nodes {
		if !n.closed && n.store.Active() {
			return n, nil
		}
	}
	return nil, errors.New("no active controller")
}

func register(t *testing.T, n *testNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrBrokerRegistrationRequest()
	req.BrokerID, req.ClusterID = n.id, n.store.ClusterID()
	req.IncarnationID = metadata.NewUUID()
	req.LogDirs = []metadata.Uuid{n.store.DirectoryID()}
	l := kmsg.NewBrokerRegistrationRequestListener()
	l.Name, l.Host, l.Port = "PLAINTEXT", "127.0.0.1", uint16(9000+n.id)
	req.Listeners = append(req.Listeners, l)
	epoch, err := n.client.Register(ctx, req)
	if err != nil {
		t.Fatalf("node %d registers: %v", n.id, err)
	}
	n.epoch = epoch
}

func heartbeat(n *testNode) (*kmsg.BrokerHeartbeatResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req := kmsg.NewPtrBrokerHeartbeatRequest()
	req.BrokerID, req.BrokerEpoch = n.id, n.epoch
	req.CurrentMetadataOffset = int64(n.store.AppliedIndex())
	return n.client.Heartbeat(ctx, req)
}

// startLiveQuorum starts a 3-voter quorum whose nodes are all registered
// and unfenced, and returns them, the active controller and another node.
func startLiveQuorum(t *testing.T) (nodes []*testNode, active, follower *testNode) {
	t.Helper()
	nodes = startQuorum(t, 3)
	waitFor(t, 10*time.Second, "an active controller", func() error { _, err := activeNode(nodes); return err })
	for _, n := range nodes {
		register(t, n)
	}
	for _, n := range nodes {
		waitFor(t, 5*time.Second, fmt.Sprintf("node %d unfenced", n.id), func() error {
			resp, err := heartbeat(n)
			if err != nil {
				return err
			}
			if resp.IsFenced {
				return errors.New("fenced")
			}
			return nil
		})
	}
	active, _ = activeNode(nodes)
	for _, n := range nodes {
		if n != active {
			return nodes, active, n
		}
	}
	return nodes, active, nil
}

// TestQuorumForwardsFencesAndFailsOver runs a 3-voter quorum over TCP:
// every node registers through its client (forwarded unless it is the
// active controller), a topic created through a follower is in that
// follower's image when the call returns, a broker whose heartbeats stop
// is fenced and comes back, and after the active controller stops the
// others elect a new one and keep taking changes.
func TestQuorumForwardsFencesAndFailsOver(t *testing.T) {
	nodes, active, follower := startLiveQuorum(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	created, err := follower.client.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "t", NumPartitions: 6, ReplicationFactor: 1})
	if err != nil {
		t.Fatalf("create through follower %d: %v", follower.id, err)
	}
	if got := follower.store.Image().TopicsByID[created.ID]; got == nil || len(got.Partitions) != 6 {
		t.Fatalf("follower %d's image right after its create: %+v", follower.id, got)
	}
	// The same name again is TOPIC_ALREADY_EXISTS, forwarded back as such.
	if _, err := follower.client.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 1}); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create again: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	if _, err := follower.client.AllocateProducerIDs(ctx, controller.ProducerIDBlockSize); err != nil {
		t.Fatalf("producer ids through follower: %v", err)
	}

	// A second process claiming the follower's id from another directory
	// while the follower is alive is refused; the follower restarting on
	// its own directory is not, and fences its old epoch at once.
	claim := func(dir metadata.Uuid) (int64, error) {
		req := kmsg.NewPtrBrokerRegistrationRequest()
		req.BrokerID, req.ClusterID = follower.id, follower.store.ClusterID()
		req.IncarnationID, req.LogDirs = metadata.NewUUID(), []metadata.Uuid{dir}
		l := kmsg.NewBrokerRegistrationRequestListener()
		l.Name, l.Host, l.Port = "PLAINTEXT", "127.0.0.1", uint16(9000+follower.id)
		req.Listeners = append(req.Listeners, l)
		return follower.client.Register(ctx, req)
	}
	if _, err := claim(metadata.NewUUID()); !errors.Is(err, kerr.DuplicateBrokerRegistration) {
		t.Fatalf("a second node claiming live id %d: %v, want DUPLICATE_BROKER_REGISTRATION", follower.id, err)
	}
	oldEpoch := follower.epoch
	newEpoch, err := claim(follower.store.DirectoryID())
	if err != nil || newEpoch <= oldEpoch {
		t.Fatalf("restart on the same directory: epoch %d (old %d), %v", newEpoch, oldEpoch, err)
	}
	if br := follower.store.Image().Brokers[follower.id]; br.Epoch != newEpoch || !br.Fenced {
		t.Fatalf("after the restart's registration: %+v", br)
	}
	follower.epoch = newEpoch
	waitFor(t, 5*time.Second, "restarted broker unfenced", func() error {
		resp, err := heartbeat(follower)
		if err != nil {
			return err
		}
		if resp.IsFenced {
			return errors.New("fenced")
		}
		return nil
	})

	// DescribeQuorum on the active controller lists the three voters.
	dq := controller.NewServer(active.store, active.ctrl).DescribeQuorum(describeQuorumRequest())
	p := dq.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LeaderID != active.id || len(p.CurrentVoters) != 3 || p.HighWatermark <= 0 {
		t.Fatalf("DescribeQuorum: %+v", p)
	}

	// The follower stops heartbeating: it is fenced and leads nothing,
	// everywhere; a heartbeat after that unfences it.
	waitFor(t, 10*sessionTimeout, "silent broker fenced", func() error {
		for _, n := range nodes {
			if br := n.store.Image().Brokers[follower.id]; !br.Fenced {
				return fmt.Errorf("node %d sees broker %d unfenced", n.id, follower.id)
			}
			if led := metadata.LedBy(n.store.Image(), follower.id); len(led) != 0 {
				return fmt.Errorf("node %d sees %d partitions led by the fenced broker", n.id, len(led))
			}
		}
		for _, n := range nodes {
			if n != follower {
				if _, err := heartbeat(n); err != nil {
					return err
				}
			}
		}
		return nil
	})
	waitFor(t, 5*time.Second, "broker unfenced again", func() error {
		resp, err := heartbeat(follower)
		if err != nil {
			return err
		}
		if resp.IsFenced || len(metadata.LedBy(follower.store.Image(), follower.id)) != 2 {
			return errors.New("still fenced or leading nothing")
		}
		return nil
	})

	// The active controller stops: another takes over and a change made
	// through any surviving node succeeds.
	active.close()
	start := time.Now()
	for _, n := range nodes {
		if n.closed {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_, err := n.client.CreateTopic(ctx, metadata.CreateTopicRequest{Name: fmt.Sprintf("after-%d", n.id), NumPartitions: 1, ReplicationFactor: 1})
		cancel()
		if err != nil {
			t.Fatalf("create through node %d after the controller stopped: %v", n.id, err)
		}
	}
	t.Logf("changes taken again %s after the active controller stopped", time.Since(start).Round(time.Millisecond))

	// One more voter stops: the last one has no majority. It refuses
	// changes with REQUEST_TIMED_OUT and a sentence saying why, and still
	// serves the image it has.
	var last *testNode
	for _, n := range nodes {
		if !n.closed && last == nil {
			last = n
		} else if !n.closed {
			n.close()
		}
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	_, err = last.client.CreateTopic(ctx2, metadata.CreateTopicRequest{Name: "no-majority", NumPartitions: 1, ReplicationFactor: 1})
	var me *metadata.Error
	if !errors.As(err, &me) || me.Code != kerr.RequestTimedOut || !strings.Contains(me.Message, "majority of controller.quorum.voters") {
		t.Fatalf("create without a majority: %v", err)
	}
	if last.store.Image().Topics["t"] == nil || last.store.Image().Topics["no-majority"] != nil {
		t.Fatal("the image without a majority is not the last committed one")
	}
}

func describeQuorumRequest() *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	tp := kmsg.NewDescribeQuorumRequestTopic()
	tp.Topic = "__cluster_metadata"
	tp.Partitions = append(tp.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, tp)
	return req
}
