package metadata

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// applyRecords applies a batch of records to prev and returns the next
// image. A batch applies entirely or not at all: the first record that does
// not fit the image (a partition of an unknown topic, a duplicate topic)
// rejects the whole batch with an error and prev stays current. The
// controller validates before proposing, so a rejection means a bug or a
// race between two controllers; applying is deterministic either way, so
// every node reaches the same image.
func applyRecords(prev *Image, records []Record) (*Image, error) {
	return applyRecordsAt(prev, records, prev.Epoch)
}

// applyRecordsAt is applyRecords for the batch at metadata offset index,
// which becomes the epoch of the brokers it registers.
func applyRecordsAt(prev *Image, records []Record, index int64) (*Image, error) {
	b := newBuilder(prev)
	b.index = index
	for i, r := range records {
		if err := b.apply(r); err != nil {
			return nil, fmt.Errorf("record %d (%s): %w", i, r.Type(), err)
		}
	}
	return b.next, nil
}

func (b *builder) apply(r Record) error {
	switch r := r.(type) {
	case *RegisterBrokerRecord:
		if r.BrokerID < 0 {
			return newError(kerr.InvalidRequest, "broker id %d is negative", r.BrokerID)
		}
		epoch := r.Epoch
		if epoch < 0 {
			epoch = b.index
		}
		b.brokers()[r.BrokerID] = Broker{ID: r.BrokerID, Host: r.Host, Port: r.Port, Rack: r.Rack,
			IncarnationID: r.IncarnationID, DirectoryID: r.DirectoryID, Epoch: epoch, Fenced: r.Fenced, InControlledShutdown: r.InControlledShutdown}

	case *UnregisterBrokerRecord:
		br, ok := b.next.Brokers[r.BrokerID]
		if !ok || br.Epoch != r.BrokerEpoch {
			return newError(kerr.StaleBrokerEpoch, "broker %d epoch %d is not registered", r.BrokerID, r.BrokerEpoch)
		}
		delete(b.brokers(), r.BrokerID)

	case *BrokerRegistrationChangeRecord:
		br, ok := b.next.Brokers[r.BrokerID]
		if !ok || br.Epoch != r.BrokerEpoch {
			return newError(kerr.StaleBrokerEpoch, "broker %d epoch %d is not registered", r.BrokerID, r.BrokerEpoch)
		}
		switch r.Fenced {
		case ChangeSet:
			br.Fenced = true
		case ChangeClear:
			br.Fenced = false
		}
		switch r.ControlledShutdown {
		case ChangeSet:
			br.InControlledShutdown = true
		case ChangeClear:
			br.InControlledShutdown = false
		}
		b.brokers()[r.BrokerID] = br

	case *TopicRecord:
		if err := ValidateTopicName(r.Name); err != nil {
			return err
		}
		if r.TopicID == (Uuid{}) {
			return newError(kerr.InvalidRequest, "topic %s has the zero topic id", r.Name)
		}
		if b.next.Topics[r.Name] != nil {
			return newError(kerr.TopicAlreadyExists, "Topic '%s' already exists.", r.Name)
		}
		if b.next.TopicsByID[r.TopicID] != nil {
			return newError(kerr.TopicAlreadyExists, "topic id %x is already in use", r.TopicID)
		}
		b.addTopic(&Topic{Name: r.Name, ID: r.TopicID, Configs: map[string]string{}})

	case *PartitionRecord:
		t := b.mutableTopic(r.TopicID)
		if t == nil {
			return newError(kerr.UnknownTopicID, "partition %d of unknown topic id %x", r.PartitionID, r.TopicID)
		}
		if r.PartitionID < 0 || int(r.PartitionID) > len(t.Partitions) {
			return newError(kerr.InvalidPartitions, "partition %d of %s is not next (have %d)", r.PartitionID, t.Name, len(t.Partitions))
		}
		if len(r.Replicas) == 0 {
			return newError(kerr.InvalidReplicaAssignment, "partition %d of %s has no replicas", r.PartitionID, t.Name)
		}
		p := Partition{
			ID:             r.PartitionID,
			Leader:         r.Leader,
			LeaderEpoch:    r.LeaderEpoch,
			PartitionEpoch: r.PartitionEpoch,
			Replicas:       append([]int32(nil), r.Replicas...),
			ISR:            append([]int32(nil), r.ISR...),
		}
		if int(r.PartitionID) == len(t.Partitions) {
			t.Partitions = append(t.Partitions, p)
		} else {
			t.Partitions[r.PartitionID] = p
		}

	case *PartitionChangeRecord:
		t := b.mutableTopic(r.TopicID)
		if t == nil {
			return newError(kerr.UnknownTopicID, "partition change for unknown topic id %x", r.TopicID)
		}
		if r.PartitionID < 0 || int(r.PartitionID) >= len(t.Partitions) {
			return newError(kerr.UnknownTopicOrPartition, "partition %d of %s does not exist", r.PartitionID, t.Name)
		}
		p := t.Partitions[r.PartitionID]
		bump := false
		if r.Leader != NoLeaderChange && r.Leader != p.Leader {
			p.Leader = r.Leader
			bump = true
		}
		if r.ISR != nil {
			p.ISR = append([]int32(nil), r.ISR...)
		}
		if r.Replicas != nil {
			if len(r.Replicas) == 0 {
				return newError(kerr.InvalidReplicaAssignment, "partition %d of %s would have no replicas", r.PartitionID, t.Name)
			}
			// Adding replicas keeps the leader epoch; removing one
			// bumps it, so the removed replica's fetches are fenced.
			for _, old := range p.Replicas {
				if !slices.Contains(r.Replicas, old) {
					bump = true
				}
			}
			p.Replicas = append([]int32(nil), r.Replicas...)
		}
		if bump {
			p.LeaderEpoch++
		}
		p.PartitionEpoch++
		t.Partitions[r.PartitionID] = p

	case *RemoveTopicRecord:
		t := b.next.TopicsByID[r.TopicID]
		if t == nil {
			return newError(kerr.UnknownTopicID, "topic id %x does not exist", r.TopicID)
		}
		b.removeTopic(t)

	case *ConfigRecord:
		switch r.ResourceType {
		case ResourceTopic:
			t := b.next.Topics[r.ResourceName]
			if t == nil {
				return newError(kerr.UnknownTopicOrPartition, "config %s for unknown topic %s", r.Name, r.ResourceName)
			}
			t = b.mutableTopic(t.ID)
			setConfig(t.Configs, r.Name, r.Value)
		case ResourceBroker:
			if r.ResourceName == "" {
				setConfig(b.brokerConfigs(), r.Name, r.Value)
				break
			}
			id, err := ParseBrokerResource(r.ResourceName)
			if err != nil {
				return err
			}
			cfgs := b.nodeConfigs(id)
			setConfig(cfgs, r.Name, r.Value)
			if len(cfgs) == 0 {
				delete(b.next.NodeConfigs, id)
			}
		default:
			return newError(kerr.InvalidRequest, "unknown config resource type %d", r.ResourceType)
		}

	case *ProducerIDsRecord:
		if r.NextProducerID <= b.next.NextProducerID {
			return newError(kerr.InvalidRequest, "producer id block ending at %d does not advance %d", r.NextProducerID, b.next.NextProducerID)
		}
		b.next.NextProducerID = r.NextProducerID

	case *FeatureLevelRecord:
		if r.Level < 0 {
			return newError(kerr.InvalidRequest, "feature %s level %d is negative", r.Name, r.Level)
		}
		if r.Level == 0 {
			delete(b.features(), r.Name)
		} else {
			b.features()[r.Name] = r.Level
		}

	default:
		return fmt.Errorf("unhandled record type %T", r)
	}
	return nil
}

func setConfig(m map[string]string, name string, value *string) {
	if value == nil {
		delete(m, name)
	} else {
		m[name] = *value
	}
}

// imageRecords returns records that rebuild im from the empty image: the
// body of a snapshot.
func imageRecords(im *Image) []Record {
	var rs []Record
	for _, id := range im.BrokerIDs() {
		br := im.Brokers[id]
		rs = append(rs, &RegisterBrokerRecord{BrokerID: br.ID, Host: br.Host, Port: br.Port, Rack: br.Rack,
			IncarnationID: br.IncarnationID, DirectoryID: br.DirectoryID, Epoch: br.Epoch, Fenced: br.Fenced, InControlledShutdown: br.InControlledShutdown})
	}
	for name, level := range im.Features {
		rs = append(rs, &FeatureLevelRecord{Name: name, Level: level})
	}
	for name, v := range im.BrokerConfigs {
		rs = append(rs, &ConfigRecord{ResourceType: ResourceBroker, Name: name, Value: &v})
	}
	for id, cfgs := range im.NodeConfigs {
		for name, v := range cfgs {
			rs = append(rs, &ConfigRecord{ResourceType: ResourceBroker, ResourceName: strconv.Itoa(int(id)), Name: name, Value: &v})
		}
	}
	if im.NextProducerID > 0 {
		rs = append(rs, &ProducerIDsRecord{BrokerID: -1, NextProducerID: im.NextProducerID})
	}
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		rs = append(rs, &TopicRecord{Name: t.Name, TopicID: t.ID})
		for _, p := range t.Partitions {
			rs = append(rs, &PartitionRecord{
				TopicID: t.ID, PartitionID: p.ID,
				Replicas: p.Replicas, ISR: p.ISR,
				Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
			})
		}
		for k, v := range t.Configs {
			rs = append(rs, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: t.Name, Name: k, Value: &v})
		}
	}
	return rs
}
