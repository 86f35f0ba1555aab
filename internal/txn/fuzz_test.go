package txn

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary keys and values to the
// __transaction_state decoder: it must return an error or metadata, never
// panic; what it decodes has a known state and sorted partitions, encodes
// back to a record that decodes to the same metadata, and that encoding is
// a fixed point.
func FuzzDecodeRecord(f *testing.F) {
	m := &Metadata{TransactionalID: "t", ProducerID: 7, ProducerEpoch: 3, LastProducerID: -1, TimeoutMs: 6000,
		State: Ongoing, Partitions: []TopicPartition{{"a", 0}, {"a", 2}, {"b", 1}}, StartTimestamp: 5, LastUpdateTimestamp: 9}
	f.Add(encodeKey("t"), encodeValue(m), false)
	tv2 := &Metadata{TransactionalID: "t", ProducerID: 7, ProducerEpoch: 32767, LastProducerID: 3, NextProducerID: 8,
		ClientTransactionVersion: 2, TimeoutMs: 6000, State: PrepareCommit, Partitions: []TopicPartition{{"a", 0}}, StartTimestamp: 5}
	f.Add(encodeKey("t"), encodeValue(tv2), false)
	f.Add(encodeKey("t"), []byte(nil), true)
	f.Add([]byte{0, 5, 0, 1, 'x'}, []byte{0, 0}, false)
	f.Add([]byte{0}, []byte{0, 1, 2}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		}
		id, md, skip, err := DecodeRecord(Record{Key: key, Value: value})
		if err != nil || skip || md == nil {
			return
		}
		sorted := slices.IsSortedFunc(md.Partitions, func(a, b TopicPartition) int {
			if lessTP(a, b) {
				return -1
			}
			if lessTP(b, a) {
				return 1
			}
			return 0
		})
		if md.TransactionalID != id || md.State < 0 || md.State > PrepareEpochFence || !sorted {
			t.Fatalf("decoded %q as %+v", id, md)
		}
		enc := encodeValue(md)
		id2, md2, _, err := DecodeRecord(Record{Key: encodeKey(id), Value: enc})
		if err != nil || id2 != id {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(md, md2) {
			t.Fatalf("round trip changed the metadata:\n%+v\n%+v", md, md2)
		}
		if again := encodeValue(md2); !bytes.Equal(again, enc) {
			t.Fatalf("encoding is not a fixed point:\n%x\n%x", enc, again)
		}
	})
}
