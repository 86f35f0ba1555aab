package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNotLeaderHintsTheLeader (KIP-951): a Produce (v10+) or Fetch (v16+)
// sent to a node that does not lead the partition answers
// NOT_LEADER_OR_FOLLOWER with the partition's current leader and epoch,
// and the leader's endpoint among the response's brokers; older versions
// carry neither.
func TestNotLeaderHintsTheLeader(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(nodes)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	leaders := createSpreadTopic(t, kadm.NewClient(cl), "hinted", 3)
	var p, leader int32
	for p, leader = range leaders {
		break
	}
	var other *clusterNode
	for _, n := range nodes {
		if n.id != leader {
			other = n
			break
		}
	}
	// Wait until the other node's image has the topic, then ask it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for other.b.meta.Image().Topic("hinted") == nil {
		if ctx.Err() != nil {
			t.Fatal("topic not in the other node's image")
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := nodes[leader-1]
	epoch := other.b.meta.Image().Topics["hinted"].Partitions[p].LeaderEpoch

	for _, version := range []int16{9, 10, 12} {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = version, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "hinted"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		r, err := handleProduce(ctx, other.b, &RequestContext{}, req)
		if err != nil {
			t.Fatal(err)
		}
		resp := r.(*kmsg.ProduceResponse)
		sp := resp.Topics[0].Partitions[0]
		if sp.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Fatalf("produce v%d to a follower: %v", version, kerr.ErrorForCode(sp.ErrorCode))
		}
		if version < 10 {
			if sp.CurrentLeader.LeaderID != -1 || len(resp.Brokers) != 0 {
				t.Fatalf("produce v%d carries a hint: %+v %+v", version, sp.CurrentLeader, resp.Brokers)
			}
			continue
		}
		if sp.CurrentLeader.LeaderID != leader || sp.CurrentLeader.LeaderEpoch != epoch ||
			len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != leader || resp.Brokers[0].Host+":"+itoa(resp.Brokers[0].Port) != want.addr {
			t.Fatalf("produce v%d hint: leader %+v, brokers %+v; want node %d (epoch %d) at %s", version, sp.CurrentLeader, resp.Brokers, leader, epoch, want.addr)
		}
	}

	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxWaitMillis, req.MaxBytes = 16, 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = other.b.meta.Image().Topics["hinted"].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = p, 1<<20, -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	r, err := handleFetch(ctx, other.b, &RequestContext{}, req)
	if err != nil {
		t.Fatal(err)
	}
	var resp *kmsg.FetchResponse
	switch f := r.(type) {
	case *fetchResponse:
		resp = f.FetchResponse
	case *kmsg.FetchResponse:
		resp = f
	}
	fpr := resp.Topics[0].Partitions[0]
	if fpr.ErrorCode != kerr.NotLeaderForPartition.Code || fpr.CurrentLeader.LeaderID != leader || fpr.CurrentLeader.LeaderEpoch != epoch ||
		len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != leader {
		t.Fatalf("fetch v16 from a follower: %v, leader %+v, brokers %+v; want node %d", kerr.ErrorForCode(fpr.ErrorCode), fpr.CurrentLeader, resp.Brokers, leader)
	}
}

func itoa(n int32) string { return fmt.Sprint(n) }
