package broker

// Helpers shared by the admin handlers (CreateTopics, DeleteTopics,
// configs, DescribeCluster, InitProducerId, ...).

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
)

// errCode splits an error from the metadata or partition package into the
// Kafka code and message a response carries. A nil error gives (0, nil).
func errCode(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		msg := err.Error()
		return kerr.RequestTimedOut.Code, &msg
	}
	var pe *partition.Error
	if errors.As(err, &pe) {
		msg := pe.Message
		return pe.Code.Code, nonEmpty(msg)
	}
	code, msg := metadata.ErrorCode(err)
	return code, nonEmpty(msg)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func strPtr(s string) *string { return &s }

// timeoutCtx bounds a controller operation by the request's timeout_ms;
// a timeout <= 0 means the handler's own context.
func timeoutCtx(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	if ms <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}

// localPartition finds this node's leader state of a partition, or the
// Kafka error for its absence: UNKNOWN_TOPIC_OR_PARTITION when the metadata
// has no such partition, NOT_LEADER_OR_FOLLOWER when it exists but is not
// (yet) hosted here.
func (b *Broker) localPartition(topic string, idx int32) (*partition.Partition, *kerr.Error) {
	if p, ok := b.replicas.Partition(topic, idx); ok {
		return p, nil
	}
	if _, ok := b.meta.Image().Partition(topic, idx); ok {
		return nil, kerr.NotLeaderForPartition
	}
	return nil, kerr.UnknownTopicOrPartition
}
