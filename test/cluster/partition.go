package cluster

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// PartitionsSupported reports whether Partition can install its rules here
// (inside the tests' own network namespace, with nft installed); reason
// says why not.
func PartitionsSupported() (ok bool, reason string) {
	if !env.netns {
		return false, env.noPartitions
	}
	return env.noPartitions == "", env.noPartitions
}

// RequirePartitions skips the test unless Partition can work here.
func RequirePartitions(t testing.TB) {
	t.Helper()
	if ok, reason := PartitionsSupported(); !ok {
		t.Skip("network partitions: " + reason)
	}
}

// Partition drops every packet between the nodes of a and those of b, both
// ways, silently (connections time out; nothing is refused). Ids are node
// ids or Clients. Rules add up until Heal. Without a network namespace of
// the tests' own (see the package documentation) it skips the test.
//
// A node's packets are told by their source address (its own, which
// accepted connections and bound dials use) or by the node's user id (its
// unbound dials, which leave from 127.0.0.1); the harness's probes are
// never cut.
func (c *Cluster) Partition(a, b []int) {
	c.t.Helper()
	RequirePartitions(c.t)
	for _, id := range append(slices.Clone(a), b...) {
		if id != Clients && (id < 1 || id > len(c.nodes)) {
			c.t.Fatalf("cluster: partition: no node %d (nodes 1..%d, or Clients)", id, len(c.nodes))
		}
	}
	for _, id := range a {
		if slices.Contains(b, id) {
			c.t.Fatalf("cluster: partition: %d is on both sides", id)
		}
	}
	if len(a) == 0 || len(b) == 0 {
		c.t.Fatalf("cluster: partition: an empty side (%v, %v)", a, b)
	}
	for _, n := range c.nodes {
		if slices.Contains(a, n.id) || slices.Contains(b, n.id) {
			n.logs.mark("partition %v | %v", a, b)
		}
	}
	if err := c.nft(partitionRules(c.table(), c.x, c.y, a, b)); err != nil {
		c.t.Fatal(err)
	}
}

// Isolate cuts node i off every other node and the clients.
func (c *Cluster) Isolate(i int) {
	c.t.Helper()
	others := []int{Clients}
	for _, n := range c.nodes {
		if n.id != i {
			others = append(others, n.id)
		}
	}
	c.Partition([]int{i}, others)
}

// Heal removes every rule Partition and Isolate installed.
func (c *Cluster) Heal() {
	c.t.Helper()
	c.nftMu.Lock()
	created := c.nftTable
	c.nftMu.Unlock()
	if !created {
		return
	}
	for _, n := range c.nodes {
		n.logs.mark("heal")
	}
	if err := c.nft("flush table inet " + c.table() + "\n"); err != nil {
		c.t.Fatal(err)
	}
}

// table is the name of the cluster's nft table.
func (c *Cluster) table() string { return fmt.Sprintf("samsa_cluster_%d_%d", c.x, c.y) }

// nft runs script with nft -f, creating the cluster's table and output
// chain first if need be.
func (c *Cluster) nft(script string) error {
	c.nftMu.Lock()
	defer c.nftMu.Unlock()
	if !c.nftTable {
		script = tableRules(c.table()) + script
	}
	if err := runNft(script); err != nil {
		return err
	}
	c.nftTable = true
	return nil
}

// deleteTable removes the cluster's table, if any.
func (c *Cluster) deleteTable() {
	c.nftMu.Lock()
	defer c.nftMu.Unlock()
	if !c.nftTable {
		return
	}
	if err := runNft("delete table inet " + c.table() + "\n"); err != nil {
		c.t.Error(err)
	}
	c.nftTable = false
}

func runNft(script string) error {
	cmd := exec.Command(env.nft, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cluster: nft -f: %v: %s\nscript:\n%s", err, strings.TrimSpace(out.String()), script)
	}
	return nil
}

// tableRules create a table with a chain on the output hook: on loopback
// every packet passes it once, from the sending socket, whose user id it
// still knows.
func tableRules(table string) string {
	return fmt.Sprintf("add table inet %[1]s\nadd chain inet %[1]s out { type filter hook output priority 0; policy accept; }\n", table)
}

// partitionRules drop, for each direction, the packets from one side's
// addresses or user ids to the other side's addresses.
func partitionRules(table string, x, y int, a, b []int) string {
	var s strings.Builder
	for _, dir := range [][2][]int{{a, b}, {b, a}} {
		from, to := dir[0], dir[1]
		dst := addrSet(x, y, to)
		fmt.Fprintf(&s, "add rule inet %s out ip saddr %s ip daddr %s drop\n", table, addrSet(x, y, from), dst)
		var uids []string
		for _, id := range from {
			if id != Clients {
				uids = append(uids, strconv.Itoa(nodeUID(x, y, id)))
			}
		}
		if len(uids) > 0 {
			fmt.Fprintf(&s, "add rule inet %s out meta skuid { %s } ip daddr %s drop\n", table, strings.Join(uids, ", "), dst)
		}
	}
	return s.String()
}

func addrSet(x, y int, ids []int) string {
	a := make([]string, len(ids))
	for i, id := range ids {
		a[i] = fmt.Sprintf("127.%d.%d.%d", x, y, id)
	}
	return "{ " + strings.Join(a, ", ") + " }"
}
