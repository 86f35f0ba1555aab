package group

import (
	"errors"
	"fmt"
	"github.com/samsa-streaming/samsa/internal/coordinator"
	"math"
	"strings"
)

// Config holds the coordinator's settings, named as Kafka names them. The
// zero value is not useful: start from DefaultConfig.
type Config struct {
	// NodeID is the id of the node the coordinator runs on.
	NodeID int32

	// GroupMinSessionTimeoutMs (group.min.session.timeout.ms, default
	// 6,000): the smallest session timeout a classic member may ask for.
	GroupMinSessionTimeoutMs int32
	// GroupMaxSessionTimeoutMs (group.max.session.timeout.ms, default
	// 1,800,000): the largest session timeout a classic member may ask for.
	GroupMaxSessionTimeoutMs int32
	// GroupMaxSize (group.max.size, default MaxInt32): the most members a
	// classic group admits; further joins get GROUP_MAX_SIZE_REACHED.
	GroupMaxSize int32
	// GroupInitialRebalanceDelayMs (group.initial.rebalance.delay.ms,
	// default 3,000): how long the first rebalance of an empty group waits
	// for more members before completing, extended by each join up to the
	// rebalance timeout.
	GroupInitialRebalanceDelayMs int32

	// GroupConsumerSessionTimeoutMs (group.consumer.session.timeout.ms,
	// default 45,000): the session timeout of KIP-848 members.
	GroupConsumerSessionTimeoutMs int32
	// GroupConsumerHeartbeatIntervalMs (group.consumer.heartbeat.interval.ms,
	// default 5,000): the heartbeat interval told to KIP-848 members.
	GroupConsumerHeartbeatIntervalMs int32
	// GroupConsumerMaxSize (group.consumer.max.size, default MaxInt32).
	GroupConsumerMaxSize int32
	// GroupConsumerAssignors (group.consumer.assignors, default
	// "uniform,range"): the server-side assignors; the first is the default.
	GroupConsumerAssignors []string

	// OffsetsTopicNumPartitions (offsets.topic.num.partitions, default 50):
	// partitions of __consumer_offsets; a group lives in partition
	// abs(hash(group id)) % this.
	OffsetsTopicNumPartitions int32
	// OffsetsTopicSegmentBytes (offsets.topic.segment.bytes, default 100 MiB).
	OffsetsTopicSegmentBytes int64
	// OffsetsTopicReplicationFactor (offsets.topic.replication.factor,
	// default 3): replicas of each __consumer_offsets partition.
	OffsetsTopicReplicationFactor int16
	// OffsetsRetentionMinutes (offsets.retention.minutes, default 10,080 =
	// 7 days): committed offsets of a group that has been empty this long
	// are deleted.
	OffsetsRetentionMinutes int64
	// OffsetsRetentionCheckIntervalMs (offsets.retention.check.interval.ms,
	// default 600,000): how often expired offsets are looked for.
	OffsetsRetentionCheckIntervalMs int64
	// OffsetMetadataMaxBytes (offset.metadata.max.bytes, default 4,096):
	// the longest metadata string an offset commit may carry.
	OffsetMetadataMaxBytes int32
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		NodeID:                           1,
		GroupMinSessionTimeoutMs:         6000,
		GroupMaxSessionTimeoutMs:         1800000,
		GroupMaxSize:                     math.MaxInt32,
		GroupInitialRebalanceDelayMs:     3000,
		GroupConsumerSessionTimeoutMs:    45000,
		GroupConsumerHeartbeatIntervalMs: 5000,
		GroupConsumerMaxSize:             math.MaxInt32,
		GroupConsumerAssignors:           []string{AssignorUniform, AssignorRange},
		OffsetsTopicNumPartitions:        50,
		OffsetsTopicSegmentBytes:         100 << 20,
		OffsetsTopicReplicationFactor:    3,
		OffsetsRetentionMinutes:          7 * 24 * 60,
		OffsetsRetentionCheckIntervalMs:  600000,
		OffsetMetadataMaxBytes:           4096,
	}
}

// Validate reports the first setting out of range.
func (c *Config) Validate() error {
	switch {
	case c.GroupMinSessionTimeoutMs <= 0:
		return fmt.Errorf("group.min.session.timeout.ms %d must be positive", c.GroupMinSessionTimeoutMs)
	case c.GroupMaxSessionTimeoutMs < c.GroupMinSessionTimeoutMs:
		return fmt.Errorf("group.max.session.timeout.ms %d is below group.min.session.timeout.ms %d", c.GroupMaxSessionTimeoutMs, c.GroupMinSessionTimeoutMs)
	case c.GroupMaxSize < 1:
		return fmt.Errorf("group.max.size %d must be at least 1", c.GroupMaxSize)
	case c.GroupInitialRebalanceDelayMs < 0:
		return fmt.Errorf("group.initial.rebalance.delay.ms %d is negative", c.GroupInitialRebalanceDelayMs)
	case c.GroupConsumerSessionTimeoutMs <= 0:
		return fmt.Errorf("group.consumer.session.timeout.ms %d must be positive", c.GroupConsumerSessionTimeoutMs)
	case c.GroupConsumerHeartbeatIntervalMs <= 0 || c.GroupConsumerHeartbeatIntervalMs >= c.GroupConsumerSessionTimeoutMs:
		return fmt.Errorf("group.consumer.heartbeat.interval.ms %d must be positive and below group.consumer.session.timeout.ms %d", c.GroupConsumerHeartbeatIntervalMs, c.GroupConsumerSessionTimeoutMs)
	case c.GroupConsumerMaxSize < 1:
		return fmt.Errorf("group.consumer.max.size %d must be at least 1", c.GroupConsumerMaxSize)
	case len(c.GroupConsumerAssignors) == 0:
		return errors.New("group.consumer.assignors is empty")
	case c.OffsetsTopicNumPartitions < 1:
		return fmt.Errorf("offsets.topic.num.partitions %d must be at least 1", c.OffsetsTopicNumPartitions)
	case c.OffsetsTopicReplicationFactor < 1:
		return fmt.Errorf("offsets.topic.replication.factor %d must be at least 1", c.OffsetsTopicReplicationFactor)
	case c.OffsetsTopicSegmentBytes < 1:
		return fmt.Errorf("offsets.topic.segment.bytes %d must be positive", c.OffsetsTopicSegmentBytes)
	case c.OffsetsRetentionMinutes < 1:
		return fmt.Errorf("offsets.retention.minutes %d must be at least 1", c.OffsetsRetentionMinutes)
	case c.OffsetsRetentionCheckIntervalMs < 1:
		return fmt.Errorf("offsets.retention.check.interval.ms %d must be positive", c.OffsetsRetentionCheckIntervalMs)
	case c.OffsetMetadataMaxBytes < 0:
		return fmt.Errorf("offset.metadata.max.bytes %d is negative", c.OffsetMetadataMaxBytes)
	}
	for _, a := range c.GroupConsumerAssignors {
		if newAssignor(a) == nil {
			return fmt.Errorf("group.consumer.assignors: unknown assignor %q (known: %s, %s)", a, AssignorUniform, AssignorRange)
		}
	}
	return nil
}

// ConfigDefs lists the property names ConfigFromProps reads, with Kafka's
// defaults and a sentence each, so a node's config documentation can
// include them.
var ConfigDefs = [][3]string{
	{"group.min.session.timeout.ms", "6000", "The smallest session timeout a classic group member may ask for."},
	{"group.max.session.timeout.ms", "1800000", "The largest session timeout a classic group member may ask for."},
	{"group.max.size", "2147483647", "The most members a classic group admits; further joins get GROUP_MAX_SIZE_REACHED."},
	{"group.initial.rebalance.delay.ms", "3000", "How long the first rebalance of an empty classic group waits for more members, extended by each join up to the rebalance timeout."},
	{"group.consumer.session.timeout.ms", "45000", "The session timeout of consumer-protocol (KIP-848) group members."},
	{"group.consumer.heartbeat.interval.ms", "5000", "The heartbeat interval told to consumer-protocol (KIP-848) group members; below group.consumer.session.timeout.ms."},
	{"group.consumer.max.size", "2147483647", "The most members a consumer-protocol (KIP-848) group admits."},
	{"group.consumer.assignors", "uniform,range", "The server-side assignors of consumer-protocol groups, comma-separated; the first is the default."},
	{"offsets.topic.num.partitions", "50", "Partitions of __consumer_offsets, fixed when it is created; a group lives in partition abs(hash(group id)) % this."},
	{"offsets.topic.segment.bytes", "104857600", "Segment size of __consumer_offsets."},
	{"offsets.topic.replication.factor", "3", "Replicas of each __consumer_offsets partition. Until that many brokers are up the group coordinator is unavailable, as in Kafka; a node that is a cluster of one (no controller.quorum.voters) uses one."},
	{"offsets.retention.minutes", "10080", "Committed offsets of a group that has been empty this long are deleted."},
	{"offsets.retention.check.interval.ms", "600000", "How often expired committed offsets are looked for."},
	{"offset.metadata.max.bytes", "4096", "The longest metadata string an offset commit may carry."},
}

// ConfigFromProps builds a Config from Kafka-named properties (a node's
// merged property map), starting from the defaults; unrelated keys are
// ignored. It validates the result.
func ConfigFromProps(nodeID int32, props map[string]string) (Config, error) {
	c := DefaultConfig()
	c.NodeID = nodeID
	r := coordinator.NewProps(props)
	i32, i64 := r.Int32, r.Int64
	i32("group.min.session.timeout.ms", &c.GroupMinSessionTimeoutMs)
	i32("group.max.session.timeout.ms", &c.GroupMaxSessionTimeoutMs)
	i32("group.max.size", &c.GroupMaxSize)
	i32("group.initial.rebalance.delay.ms", &c.GroupInitialRebalanceDelayMs)
	i32("group.consumer.session.timeout.ms", &c.GroupConsumerSessionTimeoutMs)
	i32("group.consumer.heartbeat.interval.ms", &c.GroupConsumerHeartbeatIntervalMs)
	i32("group.consumer.max.size", &c.GroupConsumerMaxSize)
	i32("offsets.topic.num.partitions", &c.OffsetsTopicNumPartitions)
	i64("offsets.topic.segment.bytes", &c.OffsetsTopicSegmentBytes)
	r.Int16("offsets.topic.replication.factor", &c.OffsetsTopicReplicationFactor)
	i64("offsets.retention.minutes", &c.OffsetsRetentionMinutes)
	i64("offsets.retention.check.interval.ms", &c.OffsetsRetentionCheckIntervalMs)
	i32("offset.metadata.max.bytes", &c.OffsetMetadataMaxBytes)
	if v, ok := props["group.consumer.assignors"]; ok && v != "" {
		c.GroupConsumerAssignors = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.GroupConsumerAssignors = append(c.GroupConsumerAssignors, a)
			}
		}
	}
	if err := r.Err; err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
