package metadata

import "sort"

// Uuid is a Kafka UUID (topic ids). The zero value means "no id".
type Uuid = [16]byte

// Image is the cluster metadata at one point of the metadata log.
//
// An Image and everything reachable from it (maps, slices, *Topic) is
// immutable once published: readers never lock and never modify it. The
// FSM builds each new image by copying what changes (copy-on-write), so an
// unchanged *Topic is shared between consecutive images; callers may
// compare pointers to detect that a topic did not change.
type Image struct {
	ClusterID    string
	ControllerID int32 // node id of the active controller (raft leader), -1 if none
	Epoch        int64 // offset (raft index) of the last applied record batch
	Brokers      map[int32]Broker
	Topics       map[string]*Topic // by name
	TopicsByID   map[Uuid]*Topic
	// BrokerConfigs are dynamic broker-level config overrides, cluster-wide
	// (Kafka's default broker resource, name "").
	BrokerConfigs map[string]string
	// NodeConfigs are dynamic config overrides of one broker (Kafka's
	// broker resource named after its id), by broker id; they take
	// precedence over BrokerConfigs on that broker.
	NodeConfigs map[int32]map[string]string
	// NextProducerID is the first producer id not yet handed out.
	NextProducerID int64
	// Features are finalized feature levels (FeatureLevel records), such as
	// "metadata.version".
	Features map[string]int16
}

// Broker is a registered broker: one incarnation of a node (KIP-631).
type Broker struct {
	ID   int32
	Host string // the endpoint of its inter-broker listener
	Port int32
	Rack string
	// IncarnationID is the random id the broker process registered with;
	// a restart registers a new one.
	IncarnationID Uuid
	// DirectoryID is the node's metadata directory id (KIP-858): the same
	// across restarts of one node on its data.
	DirectoryID Uuid
	// Epoch is the broker epoch: the metadata offset of the registration.
	// Requests that carry a broker epoch must carry this one.
	Epoch int64
	// Fenced brokers lead no partition and are not listed to clients: a
	// broker starts fenced and is unfenced once it has caught up with the
	// metadata log; it is fenced again when its heartbeats stop.
	Fenced bool
	// InControlledShutdown is set while the broker shuts down: it is
	// given no new leaderships.
	InControlledShutdown bool
}

// Usable reports whether the broker can lead partitions and take new
// replicas: registered, unfenced and not shutting down.
func (b Broker) Usable() bool { return !b.Fenced && !b.InControlledShutdown }

// UsableBrokerIDs returns, in ascending order, the brokers that can lead
// partitions and take new replicas.
func (im *Image) UsableBrokerIDs() []int32 {
	ids := make([]int32, 0, len(im.Brokers))
	for _, id := range im.BrokerIDs() {
		if im.Brokers[id].Usable() {
			ids = append(ids, id)
		}
	}
	return ids
}

// Topic is a topic and its partitions.
type Topic struct {
	Name       string
	ID         Uuid
	Partitions []Partition // index = partition id
	// Configs holds explicit topic-level overrides only, by Kafka config
	// name; defaults come from TopicConfigDefs and broker configs.
	Configs map[string]string
}

// Partition is the replica placement and leadership of one partition.
type Partition struct {
	ID     int32
	Leader int32 // broker id, -1 if none
	// LeaderEpoch rises when the leader changes or a replica is removed;
	// followers and clients fence stale leaders with it.
	LeaderEpoch int32
	// PartitionEpoch rises with every change of the partition (leader,
	// ISR, replicas): the version a leader's AlterPartition must name
	// (KIP-497's compare-and-set). A new partition has 0.
	PartitionEpoch int32
	Replicas       []int32
	// ISR is the in-sync replicas, in the order the controller or the
	// leader last wrote them. It always holds the leader, and is never
	// empty: its last member stays when it fails, leaderless.
	ISR []int32
}

// emptyImage is the image before any record is applied.
func emptyImage(clusterID string, controllerID int32) *Image {
	return &Image{
		ClusterID:      clusterID,
		ControllerID:   controllerID,
		Brokers:        map[int32]Broker{},
		Topics:         map[string]*Topic{},
		TopicsByID:     map[Uuid]*Topic{},
		BrokerConfigs:  map[string]string{},
		NodeConfigs:    map[int32]map[string]string{},
		Features:       map[string]int16{},
		NextProducerID: 0,
	}
}

// Topic returns the topic with the given name, or nil.
func (im *Image) Topic(name string) *Topic {
	if im == nil {
		return nil
	}
	return im.Topics[name]
}

// TopicByID returns the topic with the given id, or nil.
func (im *Image) TopicByID(id Uuid) *Topic {
	if im == nil {
		return nil
	}
	return im.TopicsByID[id]
}

// Partition returns partition p of the named topic and whether it exists.
func (im *Image) Partition(topic string, p int32) (Partition, bool) {
	t := im.Topic(topic)
	if t == nil || p < 0 || int(p) >= len(t.Partitions) {
		return Partition{}, false
	}
	return t.Partitions[p], true
}

// BrokerIDs returns the registered broker ids in ascending order.
func (im *Image) BrokerIDs() []int32 {
	ids := make([]int32, 0, len(im.Brokers))
	for id := range im.Brokers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// ReplicaCounts counts the partition replicas each broker holds.
func (im *Image) ReplicaCounts() map[int32]int {
	counts := make(map[int32]int, len(im.Brokers))
	for _, t := range im.Topics {
		for _, p := range t.Partitions {
			for _, b := range p.Replicas {
				counts[b]++
			}
		}
	}
	return counts
}

// TopicNames returns the topic names in ascending order.
func (im *Image) TopicNames() []string {
	names := make([]string, 0, len(im.Topics))
	for n := range im.Topics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// builder applies records to a copy of an image. Top-level maps are copied
// lazily, once per batch; topics are copied once per batch when first
// changed.
type builder struct {
	prev, next *Image
	index      int64 // the metadata offset of the batch being applied

	brokersCopied, topicsCopied, brokerConfigsCopied, featuresCopied bool
	nodeConfigsCopied                                                bool
	nodeCopied                                                       map[int32]bool // NodeConfigs entries copied
	ownTopics                                                        map[*Topic]bool
}

func newBuilder(prev *Image) *builder {
	next := *prev
	return &builder{prev: prev, next: &next, ownTopics: map[*Topic]bool{}}
}

func (b *builder) brokers() map[int32]Broker {
	if !b.brokersCopied {
		b.next.Brokers = cloneMap(b.next.Brokers)
		b.brokersCopied = true
	}
	return b.next.Brokers
}

func (b *builder) topicMaps() (map[string]*Topic, map[Uuid]*Topic) {
	if !b.topicsCopied {
		b.next.Topics = cloneMap(b.next.Topics)
		b.next.TopicsByID = cloneMap(b.next.TopicsByID)
		b.topicsCopied = true
	}
	return b.next.Topics, b.next.TopicsByID
}

// nodeConfigs returns broker id's own dynamic configs, copied for writing.
func (b *builder) nodeConfigs(id int32) map[string]string {
	if !b.nodeConfigsCopied {
		b.next.NodeConfigs = cloneMap(b.next.NodeConfigs)
		b.nodeConfigsCopied = true
	}
	if !b.nodeCopied[id] {
		b.next.NodeConfigs[id] = cloneMap(b.next.NodeConfigs[id])
		if b.nodeCopied == nil {
			b.nodeCopied = map[int32]bool{}
		}
		b.nodeCopied[id] = true
	}
	return b.next.NodeConfigs[id]
}

func (b *builder) brokerConfigs() map[string]string {
	if !b.brokerConfigsCopied {
		b.next.BrokerConfigs = cloneMap(b.next.BrokerConfigs)
		b.brokerConfigsCopied = true
	}
	return b.next.BrokerConfigs
}

func (b *builder) features() map[string]int16 {
	if !b.featuresCopied {
		b.next.Features = cloneMap(b.next.Features)
		b.featuresCopied = true
	}
	return b.next.Features
}

// mutableTopic returns a private copy of the topic with the given id (made
// once per batch) installed in the new image, or nil if there is none.
// Partitions and Configs of the copy may be replaced but never modified in
// place unless the topic was created in this batch.
func (b *builder) mutableTopic(id Uuid) *Topic {
	t := b.next.TopicsByID[id]
	if t == nil {
		return nil
	}
	if b.ownTopics[t] {
		return t
	}
	c := *t
	c.Partitions = append([]Partition(nil), t.Partitions...)
	c.Configs = cloneMap(t.Configs)
	byName, byID := b.topicMaps()
	byName[c.Name] = &c
	byID[c.ID] = &c
	b.ownTopics[&c] = true
	return &c
}

func (b *builder) addTopic(t *Topic) {
	byName, byID := b.topicMaps()
	byName[t.Name] = t
	byID[t.ID] = t
	b.ownTopics[t] = true
}

func (b *builder) removeTopic(t *Topic) {
	byName, byID := b.topicMaps()
	delete(byName, t.Name)
	delete(byID, t.ID)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	c := make(map[K]V, len(m)+1)
	for k, v := range m {
		c[k] = v
	}
	return c
}
