package broker

// DeleteTopics, versions 0 to 6.
//
// Topics are named by name (v0-v5 TopicNames, v6 Topics[].Topic) or by id
// (v6 Topics[].TopicID). Each deletion is a controller operation; the
// partitions' logs are removed when this node applies the record. An
// unknown name gets UNKNOWN_TOPIC_OR_PARTITION, an unknown id
// UNKNOWN_TOPIC_ID, an entry with both or neither INVALID_REQUEST, and a
// topic named twice INVALID_REQUEST. Error messages from v5; the topic id
// of each deleted topic from v6. After the deletions the handler waits, up
// to timeout_ms, until this node has removed the partitions.

import (
	"context"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(20, 0, 6, handleDeleteTopics) }

func handleDeleteTopics(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return deleteTopics(ctx, b, r.(*kmsg.DeleteTopicsRequest)), nil
}

func deleteTopics(ctx context.Context, env *Broker, req *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := timeoutCtx(ctx, req.TimeoutMillis)
	defer cancel()

	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{t.Topic, t.TopicID})
		}
	} else {
		for i := range req.TopicNames {
			targets = append(targets, target{name: &req.TopicNames[i]})
		}
	}

	seen := map[string]int{}
	for _, t := range targets {
		if t.name != nil {
			seen["n:"+*t.name]++
		} else {
			seen[fmt.Sprintf("i:%x", t.id)]++
		}
	}
	var deleted bool
	for _, t := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = t.name, t.id
		key := fmt.Sprintf("i:%x", t.id)
		if t.name != nil {
			key = "n:" + *t.name
		}
		var err error
		im := env.meta.Image()
		switch {
		case seen[key] > 1:
			err = &metadata.Error{Code: kerr.InvalidRequest, Message: "Duplicate topic name or id in the request."}
		case t.name != nil && t.id != ([16]byte{}):
			err = &metadata.Error{Code: kerr.InvalidRequest, Message: "A topic must be named by its name or by its id, not both."}
		case t.name != nil:
			if top := im.Topic(*t.name); top != nil {
				rt.TopicID = top.ID
			}
			err = env.meta.DeleteTopicByName(ctx, *t.name)
		case t.id != ([16]byte{}):
			if top := im.TopicByID(t.id); top != nil {
				rt.Topic = strPtr(top.Name)
			}
			err = env.meta.DeleteTopic(ctx, t.id)
		default:
			err = &metadata.Error{Code: kerr.InvalidRequest, Message: "A topic must be named by its name or by its id."}
		}
		if err != nil {
			rt.ErrorCode, rt.ErrorMessage = errCode(err)
			if rt.ErrorCode == kerr.UnknownTopicID.Code || rt.ErrorCode == kerr.UnknownTopicOrPartition.Code {
				rt.TopicID = t.id
			}
		} else {
			deleted = true
		}
		if req.Version < 5 {
			rt.ErrorMessage = nil
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if deleted && req.TimeoutMillis > 0 && env.replicas != nil {
		if err := env.replicas.AwaitImage(ctx, env.meta.Image().Epoch); err != nil {
			for i := range resp.Topics {
				if resp.Topics[i].ErrorCode == 0 {
					resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
				}
			}
		}
	}
	return resp
}
