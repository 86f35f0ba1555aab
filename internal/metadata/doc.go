// Package metadata holds the cluster metadata of a Samsa cluster — brokers,
// topics, partitions, configs, features, producer-id blocks — as a log of
// records replicated with Raft and applied to an immutable image.
//
// # The model
//
//	controller operation ──records──▶ Raft log ──commit──▶ FSM ──▶ Image (atomic swap) ──▶ Watch callbacks
//	(CreateTopic, ...)                (hashicorp/raft,           (copy-on-write)           (one goroutine,
//	 validate, assign, propose)        one voter by default)                                in order)
//
// Records are small typed structs (TopicRecord, PartitionRecord,
// ConfigRecord, ...; record type numbers follow Kafka's KRaft metadata
// records) encoded in a compact versioned binary format (AppendRecords,
// DecodeRecords; docs/metadata.md has the byte layout). One controller
// operation is one Raft entry holding a batch of records, so a topic and
// all its partitions appear in the image together or not at all.
//
// The FSM applies each committed batch to a copy of the current Image,
// copying only what changes, and publishes it with an atomic pointer swap.
// Image() is lock-free and returns a snapshot that never changes: handlers
// read it without locks and must never modify it. Image.Epoch is the Raft
// index of the last applied batch.
//
// # Who proposes
//
// Only the active controller (the Raft leader) proposes records, through
// the Store's controller operations (CreateTopic, DeleteTopic,
// CreatePartitions, SetTopicConfigs, SetBrokerConfigs, RegisterBroker,
// AllocateProducerIDs, SetFeatureLevel). They are serialised: each
// validates the request against the current image (Kafka's rules and
// error codes), turns it into records, proposes them and returns once the
// batch is applied, so a caller that reads Image() afterwards sees its
// change. On a node that is not the leader they fail with NOT_CONTROLLER.
// Kafka errors come back as *Error (a kerr code plus a message); any other
// error is a failure of the node.
//
// # Watch
//
// Watch callbacks receive (prev, next) for every published image, in
// publication order, one call at a time, from a single goroutine owned by
// the Store. They run after the swap, so Image() may already be newer than
// next; a slow callback delays later ones but never the FSM.
//
// # Storage and start-up
//
// Under Config.Dir: raft.wal (the Raft log and stable store: CRC-framed
// operations, see walStore), snapshots/ (raft.FileSnapshotStore; a snapshot
// is the image written as records) and meta.properties (cluster.id and
// node.id, as Kafka writes it). Open bootstraps a one-voter cluster on first
// start; on restart it restores the latest snapshot, elects itself and
// replays the log after it before returning. A single voter elects itself
// in about 50-100 ms.
//
// # Example
//
//	s, err := metadata.Open(metadata.Config{NodeID: 1, Dir: "data/__cluster_metadata-0"})
//	if err != nil { ... }
//	defer s.Close()
//	_ = s.RegisterBroker(ctx, metadata.Broker{ID: 1, Host: "127.0.0.1", Port: 9092})
//	t, err := s.CreateTopic(ctx, metadata.CreateTopicRequest{Name: "orders", NumPartitions: 3, ReplicationFactor: -1})
//	code, msg := metadata.ErrorCode(err) // 0, "" on success
//	p, ok := s.Image().Partition("orders", 0)
//
// # Locking
//
// Lock order: ctrlMu (controller operations) → raft → pubMu (publishing an
// image) → watchMu (watchers and pending notifications). Readers take no
// lock.
package metadata
