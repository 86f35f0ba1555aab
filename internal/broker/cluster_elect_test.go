package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// clusterAdmin is an admin client of the nodes, closed when the test ends.
func clusterAdmin(t *testing.T, nodes []*clusterNode) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(nodes)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// restartedPreferred creates topic (3 partitions, 3 replicas), stops and
// restarts the victim node, and returns the partitions the victim is the
// preferred replica of, which other replicas lead once it is back.
func restartedPreferred(t *testing.T, ctx context.Context, nodes []*clusterNode, adm *kadm.Client, topic string, victim *clusterNode) []int32 {
	t.Helper()
	if resp, err := adm.CreateTopic(ctx, 3, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", topic, err, resp.Err)
	}
	victim.stop(t)
	victim.restart(t)
	other := nodes[0]
	if other == victim {
		other = nodes[1]
	}
	var mine []int32
	for _, p := range other.b.meta.Image().Topics[topic].Partitions {
		if p.Replicas[0] == victim.id {
			if p.Leader == victim.id {
				t.Fatalf("partition %d is led by node %d right after it restarted", p.ID, victim.id)
			}
			mine = append(mine, p.ID)
		}
	}
	if len(mine) == 0 {
		t.Fatalf("node %d is the preferred replica of no partition of %s", victim.id, topic)
	}
	return mine
}

// waitLeading waits until every node's image shows the node leading the
// partitions.
func waitLeading(t *testing.T, ctx context.Context, nodes []*clusterNode, topic string, leader int32, partitions []int32) {
	t.Helper()
	for {
		err := error(nil)
		for _, n := range nodes {
			for _, id := range partitions {
				if p, _ := n.b.meta.Image().Partition(topic, id); p.Leader != leader {
					err = fmt.Errorf("node %d sees partition %d led by %d", n.id, id, p.Leader)
				}
			}
		}
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("node %d does not lead its preferred partitions %v: %v", leader, partitions, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterElectPreferredLeaders: after a node restarts, kadm's
// ElectLeaders gives it back the partitions it is the preferred replica
// of once it is in their ISRs again (PREFERRED_LEADER_NOT_AVAILABLE
// until then); asked again, ELECTION_NOT_NEEDED; for every partition
// (a nil set), nothing needs electing.
func TestClusterElectPreferredLeaders(t *testing.T) {
	nodes := startCluster(t, 3, map[string]string{"auto.leader.rebalance.enable": "false"})
	adm := clusterAdmin(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	victim := nodes[0]
	mine := restartedPreferred(t, ctx, nodes, adm, "pref", victim)
	var set kadm.TopicsSet
	set.Add("pref", mine...)
	for done := false; !done; {
		res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
		if err != nil {
			t.Fatal(err)
		}
		done = true
		for _, p := range mine {
			switch r := res["pref"][p]; {
			case r.Err == nil:
			case errors.Is(r.Err, kerr.PreferredLeaderNotAvailable) && ctx.Err() == nil:
				done = false // not back in the ISR yet
			default:
				t.Fatalf("partition %d: %v (%s)", p, r.Err, r.ErrMessage)
			}
		}
		if !done {
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitLeading(t, ctx, nodes, "pref", victim.id, mine)

	res, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, set)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range mine {
		if r := res["pref"][p]; !errors.Is(r.Err, kerr.ElectionNotNeeded) || r.ErrMessage == "" {
			t.Fatalf("partition %d elected again: %v (%q)", p, r.Err, r.ErrMessage)
		}
	}
	res, err = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := res["pref"]; !ok || len(got) != 0 {
		t.Fatalf("every partition: %+v, want the topic listed without partitions", res)
	}
}

// TestClusterRebalancesLeaders: with auto.leader.rebalance.enable, the
// active controller gives a restarted node its preferred partitions back
// by itself once it is in their ISRs.
func TestClusterRebalancesLeaders(t *testing.T) {
	nodes := startCluster(t, 3, map[string]string{"leader.imbalance.check.interval.seconds": "1"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	victim := nodes[1]
	mine := restartedPreferred(t, ctx, nodes, clusterAdmin(t, nodes), "auto", victim)
	waitLeading(t, ctx, nodes, "auto", victim.id, mine)
}
