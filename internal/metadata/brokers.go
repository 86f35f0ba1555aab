package metadata

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The broker lifecycle operations (KIP-631), run by the active controller.
// A broker registers an incarnation and gets its broker epoch; it starts
// fenced, is unfenced once it has caught up with the metadata log, and is
// fenced again when its heartbeats stop or a new incarnation registers.
// Fencing and unfencing change partition leadership and ISRs in the same
// batch (election.go), so no image ever shows a fenced leader, nor a
// fenced ISR member other than a last one. Who is alive is the controller's soft
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
// registration, fenced: the old epoch leaves the ISRs and its leaderships
// move to other in-sync replicas (or to none) in the same batch, as
// FenceBroker does. Errors: INVALID_REQUEST,
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
	// The new registration fences the old incarnation: it leaves the
	// ISRs (its successor may have lost its disk, KAFKA-14139) and
	// nothing stays led by it.
	records = append(records, fenceChanges(im, reg.ID)...)
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

// FenceBroker fences the registration with the given epoch, takes it out
// of every ISR it is not the last member of and elects new leaders for
// the partitions it led (see election.go). Fencing a fenced broker changes
// nothing. Errors:
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
	records = append(records, fenceChanges(im, id)...)
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
		records = append(records, unfenceChanges(im, id)...)
	}
	_, err = s.propose(ctx, records)
	return err
}

// BeginControlledShutdown marks the registration as shutting down, takes
// it out of the ISRs and moves its leaderships away, as FenceBroker does
// (KIP-631's controlled shutdown; KIP-841 keeps it out of the ISRs until
// it is unfenced again). It returns whether the broker now leads nothing,
// when it may stop. Errors:
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
	moves := fenceChanges(im, id)
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
