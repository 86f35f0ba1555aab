package broker

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/controller"
	"github.com/samsa-streaming/samsa/internal/server"
)

// ControllerListener serves a controller listener's Kafka side: the
// controller APIs of internal/controller (broker registration and
// heartbeats, the metadata changes brokers forward, DescribeQuorum). It
// starts unbound, answering NOT_CONTROLLER-style errors so senders retry,
// because the listener must accept before the node's metadata store is
// open (the quorum forms over it); Bind hands it the controller.
type ControllerListener struct {
	srv atomic.Pointer[controller.Server]
}

// Bind makes the listener serve the controller's APIs.
func (h *ControllerListener) Bind(s *controller.Server) { h.srv.Store(s) }

// Serve implements server.Handler.
func (h *ControllerListener) Serve(ctx context.Context, req *server.Request) (*server.Response, error) {
	max, ok := controller.APIs[req.Key]
	if !ok || req.Version > max {
		if req.Key == 18 {
			// An ApiVersions of a version above ours: answer v0 with
			// UNSUPPORTED_VERSION, so the client retries lower (KIP-511).
			resp := controller.APIVersions()
			resp.ErrorCode = kerr.UnsupportedVersion.Code
			return &server.Response{CorrelationID: req.CorrelationID, Parts: []server.Part{{Bytes: resp.AppendTo(nil)}}}, nil
		}
		return nil, fmt.Errorf("the controller listener does not serve %s (key %d) v%d", kmsg.NameForKey(req.Key), req.Key, req.Version)
	}
	kreq := kmsg.RequestForKey(req.Key)
	kreq.SetVersion(req.Version)
	if err := kreq.ReadFrom(req.Body); err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(req.Key), req.Version, err)
	}
	var resp kmsg.Response
	if s := h.srv.Load(); s != nil {
		resp = s.Serve(ctx, kreq)
	} else {
		resp = notControllerYet(kreq)
	}
	if resp == nil {
		return nil, fmt.Errorf("the controller listener does not serve %s", kmsg.NameForKey(req.Key))
	}
	resp.SetVersion(req.Version)
	return &server.Response{
		CorrelationID:  req.CorrelationID,
		FlexibleHeader: resp.IsFlexible() && req.Key != 18,
		Parts:          []server.Part{{Bytes: resp.AppendTo(make([]byte, 0, 128))}},
	}, nil
}

// notControllerYet answers a request that arrived before the node's
// metadata store opened: ApiVersions as usual, everything else with the
// error that makes the sender look for the active controller again.
func notControllerYet(req kmsg.Request) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return controller.APIVersions()
	case *kmsg.BrokerRegistrationRequest:
		resp := r.ResponseKind().(*kmsg.BrokerRegistrationResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp
	case *kmsg.BrokerHeartbeatRequest:
		resp := r.ResponseKind().(*kmsg.BrokerHeartbeatResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp
	case *kmsg.AllocateProducerIDsRequest:
		resp := r.ResponseKind().(*kmsg.AllocateProducerIDsResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp
	case *kmsg.AlterPartitionRequest:
		resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp
	case *kmsg.ElectLeadersRequest:
		return controller.ElectLeadersResponse(r, nil, kerr.NotController)
	case *kmsg.DescribeQuorumRequest:
		resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
		resp.ErrorCode = kerr.NotLeaderForPartition.Code
		return resp
	}
	// The admin requests carry per-item errors; the forwarding client
	// treats a short answer as a reason to retry.
	return req.ResponseKind()
}
