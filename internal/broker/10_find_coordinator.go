package broker

// FindCoordinator, versions 0 to 6.
//
// Group keys (type 0) are coordinated by this node, which leads every
// partition of __consumer_offsets in a cluster of one. Versions 4+ batch
// the keys. Transaction keys (type 1) are coordinated by this node too,
// once its transaction coordinator has loaded, and get
// COORDINATOR_NOT_AVAILABLE until then.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(10, 0, 6, handleFindCoordinator) }

func handleFindCoordinator(_ context.Context, b *Broker, rc *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	req := r.(*kmsg.FindCoordinatorRequest)
	host, port := "", int32(-1)
	if br, ok := b.meta.Image().Brokers[b.cfg.NodeID]; ok {
		host, port = br.Host, br.Port
	}
	c, code := b.groupsOrCode(rc)
	var resp *kmsg.FindCoordinatorResponse
	if code == 0 {
		resp = c.FindCoordinator(req, host, port)
	} else {
		resp = req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode, resp.NodeID, resp.Port = code, -1, -1
		for _, k := range req.CoordinatorKeys {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key, co.ErrorCode, co.NodeID, co.Port = k, code, -1, -1
			resp.Coordinators = append(resp.Coordinators, co)
		}
	}
	if req.CoordinatorType == 1 {
		set := func(key string, nodeID *int32, h *string, p *int32, ec *int16, msg **string) {
			n, hh, pp, cc := b.findTxnCoordinator(key)
			*nodeID, *h, *p, *ec = n, hh, pp, cc
			*msg = nil
			if cc != 0 {
				m := kerr.ErrorForCode(cc).Error()
				*msg = &m
			}
		}
		if req.Version >= 4 {
			for i := range resp.Coordinators {
				co := &resp.Coordinators[i]
				set(co.Key, &co.NodeID, &co.Host, &co.Port, &co.ErrorCode, &co.ErrorMessage)
			}
		} else {
			set(req.CoordinatorKey, &resp.NodeID, &resp.Host, &resp.Port, &resp.ErrorCode, &resp.ErrorMessage)
			if req.Version < 1 {
				resp.ErrorMessage = nil
			}
		}
	}
	return resp, nil
}

// findTxnCoordinator answers a transaction-coordinator lookup: this node,
// once its transaction coordinator has loaded.
func (b *Broker) findTxnCoordinator(string) (nodeID int32, host string, port int32, code int16) {
	if _, err := b.replicas.Txns(); err != nil {
		b.logger.Warn("transaction coordinator unavailable", "err", err)
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	br, ok := b.meta.Image().Brokers[b.cfg.NodeID]
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable.Code
	}
	return b.cfg.NodeID, br.Host, br.Port, 0
}
