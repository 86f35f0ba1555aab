// Package coordinator holds what Samsa's two coordinators (consumer groups in
// internal/group, transactions in internal/txn) share: their state is a
// sequence of key/value records in the partitions of an internal compacted
// topic (__consumer_offsets, __transaction_state), each key's partition is
// chosen as Kafka chooses it, and the state is rebuilt by replaying the
// partition from the start.
//
// A coordinator serves only the keys of the partitions it has loaded, the
// ones its node leads; Ownership keeps track of them with Kafka's rules
// (ownership.go).
//
// The broker implements Storage over its partitions; MemStorage keeps
// records in memory, for tests and for running a coordinator without a log.
package coordinator

import (
	"context"
	"math"
	"sync"
	"unicode/utf16"
)

// Record is one key/value record of an internal topic. A nil Value is a
// tombstone.
type Record struct {
	Key, Value []byte
}

// Storage persists a coordinator's records in the partitions of its
// internal topic.
//
// Append writes the records, in order, as one batch to the partition and
// returns once they are durable (acks=all semantics). Replay calls fn for
// every record of the partition in offset order, tombstones included, and
// returns fn's first error. Append may be called concurrently for different
// partitions. Slices passed to fn are valid only during the call.
type Storage interface {
	Append(ctx context.Context, partition int32, recs []Record) error
	Replay(ctx context.Context, partition int32, fn func(Record) error) error
}

// PartitionFor is the partition of key in an internal topic of the given
// number of partitions, as Kafka computes it: abs(Java String.hashCode(key))
// modulo partitions, where Kafka's abs maps MinInt32 to 0.
func PartitionFor(key string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(key)) {
		h = 31*h + int32(u)
	}
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % partitions
}

// MemStorage is a Storage in memory; SetFail makes Append fail.
type MemStorage struct {
	mu   sync.Mutex
	logs map[int32][]Record
	fail error
}

// SetFail makes every later Append return err; nil makes Append work again.
func (s *MemStorage) SetFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// NewMemStorage returns an empty in-memory storage.
func NewMemStorage() *MemStorage { return &MemStorage{logs: map[int32][]Record{}} }

// Append implements Storage; it copies the records.
func (s *MemStorage) Append(_ context.Context, p int32, recs []Record) error {
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

// Replay implements Storage.
func (s *MemStorage) Replay(_ context.Context, p int32, fn func(Record) error) error {
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

// Len is the number of records stored in all partitions.
func (s *MemStorage) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.logs {
		n += len(l)
	}
	return n
}

func cloneOrNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
