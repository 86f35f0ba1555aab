// Package cluster runs Samsa clusters of real `samsa serve` processes for
// tests: one process per node, each on its own loopback address and data
// directory, with the faults a test injects (kill -9, SIGTERM, SIGSTOP and
// SIGCONT, restart, wiped disk, network partitions) and the clients it drives
// them with (franz-go, kadm, raw kmsg requests).
//
// A test package that uses it calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { cluster.Main(m) }
//
// Main builds the binary once (go build ./cmd/samsa from the module root,
// or takes SAMSA_CLUSTER_BIN) and, when the test binary runs as root on
// Linux, runs the tests again inside a private network namespace of their
// own (as `unshare --net` would), with its loopback up. There every node,
// client and nftables rule lives in a namespace that disappears with the
// test binary, so Partition, Isolate and Heal can drop packets with nft
// without touching the machine's own rules. Elsewhere (not root,
// SAMSA_CLUSTER_NETNS=off, no nft) everything but the partitions works, and
// the partition helpers skip the test with the reason.
//
// # Addresses
//
// Each cluster gets a random block 127.x.y.0/24 (x never 0, so it stays
// clear of 127.0.0.x, which other test packages use; no two clusters of one
// test binary share a block). Node i listens on 127.x.y.i: 9092 for Kafka
// clients, 9093 for the controller (combined nodes), 9644 for the admin HTTP
// server (/metrics, /healthz, /readyz). Clients made by Client, Admin and
// Node.Client connect from 127.x.y.100 (the Clients id of Partition); the
// harness's own probes (readiness, Node.Request, Node.Metadata) connect from
// 127.x.y.101, which partitions never cut, so a test can still ask an
// isolated node what it thinks.
//
// Inside the namespace each node runs under a user id of its own. A node
// dials its peers without binding a source address, so the kernel gives its
// connections the source 127.0.0.1 whatever the node; the nft rules
// therefore match a node's packets by its listening address or by its
// user id (meta skuid), which tells the nodes apart either way.
//
// # Configuration
//
// Node i is started as `samsa serve --config node-i.properties --log-level
// debug`. While the binary has no cluster settings (ClusterSupported reports
// whether `samsa config docs` lists process.roles, controller.quorum.voters
// and the rest), only one-node clusters start, with today's single-node
// settings; a multi-node Start, or any option that needs the cluster
// settings, skips the test with the reason.
//
// # Fault tests
//
// StartWorkload drives a topic with idempotent acks=all producers, a
// transactional writer and a read_committed consumer group, recording every
// acknowledgement, read and committed offset in a History; Chaos injects
// one fault at a time (kill -9, SIGSTOP or cut of a leader, SIGSTOP of a
// follower, kill -9 of the controller, rolling restart, every node killed),
// each healed and settled before the next; Check holds the History to the
// safety invariants (nothing acknowledged lost or duplicated, offsets never
// reused, nothing read vanishes, committed offsets never regress, no aborted
// record read) and Measure gives each fault's gap and stall.
package cluster
