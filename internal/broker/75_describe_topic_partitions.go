package broker

// DescribeTopicPartitions, version 0 (KIP-966; Java's admin describeTopics
// prefers it).
//
// Describes the requested topics (all topics when the list is empty),
// sorted by name, with each partition's leader, leader epoch, replicas and
// ISR (eligible leader replicas and last known ELR are empty; no replica is
// offline in a single-node view). At most response_partition_limit
// partitions are returned (capped at 2000, Kafka's
// max.request.partition.size.limit; <= 0 means 2000); when more remain,
// next_cursor names the topic and partition to continue from. A request
// cursor starts the listing at that topic and partition; a cursor topic
// that is not among the requested topics gets INVALID_REQUEST for every
// requested topic. Unknown topics get UNKNOWN_TOPIC_OR_PARTITION, invalid
// names INVALID_TOPIC_EXCEPTION. Authorized operations are all of a
// topic's, since there is no authorizer.

import (
	"context"
	"sort"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(75, 0, 0, handleDescribeTopicPartitions) }

const maxDescribePartitions = 2000

func handleDescribeTopicPartitions(ctx context.Context, b *Broker, _ *RequestContext, r kmsg.Request) (kmsg.Response, error) {
	return describeTopicPartitions(b, r.(*kmsg.DescribeTopicPartitionsRequest)), nil
}

func describeTopicPartitions(env *Broker, req *kmsg.DescribeTopicPartitionsRequest) *kmsg.DescribeTopicPartitionsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	im := env.meta.Image()

	all := len(req.Topics) == 0
	var names []string
	if all {
		names = im.TopicNames()
	} else {
		seen := map[string]bool{}
		for _, t := range req.Topics {
			if !seen[t.Topic] {
				seen[t.Topic] = true
				names = append(names, t.Topic)
			}
		}
		sort.Strings(names)
	}

	limit := req.ResponsePartitionLimit
	if limit <= 0 || limit > maxDescribePartitions {
		limit = maxDescribePartitions
	}
	var cursorTopic string
	var cursorPartition int32
	if req.Cursor != nil {
		cursorTopic, cursorPartition = req.Cursor.Topic, req.Cursor.Partition
		if !all && !containsString(names, cursorTopic) || cursorPartition < 0 {
			for _, n := range names {
				rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
				rt.Topic = strPtr(n)
				rt.ErrorCode = kerr.InvalidRequest.Code
				resp.Topics = append(resp.Topics, rt)
			}
			return resp
		}
	}

	remaining := limit
	for _, name := range names {
		if req.Cursor != nil && name < cursorTopic {
			continue
		}
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = strPtr(name)
		t := im.Topic(name)
		if t == nil {
			if err := metadata.ValidateTopicName(name); err != nil {
				rt.ErrorCode = kerr.InvalidTopicException.Code
			} else {
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		rt.TopicID = t.ID
		rt.IsInternal = metadata.IsInternalTopic(name)
		rt.AuthorizedOperations = topicAuthorizedOps
		start := int32(0)
		if req.Cursor != nil && name == cursorTopic {
			start = cursorPartition
		}
		p := start
		for ; p < int32(len(t.Partitions)) && remaining > 0; p++ {
			rt.Partitions = append(rt.Partitions, describePartition(t.Partitions[p]))
			remaining--
		}
		resp.Topics = append(resp.Topics, rt)
		if p < int32(len(t.Partitions)) {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: p}
			break
		}
	}
	return resp
}

func describePartition(p metadata.Partition) kmsg.DescribeTopicPartitionsResponseTopicPartition {
	rp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
	rp.Partition = p.ID
	rp.LeaderID = p.Leader
	rp.LeaderEpoch = p.LeaderEpoch
	rp.Replicas = append([]int32{}, p.Replicas...)
	rp.ISR = append([]int32{}, p.ISR...)
	rp.EligibleLeaderReplicas = []int32{}
	rp.LastKnownELR = []int32{}
	rp.OfflineReplicas = []int32{}
	return rp
}
