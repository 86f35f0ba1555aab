// Package controller is the cluster's control plane above the metadata
// log: what the active controller does besides validating and proposing
// metadata changes (internal/metadata does that), and how every node
// reaches it.
//
// The active controller is the Raft leader of the metadata log, once it
// has applied every entry of earlier terms (metadata.Store.Active). It
// runs the broker lifecycle of KIP-631 (Controller): a starting broker
// registers an incarnation and gets a broker epoch (the offset of its
// registration); it is fenced until its heartbeats report a metadata
// offset at or past that epoch, then unfenced and given the leadership of
// the partitions it is an in-sync replica of; a broker whose heartbeats
// stop for broker.session.timeout.ms is fenced and its leaderships move
// away; a new incarnation of a node (a restart, recognised by its
// metadata directory id) fences the old one at once; a broker shutting
// down asks, with its heartbeat, for its leaderships to move before it
// stops. Who is alive is soft state on the active controller only: a newly
// elected controller gives every broker a full session.
//
// Every node reaches the active controller through a Client, which calls
// the local store when this node is the active controller and otherwise
// sends the matching Kafka request (CreateTopics, IncrementalAlterConfigs,
// AllocateProducerIds, BrokerHeartbeat, a partition leader's
// AlterPartition, ...) to the active controller's
// controller listener, retrying NOT_CONTROLLER and connection failures
// across elections. Server answers those requests on the controller
// listener. Mux lets the controller listener carry the metadata log's Raft
// transport and the Kafka protocol on one port, as KRaft's does.
package controller
