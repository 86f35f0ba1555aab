package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/group"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// TestFindCoordinator: this node, which leads the internal topics' only
// partitions, coordinates every group and every transactional id, for one
// key (v0-v3) or a batch (v4+). A closed coordinator's keys get
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

// TestFindCoordinatorAnswersTheLeader: a key's coordinator is the leader
// of its internal-topic partition, with that broker's endpoint, wherever
// it is; a partition without a leader gets COORDINATOR_NOT_AVAILABLE; and
// this node's coordinator answers NOT_COORDINATOR for the keys of a
// partition it does not lead, until it leads it again.
func TestFindCoordinatorAnswersTheLeader(t *testing.T) {
	env := newAdminEnv(t, map[string]string{
		"offsets.topic.num.partitions":         "1",
		"transaction.state.log.num.partitions": "1",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store := env.replicas.Metadata()
	epoch2, err := store.RegisterBrokerIncarnation(ctx, metadata.BrokerRegistration{ID: 2, IncarnationID: metadata.NewUUID(), Host: "127.0.0.2", Port: 9093})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.UnfenceBroker(ctx, 2, epoch2); err != nil {
		t.Fatal(err)
	}
	// Both internal topics exist, led by broker 2 (one replica each, as
	// long as partitions do not replicate).
	create := func(leader int32) {
		t.Helper()
		for _, name := range []string{group.OffsetsTopic, txn.StateTopic} {
			if _, err := env.meta.CreateTopic(ctx, metadata.CreateTopicRequest{Name: name, NumPartitions: -1, ReplicationFactor: -1,
				Assignments: map[int32][]int32{0: {leader}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(2)
	find := func(version int16, typ int8, key string) (code int16, node int32, host string, port int32) {
		t.Helper()
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(version)
		req.CoordinatorType = typ
		if version >= 4 {
			req.CoordinatorKeys = []string{key, key + "-2"}
			resp := serveReq(t, env, req).(*kmsg.FindCoordinatorResponse)
			if len(resp.Coordinators) != 2 || resp.Coordinators[1].Key != key+"-2" {
				t.Fatalf("v%d: %+v", version, resp.Coordinators)
			}
			c := resp.Coordinators[0]
			if d := resp.Coordinators[1]; d.ErrorCode != c.ErrorCode || d.NodeID != c.NodeID {
				t.Fatalf("v%d: two keys of one partition answered %+v and %+v", version, c, d)
			}
			return c.ErrorCode, c.NodeID, c.Host, c.Port
		}
		req.CoordinatorKey = key
		resp := serveReq(t, env, req).(*kmsg.FindCoordinatorResponse)
		return resp.ErrorCode, resp.NodeID, resp.Host, resp.Port
	}
	expect := func(what string, wantCode int16, wantNode int32, wantHost string, wantPort int32) {
		t.Helper()
		for _, typ := range []int8{0, 1} {
			for _, v := range []int16{0, 3, 4} {
				code, node, host, port := find(v, typ, "k")
				if code != wantCode || node != wantNode || host != wantHost || port != wantPort {
					t.Fatalf("%s: v%d type %d: %v, node %d at %s:%d; want %v, node %d at %s:%d", what, v, typ,
						kerr.ErrorForCode(code), node, host, port, kerr.ErrorForCode(wantCode), wantNode, wantHost, wantPort)
				}
			}
		}
	}
	expect("led by broker 2", 0, 2, "127.0.0.2", 9093)
	gc, err := env.replicas.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if r := serveReq(t, env, joinGroupReq("k", "")).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join on a node that does not lead the group's partition: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// Broker 2 fenced: its partitions have no leader.
	if err := store.FenceBroker(ctx, 2, epoch2); err != nil {
		t.Fatal(err)
	}
	expect("without a leader", kerr.CoordinatorNotAvailable.Code, -1, "", -1)

	// The topics again, on this node.
	for _, name := range []string{group.OffsetsTopic, txn.StateTopic} {
		if err := env.meta.DeleteTopicByName(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	create(1)
	expect("led by this node", 0, 1, "127.0.0.1", 9092)
	deadline := time.Now().Add(10 * time.Second)
	for len(gc.LoadedPartitions()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the group coordinator did not load the partition it leads")
		}
		time.Sleep(time.Millisecond)
	}
	if r := serveReq(t, env, joinGroupReq("k", "")).(*kmsg.JoinGroupResponse); r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("join once this node leads the group's partition: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}
