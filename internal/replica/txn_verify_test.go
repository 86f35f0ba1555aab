package replica

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// TestVerifyTransactionWithoutACoordinator: a partition leader that
// cannot ask the transactional id's coordinator answers as Kafka's
// AddPartitionsToTxnManager does: COORDINATOR_NOT_AVAILABLE while
// __transaction_state does not exist or its partition's leader is not a
// usable broker, NETWORK_EXCEPTION when the leader's node does not
// answer. While this node leads the partition its own coordinator answers.
func TestVerifyTransactionWithoutACoordinator(t *testing.T) {
	m := openCoordinatorNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const id = "tx"
	tps := []txn.TopicPartition{{Topic: "orders", Partition: 0}, {Topic: "orders", Partition: 1}}
	expect := func(what string, want int16) {
		t.Helper()
		for i, code := range m.VerifyTransaction(ctx, id, 1, 0, tps, false) {
			if code != want {
				t.Fatalf("%s: partition %d answered %v, want %v", what, i, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
			}
		}
	}
	expect("no __transaction_state", kerr.CoordinatorNotAvailable.Code)

	// Node 2 registers at an address nobody listens on, and
	// __transaction_state puts the id's partition on it, the other on
	// this node.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	reg := kmsg.NewPtrBrokerRegistrationRequest()
	reg.BrokerID, reg.ClusterID, reg.IncarnationID = 2, m.Metadata().ClusterID(), metadata.NewUUID()
	reg.LogDirs = []metadata.Uuid{metadata.NewUUID()}
	l := kmsg.NewBrokerRegistrationRequestListener()
	p, _ := strconv.Atoi(port)
	l.Name, l.Host, l.Port = "PLAINTEXT", host, uint16(p)
	reg.Listeners = append(reg.Listeners, l)
	epoch, err := m.Controller().Register(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	unfence := func() {
		t.Helper()
		hb := kmsg.NewPtrBrokerHeartbeatRequest()
		hb.BrokerID, hb.BrokerEpoch, hb.CurrentMetadataOffset = 2, epoch, int64(m.Metadata().AppliedIndex())
		if _, err := m.Controller().Heartbeat(ctx, hb); err != nil {
			t.Fatal(err)
		}
		if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
			t.Fatal(err)
		}
		if m.Metadata().Image().Brokers[2].Fenced {
			t.Fatal("node 2 still fenced after its heartbeat")
		}
	}
	// Node 2 takes its partition while unfenced, then is fenced: the
	// partition keeps it as its only in-sync replica, leaderless.
	unfence()
	remote := txn.PartitionFor(id, 2)
	if _, err := m.Metadata().CreateTopic(ctx, metadata.CreateTopicRequest{Name: txn.StateTopic, NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{remote: {2}, 1 - remote: {m.cfg.NodeID}}, Configs: map[string]string{"cleanup.policy": "compact"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Metadata().FenceBroker(ctx, 2, epoch); err != nil {
		t.Fatal(err)
	}
	if err := m.AwaitImage(ctx, m.Metadata().Image().Epoch); err != nil {
		t.Fatal(err)
	}
	tc, err := m.Txns()
	if err != nil {
		t.Fatal(err)
	}
	awaitLoaded(t, "transaction coordinator", tc.LoadedPartitions, []int32{1 - remote})
	local := "tx-0"
	for i := 1; txn.PartitionFor(local, 2) == remote; i++ {
		local = "tx-" + strconv.Itoa(i)
	}
	if code := m.VerifyTransaction(ctx, local, 1, 0, tps, false)[0]; code != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("this node's coordinator, an unknown id: %v", kerr.ErrorForCode(code))
	}
	expect("the partition's only replica is fenced", kerr.CoordinatorNotAvailable.Code)

	unfence()
	expect("the leader's node does not answer", kerr.NetworkException.Code)
}
