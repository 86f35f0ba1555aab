package broker

// FindCoordinator, versions 0 to 6.
//
// The coordinator of a group id (key type 0) is the leader of its
// partition of __consumer_offsets, of a transactional id (type 1) the
// leader of its partition of __transaction_state, as Kafka answers: the
// partition is abs(hashCode(key)) % the topic's number of partitions in
// the metadata (the one both coordinators map keys with, whatever this
// node's offsets.topic.num.partitions or
// transaction.state.log.num.partitions), and the answer is the leader's id, host and port from the
// metadata image, whether or not its coordinator has loaded the
// partition yet (it answers COORDINATOR_LOAD_IN_PROGRESS meanwhile). The
// topic is created first if it does not exist. A key gets
// COORDINATOR_NOT_AVAILABLE (node -1, with a message from v1) when the
// topic cannot be created, its partition has no leader or the leader is
// not a registered broker, when this node leads it but its coordinator is
// closing, and for other key types. Versions 4+ batch the keys, each
// answered separately.

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(10, 0, 6, handleFindCoordinator) }

// findCoordinatorTimeout bounds the creation of an internal topic.
const findCoordinatorTimeout = 10 * time.Second

func handleFindCoordinator(ctx context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	ctx, cancel := context.WithTimeout(ctx, findCoordinatorTimeout)
	defer cancel()
	for _, key := range keys {
		co := kmsg.NewFindCoordinatorResponseCoordinator()
		co.Key = key
		co.NodeID, co.Host, co.Port, co.ErrorCode = b.findCoordinator(ctx, rc, req.CoordinatorType, key)
		if co.ErrorCode != 0 {
			co.NodeID, co.Host, co.Port = -1, "", -1
			co.ErrorMessage = strPtr(kerr.ErrorForCode(co.ErrorCode).Error())
		}
		resp.Coordinators = append(resp.Coordinators, co)
	}
	if req.Version >= 4 {
		return resp, nil
	}
	co := resp.Coordinators[0]
	resp.Coordinators = nil
	resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = co.ErrorCode, co.NodeID, co.Host, co.Port
	if req.Version >= 1 {
		resp.ErrorMessage = co.ErrorMessage
	}
	return resp, nil
}

// findCoordinator answers one key: the leader of the key's partition of
// the coordinator type's internal topic, or the error code.
func (b *Broker) findCoordinator(ctx context.Context, rc *RequestContext, typ int8, key string) (nodeID int32, host string, port int32, code int16) {
	if typ != 0 && typ != 1 {
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	p, ok, err := b.replicas.CoordinatorPartition(ctx, typ, key)
	if err != nil && rc != nil && rc.Logger != nil {
		rc.Logger.Warn("no coordinator topic", "coordinator_type", typ, "err", err)
	}
	if !ok || p.Leader < 0 {
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	if p.Leader == b.cfg.NodeID && !b.coordinatorOpen(typ) {
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	br, ok := b.meta.Image().Brokers[p.Leader]
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	return br.ID, br.Host, br.Port, 0
}

// coordinatorOpen reports whether this node's coordinator of the type
// still serves (it does until the node closes).
func (b *Broker) coordinatorOpen(typ int8) bool {
	if typ == 0 {
		_, err := b.replicas.Groups()
		return err == nil
	}
	_, err := b.replicas.Txns()
	return err == nil
}
