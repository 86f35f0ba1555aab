// Package sim is a deterministic simulator of one replicated partition:
// it drives the real partition.Partition and log.Log code of three nodes
// (replication factor 3) through leader changes, ISR changes, lost and
// late messages, crashes and restarts, and checks Kafka's replication
// invariants after every step. A run is a function of its seed, so a
// failure is replayed exactly.
//
// # What is real and what is a model
//
// Real: each node's log manager, log and partition, opened on its own
// vfs.MemFS, which keeps only what was fsynced (and, at a crash, a random
// prefix of what was not: torn writes). The log manager runs with
// ManualCommit, so its group committer's fsync rounds happen when the
// simulator says, and a crash between an append and its round takes the
// append back, as DurabilitySync promises. Every replication rule the
// broker relies on is the partition's own: BecomeLeaderWith and
// BecomeFollower, SetAssignment, Read with FromFollower (the KIP-320
// diverging-epoch check), FollowerFetched and MaybeShrinkISR (the ISR
// proposals and the high watermark), CompleteISRChange, ApplyFetched and
// FetchPosition (the follower's truncation and append), WaitAcked (a
// producer's acks=1 and acks=all).
//
// Models, kept to what the real wiring does:
//
//   - the follower's fetcher (internal/replica/fetcher.go): it fetches
//     from FetchPosition, applies the answer with ApplyFetched, waits for
//     its appends to be durable (the next commit round) and only then
//     adopts min(leader's high watermark, log end) and fetches again;
//   - the leader's fetch handler (internal/broker/01_fetch.go): Read,
//     then FollowerFetched, whose proposal goes out as AlterPartition;
//   - the replica manager's applyRole (internal/replica/replication.go):
//     an image makes a node leader (BecomeLeaderWith, then SetAssignment) or
//     follower (BecomeFollower, fetch from the new leader);
//   - the controller (controller.go): elections from the ISR only,
//     fencing that removes a broker from the ISR unless it is the last
//     member, leader epoch and partition epoch bumps, AlterPartition as a
//     compare-and-set on both epochs that refuses fenced brokers and stale
//     broker epochs (KIP-903), images published to every node with a
//     delay, in order;
//   - a producer: AppendAsLeaderAsync on the node it believes leads, then
//     WaitAcked asked without blocking (an expired context) after every
//     step: acknowledged, failed (the term ended: NOT_LEADER_OR_FOLLOWER;
//     the ISR shrank) or still waiting;
//   - a consumer: Read up to the high watermark of any replica.
//
// The clock is simulated (partition.Config.Now, FollowerFetched's and
// MaybeShrinkISR's now); nothing sleeps.
//
// # Random runs
//
// Each step either delivers the earliest message or timer (messages get
// random delays, so they overtake one another; a few fetches and
// AlterPartitions are lost) or injects an action: a produce (acks=all or
// acks=1, mostly to the controller's leader, sometimes to a stale one),
// a consumer's read, time passing, a commit round, or a fault. The fault
// budget: at most one node crashed (power loss: unsynced writes lost) at a
// time, and at most one node cut off from the others and the controller
// or paused (a zombie: its messages wait) at a time. A silent node is
// fenced when its session expires; a restarted one registers with a new
// broker epoch. Disks are never lost in random runs (scenario
// kafka-14139 does that by hand): with DurabilitySync a power loss keeps
// whatever a replica acknowledged to its leader.
//
// # Invariants
//
// Checked after every step; a failure names the seed and the step:
//
//  1. a batch acknowledged with acks=all is, byte for byte, at its offset
//     in the log of the leader of the controller's current epoch (once
//     that node leads it), for good: within the budget above nothing
//     acknowledged with acks=all is ever lost, whatever min.insync.replicas
//     (runs use 2, and 1 for every fourth seed);
//  2. a leader's high watermark never goes back within its epoch;
//  3. no replica truncates below the high watermark it exposed
//     (partition.Config.TruncatedBelowHighWatermark);
//  4. an epoch has at most one leader;
//  5. below the smaller high watermark of two replicas, the batches both
//     hold are identical;
//  6. a consumer that read a batch at an offset never reads another one
//     there.
//
// # Running
//
//	go test ./internal/replication/sim                          # 500 seeds of 400 steps (150 with -race; 100 seeds with -short)
//	SAMSA_SIM_SEEDS=10000 go test ./internal/replication/sim -run TestSimulation -timeout 30m
//	SAMSA_SIM_STEPS=2000 go test ./internal/replication/sim -run TestSimulation   # longer runs
//	SAMSA_SIM_SEED=42 go test ./internal/replication/sim -run TestSimulation -v   # one seed, traced
//
// # Scenarios
//
// testdata/*.txt are scripts (cockroachdb/datadriven) in which nothing
// happens by chance: messages wait in a queue until a command delivers
// them, and commands name each fetch, crash, election and fault. They
// replay the cases the replication protocol was changed for: KIP-101's
// data loss and divergence after fast failovers, KIP-279's fast leader
// changes, KAFKA-7128 (a follower behind the new leader's epoch start
// must not join the ISR) and KAFKA-14139 (a broker that lost its disk
// rejoining with a stale broker epoch). Regenerate the expected output
// with -rewrite after a deliberate change, and read the diff.
package sim
