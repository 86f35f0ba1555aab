package group

import (
	"errors"
	"fmt"

	"github.com/samsa-streaming/samsa/internal/coordinator"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the internal compacted topic holding committed offsets and
// classic group metadata.
const OffsetsTopic = "__consumer_offsets"

// Record is one key/value record of __consumer_offsets. A nil Value is a
// tombstone: compaction drops the key.
type Record = coordinator.Record

// Storage persists the coordinator's records in the partitions of
// __consumer_offsets (see coordinator.Storage for the contract); it creates
// the topic on first use. The coordinator serialises Append calls per group
// but may call Append for different partitions, or different groups of one
// partition, concurrently.
type Storage = coordinator.Storage

// PartitionFor is the __consumer_offsets partition of a group, as Kafka
// computes it: abs(Java String.hashCode(groupID)) % partitions.
func PartitionFor(groupID string, partitions int32) int32 {
	return coordinator.PartitionFor(groupID, partitions)
}

// Key versions of __consumer_offsets records: 0 and 1 are offset commits,
// 2 is classic group metadata; 3 and up belong to KIP-848 group records,
// which this coordinator does not write and skips when replaying.
const (
	keyVersionOffsetCommit  = 1
	keyVersionGroupMetadata = 2
)

func offsetCommitKey(group, topic string, partition int32) []byte {
	k := kmsg.OffsetCommitKey{Version: keyVersionOffsetCommit, Group: group, Topic: topic, Partition: partition}
	return k.AppendTo(nil)
}

func offsetCommitValue(o offsetEntry) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = 3
	if o.expireTimestamp >= 0 {
		v.Version = 1 // the only version carrying an explicit expiry (v2-v4 retention_time_ms)
		v.ExpireTimestamp = o.expireTimestamp
	}
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitTimestamp
	return v.AppendTo(nil)
}

// offsetEntryOf is the committed offset an offset commit value holds, as
// offsetCommitValue writes it: the leader epoch is in versions 3 and up,
// an explicit expiry only in version 1 (a negative one means none, as
// everywhere else).
func offsetEntryOf(v *kmsg.OffsetCommitValue) offsetEntry {
	e := offsetEntry{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitTimestamp: v.CommitTimestamp, expireTimestamp: -1}
	if v.Version >= 3 {
		e.leaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 && v.ExpireTimestamp >= 0 {
		e.expireTimestamp = v.ExpireTimestamp
	}
	return e
}

func groupMetadataKey(group string) []byte {
	k := kmsg.GroupMetadataKey{Version: keyVersionGroupMetadata, Group: group}
	return k.AppendTo(nil)
}

// errUnknownRecord marks a record of a kind this coordinator does not use;
// replay skips it.
var errUnknownRecord = errors.New("unknown record kind")

// decodedRecord is one __consumer_offsets record after decoding.
type decodedRecord struct {
	offsetKey *kmsg.OffsetCommitKey
	offset    *kmsg.OffsetCommitValue // nil: tombstone
	groupKey  *kmsg.GroupMetadataKey
	group     *kmsg.GroupMetadataValue // nil: tombstone
}

// decodeRecord decodes a record's key and value with Kafka's schemas.
func decodeRecord(r Record) (decodedRecord, error) {
	var d decodedRecord
	if len(r.Key) < 2 {
		return d, fmt.Errorf("record key of %d bytes is too short", len(r.Key))
	}
	version := int16(r.Key[0])<<8 | int16(r.Key[1])
	switch version {
	case 0, 1:
		k := new(kmsg.OffsetCommitKey)
		if err := k.ReadFrom(r.Key); err != nil {
			return d, fmt.Errorf("offset commit key: %w", err)
		}
		d.offsetKey = k
		if r.Value != nil {
			v := new(kmsg.OffsetCommitValue)
			if err := v.ReadFrom(r.Value); err != nil {
				return d, fmt.Errorf("offset commit value of group %q: %w", k.Group, err)
			}
			d.offset = v
		}
	case 2:
		k := new(kmsg.GroupMetadataKey)
		if err := k.ReadFrom(r.Key); err != nil {
			return d, fmt.Errorf("group metadata key: %w", err)
		}
		d.groupKey = k
		if r.Value != nil {
			v := new(kmsg.GroupMetadataValue)
			if err := v.ReadFrom(r.Value); err != nil {
				return d, fmt.Errorf("group metadata value of group %q: %w", k.Group, err)
			}
			d.group = v
		}
	default:
		if version < 0 {
			return d, fmt.Errorf("record key version %d is negative", version)
		}
		return d, errUnknownRecord
	}
	return d, nil
}
