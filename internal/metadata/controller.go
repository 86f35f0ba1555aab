package metadata

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The controller operations: each validates a request against the current
// image, turns it into records and proposes them as one batch, returning
// after the batch is committed and applied (Image() then shows it). They
// are serialised, so each one validates against the image its records will
// apply to. Kafka errors come back as *Error (see ErrorCode).

// MaxPartitions bounds a topic's partition count, to refuse requests that
// would build absurd batches.
const MaxPartitions = 1 << 20

// CreateTopicRequest is one topic of a CreateTopics request.
type CreateTopicRequest struct {
	Name string
	// NumPartitions and ReplicationFactor: -1 means the default
	// (num.partitions, default.replication.factor). Both must be -1 when
	// Assignments is given.
	NumPartitions     int32
	ReplicationFactor int16
	// Assignments is an explicit replica assignment: partition id → broker
	// ids, the first being the preferred leader. Partition ids must be
	// 0..n-1.
	Assignments map[int32][]int32
	Configs     map[string]string
	// ValidateOnly validates and returns the topic that would be created,
	// without creating it.
	ValidateOnly bool
	// TopicID, if set, is the id the topic is created with, chosen by the
	// node that forwards the request. It makes a retry safe: a request
	// retried after an answer was lost (the controller lost its leadership
	// while proposing, which may or may not have committed) finds its own
	// topic and succeeds instead of answering TOPIC_ALREADY_EXISTS.
	TopicID Uuid
}

// RegisterBroker registers a broker (or updates its endpoint).
func (s *Store) RegisterBroker(ctx context.Context, b Broker) error {
	if b.ID < 0 {
		return newError(kerr.InvalidRequest, "broker id %d is negative", b.ID)
	}
	if b.Port < 0 || b.Port > 65535 {
		return newError(kerr.InvalidRequest, "broker %d port %d is out of range", b.ID, b.Port)
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if old, ok := s.Image().Brokers[b.ID]; ok && old == b {
		return nil
	}
	_, err := s.propose(ctx, []Record{&RegisterBrokerRecord{BrokerID: b.ID, Host: b.Host, Port: b.Port, Rack: b.Rack}})
	return err
}

// CreateTopic creates a topic. Errors: TOPIC_ALREADY_EXISTS,
// INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
// INVALID_REPLICA_ASSIGNMENT, INVALID_CONFIG, NOT_CONTROLLER.
func (s *Store) CreateTopic(ctx context.Context, req CreateTopicRequest) (*Topic, error) {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if err := s.checkActive(); err != nil {
		return nil, err
	}
	im := s.Image()
	if req.TopicID != (Uuid{}) && !req.ValidateOnly {
		if t := im.TopicsByID[req.TopicID]; t != nil && t.Name == req.Name {
			return t, nil // this request's own topic: an earlier try committed
		}
	}
	t, err := s.planTopic(im, req)
	if err != nil {
		return nil, err
	}
	if req.ValidateOnly {
		return t, nil
	}
	records := make([]Record, 0, 1+len(t.Partitions)+len(t.Configs))
	records = append(records, &TopicRecord{Name: t.Name, TopicID: t.ID})
	for _, name := range sortedKeys(t.Configs) {
		v := t.Configs[name]
		records = append(records, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: t.Name, Name: name, Value: &v})
	}
	for _, p := range t.Partitions {
		records = append(records, partitionRecord(t.ID, p))
	}
	next, err := s.propose(ctx, records)
	if err != nil {
		return nil, err
	}
	if created := next.TopicsByID[t.ID]; created != nil {
		return created, nil
	}
	return t, nil
}

func partitionRecord(id Uuid, p Partition) *PartitionRecord {
	return &PartitionRecord{TopicID: id, PartitionID: p.ID, Replicas: p.Replicas, ISR: p.ISR, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch}
}

// planTopic validates req against im and returns the topic it would create.
func (s *Store) planTopic(im *Image, req CreateTopicRequest) (*Topic, error) {
	if err := ValidateTopicName(req.Name); err != nil {
		return nil, err
	}
	if im.Topics[req.Name] != nil {
		return nil, newError(kerr.TopicAlreadyExists, "Topic '%s' already exists.", req.Name)
	}
	for name := range im.Topics {
		if TopicNamesCollide(name, req.Name) {
			return nil, newError(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", req.Name, name)
		}
	}
	if err := ValidateTopicConfigs(req.Configs); err != nil {
		return nil, err
	}
	var parts []Partition
	if len(req.Assignments) > 0 {
		if req.NumPartitions != -1 || req.ReplicationFactor != -1 {
			return nil, newError(kerr.InvalidRequest, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
		}
		var err error
		if parts, err = s.explicitPartitions(im, req.Assignments); err != nil {
			return nil, err
		}
	} else {
		n, rf := req.NumPartitions, req.ReplicationFactor
		if n == -1 {
			n = s.cfg.DefaultNumPartitions
		}
		if rf == -1 {
			rf = s.cfg.DefaultReplicationFactor
		}
		if n <= 0 || n > MaxPartitions {
			return nil, newError(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
		}
		if rf <= 0 {
			return nil, newError(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
		}
		if err := s.checkReplicationFactor(int(rf)); err != nil {
			return nil, err
		}
		var err error
		if parts, err = placePartitions(im, 0, n, int(rf), rand.IntN); err != nil {
			return nil, err
		}
	}
	if err := s.checkPartitionLimits(im, parts); err != nil {
		return nil, err
	}
	configs := make(map[string]string, len(req.Configs))
	for k, v := range req.Configs {
		configs[k] = v
	}
	id := req.TopicID
	if id == (Uuid{}) || im.TopicsByID[id] != nil {
		id = s.newTopicID(im)
	}
	return &Topic{Name: req.Name, ID: id, Partitions: parts, Configs: configs}, nil
}

// explicitPartitions validates an explicit assignment (partition ids
// 0..n-1, each with distinct, registered brokers, all the same length).
func (s *Store) explicitPartitions(im *Image, assignments map[int32][]int32) ([]Partition, error) {
	n := int32(len(assignments))
	if n > MaxPartitions {
		return nil, newError(kerr.InvalidPartitions, "Number of partitions %d exceeds the limit %d.", n, MaxPartitions)
	}
	parts := make([]Partition, n)
	rf := -1
	for p := int32(0); p < n; p++ {
		replicas, ok := assignments[p]
		if !ok {
			return nil, newError(kerr.InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence, but partition %d is missing.", p)
		}
		part, err := assignedPartition(im, p, replicas)
		if err != nil {
			return nil, err
		}
		if rf == -1 {
			rf = len(replicas)
			if err := s.checkReplicationFactor(rf); err != nil {
				return nil, err
			}
		} else if len(replicas) != rf {
			return nil, newError(kerr.InvalidReplicaAssignment, "All partitions should have the same number of replicas.")
		}
		parts[p] = part
	}
	return parts, nil
}

func (s *Store) checkReplicationFactor(rf int) error {
	if max := s.cfg.MaxReplicationFactor; max > 0 && rf > max {
		return newError(kerr.InvalidReplicationFactor, "Replication factor %d is not supported yet: Samsa does not replicate partitions yet, so each partition has one replica (replication factor 1).", rf)
	}
	return nil
}

// ExcessiveBatchMessage begins the POLICY_VIOLATION message of a request
// that creates too many partitions at once: Kafka's controller words it so.
const ExcessiveBatchMessage = "Unable to perform excessively large batch operation"

// checkPartitionLimits refuses new partitions beyond the per-request bound
// or beyond any broker's bound (POLICY_VIOLATION, with the setting named),
// before any record is proposed.
func (s *Store) checkPartitionLimits(im *Image, parts []Partition) error {
	if n := len(parts); n > int(s.cfg.MaxPartitionsPerRequest) {
		return newError(kerr.PolicyViolation, "%s: %d partitions in one request, more than samsa.max.partitions.per.request (%d).", ExcessiveBatchMessage, n, s.cfg.MaxPartitionsPerRequest)
	}
	limit := int(s.cfg.MaxBrokerPartitions)
	if limit <= 0 {
		return nil
	}
	adding := map[int32]int{}
	for _, p := range parts {
		for _, b := range p.Replicas {
			adding[b]++
		}
	}
	held := im.ReplicaCounts()
	for _, b := range sortedKeys(adding) {
		if total := held[b] + adding[b]; total > limit {
			return newError(kerr.PolicyViolation, "Unable to create %d partitions: broker %d would hold %d partition replicas, more than max.broker.partitions (%d).", len(parts), b, total, limit)
		}
	}
	return nil
}

func (s *Store) newTopicID(im *Image) Uuid {
	for {
		id := newUUID()
		if im.TopicsByID[id] == nil {
			return id
		}
	}
}

// DeleteTopic deletes the topic with the given id. Errors:
// UNKNOWN_TOPIC_ID, NOT_CONTROLLER.
func (s *Store) DeleteTopic(ctx context.Context, id Uuid) error {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if id == (Uuid{}) || s.Image().TopicsByID[id] == nil {
		return newError(kerr.UnknownTopicID, "Topic id %s does not exist.", formatUuid(id))
	}
	_, err := s.propose(ctx, []Record{&RemoveTopicRecord{TopicID: id}})
	return err
}

// DeleteTopicByName deletes the named topic. Errors:
// UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER.
func (s *Store) DeleteTopicByName(ctx context.Context, name string) error {
	t := s.Image().Topics[name]
	if t == nil {
		return newError(kerr.UnknownTopicOrPartition, "This server does not host this topic: %s", name)
	}
	err := s.DeleteTopic(ctx, t.ID)
	if code, _ := ErrorCode(err); code == kerr.UnknownTopicID.Code {
		return newError(kerr.UnknownTopicOrPartition, "This server does not host this topic: %s", name)
	}
	return err
}

// CreatePartitions grows a topic to newTotal partitions. assignments, if
// not nil, gives the replicas of each new partition (len = newTotal -
// current). Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS,
// INVALID_REPLICA_ASSIGNMENT, INVALID_REPLICATION_FACTOR, NOT_CONTROLLER.
func (s *Store) CreatePartitions(ctx context.Context, topic string, newTotal int32, assignments [][]int32, validateOnly bool) error {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	im := s.Image()
	t := im.Topics[topic]
	if t == nil {
		return newError(kerr.UnknownTopicOrPartition, "This server does not host this topic: %s", topic)
	}
	cur := int32(len(t.Partitions))
	switch {
	case newTotal < cur:
		return newError(kerr.InvalidPartitions, "Topic currently has %d partitions, which is higher than the requested %d.", cur, newTotal)
	case newTotal == cur:
		return newError(kerr.InvalidPartitions, "Topic already has %d partitions.", cur)
	case newTotal > MaxPartitions:
		return newError(kerr.InvalidPartitions, "Number of partitions %d exceeds the limit %d.", newTotal, MaxPartitions)
	}
	add := newTotal - cur
	var parts []Partition
	if assignments != nil {
		if int32(len(assignments)) != add {
			return newError(kerr.InvalidReplicaAssignment, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", add, len(assignments))
		}
		rf := len(t.Partitions[0].Replicas)
		for i, replicas := range assignments {
			p := cur + int32(i)
			part, err := assignedPartition(im, p, replicas)
			if err != nil {
				return err
			}
			if len(replicas) != rf {
				return newError(kerr.InvalidReplicaAssignment, "The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(replicas), rf)
			}
			parts = append(parts, part)
		}
	} else {
		rf := 1
		if len(t.Partitions) > 0 {
			rf = len(t.Partitions[0].Replicas)
		}
		var err error
		if parts, err = placePartitions(im, cur, add, rf, rand.IntN); err != nil {
			return err
		}
	}
	if err := s.checkPartitionLimits(im, parts); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	records := make([]Record, 0, len(parts))
	for _, p := range parts {
		records = append(records, partitionRecord(t.ID, p))
	}
	_, err := s.propose(ctx, records)
	return err
}

// SetTopicConfigs changes a topic's config overrides: a nil value deletes
// the override. With replaceAll (AlterConfigs) every override not in
// configs is deleted too; without it (IncrementalAlterConfigs) the others
// stay. The resulting set is validated as a whole. Errors:
// UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG, NOT_CONTROLLER.
func (s *Store) SetTopicConfigs(ctx context.Context, topic string, configs map[string]*string, replaceAll, validateOnly bool) error {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	t := s.Image().Topics[topic]
	if t == nil {
		return newError(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", topic)
	}
	next, changes := mergeConfigs(t.Configs, configs, replaceAll)
	if err := ValidateTopicConfigs(next); err != nil {
		return err
	}
	if validateOnly || len(changes) == 0 {
		return nil
	}
	records := make([]Record, 0, len(changes))
	for _, c := range changes {
		records = append(records, &ConfigRecord{ResourceType: ResourceTopic, ResourceName: topic, Name: c.name, Value: c.value})
	}
	_, err := s.propose(ctx, records)
	return err
}

// SetBrokerConfigs changes the cluster-wide dynamic broker configs, like
// SetTopicConfigs. Errors: INVALID_CONFIG, NOT_CONTROLLER.
func (s *Store) SetBrokerConfigs(ctx context.Context, configs map[string]*string, replaceAll, validateOnly bool) error {
	return s.SetBrokerConfigsOf(ctx, "", configs, replaceAll, validateOnly)
}

// SetBrokerConfigsOf changes the dynamic configs of the broker resource
// named resource: "" for the cluster-wide default, a broker id for that
// broker's own (which take precedence on it). Errors: INVALID_REQUEST (a
// name that is not a broker id), INVALID_CONFIG, NOT_CONTROLLER.
func (s *Store) SetBrokerConfigsOf(ctx context.Context, resource string, configs map[string]*string, replaceAll, validateOnly bool) error {
	id := int32(-1)
	if resource != "" {
		var err error
		if id, err = ParseBrokerResource(resource); err != nil {
			return err
		}
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	cur := s.Image().BrokerConfigs
	if id >= 0 {
		cur = s.Image().NodeConfigs[id]
	}
	next, changes := mergeConfigs(cur, configs, replaceAll)
	if err := ValidateBrokerConfigs(next); err != nil {
		return err
	}
	if validateOnly || len(changes) == 0 {
		return nil
	}
	records := make([]Record, 0, len(changes))
	for _, c := range changes {
		records = append(records, &ConfigRecord{ResourceType: ResourceBroker, ResourceName: resource, Name: c.name, Value: c.value})
	}
	_, err := s.propose(ctx, records)
	return err
}

// ParseBrokerResource parses the name of a broker config resource that
// names one broker: its id. Errors: INVALID_REQUEST.
func ParseBrokerResource(name string) (int32, error) {
	id, err := strconv.ParseInt(name, 10, 32)
	if err != nil || id < 0 {
		return -1, newError(kerr.InvalidRequest, "Broker resource name %q is not a broker id.", name)
	}
	return int32(id), nil
}

type configChange struct {
	name  string
	value *string
}

// mergeConfigs applies a change set to cur and returns the resulting map
// and the minimal list of changes, sorted by name.
func mergeConfigs(cur map[string]string, set map[string]*string, replaceAll bool) (map[string]string, []configChange) {
	next := make(map[string]string, len(cur)+len(set))
	if !replaceAll {
		for k, v := range cur {
			next[k] = v
		}
	}
	for k, v := range set {
		if v == nil {
			delete(next, k)
		} else {
			next[k] = *v
		}
	}
	var changes []configChange
	for k, v := range next {
		if old, ok := cur[k]; !ok || old != v {
			changes = append(changes, configChange{k, &v})
		}
	}
	for k := range cur {
		if _, ok := next[k]; !ok {
			changes = append(changes, configChange{k, nil})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].name < changes[j].name })
	return next, changes
}

// AllocateProducerIDs reserves count consecutive producer ids and returns
// the first. Ids are never handed out twice, across restarts too. Errors:
// INVALID_REQUEST for count outside 1..2^20, NOT_CONTROLLER.
func (s *Store) AllocateProducerIDs(ctx context.Context, count int64) (first int64, err error) {
	if count <= 0 || count > 1<<20 {
		return 0, newError(kerr.InvalidRequest, "producer id block size %d must be between 1 and %d", count, 1<<20)
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	first = s.Image().NextProducerID
	if first > (1<<63-1)-count {
		return 0, newError(kerr.ClusterAuthorizationFailed, "producer ids are exhausted")
	}
	if _, err := s.propose(ctx, []Record{&ProducerIDsRecord{BrokerID: s.cfg.NodeID, NextProducerID: first + count}}); err != nil {
		return 0, err
	}
	return first, nil
}

// SetFeatureLevel finalizes a feature at level (0 removes it).
func (s *Store) SetFeatureLevel(ctx context.Context, name string, level int16) error {
	if name == "" || level < 0 {
		return newError(kerr.InvalidRequest, "invalid feature %q level %d", name, level)
	}
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	if s.Image().Features[name] == level {
		return nil
	}
	_, err := s.propose(ctx, []Record{&FeatureLevelRecord{Name: name, Level: level}})
	return err
}

// formatUuid renders a UUID as Kafka does (URL-safe base64, no padding).
func formatUuid(id Uuid) string { return encodeUuid(id) }

// ChangePartition sets a partition's leader and ISR as an operator would,
// without the checks a leader's AlterPartition gets (epochs, eligibility):
// leader NoLeaderChange keeps the leader (-1 means no leader), a nil isr
// keeps the ISR. Tests and tools use it to move leadership. A change bumps
// the partition epoch, a leader change the leader epoch too; asking for
// the current state changes nothing. It returns the partition as applied.
// Errors: UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST (a
// leader or ISR member that is not a replica, an empty ISR),
// NOT_CONTROLLER.
func (s *Store) ChangePartition(ctx context.Context, topicID Uuid, partition int32, leader int32, isr []int32) (Partition, error) {
	s.ctrlMu.Lock()
	defer s.ctrlMu.Unlock()
	t := s.Image().TopicsByID[topicID]
	if t == nil {
		return Partition{}, newError(kerr.UnknownTopicID, "Topic id %s does not exist.", formatUuid(topicID))
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return Partition{}, newError(kerr.UnknownTopicOrPartition, "Partition %d of %s does not exist.", partition, t.Name)
	}
	p := t.Partitions[partition]
	isReplica := func(b int32) bool {
		for _, r := range p.Replicas {
			if r == b {
				return true
			}
		}
		return false
	}
	if leader != NoLeaderChange && leader != -1 && !isReplica(leader) {
		return Partition{}, newError(kerr.InvalidRequest, "Broker %d is not a replica of %s-%d.", leader, t.Name, partition)
	}
	if isr != nil {
		if len(isr) == 0 {
			return Partition{}, newError(kerr.InvalidRequest, "The ISR of %s-%d cannot be empty.", t.Name, partition)
		}
		seen := map[int32]bool{}
		for _, b := range isr {
			if !isReplica(b) || seen[b] {
				return Partition{}, newError(kerr.InvalidRequest, "ISR %v of %s-%d is not a set of its replicas %v.", isr, t.Name, partition, p.Replicas)
			}
			seen[b] = true
		}
	}
	if (leader == NoLeaderChange || leader == p.Leader) && (isr == nil || slices.Equal(isr, p.ISR)) {
		return p, nil
	}
	next, err := s.propose(ctx, []Record{&PartitionChangeRecord{
		TopicID: topicID, PartitionID: partition, Leader: leader, ISR: append([]int32(nil), isr...),
	}})
	if err != nil {
		return Partition{}, err
	}
	if nt := next.TopicsByID[topicID]; nt != nil && int(partition) < len(nt.Partitions) {
		return nt.Partitions[partition], nil
	}
	return Partition{}, newError(kerr.UnknownTopicOrPartition, "Partition %d of %s disappeared.", partition, t.Name)
}
