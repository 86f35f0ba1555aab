package metadata

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The broker lifecycle operations (KIP-631), run by the active controller.
// A broker registers an incarnation and gets its broker epoch; it starts
// fenced, is unfenced once it has caught up with the metadata log, and is
// fenced again when its heartbeats stop or a new incarnation registers.
// Fencing and unfencing move partition leadership in the same batch, so no
// image ever shows a fenced leader. Who is alive is the controller's soft
// state (internal/controller); these operations only record decisions.

// BrokerRegistration is a starting broker's registration request.
type BrokerRegistration struct {
	ID            int32
	IncarnationID Uuid
	DirectoryID   Uuid   // the node's metadata directory id
	Host          string // the endpoint other brokers and clients reach it on
	Port          int32
	Rack          string
}

// RegisterBrokerIncarnation registers a broker incarnation and returns its
// broker epoch. Registering the incarnation already registered returns its
// epoch again (a retried request). A new incarnation replaces the old
// registration, fenced: the old epoch's leaderships move to other in-sync
// replicas (or to none) in the same batch. Errors: INVALID_REQUEST,
// NOT_CONTROLLER.
func (s *Store) RegisterBrokerIncarnation(ctx context.Context, reg BrokerRegistration) (int64, error) {
	if reg.ID < 0 {
		return 0, newError(kerr.InvalidRequest, "broker id %d is negative", reg.ID)
	}
	if reg.Port < 0 || reg.Port > 65535 {
		return 0, newError(kerr.InvalidRequest, "broker %d port %d is out of range", reg.ID, reg.Port)
	}
	if reg.IncarnationID == (Uuid{}) {
		return 0, newError(kerr.InvalidRequest, "broker %d registers without an incarnation id", reg.ID)
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return 0, err
	}
	im := s.Image()
	if old, ok := im.Brokers[reg.ID]; ok && old.IncarnationID == reg.IncarnationID {
		return old.Epoch, nil
	}
	records := []Record{&RegisterBrokerRecord{
		BrokerID: reg.ID, Host: reg.Host, Port: reg.Port, Rack: reg.Rack,
		IncarnationID: reg.IncarnationID, DirectoryID: reg.DirectoryID, Epoch: -1, Fenced: true,
	}}
	// The new registration fences the old incarnation: nothing may stay
	// led by it.
	records = append(records, leadershipAway(im, reg.ID)...)
	next, err := s.propose(ctx, records)
	if err != nil {
		return 0, err
	}
	br, ok := next.Brokers[reg.ID]
	if !ok || br.IncarnationID != reg.IncarnationID {
		return 0, newError(kerr.NotController, "the registration of broker %d was overtaken", reg.ID)
	}
	return br.Epoch, nil
}

// FenceBroker fences the registration with the given epoch and moves its
// leaderships away. Fencing a fenced broker changes nothing. Errors:
// STALE_BROKER_EPOCH (another registration holds the id), NOT_CONTROLLER.
func (s *Store) FenceBroker(ctx context.Context, id int32, epoch int64) error {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return err
	}
	im := s.Image()
	br, err := registered(im, id, epoch)
	if err != nil {
		return err
	}
	if br.Fenced {
		return nil
	}
	records := []Record{&BrokerRegistrationChangeRecord{BrokerID: id, BrokerEpoch: epoch, Fenced: ChangeSet}}
	records = append(records, leadershipAway(im, id)...)
	_, err = s.propose(ctx, records)
	return err
}

// UnfenceBroker unfences the registration with the given epoch and makes
// it the leader of every leaderless partition it is an in-sync replica of.
// Errors: STALE_BROKER_EPOCH, NOT_CONTROLLER.
func (s *Store) UnfenceBroker(ctx context.Context, id int32, epoch int64) error {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return err
	}
	im := s.Image()
	br, err := registered(im, id, epoch)
	if err != nil {
		return err
	}
	if !br.Fenced {
		return nil
	}
	records := []Record{&BrokerRegistrationChangeRecord{BrokerID: id, BrokerEpoch: epoch, Fenced: ChangeClear}}
	if !br.InControlledShutdown {
		records = append(records, leadershipTo(im, id)...)
	}
	_, err = s.propose(ctx, records)
	return err
}

// BeginControlledShutdown marks the registration as shutting down and
// moves its leaderships away (KIP-631's controlled shutdown). It returns
// whether the broker now leads nothing, when it may stop. Errors:
// STALE_BROKER_EPOCH, NOT_CONTROLLER.
func (s *Store) BeginControlledShutdown(ctx context.Context, id int32, epoch int64) (bool, error) {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return false, err
	}
	im := s.Image()
	br, err := registered(im, id, epoch)
	if err != nil {
		return false, err
	}
	moves := leadershipAway(im, id)
	if br.InControlledShutdown && len(moves) == 0 {
		return true, nil
	}
	records := append([]Record{&BrokerRegistrationChangeRecord{BrokerID: id, BrokerEpoch: epoch, ControlledShutdown: ChangeSet}}, moves...)
	next, err := s.propose(ctx, records)
	if err != nil {
		return false, err
	}
	return len(LedBy(next, id)) == 0, nil
}

// UnregisterBroker removes a broker from the cluster. It must be fenced
// (stopped). Errors: BROKER_ID_NOT_REGISTERED, INVALID_REQUEST (the broker
// is not fenced), NOT_CONTROLLER.
func (s *Store) UnregisterBroker(ctx context.Context, id int32) error {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return err
	}
	br, ok := s.Image().Brokers[id]
	if !ok {
		return newError(kerr.BrokerIDNotRegistered, "Broker ID %d is not currently registered", id)
	}
	if !br.Fenced {
		return newError(kerr.InvalidRequest, "broker %d is alive; stop it before unregistering it", id)
	}
	_, err := s.propose(ctx, []Record{&UnregisterBrokerRecord{BrokerID: id, BrokerEpoch: br.Epoch}})
	return err
}

func registered(im *Image, id int32, epoch int64) (Broker, error) {
	br, ok := im.Brokers[id]
	if !ok {
		return Broker{}, newError(kerr.BrokerIDNotRegistered, "Broker ID %d is not currently registered", id)
	}
	if br.Epoch != epoch {
		return Broker{}, newError(kerr.StaleBrokerEpoch, "broker %d is registered with epoch %d, not %d", id, br.Epoch, epoch)
	}
	return br, nil
}

// LedBy lists the partitions whose leader is the given broker.
func LedBy(im *Image, id int32) []TopicPartitionRef {
	var out []TopicPartitionRef
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		for _, p := range t.Partitions {
			if p.Leader == id {
				out = append(out, TopicPartitionRef{Topic: t, Partition: p.ID})
			}
		}
	}
	return out
}

// TopicPartitionRef names one partition of a topic in an image.
type TopicPartitionRef struct {
	Topic     *Topic
	Partition int32
}

// leadershipAway gives every partition the broker leads a new leader: the
// first other in-sync replica (in replica order) that is usable, else no
// leader (-1). The leader epoch rises with each change.
func leadershipAway(im *Image, id int32) []Record {
	var records []Record
	for _, ref := range LedBy(im, id) {
		p := ref.Topic.Partitions[ref.Partition]
		leader := int32(-1)
		for _, r := range p.Replicas {
			if r != id && slices.Contains(p.ISR, r) && im.Brokers[r].Usable() {
				leader = r
				break
			}
		}
		records = append(records, &PartitionChangeRecord{TopicID: ref.Topic.ID, PartitionID: p.ID, Leader: leader})
	}
	return records
}

// leadershipTo makes the broker the leader of every leaderless partition
// whose ISR holds it.
func leadershipTo(im *Image, id int32) []Record {
	var records []Record
	for _, name := range im.TopicNames() {
		t := im.Topics[name]
		for _, p := range t.Partitions {
			if p.Leader == -1 && slices.Contains(p.ISR, id) {
				records = append(records, &PartitionChangeRecord{TopicID: t.ID, PartitionID: p.ID, Leader: id})
			}
		}
	}
	return records
}
