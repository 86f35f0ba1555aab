package txn

import "testing"

// FuzzDecodeRecord feeds arbitrary keys and values to the
// __transaction_state decoder: it must return an error or metadata, never
// panic, and what it decodes must encode back to a record that decodes the
// same.
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
		id2, md2, _, err := DecodeRecord(Record{Key: encodeKey(id), Value: encodeValue(md)})
		if err != nil || id2 != id {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if md2.ProducerID != md.ProducerID || md2.ProducerEpoch != md.ProducerEpoch || md2.State != md.State || len(md2.Partitions) != len(md.Partitions) ||
			md2.NextProducerID != md.NextProducerID || md2.ClientTransactionVersion != md.ClientTransactionVersion || md2.LastProducerID != md.LastProducerID {
			t.Fatalf("round trip changed the metadata: %+v vs %+v", md, md2)
		}
	})
}
