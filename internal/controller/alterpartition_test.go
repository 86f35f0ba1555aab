package controller_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// alterRequest is an AlterPartition of one partition, at the version
// given: v3 with each member's broker epoch, v2 with ids only.
func alterRequest(version int16, topicID metadata.Uuid, p metadata.Partition, isr []*testNode) *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = version
	t := kmsg.NewAlterPartitionRequestTopic()
	t.TopicID = topicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = p.ID, p.LeaderEpoch, p.PartitionEpoch
	for _, n := range isr {
		if version >= 3 {
			m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			m.BrokerID, m.BrokerEpoch = n.id, n.epoch
			rp.NewEpochISR = append(rp.NewEpochISR, m)
		} else {
			rp.NewISR = append(rp.NewISR, n.id)
		}
	}
	t.Partitions = append(t.Partitions, rp)
	req.Topics = append(req.Topics, t)
	return req
}

// TestAlterPartitionThroughClient: a partition leader's AlterPartition
// reaches the active controller through its controller.Client, forwarded
// from a node that is not the active controller and run locally on the
// one that is; the answer is the committed state, which the sender's own
// image shows when the call returns; per-partition refusals come back in
// the answer, a stale sender epoch as the error.
func TestAlterPartitionThroughClient(t *testing.T) {
	nodes, active, follower := startLiveQuorum(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Partition 0 is led by the follower, partition 1 by the active
	// controller; all three nodes are replicas of both.
	var others []*testNode
	for _, n := range nodes {
		if n != active && n != follower {
			others = append(others, n)
		}
	}
	tp, err := follower.client.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "r", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {follower.id, active.id, others[0].id}, 1: {active.id, follower.id, others[0].id}}})
	if err != nil {
		t.Fatal(err)
	}
	partition := func(n *testNode, p int32) metadata.Partition {
		got, _ := n.store.Image().Partition("r", p)
		return got
	}
	answer := func(resp *kmsg.AlterPartitionResponse) kmsg.AlterPartitionResponseTopicPartition {
		t.Helper()
		if len(resp.Topics) != 1 || resp.Topics[0].TopidID != tp.ID || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("answer %+v", resp)
		}
		return resp.Topics[0].Partitions[0]
	}

	// The follower shrinks its partition's ISR, forwarded as v3.
	p0 := partition(follower, 0)
	resp, err := follower.client.AlterPartition(ctx, alterRequest(3, tp.ID, p0, []*testNode{follower, active}))
	if err != nil {
		t.Fatal(err)
	}
	got := answer(resp)
	if got.ErrorCode != 0 || got.LeaderID != follower.id || got.LeaderEpoch != 0 || got.PartitionEpoch != 1 ||
		fmt.Sprint(got.ISR) != fmt.Sprint([]int32{follower.id, active.id}) {
		t.Fatalf("shrink answered %+v", got)
	}
	if now := partition(follower, 0); now.PartitionEpoch != 1 || len(now.ISR) != 2 {
		t.Fatalf("the sender's image right after the answer: %+v", now)
	}
	// The same request again is behind the partition epoch now.
	resp, err = follower.client.AlterPartition(ctx, alterRequest(3, tp.ID, p0, []*testNode{follower, active}))
	if err != nil || answer(resp).ErrorCode != kerr.InvalidUpdateVersion.Code {
		t.Fatalf("replayed shrink: %+v, %v", resp, err)
	}
	// A stale broker epoch of the sender fails the whole request.
	stale := alterRequest(3, tp.ID, partition(follower, 0), []*testNode{follower})
	stale.BrokerID, stale.BrokerEpoch = follower.id, follower.epoch-1
	if _, err := follower.client.AlterPartition(ctx, stale); !errors.Is(err, kerr.StaleBrokerEpoch) {
		t.Fatalf("stale sender epoch: %v", err)
	}

	// The active controller runs its own request locally, sent as v2.
	p1 := partition(active, 1)
	resp, err = active.client.AlterPartition(ctx, alterRequest(2, tp.ID, p1, []*testNode{active}))
	if err != nil {
		t.Fatal(err)
	}
	if got := answer(resp); got.ErrorCode != 0 || got.LeaderID != active.id || got.PartitionEpoch != 1 || fmt.Sprint(got.ISR) != fmt.Sprint([]int32{active.id}) {
		t.Fatalf("local shrink answered %+v", got)
	}
	// A request of no set version that names the members both ways is
	// sent with their epochs, which are checked.
	both := alterRequest(3, tp.ID, partition(follower, 0), []*testNode{follower, active})
	both.Version = 0
	rp := &both.Topics[0].Partitions[0]
	rp.NewISR = []int32{follower.id, active.id}
	rp.NewEpochISR[1].BrokerEpoch--
	resp, err = follower.client.AlterPartition(ctx, both)
	if err != nil || answer(resp).ErrorCode != kerr.IneligibleReplica.Code {
		t.Fatalf("a member with a stale epoch, named both ways: %+v, %v", resp, err)
	}
	// A sender that does not lead the partition is refused.
	resp, err = follower.client.AlterPartition(ctx, alterRequest(3, tp.ID, partition(follower, 1), []*testNode{follower}))
	if err != nil || answer(resp).ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("AlterPartition from a follower of the partition: %+v, %v", resp, err)
	}
}
