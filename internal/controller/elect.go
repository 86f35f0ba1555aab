package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
)

// ElectLeaders (KIP-183, key 43): every broker takes it and forwards it
// to the active controller, which runs the elections
// (metadata.Store.ElectLeaders). The helpers here turn the Kafka request
// into the store's and its results back into a Kafka response, for the
// controller listener and for the brokers' handler alike.

// DecodeElectLeaders is the store's request for a Kafka ElectLeaders
// request: version 0 has no election type and always asks for preferred
// elections; null topics (nil) stay nil, every partition.
func DecodeElectLeaders(r *kmsg.ElectLeadersRequest) metadata.ElectLeadersRequest {
	req := metadata.ElectLeadersRequest{Type: metadata.ElectionType(r.ElectionType)}
	if r.Version == 0 {
		req.Type = metadata.ElectPreferred
	}
	if r.Topics != nil {
		req.Topics = make([]metadata.ElectLeadersTopic, 0, len(r.Topics))
		for _, rt := range r.Topics {
			req.Topics = append(req.Topics, metadata.ElectLeadersTopic{Topic: rt.Topic, Partitions: rt.Partitions})
		}
	}
	return req
}

// ElectLeadersResponse is the Kafka answer to r: the per-partition
// results, or, when err fails the whole request, its code at the top
// level (versions 1 and up) and on every requested partition with its
// message, as Kafka's brokers answer then.
func ElectLeadersResponse(r *kmsg.ElectLeadersRequest, results []metadata.ElectLeadersTopicResult, err error) *kmsg.ElectLeadersResponse {
	resp := kmsg.NewPtrElectLeadersResponse()
	resp.Version = r.Version
	if err != nil {
		code, msg := codeMsg(err)
		resp.ErrorCode = code
		for _, rt := range r.Topics {
			st := kmsg.NewElectLeadersResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewElectLeadersResponseTopicPartition()
				sp.Partition, sp.ErrorCode, sp.ErrorMessage = p, code, msg
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	for _, tr := range results {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = tr.Topic
		st.Partitions = make([]kmsg.ElectLeadersResponseTopicPartition, 0, len(tr.Partitions))
		for _, pr := range tr.Partitions {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = pr.Partition
			if pr.Err != nil {
				sp.ErrorCode, sp.ErrorMessage = codeMsg(pr.Err)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// electLeaders answers ElectLeaders on the controller listener.
func (s *Server) electLeaders(ctx context.Context, r *kmsg.ElectLeadersRequest) *kmsg.ElectLeadersResponse {
	results, err := s.store.ElectLeaders(ctx, DecodeElectLeaders(r))
	return ElectLeadersResponse(r, results, err)
}

// ElectLeaders runs elections on the active controller
// (metadata.Store.ElectLeaders) and returns its per-partition results. A
// whole-request error other than NOT_CONTROLLER (which is retried) comes
// back as the error: INVALID_REQUEST for an unknown election type.
func (c *Client) ElectLeaders(ctx context.Context, req metadata.ElectLeadersRequest) ([]metadata.ElectLeadersTopicResult, error) {
	kreq := kmsg.NewPtrElectLeadersRequest()
	kreq.Version = 2
	kreq.ElectionType = int8(req.Type)
	kreq.TimeoutMillis = timeoutMillis(ctx)
	if req.Topics != nil {
		kreq.Topics = make([]kmsg.ElectLeadersRequestTopic, 0, len(req.Topics))
		for _, rt := range req.Topics {
			t := kmsg.NewElectLeadersRequestTopic()
			t.Topic, t.Partitions = rt.Topic, rt.Partitions
			kreq.Topics = append(kreq.Topics, t)
		}
	}
	var out []metadata.ElectLeadersTopicResult
	err := c.do(ctx, func() (err error) {
		out, err = c.cfg.Store.ElectLeaders(ctx, req)
		return err
	}, kreq, func(r kmsg.Response) error {
		resp := r.(*kmsg.ElectLeadersResponse)
		if err := respErr(resp.ErrorCode, nil); err != nil {
			return err
		}
		if req.Topics != nil && len(resp.Topics) != len(req.Topics) {
			return fmt.Errorf("%w: ElectLeaders answered %d topics of %d", errRetry, len(resp.Topics), len(req.Topics))
		}
		out = make([]metadata.ElectLeadersTopicResult, 0, len(resp.Topics))
		for _, st := range resp.Topics {
			tr := metadata.ElectLeadersTopicResult{Topic: st.Topic, Partitions: make([]metadata.ElectLeadersPartitionResult, 0, len(st.Partitions))}
			for _, sp := range st.Partitions {
				pr := metadata.ElectLeadersPartitionResult{Partition: sp.Partition}
				var me *metadata.Error
				if errors.As(respErr(sp.ErrorCode, sp.ErrorMessage), &me) {
					pr.Err = me
				}
				tr.Partitions = append(tr.Partitions, pr)
			}
			out = append(out, tr)
		}
		return nil
	})
	return out, err
}
