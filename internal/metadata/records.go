package metadata

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
)

// RecordType identifies a metadata record. The numbers follow Kafka's KRaft
// metadata record API keys (RegisterBrokerRecord = 0, TopicRecord = 2, ...)
// so the log reads familiarly; the encoding is Samsa's own (see
// docs/metadata.md), because kmsg does not carry Kafka's metadata records.
type RecordType uint8

const (
	TypeRegisterBroker           RecordType = 0
	TypeUnregisterBroker         RecordType = 1
	TypeTopic                    RecordType = 2
	TypePartition                RecordType = 3
	TypeConfig                   RecordType = 4
	TypePartitionChange          RecordType = 5
	TypeRemoveTopic              RecordType = 9
	TypeFeatureLevel             RecordType = 12
	TypeProducerIDs              RecordType = 15
	TypeBrokerRegistrationChange RecordType = 17
)

func (t RecordType) String() string {
	switch t {
	case TypeRegisterBroker:
		return "RegisterBroker"
	case TypeUnregisterBroker:
		return "UnregisterBroker"
	case TypeBrokerRegistrationChange:
		return "BrokerRegistrationChange"
	case TypeTopic:
		return "Topic"
	case TypePartition:
		return "Partition"
	case TypeConfig:
		return "Config"
	case TypePartitionChange:
		return "PartitionChange"
	case TypeRemoveTopic:
		return "RemoveTopic"
	case TypeFeatureLevel:
		return "FeatureLevel"
	case TypeProducerIDs:
		return "ProducerIDs"
	}
	return fmt.Sprintf("RecordType(%d)", uint8(t))
}

// batchFormatVersion is the first byte of every encoded record batch.
const batchFormatVersion byte = 1

// ConfigResource types, with Kafka's ConfigResource.Type codes.
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
)

// NoLeaderChange in PartitionChangeRecord.Leader keeps the current leader.
const NoLeaderChange int32 = -2

// Record is one metadata record. The concrete types are the *XxxRecord
// structs of this file.
type Record interface {
	Type() RecordType
	// appendBody appends the body at the record's current version.
	appendBody(dst []byte) []byte
	// readBody decodes a body of the given version (at most the current
	// one); errors are sticky in r.
	readBody(r *reader, version uint32)
}

// versioned is a record whose current version is above 0; records written
// always carry the current version, and older ones still decode.
type versioned interface{ version() uint32 }

func recordVersion(r Record) uint32 {
	if v, ok := r.(versioned); ok {
		return v.version()
	}
	return 0
}

// maxVersion is the newest version of each record type this code reads.
func maxVersion(t RecordType) uint32 {
	switch t {
	case TypeRegisterBroker, TypePartition:
		return 1
	}
	return 0
}

// RegisterBrokerRecord registers a broker incarnation and its endpoint
// (KIP-631). The broker epoch is the Raft index of the batch that holds
// the record (Epoch -1 asks the FSM to set it so); a snapshot writes the
// epoch it had. A registration with a new incarnation replaces the old
// one, whose epoch is then stale.
type RegisterBrokerRecord struct {
	BrokerID int32
	Host     string
	Port     int32
	Rack     string
	// Version 1 (a broker lifecycle); version-0 records registered a
	// broker unfenced with epoch 0.
	IncarnationID Uuid
	// DirectoryID is the registering node's metadata directory id: a
	// new incarnation with the same directory is the node restarted.
	DirectoryID Uuid
	Epoch       int64
	Fenced      bool
	// InControlledShutdown is set in snapshots of a broker that was
	// shutting down.
	InControlledShutdown bool
}

// UnregisterBrokerRecord removes a broker from the cluster (Kafka's
// UnregisterBroker); its epoch must be the registered one.
type UnregisterBrokerRecord struct {
	BrokerID    int32
	BrokerEpoch int64
}

// Values of BrokerRegistrationChangeRecord's Fenced and ControlledShutdown.
const (
	ChangeNone  int8 = 0
	ChangeSet   int8 = 1
	ChangeClear int8 = 2
)

// BrokerRegistrationChangeRecord fences or unfences a registered broker
// or marks it in controlled shutdown (Kafka's record of the same name). It
// applies only to the registration with BrokerEpoch.
type BrokerRegistrationChangeRecord struct {
	BrokerID           int32
	BrokerEpoch        int64
	Fenced             int8 // ChangeNone, ChangeSet (fence) or ChangeClear (unfence)
	ControlledShutdown int8 // ChangeNone or ChangeSet
}

// TopicRecord creates a topic. Its partitions follow as PartitionRecords in
// the same batch.
type TopicRecord struct {
	Name    string
	TopicID Uuid
}

// PartitionRecord creates a partition (or replaces it wholesale).
type PartitionRecord struct {
	TopicID     Uuid
	PartitionID int32
	Replicas    []int32
	ISR         []int32
	Leader      int32
	LeaderEpoch int32
	// PartitionEpoch is version 1: 0 for a new partition, the epoch it
	// had in a snapshot. Version-0 records decode with 0.
	PartitionEpoch int32
}

// PartitionChangeRecord changes a partition's leader, ISR or replicas. A
// nil slice and NoLeaderChange mean "unchanged". The FSM derives the
// epochs, as Kafka's PartitionRegistration.merge does: every change bumps
// the partition epoch; the leader epoch rises when the leader changes or
// a replica is removed, not when the ISR alone shrinks or grows
// (KAFKA-15021).
type PartitionChangeRecord struct {
	TopicID     Uuid
	PartitionID int32
	Leader      int32
	ISR         []int32
	Replicas    []int32
}

// RemoveTopicRecord deletes a topic, its partitions and its configs.
type RemoveTopicRecord struct {
	TopicID Uuid
}

// ConfigRecord sets (Value non-nil) or deletes (Value nil) one config of a
// topic (ResourceTopic, ResourceName = topic name) or of the brokers
// (ResourceBroker, ResourceName "" for the cluster-wide default).
type ConfigRecord struct {
	ResourceType int8
	ResourceName string
	Name         string
	Value        *string
}

// ProducerIDsRecord allocates the producer id block that ends just before
// NextProducerID to BrokerID.
type ProducerIDsRecord struct {
	BrokerID       int32
	NextProducerID int64
}

// FeatureLevelRecord finalizes a feature at a level (0 removes it).
type FeatureLevelRecord struct {
	Name  string
	Level int16
}

func (*RegisterBrokerRecord) Type() RecordType   { return TypeRegisterBroker }
func (*UnregisterBrokerRecord) Type() RecordType { return TypeUnregisterBroker }
func (*BrokerRegistrationChangeRecord) Type() RecordType {
	return TypeBrokerRegistrationChange
}
func (*RegisterBrokerRecord) version() uint32   { return 1 }
func (*PartitionRecord) version() uint32        { return 1 }
func (*TopicRecord) Type() RecordType           { return TypeTopic }
func (*PartitionRecord) Type() RecordType       { return TypePartition }
func (*PartitionChangeRecord) Type() RecordType { return TypePartitionChange }
func (*RemoveTopicRecord) Type() RecordType     { return TypeRemoveTopic }
func (*ConfigRecord) Type() RecordType          { return TypeConfig }
func (*ProducerIDsRecord) Type() RecordType     { return TypeProducerIDs }
func (*FeatureLevelRecord) Type() RecordType    { return TypeFeatureLevel }

func (r *RegisterBrokerRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendInt32(dst, r.BrokerID)
	dst = kbin.AppendCompactString(dst, r.Host)
	dst = kbin.AppendInt32(dst, r.Port)
	dst = kbin.AppendCompactString(dst, r.Rack)
	dst = kbin.AppendUuid(dst, r.IncarnationID)
	dst = kbin.AppendUuid(dst, r.DirectoryID)
	dst = kbin.AppendInt64(dst, r.Epoch)
	dst = kbin.AppendBool(dst, r.Fenced)
	return kbin.AppendBool(dst, r.InControlledShutdown)
}

func (r *RegisterBrokerRecord) readBody(rd *reader, version uint32) {
	r.BrokerID = rd.Int32()
	r.Host = rd.CompactString()
	r.Port = rd.Int32()
	r.Rack = rd.CompactString()
	if version >= 1 {
		r.IncarnationID = rd.Uuid()
		r.DirectoryID = rd.Uuid()
		r.Epoch = rd.Int64()
		r.Fenced = rd.boolean()
		r.InControlledShutdown = rd.boolean()
	}
}

func (r *UnregisterBrokerRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendInt32(dst, r.BrokerID)
	return kbin.AppendInt64(dst, r.BrokerEpoch)
}

func (r *UnregisterBrokerRecord) readBody(rd *reader, _ uint32) {
	r.BrokerID = rd.Int32()
	r.BrokerEpoch = rd.Int64()
}

func (r *BrokerRegistrationChangeRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendInt32(dst, r.BrokerID)
	dst = kbin.AppendInt64(dst, r.BrokerEpoch)
	dst = kbin.AppendInt8(dst, r.Fenced)
	return kbin.AppendInt8(dst, r.ControlledShutdown)
}

func (r *BrokerRegistrationChangeRecord) readBody(rd *reader, _ uint32) {
	r.BrokerID = rd.Int32()
	r.BrokerEpoch = rd.Int64()
	r.Fenced = rd.Int8()
	r.ControlledShutdown = rd.Int8()
}

func (r *TopicRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendCompactString(dst, r.Name)
	return kbin.AppendUuid(dst, r.TopicID)
}

func (r *TopicRecord) readBody(rd *reader, _ uint32) {
	r.Name = rd.CompactString()
	r.TopicID = rd.Uuid()
}

func (r *PartitionRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendUuid(dst, r.TopicID)
	dst = kbin.AppendInt32(dst, r.PartitionID)
	dst = appendInt32s(dst, r.Replicas)
	dst = appendInt32s(dst, r.ISR)
	dst = kbin.AppendInt32(dst, r.Leader)
	dst = kbin.AppendInt32(dst, r.LeaderEpoch)
	return kbin.AppendInt32(dst, r.PartitionEpoch)
}

func (r *PartitionRecord) readBody(rd *reader, version uint32) {
	r.TopicID = rd.Uuid()
	r.PartitionID = rd.Int32()
	r.Replicas = rd.int32s(false)
	r.ISR = rd.int32s(false)
	r.Leader = rd.Int32()
	r.LeaderEpoch = rd.Int32()
	if version >= 1 {
		r.PartitionEpoch = rd.Int32()
	}
}

func (r *PartitionChangeRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendUuid(dst, r.TopicID)
	dst = kbin.AppendInt32(dst, r.PartitionID)
	dst = kbin.AppendInt32(dst, r.Leader)
	dst = appendNullableInt32s(dst, r.ISR)
	return appendNullableInt32s(dst, r.Replicas)
}

func (r *PartitionChangeRecord) readBody(rd *reader, _ uint32) {
	r.TopicID = rd.Uuid()
	r.PartitionID = rd.Int32()
	r.Leader = rd.Int32()
	r.ISR = rd.int32s(true)
	r.Replicas = rd.int32s(true)
}

func (r *RemoveTopicRecord) appendBody(dst []byte) []byte  { return kbin.AppendUuid(dst, r.TopicID) }
func (r *RemoveTopicRecord) readBody(rd *reader, _ uint32) { r.TopicID = rd.Uuid() }

func (r *ConfigRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendInt8(dst, r.ResourceType)
	dst = kbin.AppendCompactString(dst, r.ResourceName)
	dst = kbin.AppendCompactString(dst, r.Name)
	return kbin.AppendCompactNullableString(dst, r.Value)
}

func (r *ConfigRecord) readBody(rd *reader, _ uint32) {
	r.ResourceType = rd.Int8()
	r.ResourceName = rd.CompactString()
	r.Name = rd.CompactString()
	r.Value = rd.CompactNullableString()
}

func (r *ProducerIDsRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendInt32(dst, r.BrokerID)
	return kbin.AppendInt64(dst, r.NextProducerID)
}

func (r *ProducerIDsRecord) readBody(rd *reader, _ uint32) {
	r.BrokerID = rd.Int32()
	r.NextProducerID = rd.Int64()
}

func (r *FeatureLevelRecord) appendBody(dst []byte) []byte {
	dst = kbin.AppendCompactString(dst, r.Name)
	return kbin.AppendInt16(dst, r.Level)
}

func (r *FeatureLevelRecord) readBody(rd *reader, _ uint32) {
	r.Name = rd.CompactString()
	r.Level = rd.Int16()
}

func newRecord(t RecordType) Record {
	switch t {
	case TypeRegisterBroker:
		return new(RegisterBrokerRecord)
	case TypeUnregisterBroker:
		return new(UnregisterBrokerRecord)
	case TypeBrokerRegistrationChange:
		return new(BrokerRegistrationChangeRecord)
	case TypeTopic:
		return new(TopicRecord)
	case TypePartition:
		return new(PartitionRecord)
	case TypeConfig:
		return new(ConfigRecord)
	case TypePartitionChange:
		return new(PartitionChangeRecord)
	case TypeRemoveTopic:
		return new(RemoveTopicRecord)
	case TypeFeatureLevel:
		return new(FeatureLevelRecord)
	case TypeProducerIDs:
		return new(ProducerIDsRecord)
	}
	return nil
}

// AppendRecords appends the encoding of a batch of records to dst:
//
//	batch  = formatVersion(1 byte = 1) count(uvarint) record{count}
//	record = type(uvarint) version(uvarint) bodyLength(uvarint) body
//
// Bodies use Kafka's primitive encodings (big-endian fixed-width integers,
// compact strings and arrays). Every record is written at its current
// version (0 for most; RegisterBroker and Partition are at 1).
func AppendRecords(dst []byte, records []Record) []byte {
	dst = append(dst, batchFormatVersion)
	dst = kbin.AppendUvarint(dst, uint32(len(records)))
	var body []byte
	for _, r := range records {
		body = r.appendBody(body[:0])
		dst = kbin.AppendUvarint(dst, uint32(r.Type()))
		dst = kbin.AppendUvarint(dst, recordVersion(r))
		dst = kbin.AppendUvarint(dst, uint32(len(body)))
		dst = append(dst, body...)
	}
	return dst
}

// EncodeRecords returns the encoding of a batch of records.
func EncodeRecords(records ...Record) []byte { return AppendRecords(nil, records) }

// ErrCorruptRecord is wrapped by every decoding failure.
var ErrCorruptRecord = errors.New("corrupt metadata record")

// DecodeRecords decodes a batch written by AppendRecords. It never panics;
// malformed input returns an error wrapping ErrCorruptRecord that says
// which record and what was wrong. The returned records do not alias data.
func DecodeRecords(data []byte) ([]Record, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrCorruptRecord)
	}
	if data[0] != batchFormatVersion {
		return nil, fmt.Errorf("%w: unsupported batch format version %d", ErrCorruptRecord, data[0])
	}
	rd := &reader{Reader: kbin.Reader{Src: data[1:]}}
	n := rd.Uvarint()
	// Every record takes at least three bytes.
	if !rd.Ok() || uint64(n)*3 > uint64(len(rd.Src)) {
		return nil, fmt.Errorf("%w: bad record count", ErrCorruptRecord)
	}
	records := make([]Record, 0, n)
	for i := uint32(0); i < n; i++ {
		typ := rd.Uvarint()
		version := rd.Uvarint()
		size := rd.Uvarint()
		if !rd.Ok() {
			return nil, fmt.Errorf("%w: record %d: truncated header", ErrCorruptRecord, i)
		}
		if typ > 255 || newRecord(RecordType(typ)) == nil {
			return nil, fmt.Errorf("%w: record %d: unknown type %d", ErrCorruptRecord, i, typ)
		}
		if version > maxVersion(RecordType(typ)) {
			return nil, fmt.Errorf("%w: record %d (%s): unsupported version %d", ErrCorruptRecord, i, RecordType(typ), version)
		}
		body := rd.Span(int(size))
		if !rd.Ok() || int64(size) > int64(len(data)) {
			return nil, fmt.Errorf("%w: record %d (%s): body of %d bytes overruns the batch", ErrCorruptRecord, i, RecordType(typ), size)
		}
		r := newRecord(RecordType(typ))
		br := &reader{Reader: kbin.Reader{Src: body}}
		r.readBody(br, version)
		if err := br.Complete(); err != nil || br.err != nil {
			return nil, fmt.Errorf("%w: record %d (%s): truncated or invalid body", ErrCorruptRecord, i, RecordType(typ))
		}
		if len(br.Src) != 0 {
			return nil, fmt.Errorf("%w: record %d (%s): %d trailing bytes", ErrCorruptRecord, i, RecordType(typ), len(br.Src))
		}
		records = append(records, r)
	}
	if len(rd.Src) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after %d records", ErrCorruptRecord, len(rd.Src), n)
	}
	return records, nil
}

// reader adds bounded array decoding to kbin.Reader.
type reader struct {
	kbin.Reader
	err error
}

// boolean reads a bool written as 0 or 1; other bytes are corrupt, so that
// every record that decodes has one encoding.
func (r *reader) boolean() bool {
	b := r.Int8()
	if b != 0 && b != 1 {
		r.err = errors.New("bool is neither 0 nor 1")
	}
	return b == 1
}

// int32s reads a compact array of int32. Null (length 0) is only valid when
// nullable; a non-null empty array decodes as a non-nil empty slice.
func (r *reader) int32s(nullable bool) []int32 {
	n := r.Uvarint()
	if !r.Ok() {
		return nil
	}
	if n == 0 {
		if !nullable {
			r.err = errors.New("null array")
		}
		return nil
	}
	n--
	if uint64(n)*4 > uint64(len(r.Src)) {
		r.err = errors.New("array overruns record")
		r.Src = nil
		return nil
	}
	s := make([]int32, n)
	for i := range s {
		s[i] = r.Int32()
	}
	return s
}

func appendInt32s(dst []byte, s []int32) []byte {
	dst = kbin.AppendUvarint(dst, uint32(len(s))+1)
	for _, v := range s {
		dst = kbin.AppendInt32(dst, v)
	}
	return dst
}

func appendNullableInt32s(dst []byte, s []int32) []byte {
	if s == nil {
		return kbin.AppendUvarint(dst, 0)
	}
	return appendInt32s(dst, s)
}
