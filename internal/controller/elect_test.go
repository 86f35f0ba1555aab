package controller_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/metadata"
)

// keepAlive sends every node's heartbeats until the test ends, so no
// broker is fenced under a test that runs longer than a session.
func keepAlive(t *testing.T, nodes []*testNode) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(sessionTimeout / 4)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, n := range nodes {
				_, _ = heartbeat(n)
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// renderElections renders results as "topic: partition=CODE(message) ...;".
func renderElections(res []metadata.ElectLeadersTopicResult) string {
	out := ""
	for _, tr := range res {
		out += tr.Topic + ":"
		for _, p := range tr.Partitions {
			if p.Err == nil {
				out += fmt.Sprintf(" %d=NONE", p.Partition)
			} else {
				out += fmt.Sprintf(" %d=%s(%s)", p.Partition, p.Err.Code.Message, p.Err.Message)
			}
		}
		out += ";"
	}
	return out
}

// TestElectLeadersThroughClient: ElectLeaders reaches the active
// controller through a node's controller.Client, forwarded from a node
// that is not the active controller and run locally on the one that is;
// the forwarding node's image shows the new leader when the call returns,
// per-partition errors come back with their messages, and a refused
// request as the error.
func TestElectLeadersThroughClient(t *testing.T) {
	nodes, active, follower := startLiveQuorum(t)
	keepAlive(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var other *testNode
	for _, n := range nodes {
		if n != active && n != follower {
			other = n
		}
	}
	tp, err := follower.client.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "e", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {follower.id, active.id, other.id}, 1: {active.id, follower.id, other.id}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := active.store.ChangePartition(ctx, tp.ID, 0, active.id, nil); err != nil {
		t.Fatal(err)
	}

	res, err := follower.client.ElectLeaders(ctx, metadata.ElectLeadersRequest{Type: metadata.ElectPreferred, Topics: []metadata.ElectLeadersTopic{
		{Topic: "e", Partitions: []int32{0, 1, 7}}, {Topic: "nope", Partitions: []int32{0}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "e: 0=NONE 1=ELECTION_NOT_NEEDED(Leader election not needed for topic partition.) 7=UNKNOWN_TOPIC_OR_PARTITION(No such partition as e-7);" +
		"nope: 0=UNKNOWN_TOPIC_OR_PARTITION(No such topic as nope);"
	if got := renderElections(res); got != want {
		t.Fatalf("forwarded election:\n got %s\nwant %s", got, want)
	}
	if p, _ := follower.store.Image().Partition("e", 0); p.Leader != follower.id || p.LeaderEpoch != 2 {
		t.Fatalf("the sender's image right after the answer: %+v", p)
	}

	// Every partition, run locally: each has a leader, so an unclean
	// election is needed nowhere and every result is left out.
	res, err = active.client.ElectLeaders(ctx, metadata.ElectLeadersRequest{Type: metadata.ElectUnclean})
	if err != nil || renderElections(res) != "e:;" {
		t.Fatalf("local unclean election of every partition: %s, %v", renderElections(res), err)
	}
	if _, err := follower.client.ElectLeaders(ctx, metadata.ElectLeadersRequest{Type: 5}); !errors.Is(err, kerr.InvalidRequest) {
		t.Fatalf("election type 5: %v", err)
	}
}

// TestAutomaticLeaderBalance runs the active controller's balancing with
// a short interval over a 3-broker store: after broker 1 was fenced and
// came back, checks move nothing while it is outside the ISRs of its
// preferred partitions, and give it their leadership once the leaders
// take it back into the ISR.
func TestAutomaticLeaderBalance(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	store, err := metadata.Open(metadata.Config{NodeID: 1, Dir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	epochs := map[int32]int64{}
	for id := int32(1); id <= 3; id++ {
		epochs[id], err = store.RegisterBrokerIncarnation(ctx, metadata.BrokerRegistration{ID: id, IncarnationID: metadata.NewUUID(), Host: "127.0.0.1", Port: 9000 + id})
		if err != nil {
			t.Fatal(err)
		}
		if err := store.UnfenceBroker(ctx, id, epochs[id]); err != nil {
			t.Fatal(err)
		}
	}
	tp, err := store.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "b", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}, 3: {1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.FenceBroker(ctx, 1, epochs[1]); err != nil {
		t.Fatal(err)
	}
	if err := store.UnfenceBroker(ctx, 1, epochs[1]); err != nil {
		t.Fatal(err)
	}
	leaders := func() string {
		var ls []int32
		for _, p := range store.Image().Topics["b"].Partitions {
			ls = append(ls, p.Leader)
		}
		return fmt.Sprint(ls)
	}
	if got := leaders(); got != "[2 2 3 2]" {
		t.Fatalf("leaders after broker 1 came back: %s", got)
	}

	rounds := make(chan int, 64)
	ctrl := controller.New(store, controller.Config{SessionTimeout: time.Hour, Logger: logger,
		LeaderImbalanceCheckInterval: 10 * time.Millisecond, LeaderImbalancePerBrokerPercentage: 10,
		AfterBalance: func(moved int, err error) {
			if err != nil {
				moved = -1
			}
			select {
			case rounds <- moved:
			default:
			}
		}})
	defer ctrl.Close()
	round := func() int {
		t.Helper()
		select {
		case moved := <-rounds:
			return moved
		case <-ctx.Done():
			t.Fatal("no balancing round ran")
			return 0
		}
	}
	for range 3 {
		if moved := round(); moved != 0 {
			t.Fatalf("a round moved %d partitions whose preferred replica is outside the ISR", moved)
		}
	}
	if got := leaders(); got != "[2 2 3 2]" {
		t.Fatalf("leaders after rounds with broker 1 outside the ISRs: %s", got)
	}

	for _, p := range []int32{0, 3} {
		cur, _ := store.Image().Partition("b", p)
		var isr []metadata.ISRMember
		for _, id := range append(slices.Clone(cur.ISR), 1) {
			isr = append(isr, metadata.ISRMember{BrokerID: id, BrokerEpoch: epochs[id]})
		}
		res, err := store.AlterPartition(ctx, metadata.AlterPartitionRequest{BrokerID: 2, BrokerEpoch: epochs[2], Topics: []metadata.AlterPartitionTopic{{
			TopicID: tp.ID, Partitions: []metadata.AlterPartitionItem{{Partition: p, LeaderEpoch: cur.LeaderEpoch, PartitionEpoch: cur.PartitionEpoch, NewISR: isr}}}}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("ISR expansion of partition %d: %+v, %v", p, res, err)
		}
	}
	for leaders() != "[1 2 3 1]" {
		if moved := round(); moved < 0 {
			t.Fatal("a balancing round failed")
		}
	}
}
