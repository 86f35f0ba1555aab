// Package replica is the node's replica manager, after Kafka's
// ReplicaManager: it owns what a node holds rather than what a request
// asks.
//
//   - Open opens the log directories (internal/log, one Manager each, each
//     locked to this process), the metadata store (internal/metadata) it
//     follows, and registers the node as a broker. Close undoes it in the
//     reverse order: coordinators, metadata, partitions, logs.
//   - Every metadata image is applied in order (applyImage): the replicas
//     the image assigns to this node are created with their settings
//     resolved from the topic, the dynamic broker configs and the node's
//     own; replicas no longer assigned are closed and their logs deleted.
//     Applying stops between two partitions when the node closes.
//   - A Replica pairs a partition's log with its partition state
//     (internal/partition); handlers reach partitions through Replica,
//     Partition and AppendOptions.
//   - The coordinators (internal/group, internal/txn) start with the node
//     and keep their records in internal compacted topics written through
//     the partitions like any other (internal_topics.go); each serves the
//     partitions of its topic this node leads, loaded and unloaded as the
//     images move leadership (coordinators.go); transactional offsets wait
//     here for their markers (txn_offsets.go). The transaction
//     coordinator's markers go to the partitions' leaders, in process or
//     as WriteTxnMarkers batched per broker (markers.go), and partition
//     leaders verify transactional writes with the coordinator of the
//     transactional id wherever it runs (txn_verify.go); both reach other
//     nodes through internal/interbroker.
//   - Housekeeping (idle producer expiry) runs until Close.
//
// Replica fetchers, leader and follower transitions and ISR changes land
// here with replication.
package replica
