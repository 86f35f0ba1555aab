package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeQuorumOfOne(t *testing.T) {
	env := newAdminEnv(t, nil)
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = 2
	tp := kmsg.NewDescribeQuorumRequestTopic()
	tp.Topic = "__cluster_metadata"
	tp.Partitions = append(tp.Partitions, kmsg.NewDescribeQuorumRequestTopicPartition())
	req.Topics = append(req.Topics, tp)
	r, err := handleDescribeQuorum(context.Background(), env, &RequestContext{}, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := r.(*kmsg.DescribeQuorumResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("%+v", resp)
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.LeaderID != env.cfg.NodeID || p.LeaderEpoch < 1 || p.HighWatermark < 1 ||
		len(p.CurrentVoters) != 1 || p.CurrentVoters[0].ReplicaID != env.cfg.NodeID || p.CurrentVoters[0].LogEndOffset < p.HighWatermark {
		t.Fatalf("partition %+v", p)
	}
	// Another partition of the log is unknown.
	req.Topics[0].Partitions[0].Partition = 1
	r, _ = handleDescribeQuorum(context.Background(), env, &RequestContext{}, req)
	if code := r.(*kmsg.DescribeQuorumResponse).Topics[0].Partitions[0].ErrorCode; code == 0 {
		t.Fatal("partition 1 of the metadata log described")
	}
}
