package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFindCoordinator: this node coordinates every group and, once its
// transaction coordinator has loaded, every transactional id, for one key
// (v0-v3) or a batch (v4+). A closed coordinator's keys get
// COORDINATOR_NOT_AVAILABLE with node -1 (with a message from v1).
func TestFindCoordinator(t *testing.T) {
	env := newCoordinatorEnv(t)
	find := func(version int16, typ int8, keys ...string) *kmsg.FindCoordinatorResponse {
		t.Helper()
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(version)
		req.CoordinatorType = typ
		if version >= 4 {
			req.CoordinatorKeys = keys
		} else {
			req.CoordinatorKey = keys[0]
		}
		return serveReq(t, env, req).(*kmsg.FindCoordinatorResponse)
	}
	this := func(what string, code int16, node int32, host string, port int32) {
		t.Helper()
		if code != 0 || node != 1 || host != "127.0.0.1" || port != 9092 {
			t.Fatalf("%s: %v, node %d at %s:%d; want node 1 at 127.0.0.1:9092", what, kerr.ErrorForCode(code), node, host, port)
		}
	}
	for _, typ := range []int8{0, 1} {
		resp := find(4, typ, "a", "b")
		if len(resp.Coordinators) != 2 || resp.Coordinators[1].Key != "b" {
			t.Fatalf("v4 type %d: %+v", typ, resp.Coordinators)
		}
		for _, c := range resp.Coordinators {
			this("v4 key "+c.Key, c.ErrorCode, c.NodeID, c.Host, c.Port)
		}
		r := find(3, typ, "a")
		this("v3", r.ErrorCode, r.NodeID, r.Host, r.Port)
	}
	r := find(0, 0, "a")
	this("v0", r.ErrorCode, r.NodeID, r.Host, r.Port)

	env.replicas.CloseTxns()
	c := find(4, 1, "tx").Coordinators[0]
	if c.ErrorCode != kerr.CoordinatorNotAvailable.Code || c.NodeID != -1 || c.ErrorMessage == nil {
		t.Fatalf("v4 transaction key without a coordinator: %+v", c)
	}
	if r := find(1, 1, "tx"); r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.NodeID != -1 || r.ErrorMessage == nil {
		t.Fatalf("v1 transaction key without a coordinator: %+v", r)
	}
	r = find(3, 0, "g")
	this("a group key while transactions are closed", r.ErrorCode, r.NodeID, r.Host, r.Port)
	env.replicas.CloseGroups()
	if c := find(4, 0, "g").Coordinators[0]; c.ErrorCode != kerr.CoordinatorNotAvailable.Code || c.NodeID != -1 {
		t.Fatalf("v4 group key without a coordinator: %+v", c)
	}
	if r := find(0, 0, "g"); r.ErrorCode != kerr.CoordinatorNotAvailable.Code || r.NodeID != -1 {
		t.Fatalf("v0 group key without a coordinator: %+v", r)
	}
}
