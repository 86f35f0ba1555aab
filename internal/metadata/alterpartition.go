package metadata

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// AlterPartition is how a partition's leader changes its ISR (KIP-497):
// the leader decides who is in sync (it sees the followers' fetches), the
// controller checks the request against the metadata and commits it. The
// partition epoch makes it a compare-and-set: a leader that has not yet
// seen the last change of its partition is refused, and retries once its
// image shows it.

// AlterPartitionRequest is a leader's AlterPartition request: the sender,
// its broker epoch, and the partitions it leads whose ISR it changes.
type AlterPartitionRequest struct {
	BrokerID    int32
	BrokerEpoch int64
	Topics      []AlterPartitionTopic
}

// AlterPartitionTopic is the partitions of one topic in a request.
type AlterPartitionTopic struct {
	TopicID    Uuid
	Partitions []AlterPartitionItem
}

// AlterPartitionItem is one partition's requested ISR, with the leader and
// partition epochs the leader last saw.
type AlterPartitionItem struct {
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	NewISR         []ISRMember
}

// ISRMember is a member of a requested ISR and the broker epoch the leader
// saw in its fetches (KIP-903), -1 when the request does not carry one
// (AlterPartition v2 and older): no check then.
type ISRMember struct {
	BrokerID    int32
	BrokerEpoch int64
}

// AlterPartitionResult is the answer for one requested partition: Err is
// nil and Partition its state after the request, or Err is the Kafka error
// that refused it.
type AlterPartitionResult struct {
	TopicID   Uuid
	Partition Partition // ID is always set
	Err       *kerr.Error
}

// AlterPartition validates a leader's ISR changes as Kafka's controller
// does and commits the valid ones in one batch. It returns one result per
// requested partition, in request order. Per partition, in this order:
//
//   - UNKNOWN_TOPIC_ID: no topic with the id.
//   - UNKNOWN_TOPIC_OR_PARTITION: no such partition.
//   - NOT_CONTROLLER: the request names a leader or partition epoch newer
//     than this controller's: it cannot be the active one for long.
//   - FENCED_LEADER_EPOCH: an older leader epoch (a new leader was elected).
//   - INVALID_REQUEST: the sender does not lead the partition (Kafka's code
//     for it: the sender waits for the metadata that says who does), or
//     the new ISR is empty, repeats a broker, names a non-replica or leaves
//     out the leader.
//   - INVALID_UPDATE_VERSION: an older partition epoch (the ISR changed
//     since the leader last saw it).
//   - INELIGIBLE_REPLICA: a new ISR member is not registered, fenced, in
//     controlled shutdown, or (with a broker epoch) registered with another
//     epoch: a broker restarted, maybe on an empty disk, must not come back
//     through a request about its previous incarnation (KAFKA-14139).
//
// A valid ISR equal to the current one answers the current state without
// a record. The whole request fails with STALE_BROKER_EPOCH when the
// sender is not registered with BrokerEpoch, with NOT_CONTROLLER when this
// node is not the active controller.
func (s *Store) AlterPartition(ctx context.Context, req AlterPartitionRequest) ([]AlterPartitionResult, error) {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return nil, err
	}
	im := s.Image()
	if br, ok := im.Brokers[req.BrokerID]; !ok || br.Epoch != req.BrokerEpoch {
		return nil, newError(kerr.StaleBrokerEpoch, "broker %d is not registered with epoch %d", req.BrokerID, req.BrokerEpoch)
	}
	// Each item is checked against the image as the items before it left
	// it, so a request naming a partition twice gets what applying them
	// in order gives.
	b := newBuilder(im)
	var results []AlterPartitionResult
	var records []Record
	for _, rt := range req.Topics {
		for _, item := range rt.Partitions {
			res := AlterPartitionResult{TopicID: rt.TopicID, Partition: Partition{ID: item.Partition}}
			rec, err := checkAlterPartition(b.next, req.BrokerID, rt.TopicID, item)
			if err == nil && rec != nil {
				if aerr := b.apply(rec); aerr != nil {
					return nil, aerr // checked above: cannot happen
				}
				records = append(records, rec)
			}
			if err != nil {
				res.Err = err
			} else {
				res.Partition = b.next.TopicsByID[rt.TopicID].Partitions[item.Partition]
			}
			results = append(results, res)
		}
	}
	if len(records) > 0 {
		if _, err := s.propose(ctx, records); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// checkAlterPartition checks one partition of a request from broker
// sender against im, and returns the record that makes the change (nil
// when the ISR is already the requested one) or the Kafka error that
// refuses it.
func checkAlterPartition(im *Image, sender int32, topicID Uuid, item AlterPartitionItem) (*PartitionChangeRecord, *kerr.Error) {
	t := im.TopicsByID[topicID]
	if topicID == (Uuid{}) || t == nil {
		return nil, kerr.UnknownTopicID
	}
	if item.Partition < 0 || int(item.Partition) >= len(t.Partitions) {
		return nil, kerr.UnknownTopicOrPartition
	}
	p := t.Partitions[item.Partition]
	switch {
	case item.LeaderEpoch > p.LeaderEpoch, item.PartitionEpoch > p.PartitionEpoch:
		return nil, kerr.NotController
	case item.LeaderEpoch < p.LeaderEpoch:
		return nil, kerr.FencedLeaderEpoch
	case sender != p.Leader:
		return nil, kerr.InvalidRequest
	case item.PartitionEpoch < p.PartitionEpoch:
		return nil, kerr.InvalidUpdateVersion
	}
	isr := make([]int32, 0, len(item.NewISR))
	for _, m := range item.NewISR {
		if !slices.Contains(p.Replicas, m.BrokerID) || slices.Contains(isr, m.BrokerID) {
			return nil, kerr.InvalidRequest
		}
		isr = append(isr, m.BrokerID)
	}
	if !slices.Contains(isr, p.Leader) {
		return nil, kerr.InvalidRequest // an empty ISR too
	}
	for _, m := range item.NewISR {
		br, ok := im.Brokers[m.BrokerID]
		if !ok || !br.Usable() || (m.BrokerEpoch != -1 && m.BrokerEpoch != br.Epoch) {
			return nil, kerr.IneligibleReplica
		}
	}
	if slices.Equal(isr, p.ISR) {
		return nil, nil
	}
	return &PartitionChangeRecord{TopicID: topicID, PartitionID: p.ID, Leader: NoLeaderChange, ISR: isr}, nil
}
