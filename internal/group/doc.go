// Package group is the group coordinator: it runs Kafka's consumer groups
// and stores their committed offsets.
//
// # The model
//
// A group is a set of members that share the partitions of the topics they
// subscribe to. Two protocols coexist, one per group:
//
//   - The classic protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup).
//     Membership changes move the group from Stable to PreparingRebalance;
//     members rejoin (the join waits until all known members have, or the
//     rebalance timeout passes, or — for the first rebalance of an empty
//     group — group.initial.rebalance.delay.ms); the coordinator starts a
//     new generation, picks the protocol all members support that most
//     prefer, and answers every join, the leader's with all members'
//     metadata (CompletingRebalance). The leader computes the assignment
//     client-side and sends it with its SyncGroup; every member's SyncGroup
//     gets its share and the group is Stable. A new member first gets
//     MEMBER_ID_REQUIRED with its id (KIP-394). A static member
//     (group.instance.id, KIP-345) that restarts within its session
//     timeout takes its old place and assignment without a rebalance; the
//     old member id is fenced with FENCED_INSTANCE_ID.
//   - The consumer protocol (KIP-848, ConsumerGroupHeartbeat). The
//     coordinator owns the assignment: every membership or subscription
//     change bumps the group epoch and a server-side assignor (uniform or
//     range) computes a target assignment; each member is moved towards
//     its target incrementally, revoking before assigning, so a partition
//     never has two owners and members that keep partitions never stop.
//
// Offsets (OffsetCommit, OffsetFetch, OffsetDelete) are validated against
// the member and generation (or member epoch), written to the internal
// compacted topic __consumer_offsets through the Storage interface with
// Kafka's record schemas (OffsetCommitKey/Value, GroupMetadataKey/Value),
// and applied only once durable. A group lives in partition
// abs(hashCode(group id)) % offsets.topic.num.partitions, as in Kafka.
// Offsets of groups that have been empty for offsets.retention.minutes are
// deleted with tombstones.
//
// # Partitions
//
// The coordinator serves only the groups of the partitions it has loaded,
// the ones this node leads (partitions.go): LoadPartition replays a
// partition when the node becomes its leader, UnloadPartition drops its
// groups when the node stops leading it (waiting members are told
// NOT_COORDINATOR). Requests for a group of a partition being loaded get
// COORDINATOR_LOAD_IN_PROGRESS, of a partition not loaded NOT_COORDINATOR.
// Both take the partition's leader epoch, and a stale one is ignored.
//
// # Using it
//
//	c, err := group.New(group.Options{Config: cfg, Storage: st, Topics: ts})
//	err = c.LoadPartition(ctx, p, leaderEpoch) // for each partition this node leads
//	resp, err := c.JoinGroup(ctx, req, clientID, clientHost) // blocks until the rebalance completes
//	c.UnloadPartition(p, newLeaderEpoch) // once another node leads p
//
// The request methods take and return kmsg messages; Kafka errors are
// error codes in the responses. JoinGroup and SyncGroup block; call them
// from a goroutine that may wait (the connection's), with a context that
// ends when the connection or the server does. All other methods return
// promptly (after a storage write at most).
//
// # Concurrency
//
// Each group has a mutex that guards all of its state; the coordinator's
// mutex guards only the map of groups and the partitions' ownership. Lock order: a group's mutex, then
// the coordinator's — never the reverse. Timers (sessions, rebalance and
// revocation deadlines, the initial delay, offset expiry) come from the
// injected Clock and take the group's mutex when they fire, re-checking
// that they are still current. Storage writes happen under the group's
// mutex, so one group's records are written in order.
//
// KIP-848 member state is kept in memory only: after a restart members get
// UNKNOWN_MEMBER_ID and rejoin (their committed offsets are durable).
package group
