package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestQuorumWithoutMajority: with two of three voters killed, the last
// node refuses CreateTopics with REQUEST_TIMED_OUT and a message naming the
// lost majority, still answers Metadata from its last image, and takes
// changes again once a second voter returns.
func TestQuorumWithoutMajority(t *testing.T) {
	RequireCluster(t)
	c := Start(t, Options{Nodes: 3})
	ctx := testContext(t, 2*time.Minute)
	createTopic(t, ctx, c.Node(1), "before", 3)
	waitLeaders(t, c, "before", 3)

	c.Node(2).Kill()
	c.Node(3).Kill()
	last := c.Node(1)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 3000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "no-majority", 1, 1
	req.Topics = append(req.Topics, rt)
	resp, err := last.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	st := resp.(*kmsg.CreateTopicsResponse).Topics[0]
	msg := ""
	if st.ErrorMessage != nil {
		msg = *st.ErrorMessage
	}
	if st.ErrorCode != kerr.RequestTimedOut.Code || !strings.Contains(msg, "majority of controller.quorum.voters") {
		t.Fatalf("create without a majority: %v %q, want REQUEST_TIMED_OUT naming the lost majority", kerr.ErrorForCode(st.ErrorCode), msg)
	}
	m, err := last.Metadata(ctx, "before")
	if err != nil || len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 {
		t.Fatalf("metadata from the last image: %v %+v", err, m)
	}

	c.Node(2).Restart()
	WaitFor(t, 30*time.Second, func() error { return tryCreateTopic(ctx, last, "majority-again", 1) })
}

// TestCreatesSurviveControllerKills creates 1,000 topics through random
// nodes while the active controller is killed twice (and restarted): every
// creation a node acknowledged exists afterwards on every node, exactly
// once, and creations that failed during the elections either exist or do
// not, but never twice.
func TestCreatesSurviveControllerKills(t *testing.T) {
	RequireCluster(t)
	if testing.Short() {
		t.Skip("1,000 creations and two controller kills: not in -short")
	}
	c := Start(t, Options{Nodes: 3})
	ctx := testContext(t, 5*time.Minute)

	const topics = 1000
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		next  = 0
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next == topics {
			return 0, false
		}
		next++
		return next - 1, true
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				name := fmt.Sprintf("t-%04d", i)
				for attempt := 0; attempt < 3; attempt++ {
					var up []*Node
					for _, n := range c.Nodes() {
						if n.Running() {
							up = append(up, n)
						}
					}
					if len(up) == 0 {
						continue
					}
					n := up[rand.IntN(len(up))]
					rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					err := tryCreateTopic(rctx, n, name, 1)
					cancel()
					if err == nil {
						mu.Lock()
						acked[name] = true
						mu.Unlock()
						break
					}
					if errors.Is(err, kerr.TopicAlreadyExists) {
						break // a try whose answer was lost made it
					}
				}
			}
		}()
	}
	// Kill the active controller twice while the creations run.
	for kill := 0; kill < 2; kill++ {
		WaitFor(t, time.Minute, func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(acked) < (kill+1)*topics/3 {
				return fmt.Errorf("%d creations acknowledged so far", len(acked))
			}
			return nil
		})
		id, err := c.ActiveController(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Node(id).Kill()
		mu.Lock()
		done := len(acked)
		mu.Unlock()
		t.Logf("killed the active controller, node %d, after %d creations", id, done)
		c.Node(id).Restart()
	}
	wg.Wait()
	c.WaitReady(t, time.Minute)

	mu.Lock()
	defer mu.Unlock()
	if len(acked) < topics*9/10 {
		t.Fatalf("only %d of %d creations acknowledged", len(acked), topics)
	}
	for _, n := range c.Nodes() {
		WaitFor(t, 30*time.Second, func() error {
			m, err := n.Metadata(ctx)
			if err != nil {
				return err
			}
			seen := map[string]int{}
			for _, tp := range m.Topics {
				if tp.Topic != nil && strings.HasPrefix(*tp.Topic, "t-") {
					seen[*tp.Topic]++
				}
			}
			for name := range acked {
				if seen[name] != 1 {
					return fmt.Errorf("node %d lists acknowledged topic %s %d times", n.ID(), name, seen[name])
				}
			}
			for name, k := range seen {
				if k != 1 {
					return fmt.Errorf("node %d lists %s %d times", n.ID(), name, k)
				}
			}
			return nil
		})
	}
	t.Logf("%d of %d creations acknowledged; all of them exist, once, on every node", len(acked), topics)
}

// TestReplaceDeadVoter follows docs/cluster.md's procedure for a voter
// whose disk died: with the two others up, the node is started again with
// the same configuration on an empty directory. It receives the metadata
// log from the leader, registers (its old registration is fenced once its
// session ran out), and the cluster takes changes and lists three brokers
// again; the quorum keeps working after the other two are restarted in
// turn, so the new voter counts towards the majority.
func TestReplaceDeadVoter(t *testing.T) {
	RequireCluster(t)
	c := Start(t, Options{Nodes: 3, HeartbeatMs: 250, SessionMs: 1500})
	ctx := testContext(t, 3*time.Minute)
	createTopic(t, ctx, c.Node(1), "before", 6)
	waitLeaders(t, c, "before", 6)

	dead := c.Node(3)
	dead.Kill()
	dead.Wipe()
	dead.Restart()
	c.WaitReady(t, time.Minute)
	createTopic(t, ctx, c.Node(3), "after", 3)
	waitLeaders(t, c, "after", 3)
	// Node 3 must be a working voter: with node 1 down, nodes 2 and 3 are
	// the majority.
	c.Node(1).Kill()
	WaitFor(t, 30*time.Second, func() error { return tryCreateTopic(ctx, c.Node(2), "majority-of-2-and-3", 1) })
	c.Node(1).Restart()
	c.WaitReady(t, time.Minute)
}

// TestFiveVoters: a quorum of five forms and keeps taking changes with two
// voters killed (three of five are a majority), through any survivor.
func TestFiveVoters(t *testing.T) {
	RequireCluster(t)
	if testing.Short() {
		t.Skip("five processes: not in -short")
	}
	c := Start(t, Options{Nodes: 5})
	ctx := testContext(t, 2*time.Minute)
	createTopic(t, ctx, c.Node(5), "five", 10)
	leaders := waitLeaders(t, c, "five", 10)
	led := map[int]bool{}
	for _, l := range leaders {
		led[l] = true
	}
	if len(led) != 5 {
		t.Fatalf("leaders of five's partitions %v: want every node to lead some", leaders)
	}
	id, err := c.ActiveController(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c.Node(id).Kill()
	other := id%5 + 1
	c.Node(other).Kill()
	for _, n := range c.Nodes() {
		if n.Running() {
			WaitFor(t, 30*time.Second, func() error {
				return tryCreateTopic(ctx, n, fmt.Sprintf("three-of-five-%d", n.ID()), 1)
			})
		}
	}
}
