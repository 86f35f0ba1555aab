package group

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetsTopic is the internal compacted topic holding committed offsets and
// classic group metadata.
const OffsetsTopic = "__consumer_offsets"

// Record is one key/value record of __consumer_offsets. A nil Value is a
// tombstone: compaction drops the key.
type Record struct {
	Key, Value []byte
}

// Storage persists the coordinator's records in the partitions of
// __consumer_offsets.
//
// Append writes the records, in order, as one batch to the partition and
// returns once they are durable (acks=all semantics); it creates the topic
// on first use. Replay calls fn for every record of the partition in offset
// order, tombstones included, and returns fn's first error. The coordinator
// serialises Append calls per group but may call Append for different
// partitions, or different groups of one partition, concurrently. Slices
// passed to fn are valid only during the call.
type Storage interface {
	Append(ctx context.Context, partition int32, recs []Record) error
	Replay(ctx context.Context, partition int32, fn func(Record) error) error
}

// PartitionFor is the __consumer_offsets partition of a group, as Kafka
// computes it: abs(Java String.hashCode(groupID)) % partitions.
func PartitionFor(groupID string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(groupID)) {
		h = 31*h + int32(u)
	}
	if h == -1<<31 { // Kafka's Utils.abs maps MinInt32 to 0
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
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

// memStorage keeps records in memory: the coordinator's storage when none
// is given (offsets then live as long as the process), and the tests'.
type memStorage struct {
	mu   sync.Mutex
	logs map[int32][]Record
	fail error // returned by Append when set
}

func newMemStorage() *memStorage { return &memStorage{logs: map[int32][]Record{}} }

func (s *memStorage) Append(_ context.Context, p int32, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, r := range recs {
		s.logs[p] = append(s.logs[p], Record{Key: append([]byte(nil), r.Key...), Value: cloneOrNil(r.Value)})
	}
	return nil
}

func (s *memStorage) Replay(_ context.Context, p int32, fn func(Record) error) error {
	s.mu.Lock()
	recs := append([]Record(nil), s.logs[p]...)
	s.mu.Unlock()
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func cloneOrNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
