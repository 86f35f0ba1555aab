package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

type report struct {
	clients, tools []row
	results        map[string]outcome
	versions       map[string]string
	broker         string
	took           time.Duration
	nodes          int    // 1, or the nodes of the cluster
	spread         string // a cluster's partition leaders by node, after the run
}

func (r report) counts() (passed, failed, na int) {
	for _, o := range r.results {
		switch o.Status {
		case "pass":
			passed++
		case "fail":
			failed++
		default:
			na++
		}
	}
	return
}

// note is a numbered reason under a table.
type note struct {
	n    int
	key  string
	o    outcome
	mark string
}

// table renders rows × columns; cells that are not a plain pass get a
// numbered note. cell formats a status with its note number.
func (r report) table(rs []row, columns []string, titles map[string]string, notes *[]note, cell func(status string, n int) string) [][]string {
	header := []string{"client"}
	for _, c := range columns {
		t := titles[c]
		if t == "" {
			t = c
		}
		header = append(header, t)
	}
	out := [][]string{header}
	for _, rw := range rs {
		name := rw.Name
		if v := r.versions[rw.Name]; v != "" {
			name += " " + v
		}
		line := []string{name}
		any := false
		for _, c := range columns {
			o, ok := r.results[rw.Name+"/"+c]
			if !ok {
				line = append(line, "")
				continue
			}
			any = true
			if o.Status == "pass" {
				line = append(line, cell("pass", 0))
				continue
			}
			n := 0
			for _, prev := range *notes { // the same reason again reuses its note
				if prev.o.Status == o.Status && prev.o.Detail == o.Detail {
					n = prev.n

				}
			}
			if n == 0 {
				n = len(*notes) + 1
				*notes = append(*notes, note{n: n, key: rw.Name + " / " + c, o: o})
			} else {
				(*notes)[n-1].key += ", " + rw.Name + " / " + c
			}
			line = append(line, cell(o.Status, n))
		}
		if any {
			out = append(out, line)
		}
	}
	return out
}

// clientColumns are the scenarios of every client row, in order: the
// shared ones, then those only some clients run (blank in the others' rows).
func (r report) clientColumns() []string {
	var cols []string
	for _, c := range r.clients {
		for _, col := range c.Columns {
			if !slices.Contains(cols, col) {
				cols = append(cols, col)
			}
		}
	}
	return cols
}

func (r report) toolCells() ([]row, []string) {
	// Tools have different scenarios each: one table whose columns are all
	// of them, blank where a tool has no such scenario.
	var cols []string
	for _, t := range r.tools {
		cols = append(cols, t.Columns...)
	}
	return r.tools, cols
}

func (r report) terminal() string {
	var b strings.Builder
	var notes []note
	cell := func(status string, n int) string {
		switch status {
		case "pass":
			return "pass"
		case "fail":
			return fmt.Sprintf("FAIL[%d]", n)
		}
		return fmt.Sprintf("n/a[%d]", n)
	}
	b.WriteString("\nCompatibility matrix against " + r.broker + "\n\n")
	writeText(&b, r.table(r.clients, r.clientColumns(), columnTitles, &notes, cell))
	b.WriteString("\n")
	tools, cols := r.toolCells()
	t := r.table(tools, cols, nil, &notes, cell)
	t[0][0] = "tool"
	writeText(&b, t)
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "[%d] %s: %s %s\n", n.n, n.key, n.o.Status, n.o.Detail)
	}
	if r.spread != "" {
		fmt.Fprintf(&b, "\nafter the run: %s\n", r.spread)
	}
	fmt.Fprintf(&b, "\nran in %s\n", r.took.Round(time.Second))
	return b.String()
}

func writeText(b *strings.Builder, t [][]string) {
	if len(t) <= 1 {
		return
	}
	w := make([]int, len(t[0]))
	for _, line := range t {
		for i, c := range line {
			w[i] = max(w[i], len(c))
		}
	}
	for li, line := range t {
		for i, c := range line {
			fmt.Fprintf(b, "%-*s", w[i]+2, c)
		}
		b.WriteString("\n")
		if li == 0 {
			for i := range line {
				b.WriteString(strings.Repeat("-", w[i]) + "  ")
			}
			b.WriteString("\n")
		}
	}
}

// docsIntro is the part of docs/compatibility.md that no run changes.
const docsIntro = `# Compatibility

Samsa is a drop-in replacement for Apache Kafka only where that is tested.
This page is written by the compatibility suite (` + "`make compat`" + `; see
[compat/README.md](../compat/README.md)): it starts a fresh Samsa, runs real,
independently written clients and tools against it, one scenario program per
client, and records what passed. It does so twice:

- **one node**: ` + "`compat/run.sh`" + ` starts one ` + "`samsa serve`" + `;
- **a 3-node cluster**: ` + "`compat/run.sh -nodes 3`" + ` (or ` + "`COMPAT_NODES=3`" + `)
  starts three nodes, each a broker and a voter of the controller quorum
  ([cluster.md](cluster.md)). The scenarios' topics, and the consumer-group and
  transaction coordinators, spread over the three nodes; clients bootstrap from
  node 1 and reach the others from the metadata. Every partition has three
  replicas ([replication.md](replication.md)): each scenario creates its
  topics with replication factor 3 (` + "`COMPAT_RF`" + `, which the suite sets to 3 in a
  cluster and to 1 on one node), and the nodes run with
  ` + "`default.replication.factor=3`" + ` and ` + "`min.insync.replicas=2`" + `, so the topics that
  Kafka Streams (replication.factor -1, the broker's default) and Connect
  (auto-created) make have three replicas too. The admin scenarios and
  kafka-topics check that the topics they create have three replicas on three
  brokers, the word count that its changelog has, and after the run the
  suite counts the replicas of every partition and fails if a scenario's
  topic has fewer.

Each client scenario checks a real outcome:

- **admin**: create a topic with 3 partitions and retention.ms, list it, describe
  its partitions (each with ` + "`COMPAT_RF`" + ` replicas on distinct brokers) and
  configs, delete it and see it gone;
- **produce**: keyed records with every compression codec the client supports,
  read back in order;
- **consume**: 30 keyed records with headers over 3 partitions, read from the
  beginning and compared exactly, partition and offset included;
- **group (classic)** / **group (KIP-848)**: two members split 4 partitions,
  consume 40 records between them and commit; a new member of the same group
  reads exactly the 10 records produced after the commit;
- **idempotent**: 100 records from an idempotent producer at offsets 0..99, no
  duplicates, after a Produce response lost on the way (the connection closed
  instead) made the client retry a batch the broker had written; every batch
  from one producer id and epoch (kcat: without the lost response, since its
  producer exits when its only connection closes);
- **transactions**: commit, abort, commit; a read_committed consumer sees only
  the committed records;
- **list offsets (by time)**, Java client only so far: five records in one
  compressed batch, timestamps not in offset order; ListOffsets by timestamp
  (Admin and consumer) finds the exact record with its own timestamp, max
  timestamp the record holding it.

The tools are Apache Kafka's command-line tools, a Kafka Streams word count
(state store, changelog topic, ` + "`processing.guarantee=exactly_once_v2`" + `) and a
Kafka Connect standalone worker with the FileStream source and sink connectors,
all from Maven Central. Three of the command-line scenarios look at the cluster
itself, and expect one broker on one node, three in the cluster:
**metadata-quorum** (` + "`kafka-metadata-quorum.sh describe --status`" + `: the leader
is a voter, every node is a voter, the high watermark is above 0; ` + "`--replication`" + `:
a row per voter, one of them the leader), **broker-api-versions**
(` + "`kafka-broker-api-versions.sh`" + ` lists every broker with its API versions) and
**topic-leaders** (` + "`kafka-topics.sh --describe`" + ` of a topic with 6 partitions
shows a leader on every broker).

✅ passed, ❌ failed (the reason is below), ➖ not applicable: the client
lacks the feature, one of the limits listed in ` + "`compat/na.txt`" + ` (any other
n/a, such as a client that could not be installed, fails the run);
blank: no scenario program for that client yet.
`

// mode is the section of docs/compatibility.md a run writes: "one node" or
// "cluster".
func (r report) mode() (key, title, anchor string) {
	if r.nodes > 1 {
		return "cluster", fmt.Sprintf("A %d-node cluster", r.nodes), "c"
	}
	return "one node", "One node", "n"
}

// markdown is this run's section of docs/compatibility.md.
func (r report) markdown() string {
	var b strings.Builder
	var notes []note
	_, title, anchor := r.mode()
	cell := func(status string, n int) string {
		switch status {
		case "pass":
			return "✅"
		case "fail":
			return fmt.Sprintf("❌ [%d](#%s%d)", n, anchor, n)
		}
		return fmt.Sprintf("➖ [%d](#%s%d)", n, anchor, n)
	}
	passed, failed, na := r.counts()
	fmt.Fprintf(&b, "## %s\n\n", title)
	fmt.Fprintf(&b, "Broker: %s. Result: **%d passed, %d failed**, %d not applicable; the run took %s.\n",
		r.broker, passed, failed, na, r.took.Round(time.Second))
	if r.spread != "" {
		fmt.Fprintf(&b, "After the run: %s.\n", r.spread)
	}
	b.WriteString("\n### Clients\n\n")
	writeMarkdown(&b, r.table(r.clients, r.clientColumns(), columnTitles, &notes, cell))
	b.WriteString("\n### Tools and frameworks\n\n")
	tools, cols := r.toolCells()
	t := r.table(tools, cols, nil, &notes, cell)
	t[0][0] = "tool"
	writeMarkdown(&b, t)
	if len(notes) > 0 {
		b.WriteString("\n### Reasons\n\n")
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "<a id=\"%s%d\"></a>%d. **%s**: %s — %s\n", anchor, n.n, n.n, n.key, n.o.Status, strings.ReplaceAll(n.o.Detail, "|", "\\|"))
	}
	return b.String()
}

// docsModes are the sections of docs/compatibility.md, in order, with what
// to run for one that was never written.
var docsModes = []struct{ key, title, command string }{
	{"one node", "One node", "compat/run.sh"},
	{"cluster", "A 3-node cluster", "compat/run.sh -nodes 3"},
}

// writeDocs writes this run's section of the page at path and keeps the
// other mode's section as the last run of that mode left it.
func (r report) writeDocs(path string) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	key, _, _ := r.mode()
	var b strings.Builder
	b.WriteString(docsIntro)
	for _, m := range docsModes {
		begin, end := "<!-- matrix: "+m.key+" -->", "<!-- end of matrix: "+m.key+" -->"
		section := ""
		if m.key == key {
			section = r.markdown()
		} else if _, rest, ok := strings.Cut(string(old), begin+"\n"); ok {
			section, _, _ = strings.Cut(rest, end)
		}
		if section == "" {
			section = fmt.Sprintf("## %s\n\nNot run yet: `%s`.\n", m.title, m.command)
		}
		b.WriteString("\n" + begin + "\n" + section + end + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func writeMarkdown(b *strings.Builder, t [][]string) {
	if len(t) <= 1 {
		b.WriteString("(not run)\n")
		return
	}
	for li, line := range t {
		b.WriteString("| " + strings.Join(line, " | ") + " |\n")
		if li == 0 {
			b.WriteString("|" + strings.Repeat("---|", len(line)) + "\n")
		}
	}
}
