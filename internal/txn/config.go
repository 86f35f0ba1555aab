package txn

import (
	"fmt"
	"github.com/samsa-streaming/samsa/internal/coordinator"
)

// Config holds the transaction coordinator's settings, named as Kafka
// names them. Start from DefaultConfig.
type Config struct {
	// NodeID is the id of the node the coordinator runs on.
	NodeID int32
	// TransactionMaxTimeoutMs (transaction.max.timeout.ms, default
	// 900,000): the largest transaction.timeout.ms a producer may ask
	// for; more gets INVALID_TRANSACTION_TIMEOUT.
	TransactionMaxTimeoutMs int32
	// TransactionalIDExpirationMs (transactional.id.expiration.ms,
	// default 604,800,000 = 7 days): a transactional id with no
	// transaction in progress and no request for this long is forgotten.
	TransactionalIDExpirationMs int64
	// TransactionStateLogNumPartitions
	// (transaction.state.log.num.partitions, default 50): partitions of
	// __transaction_state; a transactional id lives in partition
	// abs(hash(id)) % this.
	TransactionStateLogNumPartitions int32
	// TransactionStateLogSegmentBytes (transaction.state.log.segment.bytes,
	// default 100 MiB).
	TransactionStateLogSegmentBytes int64
	// TransactionStateLogReplicationFactor
	// (transaction.state.log.replication.factor, default 3) and
	// TransactionStateLogMinISR (transaction.state.log.min.isr, default
	// 2): replicas of each __transaction_state partition and its
	// min.insync.replicas.
	TransactionStateLogReplicationFactor int16
	TransactionStateLogMinISR            int32
	// TransactionAbortTimedOutTransactionCleanupIntervalMs
	// (transaction.abort.timed.out.transaction.cleanup.interval.ms,
	// default 10,000): how often Tick should run; the broker's ticker
	// uses it.
	TransactionAbortTimedOutTransactionCleanupIntervalMs int64
	// TransactionVersion (samsa.transaction.version, default 2): the
	// transaction.version feature level the node finalizes at start
	// (Kafka sets it with kafka-features or at format time). 2 enables
	// transaction protocol version 2 (KIP-890 part 2) for producers
	// that ask for it; 1 or 0 keeps every producer on version 1.
	TransactionVersion int16
}

// FeatureName is the feature that finalizes the transaction protocol
// version, and MaxTransactionVersion the highest level served.
const (
	FeatureName           = "transaction.version"
	MaxTransactionVersion = 2
)

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		NodeID:                                               1,
		TransactionMaxTimeoutMs:                              900000,
		TransactionalIDExpirationMs:                          7 * 24 * 3600 * 1000,
		TransactionStateLogNumPartitions:                     50,
		TransactionStateLogSegmentBytes:                      100 << 20,
		TransactionStateLogReplicationFactor:                 3,
		TransactionStateLogMinISR:                            2,
		TransactionAbortTimedOutTransactionCleanupIntervalMs: 10000,
		TransactionVersion:                                   MaxTransactionVersion,
	}
}

// Validate reports the first setting out of range.
func (c *Config) Validate() error {
	switch {
	case c.TransactionMaxTimeoutMs < 1:
		return fmt.Errorf("transaction.max.timeout.ms %d must be at least 1", c.TransactionMaxTimeoutMs)
	case c.TransactionalIDExpirationMs < 1:
		return fmt.Errorf("transactional.id.expiration.ms %d must be at least 1", c.TransactionalIDExpirationMs)
	case c.TransactionStateLogNumPartitions < 1:
		return fmt.Errorf("transaction.state.log.num.partitions %d must be at least 1", c.TransactionStateLogNumPartitions)
	case c.TransactionStateLogReplicationFactor < 1:
		return fmt.Errorf("transaction.state.log.replication.factor %d must be at least 1", c.TransactionStateLogReplicationFactor)
	case c.TransactionStateLogMinISR < 1:
		return fmt.Errorf("transaction.state.log.min.isr %d must be at least 1", c.TransactionStateLogMinISR)
	case c.TransactionStateLogSegmentBytes < 1:
		return fmt.Errorf("transaction.state.log.segment.bytes %d must be positive", c.TransactionStateLogSegmentBytes)
	case c.TransactionVersion < 0 || c.TransactionVersion > MaxTransactionVersion:
		return fmt.Errorf("samsa.transaction.version %d must be between 0 and %d", c.TransactionVersion, MaxTransactionVersion)
	case c.TransactionAbortTimedOutTransactionCleanupIntervalMs < 1:
		return fmt.Errorf("transaction.abort.timed.out.transaction.cleanup.interval.ms %d must be at least 1", c.TransactionAbortTimedOutTransactionCleanupIntervalMs)
	}
	return nil
}

// ConfigDefs lists the property names ConfigFromProps reads, with Kafka's
// defaults and a sentence each.
var ConfigDefs = [][3]string{
	{"transaction.max.timeout.ms", "900000", "The largest transaction.timeout.ms a producer may ask for; more gets INVALID_TRANSACTION_TIMEOUT."},
	{"transactional.id.expiration.ms", "604800000", "A transactional id with no transaction in progress and no request for this long is forgotten."},
	{"transaction.state.log.num.partitions", "50", "Partitions of __transaction_state, fixed when it is created; a transactional id lives in partition abs(hash(id)) % this."},
	{"transaction.state.log.segment.bytes", "104857600", "Segment size of __transaction_state."},
	{"transaction.state.log.replication.factor", "3", "Replicas of each __transaction_state partition. Until that many brokers are up the transaction coordinator is unavailable, as in Kafka; a node that is a cluster of one (no controller.quorum.voters) uses one."},
	{"transaction.state.log.min.isr", "2", "min.insync.replicas of __transaction_state (at most its replication factor)."},
	{"transaction.abort.timed.out.transaction.cleanup.interval.ms", "10000", "How often the transaction coordinator aborts transactions open past their timeout, retries unfinished completions and forgets expired transactional ids."},
	{"samsa.transaction.version", "2", "The transaction.version feature level the node finalizes at start (Kafka sets it with kafka-features): 2 enables transaction protocol version 2 (KIP-890) for producers that ask for it; 1 or 0 keeps every producer on version 1."},
}

// ConfigFromProps builds a Config from Kafka-named properties, starting
// from the defaults; unrelated keys are ignored. It validates the result.
func ConfigFromProps(nodeID int32, props map[string]string) (Config, error) {
	c := DefaultConfig()
	c.NodeID = nodeID
	r := coordinator.NewProps(props)
	r.Int32("transaction.max.timeout.ms", &c.TransactionMaxTimeoutMs)
	r.Int64("transactional.id.expiration.ms", &c.TransactionalIDExpirationMs)
	r.Int32("transaction.state.log.num.partitions", &c.TransactionStateLogNumPartitions)
	r.Int64("transaction.state.log.segment.bytes", &c.TransactionStateLogSegmentBytes)
	r.Int16("transaction.state.log.replication.factor", &c.TransactionStateLogReplicationFactor)
	r.Int32("transaction.state.log.min.isr", &c.TransactionStateLogMinISR)
	r.Int64("transaction.abort.timed.out.transaction.cleanup.interval.ms", &c.TransactionAbortTimedOutTransactionCleanupIntervalMs)
	r.Int16("samsa.transaction.version", &c.TransactionVersion)
	if r.Err != nil {
		return Config{}, r.Err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
