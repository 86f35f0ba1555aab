package log

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Durability says when an append counts as durable.
type Durability int8

const (
	// DurabilitySync counts data as durable once fsynced: Append returns, and
	// WaitDurable wakes, only after the fsync. Concurrent appends,
	// to one or many partitions of a Manager, share fsync rounds (group
	// commit). It is the default: on a single node acknowledged means on disk.
	DurabilitySync Durability = iota
	// DurabilityPageCache is Kafka's default: Append returns once the data is
	// in the page cache; the log is fsynced every flush.messages messages or
	// flush.ms milliseconds, at segment roll and at close. Replication, not
	// fsync, protects acknowledged data.
	DurabilityPageCache
)

func (d Durability) String() string {
	switch d {
	case DurabilitySync:
		return "sync"
	case DurabilityPageCache:
		return "pagecache"
	}
	return fmt.Sprintf("Durability(%d)", int8(d))
}

// Cleanup policies (cleanup.policy).
const (
	CleanupPolicyDelete        = "delete"
	CleanupPolicyCompact       = "compact"
	CleanupPolicyCompactDelete = "compact,delete"
)

// Config holds a partition log's settings, named as Kafka's topic configs.
// Use DefaultConfig and change what you need; the zero Config is invalid.
type Config struct {
	// SegmentBytes (segment.bytes): roll the active segment when an append
	// would make it larger. Default 1 GiB; minimum 14 bytes (Kafka's).
	SegmentBytes int64
	// SegmentMs (segment.ms): roll a non-empty segment older than this many
	// milliseconds (measured from its first batch). Default 7 days.
	SegmentMs int64
	// SegmentIndexBytes (segment.index.bytes): size the offset and time index
	// files are preallocated to; a full index rolls the segment. Default 10 MiB.
	SegmentIndexBytes int32
	// IndexIntervalBytes (index.interval.bytes): bytes of batches between two
	// offset (and time) index entries. Default 4096.
	IndexIntervalBytes int32
	// RetentionMs (retention.ms): delete segments whose largest timestamp is
	// older than this; -1 keeps forever. Default 7 days.
	RetentionMs int64
	// RetentionBytes (retention.bytes): delete the oldest segments while the
	// log is larger than this; -1 means unlimited (the default).
	RetentionBytes int64
	// CleanupPolicy (cleanup.policy): "delete", "compact" or "compact,delete".
	CleanupPolicy string
	// DeleteRetentionMs (delete.retention.ms): how long the cleaner keeps
	// tombstones. Default 1 day.
	DeleteRetentionMs int64
	// MinCleanableDirtyRatio (min.cleanable.dirty.ratio). Default 0.5.
	MinCleanableDirtyRatio float64
	// MinCompactionLagMs (min.compaction.lag.ms). Default 0.
	MinCompactionLagMs int64
	// MaxCompactionLagMs (max.compaction.lag.ms). Default MaxInt64.
	MaxCompactionLagMs int64
	// FlushMessages (flush.messages): with DurabilityPageCache, fsync after
	// this many messages. Default MaxInt64 (never).
	FlushMessages int64
	// FlushMs (flush.ms): with DurabilityPageCache, fsync data older than
	// this many milliseconds. Default MaxInt64 (never).
	FlushMs int64
	// Durability: DurabilitySync (default) or DurabilityPageCache.
	Durability Durability
}

// DefaultConfig returns Kafka's defaults, with DurabilitySync.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:           1 << 30,
		SegmentMs:              7 * 24 * 3600 * 1000,
		SegmentIndexBytes:      10 << 20,
		IndexIntervalBytes:     4096,
		RetentionMs:            7 * 24 * 3600 * 1000,
		RetentionBytes:         -1,
		CleanupPolicy:          CleanupPolicyDelete,
		DeleteRetentionMs:      24 * 3600 * 1000,
		MinCleanableDirtyRatio: 0.5,
		MinCompactionLagMs:     0,
		MaxCompactionLagMs:     math.MaxInt64,
		FlushMessages:          math.MaxInt64,
		FlushMs:                math.MaxInt64,
		Durability:             DurabilitySync,
	}
}

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid log config")

// Validate checks every field against Kafka's bounds.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.SegmentBytes < 14 || c.SegmentBytes > math.MaxInt32:
		// Positions in the offset index are 32-bit, so a segment cannot pass 2 GiB.
		return bad("segment.bytes %d out of range [14, %d]", c.SegmentBytes, math.MaxInt32)
	case c.SegmentMs < 1:
		return bad("segment.ms %d must be at least 1", c.SegmentMs)
	case c.SegmentIndexBytes < 4*timeIndexEntrySize:
		return bad("segment.index.bytes %d must be at least %d", c.SegmentIndexBytes, 4*timeIndexEntrySize)
	case c.IndexIntervalBytes < 0:
		return bad("index.interval.bytes %d must not be negative", c.IndexIntervalBytes)
	case c.RetentionMs < -1:
		return bad("retention.ms %d must be -1 or more", c.RetentionMs)
	case c.RetentionBytes < -1:
		return bad("retention.bytes %d must be -1 or more", c.RetentionBytes)
	case c.DeleteRetentionMs < 0:
		return bad("delete.retention.ms %d must not be negative", c.DeleteRetentionMs)
	case c.MinCleanableDirtyRatio < 0 || c.MinCleanableDirtyRatio > 1:
		return bad("min.cleanable.dirty.ratio %v out of range [0, 1]", c.MinCleanableDirtyRatio)
	case c.MinCompactionLagMs < 0:
		return bad("min.compaction.lag.ms %d must not be negative", c.MinCompactionLagMs)
	case c.MaxCompactionLagMs < 1:
		return bad("max.compaction.lag.ms %d must be at least 1", c.MaxCompactionLagMs)
	case c.FlushMessages < 1:
		return bad("flush.messages %d must be at least 1", c.FlushMessages)
	case c.FlushMs < 0:
		return bad("flush.ms %d must not be negative", c.FlushMs)
	case c.Durability != DurabilitySync && c.Durability != DurabilityPageCache:
		return bad("unknown durability %d", c.Durability)
	}
	switch c.CleanupPolicy {
	case CleanupPolicyDelete, CleanupPolicyCompact, CleanupPolicyCompactDelete, "delete,compact":
	default:
		return bad("cleanup.policy %q must be delete, compact or compact,delete", c.CleanupPolicy)
	}
	return nil
}

// deletes reports whether the cleanup policy includes "delete".
func (c Config) deletes() bool { return strings.Contains(c.CleanupPolicy, CleanupPolicyDelete) }

// Compacts reports whether the cleanup policy includes "compact".
func (c Config) Compacts() bool { return strings.Contains(c.CleanupPolicy, CleanupPolicyCompact) }
