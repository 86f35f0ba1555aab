package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kbin"
)

func sampleRecords() []Record {
	v := "compact"
	return []Record{
		&RegisterBrokerRecord{BrokerID: 1, Host: "127.0.0.1", Port: 9092, Rack: "r1"},
		&TopicRecord{Name: "orders", TopicID: Uuid{1, 2, 3}},
		&PartitionRecord{TopicID: Uuid{1, 2, 3}, PartitionID: 0, Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 4, PartitionEpoch: 9},
		&PartitionChangeRecord{TopicID: Uuid{1, 2, 3}, PartitionID: 0, Leader: NoLeaderChange, ISR: []int32{1, 2}},
		&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "orders", Name: "cleanup.policy", Value: &v},
		&ConfigRecord{ResourceType: ResourceBroker, Name: "log.retention.ms", Value: nil},
		&ProducerIDsRecord{BrokerID: 1, NextProducerID: 1000},
		&FeatureLevelRecord{Name: "metadata.version", Level: 27},
		&RemoveTopicRecord{TopicID: Uuid{1, 2, 3}},
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	in := sampleRecords()
	data := EncodeRecords(in...)
	out, err := DecodeRecords(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\nin  %#v\nout %#v", in, out)
	}
	// Every record type has a name.
	for _, r := range in {
		if strings.HasPrefix(r.Type().String(), "RecordType(") {
			t.Errorf("type %d has no name", r.Type())
		}
	}
}

func TestDecodeRecordsErrors(t *testing.T) {
	good := EncodeRecords(sampleRecords()...)
	cases := map[string][]byte{
		"empty":          nil,
		"bad version":    append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"huge count":     {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"unknown type":   {1, 1, 99, 0, 0},
		"future version": {1, 1, byte(TypeRemoveTopic), 1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"short body":     {1, 1, byte(TypeRemoveTopic), 0, 2, 0, 0},
		"body overrun":   {1, 1, byte(TypeRemoveTopic), 0, 40, 0, 0},
		// A PartitionRecord whose replica array claims 2^31 entries.
		"array overrun": append(append([]byte{1, 1, byte(TypePartition), 0, 30}, make([]byte, 20)...), 0xff, 0xff, 0xff, 0xff, 0x07, 0, 0, 0, 0, 0),
		// A null replica array where one is required.
		"null array": append(append([]byte{1, 1, byte(TypePartition), 0, 30}, make([]byte, 20)...), 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
	}
	for name, data := range cases {
		if _, err := DecodeRecords(data); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: err = %v, want ErrCorruptRecord", name, err)
		}
	}
}

func TestApplyRejectsWholeBatch(t *testing.T) {
	prev := emptyImage("c", 1)
	id := Uuid{9}
	_, err := applyRecords(prev, []Record{
		&TopicRecord{Name: "a", TopicID: id},
		&PartitionRecord{TopicID: id, PartitionID: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1},
		&PartitionRecord{TopicID: id, PartitionID: 5, Replicas: []int32{1}},
	})
	if err == nil {
		t.Fatal("gap in partitions accepted")
	}
	if len(prev.Topics) != 0 || len(prev.TopicsByID) != 0 {
		t.Fatal("rejected batch modified the previous image")
	}
	bad := [][]Record{
		{&TopicRecord{Name: "a", TopicID: Uuid{}}},
		{&TopicRecord{Name: "bad name", TopicID: id}},
		{&PartitionRecord{TopicID: id}},
		{&PartitionChangeRecord{TopicID: id}},
		{&RemoveTopicRecord{TopicID: id}},
		{&ConfigRecord{ResourceType: ResourceTopic, ResourceName: "a", Name: "x"}},
		{&ConfigRecord{ResourceType: ResourceBroker, ResourceName: "one", Name: "x"}},
		{&ConfigRecord{ResourceType: 7, Name: "x"}},
		{&ProducerIDsRecord{NextProducerID: 0}},
		{&FeatureLevelRecord{Name: "f", Level: -1}},
		{&RegisterBrokerRecord{BrokerID: -1}},
	}
	for i, b := range bad {
		if _, err := applyRecords(prev, b); err == nil {
			t.Errorf("batch %d (%s) accepted", i, b[0].Type())
		}
	}
}

// TestPartitionChangeEpochs: every change bumps the partition epoch; the
// leader epoch rises on a leader change or a replica removed, never on an
// ISR shrink or expansion alone (KAFKA-15021), nor on replicas added.
func TestPartitionChangeEpochs(t *testing.T) {
	id := Uuid{7}
	im, err := applyRecords(emptyImage("c", 1), []Record{
		&TopicRecord{Name: "a", TopicID: id},
		&PartitionRecord{TopicID: id, PartitionID: 0, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := im.Topics["a"].Partitions[0]; p.LeaderEpoch != 0 || p.PartitionEpoch != 0 {
		t.Fatalf("new partition: %+v, want both epochs 0", p)
	}
	steps := []struct {
		name                     string
		change                   PartitionChangeRecord
		leader                   int32
		leaderEpoch, partitionEp int32
		isr, replicas            string
	}{
		{"ISR shrink", PartitionChangeRecord{Leader: NoLeaderChange, ISR: []int32{1, 2}}, 1, 0, 1, "[1 2]", "[1 2 3]"},
		{"ISR expand", PartitionChangeRecord{Leader: NoLeaderChange, ISR: []int32{1, 2, 3}}, 1, 0, 2, "[1 2 3]", "[1 2 3]"},
		{"same leader named", PartitionChangeRecord{Leader: 1}, 1, 0, 3, "[1 2 3]", "[1 2 3]"},
		{"leader change", PartitionChangeRecord{Leader: 2, ISR: []int32{2, 3}}, 2, 1, 4, "[2 3]", "[1 2 3]"},
		{"no leader", PartitionChangeRecord{Leader: -1}, -1, 2, 5, "[2 3]", "[1 2 3]"},
		{"leader back", PartitionChangeRecord{Leader: 3}, 3, 3, 6, "[2 3]", "[1 2 3]"},
		{"replica added", PartitionChangeRecord{Leader: NoLeaderChange, Replicas: []int32{1, 2, 3, 4}}, 3, 3, 7, "[2 3]", "[1 2 3 4]"},
		{"replica removed", PartitionChangeRecord{Leader: NoLeaderChange, Replicas: []int32{2, 3, 4}}, 3, 4, 8, "[2 3]", "[2 3 4]"},
	}
	for _, st := range steps {
		prev := im
		c := st.change
		c.TopicID = id
		if im, err = applyRecords(im, []Record{&c}); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		p := im.Topics["a"].Partitions[0]
		if p.Leader != st.leader || p.LeaderEpoch != st.leaderEpoch || p.PartitionEpoch != st.partitionEp ||
			fmt.Sprint(p.ISR) != st.isr || fmt.Sprint(p.Replicas) != st.replicas {
			t.Fatalf("%s: %+v, want leader %d, leader epoch %d, partition epoch %d, ISR %s, replicas %s",
				st.name, p, st.leader, st.leaderEpoch, st.partitionEp, st.isr, st.replicas)
		}
		// Earlier images are untouched.
		if q := prev.Topics["a"].Partitions[0]; q.PartitionEpoch != st.partitionEp-1 {
			t.Fatalf("%s: copy-on-write broken: %+v", st.name, q)
		}
	}
}

// TestPartitionV0RecordsStillDecode: a PartitionRecord written before the
// partition epoch decodes with partition epoch 0 and applies.
func TestPartitionV0RecordsStillDecode(t *testing.T) {
	v1 := &PartitionRecord{TopicID: Uuid{5}, PartitionID: 0, Replicas: []int32{1, 2}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 3, PartitionEpoch: 8}
	body := v1.appendBody(nil)
	body = body[:len(body)-4] // strip the version-1 field
	batch := []byte{batchFormatVersion, 1, byte(TypePartition), 0, byte(len(body))}
	batch = append(batch, body...)
	recs, err := DecodeRecords(batch)
	if err != nil {
		t.Fatal(err)
	}
	want := *v1
	want.PartitionEpoch = 0
	if got := recs[0].(*PartitionRecord); !reflect.DeepEqual(*got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	// A version-1 record cut to the version-0 length is refused.
	short := append([]byte{batchFormatVersion, 1, byte(TypePartition), 1, byte(len(body))}, body...)
	if _, err := DecodeRecords(short); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("version-1 record without its partition epoch: %v", err)
	}
}

// FuzzDecodeRecord checks that the decoder never panics and that whatever
// it accepts re-encodes to something that decodes to the same records: the
// input itself, unless the input spends more bytes than needed on a varint
// (the encoder writes the shortest form, so the re-encoding is then
// shorter, and encoding is a fixed point from there) or holds a record of
// an older version (re-encoded at the current one, with the fields the
// old version lacks at their defaults).
func FuzzDecodeRecord(f *testing.F) {
	f.Add(EncodeRecords(sampleRecords()...))
	for _, r := range sampleRecords() {
		f.Add(EncodeRecords(r))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 1, byte(TypePartition), 0, 0})
	// Version-0 records of the types that have a version 1.
	v0 := append([]byte{1, 2, byte(TypePartition), 0, 38}, make([]byte, 20)...)
	v0 = append(v0, 2, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0)
	v0 = append(v0, byte(TypeRegisterBroker), 0, 11, 0, 0, 0, 7, 2, 'h', 0, 0, 0, 1, 1)
	f.Add(v0)
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeRecords(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("error %v does not wrap ErrCorruptRecord", err)
			}
			return
		}
		enc := EncodeRecords(recs...)
		again, err := DecodeRecords(enc)
		if err != nil {
			t.Fatalf("re-encoded records do not decode: %v", err)
		}
		if !reflect.DeepEqual(normalize(recs), normalize(again)) {
			t.Fatalf("round trip differs:\n%#v\n%#v", recs, again)
		}
		switch {
		case hasOldVersions(data):
		case len(enc) > len(data):
			t.Fatalf("re-encoding grew %d bytes to %d", len(data), len(enc))
		case len(enc) == len(data) && !bytes.Equal(enc, data):
			t.Fatalf("decode/encode changed the bytes:\n%x\n%x", data, enc)
		}
		if enc2 := EncodeRecords(again...); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not a fixed point:\n%x\n%x", enc, enc2)
		}
		// Applying arbitrary records must not panic either.
		_, _ = applyRecords(emptyImage("c", 1), recs)
	})
}

// hasOldVersions reports whether a batch that decoded holds a record below
// its type's current version.
func hasOldVersions(data []byte) bool {
	rd := kbin.Reader{Src: data[1:]}
	for n := rd.Uvarint(); n > 0; n-- {
		typ, version, size := rd.Uvarint(), rd.Uvarint(), rd.Uvarint()
		rd.Span(int(size))
		if version < maxVersion(RecordType(typ)) {
			return true
		}
	}
	return false
}

// normalize maps empty non-nullable arrays to nil (both encode the same).
func normalize(rs []Record) []Record {
	for _, r := range rs {
		if p, ok := r.(*PartitionRecord); ok {
			if len(p.Replicas) == 0 {
				p.Replicas = nil
			}
			if len(p.ISR) == 0 {
				p.ISR = nil
			}
		}
	}
	return rs
}
