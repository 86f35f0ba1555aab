package metadata

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Elections an operator asks for (ElectLeaders, KIP-183 and KIP-460) and
// the ones the controller starts by itself to bring leadership back to
// the preferred replicas (auto.leader.rebalance.enable). The preferred
// replica of a partition is its first replica: placement spreads those
// over the brokers, so while every partition is led by its preferred
// replica the leaders are spread too. Leadership leaves it when its
// broker is fenced or shuts down, and ISR elections never give it back
// (election.go keeps a usable leader); these elections do.
//
// Every election here is clean: the new leader is in the ISR and usable.
// Samsa has no unclean election (see election.go), so an UNCLEAN request
// is answered as Kafka answers one for a topic whose ISR holds no usable
// replica: it elects an in-sync replica if the partition has no leader
// and one is usable, and otherwise refuses.

// ElectionType is ElectLeaders' election type (KIP-460).
type ElectionType int8

const (
	// ElectPreferred makes each partition's first replica its leader.
	ElectPreferred ElectionType = 0
	// ElectUnclean elects a leader for leaderless partitions; Kafka would
	// take a replica outside the ISR, Samsa only an in-sync one.
	ElectUnclean ElectionType = 1
)

// MaxElectionsPerBatch bounds the partition changes of one metadata batch
// an election request or a balancing round writes (Kafka's controller
// bounds a balancing round to 1,000 elections).
const MaxElectionsPerBatch = 1000

// ElectLeadersRequest is an ElectLeaders request: the election type and
// the partitions, grouped by topic. Nil Topics means every partition of
// every topic.
type ElectLeadersRequest struct {
	Type   ElectionType
	Topics []ElectLeadersTopic
}

// ElectLeadersTopic names partitions of one topic in a request.
type ElectLeadersTopic struct {
	Topic      string
	Partitions []int32
}

// ElectLeadersTopicResult is the answer for one topic.
type ElectLeadersTopicResult struct {
	Topic      string
	Partitions []ElectLeadersPartitionResult
}

// ElectLeadersPartitionResult is the answer for one partition: Err is nil
// when a leader was elected, else the Kafka error and its message.
type ElectLeadersPartitionResult struct {
	Partition int32
	Err       *Error
}

// The per-partition errors of ElectLeaders, with Kafka's messages.
var (
	errElectionNotNeeded           = &Error{Code: kerr.ElectionNotNeeded, Message: "Leader election not needed for topic partition."}
	errPreferredLeaderNotAvailable = &Error{Code: kerr.PreferredLeaderNotAvailable, Message: "The preferred leader was not available."}
	errEligibleLeadersNotAvailable = &Error{Code: kerr.EligibleLeadersNotAvailable, Message: "Eligible topic partition leaders are not available."}
)

// ElectLeaders runs the elections of req, as Kafka's controller does, and
// commits them. It answers every requested partition, in request order,
// grouped by topic as requested; with nil Topics it answers every topic,
// in name order, leaving out the partitions that need no election. Per
// partition:
//
//   - UNKNOWN_TOPIC_OR_PARTITION: no such topic or partition.
//   - ELECTION_NOT_NEEDED: PREFERRED and the preferred replica leads
//     already; UNCLEAN and the partition has a leader.
//   - PREFERRED_LEADER_NOT_AVAILABLE: PREFERRED and the preferred replica
//     is outside the ISR, fenced, shutting down or unregistered (a
//     leaderless partition then gets another in-sync usable replica if it
//     has one, and that counts as success, as in Kafka).
//   - ELIGIBLE_LEADERS_NOT_AVAILABLE: UNCLEAN and no in-sync replica is
//     usable. Kafka would elect a live replica outside the ISR; Samsa
//     never does, since it may lack acknowledged records.
//
// A new leader bumps the leader and partition epochs. A partition named
// twice is answered as applying the requests in order gives. The whole
// request fails with INVALID_REQUEST for an unknown election type, with
// NOT_CONTROLLER when this node is not the active controller. A request
// with an empty, non-nil Topics answers nothing and writes nothing.
func (s *Store) ElectLeaders(ctx context.Context, req ElectLeadersRequest) ([]ElectLeadersTopicResult, error) {
	if req.Topics != nil && len(req.Topics) == 0 {
		return []ElectLeadersTopicResult{}, nil
	}
	if req.Type != ElectPreferred && req.Type != ElectUnclean {
		return nil, newError(kerr.InvalidRequest, "Unknown election type %d", req.Type)
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return nil, err
	}
	im := s.Image()
	b := newBuilder(im)
	var records []Record
	elect := func(topic string, partition int32) *Error {
		rec, err := electionChange(b.next, req.Type, topic, partition)
		if rec != nil {
			if aerr := b.apply(rec); aerr != nil {
				return &Error{Code: kerr.UnknownServerError, Message: aerr.Error()} // checked: cannot happen
			}
			records = append(records, rec)
		}
		return err
	}
	var results []ElectLeadersTopicResult
	if req.Topics == nil {
		for _, name := range im.TopicNames() {
			tr := ElectLeadersTopicResult{Topic: name, Partitions: []ElectLeadersPartitionResult{}}
			for _, p := range im.Topics[name].Partitions {
				if err := elect(name, p.ID); err != errElectionNotNeeded {
					tr.Partitions = append(tr.Partitions, ElectLeadersPartitionResult{Partition: p.ID, Err: err})
				}
			}
			results = append(results, tr)
		}
	} else {
		for _, rt := range req.Topics {
			tr := ElectLeadersTopicResult{Topic: rt.Topic, Partitions: make([]ElectLeadersPartitionResult, 0, len(rt.Partitions))}
			for _, p := range rt.Partitions {
				tr.Partitions = append(tr.Partitions, ElectLeadersPartitionResult{Partition: p, Err: elect(rt.Topic, p)})
			}
			results = append(results, tr)
		}
	}
	if err := s.proposeBatches(ctx, records); err != nil {
		return nil, err
	}
	return results, nil
}

// proposeBatches proposes records in batches of MaxElectionsPerBatch.
// The changes are independent of each other: a failure leaves the
// batches before it committed.
func (s *Store) proposeBatches(ctx context.Context, records []Record) error {
	for len(records) > 0 {
		n := min(len(records), MaxElectionsPerBatch)
		if _, err := s.propose(ctx, records[:n]); err != nil {
			return err
		}
		records = records[n:]
	}
	return nil
}

// electionChange returns the change an election of the given type makes
// to a partition in im, or the error that answers it instead (nil record
// and nil error never come together).
func electionChange(im *Image, typ ElectionType, topic string, partition int32) (*PartitionChangeRecord, *Error) {
	t := im.Topics[topic]
	if t == nil {
		return nil, newError(kerr.UnknownTopicOrPartition, "No such topic as %s", topic)
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return nil, newError(kerr.UnknownTopicOrPartition, "No such partition as %s-%d", topic, partition)
	}
	p := t.Partitions[partition]
	var leader int32
	switch typ {
	case ElectPreferred:
		preferred := p.Replicas[0]
		if p.Leader == preferred {
			return nil, errElectionNotNeeded
		}
		leader = preferredLeader(im, p)
		if leader == p.Leader {
			return nil, errPreferredLeaderNotAvailable
		}
	default:
		if p.Leader >= 0 {
			return nil, errElectionNotNeeded
		}
		leader = electLeader(p, p.ISR, im.usable)
		if leader < 0 {
			return nil, errEligibleLeadersNotAvailable
		}
	}
	return &PartitionChangeRecord{TopicID: t.ID, PartitionID: p.ID, Leader: leader}, nil
}

// preferredLeader is the leader a preferred election gives p: its first
// replica when that one is in the ISR and usable, else the leader the ISR
// rules keep or elect (its current leader while valid).
func preferredLeader(im *Image, p Partition) int32 {
	if preferred := p.Replicas[0]; slices.Contains(p.ISR, preferred) && im.usable(preferred) {
		return preferred
	}
	return electLeader(p, p.ISR, im.usable)
}

// usable reports whether broker id is registered and usable.
func (im *Image) usable(id int32) bool {
	br, ok := im.Brokers[id]
	return ok && br.Usable()
}

// BalanceLeaders is one round of the automatic preferred-leader
// election, as Kafka's controller runs it every
// leader.imbalance.check.interval.seconds: for each broker, the share of
// the partitions it is the preferred replica of that another replica
// leads (or nobody) is its imbalance; for every broker whose imbalance is
// above percent, the partitions it can lead again (it is in their ISR and
// usable) get it back as leader. At most max partitions move in one
// round, in broker, topic and partition order; more reports whether
// others were left for the next round. Errors: NOT_CONTROLLER.
func (s *Store) BalanceLeaders(ctx context.Context, percent int, max int) (moved int, more bool, err error) {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return 0, false, err
	}
	candidates := imbalancedPartitions(s.Image(), percent)
	if len(candidates) > max {
		candidates, more = candidates[:max], true
	}
	if len(candidates) == 0 {
		return 0, false, nil
	}
	records := make([]Record, len(candidates))
	for i, c := range candidates {
		records[i] = c
	}
	if err := s.proposeBatches(ctx, records); err != nil {
		return 0, false, err
	}
	return len(candidates), more, nil
}

// imbalancedPartitions returns the changes that give the partitions of
// every broker whose imbalance is above percent their preferred leader
// back, where it is in the ISR and usable: by broker id, then topic name
// and partition.
func imbalancedPartitions(im *Image, percent int) []*PartitionChangeRecord {
	type brokerShare struct {
		preferred int                      // partitions it is the first replica of
		moves     []*PartitionChangeRecord // those it does not lead and could
		elsewhere int                      // those it does not lead
	}
	shares := map[int32]*brokerShare{}
	eachPartition(im, func(t *Topic, p Partition) {
		preferred := p.Replicas[0]
		sh := shares[preferred]
		if sh == nil {
			sh = &brokerShare{}
			shares[preferred] = sh
		}
		sh.preferred++
		if p.Leader == preferred {
			return
		}
		sh.elsewhere++
		if slices.Contains(p.ISR, preferred) && im.usable(preferred) {
			sh.moves = append(sh.moves, &PartitionChangeRecord{TopicID: t.ID, PartitionID: p.ID, Leader: preferred})
		}
	})
	ids := make([]int32, 0, len(shares))
	for id := range shares {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []*PartitionChangeRecord
	for _, id := range ids {
		sh := shares[id]
		// elsewhere/preferred > percent/100, in integers.
		if sh.elsewhere*100 > percent*sh.preferred {
			out = append(out, sh.moves...)
		}
	}
	return out
}
