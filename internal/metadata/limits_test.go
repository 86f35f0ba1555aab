package metadata

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Partitions beyond samsa.max.partitions.per.request or max.broker.partitions
// are refused with POLICY_VIOLATION before anything is proposed.
func TestPartitionLimits(t *testing.T) {
	s, err := Open(Config{NodeID: 1, Dir: t.TempDir(), Logger: quietLogger(), MaxPartitionsPerRequest: 100, MaxBrokerPartitions: 150})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustRegister(t, s, 1, 2)
	wantRefusal := func(err error, words ...string) {
		t.Helper()
		code, msg := ErrorCode(err)
		if code != kerr.PolicyViolation.Code {
			t.Fatalf("error %v: want POLICY_VIOLATION", err)
		}
		for _, w := range words {
			if !strings.Contains(msg, w) {
				t.Fatalf("message %q lacks %q", msg, w)
			}
		}
	}
	epoch := s.Image().Epoch

	_, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "huge", NumPartitions: 101, ReplicationFactor: 1})
	wantRefusal(err, ExcessiveBatchMessage, "101 partitions", "samsa.max.partitions.per.request (100)")
	_, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "huge", NumPartitions: 101, ReplicationFactor: 1, ValidateOnly: true})
	wantRefusal(err, "samsa.max.partitions.per.request")
	if s.Image().Epoch != epoch || s.Image().Topics["huge"] != nil {
		t.Fatal("a refused topic changed the image")
	}

	// 100 partitions with 2 replicas: 100 replicas on each broker.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "a", NumPartitions: 100, ReplicationFactor: 2}); err != nil {
		t.Fatal(err)
	}
	// 60 more of rf 1 spread over two brokers: 130 each, allowed.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "b", NumPartitions: 60, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// 42 more of rf 2 would put 172 on each.
	_, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "c", NumPartitions: 42, ReplicationFactor: 2})
	wantRefusal(err, "broker 1 would hold 172 partition replicas", "max.broker.partitions (150)")
	err = s.CreatePartitions(ctx(t), "b", 102, nil, false)
	wantRefusal(err, "max.broker.partitions (150)")
	err = s.CreatePartitions(ctx(t), "b", 161, nil, false)
	wantRefusal(err, "samsa.max.partitions.per.request (100)")
	// Up to the bound is fine: 20 more on each broker.
	if err := s.CreatePartitions(ctx(t), "b", 100, nil, false); err != nil {
		t.Fatal(err)
	}
	if got := s.Image().ReplicaCounts(); got[1] != 150 || got[2] != 150 {
		t.Fatalf("replica counts %v, want 150 on each broker", got)
	}
}
