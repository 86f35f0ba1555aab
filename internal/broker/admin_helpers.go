package broker

// The admin handlers (CreateTopics, DeleteTopics, configs, DescribeCluster,
// InitProducerId, ...) are written against adminEnv rather than *Broker, so
// their logic can be tested with a metadata store and no network. The
// broker builds an adminEnv from its own state (admin_env.go).

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/twmb/franz-go/pkg/kerr"
)

// adminEnv is what the admin handlers need from the node.
type adminEnv struct {
	meta   *metadata.Store
	cfg    *config.Config
	nodeID int32
	// awaitImage waits until this node's replicas reflect the metadata image
	// of at least epoch (nil: do not wait).
	awaitImage func(ctx context.Context, epoch int64) error
	// partition returns this node's leader state of a partition.
	partition func(topic string, p int32) (*partition.Partition, bool)
	// logDirs lists the node's log directories and what they hold.
	logDirs func() []logDirInfo
	// pids hands out producer ids in blocks reserved from the metadata log.
	pids *producerIDAllocator
}

// logDirInfo describes one log directory for DescribeLogDirs.
type logDirInfo struct {
	Dir         string
	Err         error // the directory is offline
	Partitions  []logDirPartition
	TotalBytes  int64 // -1 if unknown
	UsableBytes int64 // -1 if unknown
}

type logDirPartition struct {
	Topic     string
	Partition int32
	Size      int64
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
const producerIDBlockSize = 1000

// producerIDAllocator hands out producer ids from a block reserved in the
// metadata log, reserving the next block when one runs out. Ids are unique
// across the cluster and across restarts (an unused rest of a block is
// lost at restart, as in Kafka).
type producerIDAllocator struct {
	mu   sync.Mutex
	next int64
	end  int64 // exclusive
}

func (a *producerIDAllocator) allocate(ctx context.Context, meta *metadata.Store) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.end {
		first, err := meta.AllocateProducerIDs(ctx, producerIDBlockSize)
		if err != nil {
			return -1, err
		}
		a.next, a.end = first, first+producerIDBlockSize
	}
	id := a.next
	a.next++
	return id, nil
}

// producerIDAllocators keeps one allocator per metadata store, that is per
// broker in this process.
var producerIDAllocators sync.Map // *metadata.Store → *producerIDAllocator

func allocatorFor(meta *metadata.Store) *producerIDAllocator {
	a, _ := producerIDAllocators.LoadOrStore(meta, &producerIDAllocator{})
	return a.(*producerIDAllocator)
}

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
