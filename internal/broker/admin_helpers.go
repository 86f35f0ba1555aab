package broker

// The admin handlers (CreateTopics, DeleteTopics, configs, DescribeCluster,
// InitProducerId, ...) are written against adminEnv rather than *Broker, so
// their logic can be tested with a metadata store and no network. The
// broker builds an adminEnv from its own state (admin_env.go).

import (
	"context"
	"errors"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/replica"
	"github.com/twmb/franz-go/pkg/kerr"
)

// adminEnv is what the admin handlers need from the node.
type adminEnv struct {
	meta   Controller
	cfg    *config.Config
	nodeID int32
	// awaitImage waits until this node's replicas reflect the metadata image
	// of at least epoch (nil: do not wait).
	awaitImage func(ctx context.Context, epoch int64) error
	// partition returns this node's leader state of a partition.
	partition func(topic string, p int32) (*partition.Partition, bool)
	// logDirs lists the node's log directories and what they hold.
	logDirs func() []replica.LogDirInfo
	// pids hands out a producer id from blocks reserved in the metadata
	// log (nil: a fresh allocator of the environment's own).
	pids    func(ctx context.Context) (int64, error)
	ownPIDs replica.ProducerIDs // used when pids is nil
}

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

// producerIDBlockSize is how many producer ids a broker reserves at once in
// the metadata log (Kafka's ProducerIdsBlock size).
// localPartition finds this node's leader state of a partition, or the
// Kafka error for its absence: UNKNOWN_TOPIC_OR_PARTITION when the metadata
// has no such partition, NOT_LEADER_OR_FOLLOWER when it exists but is not
// (yet) hosted here.
func (env *adminEnv) localPartition(topic string, idx int32) (*partition.Partition, *kerr.Error) {
	if env.partition != nil {
		if p, ok := env.partition(topic, idx); ok {
			return p, nil
		}
	}
	if _, ok := env.meta.Image().Partition(topic, idx); ok {
		return nil, kerr.NotLeaderForPartition
	}
	return nil, kerr.UnknownTopicOrPartition
}
