package broker

// CreateTopics, versions 0 to 7.
//
// Each topic becomes a controller operation (metadata.Store.CreateTopic):
// num_partitions and replication_factor -1 (v4+) mean the broker defaults
// (num.partitions, default.replication.factor); an explicit replica
// assignment needs both at -1. Configs are validated against Kafka's topic
// config table; a null config value gets INVALID_CONFIG. validate_only (v1+)
// checks everything and creates nothing. A name given twice in one request
// gets INVALID_REQUEST for that name. Errors carry messages (v1+):
// TOPIC_ALREADY_EXISTS, INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
// INVALID_REPLICATION_FACTOR, INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG,
// INVALID_REQUEST, POLICY_VIOLATION (more partitions in the request than
// samsa.max.partitions.per.request, counted over all its topics, or more
// on a broker than max.broker.partitions).
//
// From v5 a created (or validated) topic's entry carries its partition
// count, replication factor and every topic config with its source; from v7
// its topic id. After a real creation the handler waits, up to timeout_ms,
// until this node's partitions of the topic exist, so a produce right after
// the response finds them; a timeout_ms <= 0 does not wait.

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return createTopics(ctx, b, r.(*kmsg.CreateTopicsRequest)), nil
}

func createTopics(ctx context.Context, env *Broker, req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := timeoutCtx(ctx, req.TimeoutMillis)
	defer cancel()

	count := map[string]int{}
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	reported := map[string]bool{}
	var lastEpoch int64
	tooMany := requestPartitionsOverLimit(env, req)
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		if count[rt.Topic] > 1 {
			if reported[rt.Topic] {
				continue
			}
			reported[rt.Topic] = true
			st.ErrorCode = kerr.InvalidRequest.Code
			st.ErrorMessage = strPtr("Duplicate topic name.")
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var t *metadata.Topic
		err := tooMany
		if err == nil {
			t, err = createOneTopic(ctx, env, rt, req.ValidateOnly)
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err)
			if req.Version < 1 {
				st.ErrorMessage = nil
			}
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if !req.ValidateOnly {
			lastEpoch = env.meta.Image().Epoch
		}
		fillCreatedTopic(&st, env, t)
		resp.Topics = append(resp.Topics, st)
	}
	if lastEpoch > 0 && req.TimeoutMillis > 0 && env.replicas != nil {
		if err := env.replicas.AwaitImage(ctx, lastEpoch); err != nil {
			// The topics exist; only their local partitions are late.
			for i := range resp.Topics {
				if resp.Topics[i].ErrorCode == 0 {
					resp.Topics[i].ErrorCode = kerr.RequestTimedOut.Code
					resp.Topics[i].ErrorMessage = strPtr("The topic was created but its partitions were not ready within the request timeout.")
				}
			}
		}
	}
	return resp
}

// requestPartitionsOverLimit refuses a whole request whose topics together
// ask for more than samsa.max.partitions.per.request partitions, as Kafka's
// controller refuses an operation of more than 10,000 records; each topic
// alone is checked again by the controller.
func requestPartitionsOverLimit(env *Broker, req *kmsg.CreateTopicsRequest) error {
	var total int64
	for _, rt := range req.Topics {
		switch {
		case len(rt.ReplicaAssignment) > 0:
			total += int64(len(rt.ReplicaAssignment))
		case rt.NumPartitions == -1:
			total += int64(env.cfg.NumPartitions)
		case rt.NumPartitions > 0:
			total += int64(rt.NumPartitions)
		}
	}
	if limit := int64(env.cfg.MaxPartitionsPerRequest); limit > 0 && total > limit {
		return &metadata.Error{Code: kerr.PolicyViolation, Message: fmt.Sprintf("%s: %d partitions in one request, more than samsa.max.partitions.per.request (%d).", metadata.ExcessiveBatchMessage, total, limit)}
	}
	return nil
}

func createOneTopic(ctx context.Context, env *Broker, rt kmsg.CreateTopicsRequestTopic, validateOnly bool) (*metadata.Topic, error) {
	configs := make(map[string]string, len(rt.Configs))
	var nulls []string
	for _, c := range rt.Configs {
		if c.Value == nil {
			nulls = append(nulls, c.Name)
			continue
		}
		configs[c.Name] = *c.Value
	}
	if len(nulls) > 0 {
		sort.Strings(nulls)
		return nil, &metadata.Error{Code: kerr.InvalidConfig, Message: "Null value not supported for topic configs: " + strings.Join(nulls, ",")}
	}
	var assignments map[int32][]int32
	if len(rt.ReplicaAssignment) > 0 {
		assignments = make(map[int32][]int32, len(rt.ReplicaAssignment))
		for _, a := range rt.ReplicaAssignment {
			if _, dup := assignments[a.Partition]; dup {
				return nil, &metadata.Error{Code: kerr.InvalidReplicaAssignment, Message: fmt.Sprintf("Partition %d is assigned more than once.", a.Partition)}
			}
			assignments[a.Partition] = a.Replicas
		}
	}
	return env.meta.CreateTopic(ctx, metadata.CreateTopicRequest{
		Name:              rt.Topic,
		NumPartitions:     rt.NumPartitions,
		ReplicationFactor: rt.ReplicationFactor,
		Assignments:       assignments,
		Configs:           configs,
		ValidateOnly:      validateOnly,
	})
}

// fillCreatedTopic adds what v5+ (configs, counts) and v7+ (id) report.
func fillCreatedTopic(st *kmsg.CreateTopicsResponseTopic, env *Broker, t *metadata.Topic) {
	st.TopicID = t.ID
	st.NumPartitions = int32(len(t.Partitions))
	if len(t.Partitions) > 0 {
		st.ReplicationFactor = int16(len(t.Partitions[0].Replicas))
	}
	view := newConfigView(env.cfg, env.meta.Image())
	for _, e := range view.topicEntries(t.Configs) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value, c.ReadOnly, c.IsSensitive = e.name, e.value, e.readOnly, e.sensitive
		c.Source = int8(e.source)
		st.Configs = append(st.Configs, c)
	}
}
