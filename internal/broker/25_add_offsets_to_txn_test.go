package broker

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/txn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAddOffsetsToTxn: the group's __consumer_offsets partition joins the
// producer's transaction; an empty group id gets INVALID_GROUP_ID, a
// producer id the transactional id does not have
// INVALID_PRODUCER_ID_MAPPING, an unknown transactional id likewise.
// Without a transaction coordinator the answer is
// COORDINATOR_NOT_AVAILABLE. Other APIs it uses: InitProducerID.
func TestAddOffsetsToTxn(t *testing.T) {
	env := newCoordinatorEnv(t)
	pid, epoch := initTxn(t, env, "tx")
	add := func(id string, pid int64, groupID string) int16 {
		t.Helper()
		req := kmsg.NewPtrAddOffsetsToTxnRequest()
		req.SetVersion(3)
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group = id, pid, epoch, groupID
		return serveReq(t, env, req).(*kmsg.AddOffsetsToTxnResponse).ErrorCode
	}
	if code := add("tx", pid, "g"); code != 0 {
		t.Fatalf("add offsets: %v", kerr.ErrorForCode(code))
	}
	c, err := env.replicas.Txns()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := c.Transaction("tx")
	if m.State != txn.Ongoing || len(m.Partitions) != 1 || m.Partitions[0].Topic != group.OffsetsTopic || m.Partitions[0].Partition != 0 {
		t.Fatalf("transaction after the add: %+v", m)
	}
	for _, tc := range []struct {
		what    string
		id      string
		pid     int64
		groupID string
		want    *kerr.Error
	}{
		{"empty group id", "tx", pid, "", kerr.InvalidGroupID},
		{"another producer id", "tx", pid + 1, "g", kerr.InvalidProducerIDMapping},
		{"unknown transactional id", "nope", pid, "g", kerr.InvalidProducerIDMapping},
	} {
		if code := add(tc.id, tc.pid, tc.groupID); code != tc.want.Code {
			t.Errorf("%s: %v, want %v", tc.what, kerr.ErrorForCode(code), tc.want)
		}
	}

	env.replicas.CloseTxns()
	if code := add("tx", pid, "g"); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("without a coordinator: %v", kerr.ErrorForCode(code))
	}
}
