// Command matrix runs Samsa's compatibility suite: it starts a fresh broker,
// runs every client's scenario programs against it, each with a timeout,
// prints the client × scenario matrix and a closing "N passed, M failed"
// line, and writes docs/compatibility.md.
//
// compat/run.sh installs the clients and builds the scenario programs, then
// runs this command; see compat/README.md. Flags:
//
//	-broker samsa      a fresh samsa serve on free ports with a temp data dir (default)
//	-broker reference  Apache Kafka 4.x from the Maven jars, to show the scenarios are right
//	-broker broken     a closed port: every scenario must fail
//	-nodes N           N nodes in one cluster (each a broker and a controller,
//	                   each behind its own listener of the proxy), default
//	                   $COMPAT_NODES or 1
//	-rf N              the replication factor the scenarios create their
//	                   topics with, and the brokers' default.replication.factor
//	                   (with min.insync.replicas 2 from 3 up); default
//	                   $COMPAT_RF, else 3 in a cluster of 3 or more, else the nodes
//	-only REGEXP       run only cells whose "row/scenario" matches
//	-control           the negative control: clients reach the broker through
//	                   compat/faultproxy, which loses record batches, and every
//	                   scenario that checks records must fail
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/samsa-streaming/samsa/compat/faultproxy"
)

// The scenarios every client runs, in column order.
var clientColumns = []string{"admin", "produce", "consume", "group", "group-consumer", "idempotent", "txn"}

// javaColumns: the Java client also runs list-offsets, which no other
// client's program has yet; its column is blank in their rows.
var javaColumns = append(slices.Clip(clientColumns), "list-offsets")

var columnTitles = map[string]string{
	"admin":          "admin",
	"produce":        "produce (keys, codecs)",
	"consume":        "consume (exact)",
	"group":          "group (classic)",
	"group-consumer": "group (KIP-848)",
	"idempotent":     "idempotent",
	"txn":            "transactions",
	"list-offsets":   "list offsets (by time)",
}

// row is one client or tool: a program run once per scenario.
type row struct {
	Name    string
	Columns []string
	// Cmd is the command line for a scenario ("version" prints the
	// client's version as its ok: line).
	Cmd func(scenario string) []string
	// Check reports why the row cannot run here (not installed), or nil.
	Check func() error
}

// outcome of one cell.
type outcome struct {
	Status string // pass, fail, n/a
	Detail string
	Took   time.Duration
}

// controlColumns are the scenarios that check records read back: under
// -control each must fail. (admin reads no records; list-offsets checks
// ListOffsets answers and fetches nothing; the CLI's topics, consumer-groups
// and configs read no records either; the perf tools check no contents.)
var controlColumns = []string{"produce", "consume", "group", "group-consumer", "idempotent", "txn",
	"console", "wordcount-eos", "filestream"}

type suite struct {
	root    string
	out     string // compat/out: logs and built programs
	logs    string // compat/out/logs, compat/out/logs/control under -control
	env     []string
	timeout time.Duration
}

func main() {
	brokerKind := flag.String("broker", "samsa", "samsa, reference (Apache Kafka from Maven) or broken (a closed port)")
	broken := flag.Bool("broken", false, "shorthand for -broker broken")
	only := flag.String("only", "", "run only the cells whose row/scenario matches this regexp")
	timeout := flag.Duration("timeout", 0, "timeout of one scenario (default 120s, 30s with -broker broken)")
	waitSec := flag.Int("wait", 0, "seconds a scenario waits for a condition (default 25, 5 with -broker broken or -control)")
	docs := flag.String("docs", "", "write the matrix to this markdown file (default docs/compatibility.md for a full samsa run)")
	control := flag.Bool("control", false, "negative control: run the scenarios that check records through a proxy that loses record batches; each must fail")
	allowFail := flag.Bool("allow-fail", os.Getenv("COMPAT_ALLOW_FAIL") == "1", "exit 0 even when cells fail (also COMPAT_ALLOW_FAIL=1)")
	nodes := flag.Int("nodes", envInt("COMPAT_NODES", 1), "nodes in the cluster: 1, or 3 for a cluster (also COMPAT_NODES)")
	rf := flag.Int("rf", envInt("COMPAT_RF", 0), "replication factor of the scenarios' topics and the brokers' default.replication.factor (also COMPAT_RF; default min(nodes, 3))")
	flag.Parse()
	if *rf == 0 {
		*rf = min(*nodes, 3)
	}
	if *rf < 1 || *rf > *nodes {
		fatalf("-rf %d: want 1 to the number of nodes (%d)", *rf, *nodes)
	}
	if *broken {
		*brokerKind = "broken"
	}
	if *timeout == 0 {
		*timeout = 120 * time.Second
		if *brokerKind == "broken" {
			*timeout = 30 * time.Second
		}
		if *control {
			*timeout = 60 * time.Second
		}
	}
	if *waitSec == 0 {
		*waitSec = 25
		if *brokerKind == "broken" {
			*waitSec = 5
		}
		if *control {
			// Every control cell must fail; most do so by waiting out this
			// wait for records the proxy lost, so a short one keeps the
			// control quick without letting any cell pass.
			*waitSec = 5
		}
	}
	var filter *regexp.Regexp
	if *only != "" {
		var err error
		if filter, err = regexp.Compile(*only); err != nil {
			fatalf("-only: %v", err)
		}
	}
	root, err := repoRoot()
	if err != nil {
		fatalf("%v", err)
	}
	s := &suite{root: root, out: filepath.Join(root, "compat", "out"), timeout: *timeout}
	s.logs = filepath.Join(s.out, "logs")
	if *nodes > 1 {
		s.logs = filepath.Join(s.logs, "cluster")
	}
	if *control {
		s.logs = filepath.Join(s.logs, "control")
	}
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		fatalf("%v", err)
	}

	start := time.Now()
	b, err := startBroker(s, *brokerKind, *nodes, *rf, *control)
	if err != nil {
		fatalf("start %s broker: %v", *brokerKind, err)
	}
	defer b.stop()
	fmt.Printf("broker: %s at %s (started in %.1fs)\n", b.describe, b.addr, time.Since(start).Seconds())
	if len(b.nodes) > 1 && b.proxy != nil {
		for i, nd := range b.nodes {
			fmt.Printf("  node %d: %s, clients reach it at %s\n", nd.id, nd.listen, b.proxy.Addrs()[i])
		}
	}
	s.env = append(os.Environ(),
		"COMPAT_BOOTSTRAP="+b.addr,
		"COMPAT_NODES="+strconv.Itoa(len(b.nodes)),
		"COMPAT_RF="+strconv.Itoa(*rf),
		"COMPAT_RUN="+strconv.FormatInt(time.Now().Unix(), 36),
		"COMPAT_WAIT_SECONDS="+strconv.Itoa(*waitSec),
		"COMPAT_ROOT="+root,
	)

	clients, tools := rows(s)
	allowedNA, err := readNA(filepath.Join(root, "compat", "na.txt"))
	if err != nil {
		fatalf("%v", err)
	}
	var unexpectedNA, stalePass, controlPassed []string
	results := map[string]outcome{}
	exitedSeen := map[int]bool{}
	versions := map[string]string{}
	runRows := func(rs []row) {
		for _, r := range rs {
			var notInstalled error
			if r.Check != nil {
				notInstalled = r.Check()
			}
			selected := false
			for _, col := range r.Columns {
				selected = selected || filter == nil || filter.MatchString(r.Name+"/"+col)
			}
			if !selected {
				continue
			}
			if notInstalled == nil {
				if o := s.run(r, "version"); o.Status == "pass" {
					versions[r.Name] = o.Detail
				}
			}
			for _, col := range r.Columns {
				key := r.Name + "/" + col
				if filter != nil && !filter.MatchString(key) {
					continue
				}
				if *control && !slices.Contains(controlColumns, col) {
					continue
				}
				var o outcome
				if notInstalled != nil {
					o = outcome{Status: "n/a", Detail: notInstalled.Error()}
				} else if col == "idempotent" && !*control && b.proxy != nil && noInducedRetry[r.Name] == "" {
					o = s.runRetried(r, col, b.proxy)
				} else {
					o = s.run(r, col)
				}
				if _, listed := allowedNA[key]; o.Status == "n/a" && !listed {
					// Only a listed client limit may be n/a: a client that did
					// not install or import, or a scenario that gave up, fails.
					o = outcome{Status: "fail", Detail: "unexpected n/a (not a client limit listed in compat/na.txt): " + o.Detail, Took: o.Took}
					unexpectedNA = append(unexpectedNA, key)
				} else if listed && o.Status == "pass" && !*control {
					stalePass = append(stalePass, key)
				} else if *control && o.Status == "pass" {
					o = outcome{Status: "fail", Detail: "passed through the faulty proxy: its check cannot see lost records (" + o.Detail + ")", Took: o.Took}
					controlPassed = append(controlPassed, key)
				} else if *control && o.Status == "fail" {
					o = outcome{Status: "pass", Detail: "failed through the faulty proxy, as it must: " + o.Detail, Took: o.Took}
				}
				results[key] = o
				fmt.Printf("  %-40s %-5s %5.1fs  %s\n", key, o.Status, o.Took.Seconds(), o.Detail)
				if nd := b.exitedNode(); nd != nil && !exitedSeen[nd.id] {
					exitedSeen[nd.id] = true
					fmt.Printf("  node %d exited during %s\n", nd.id, key)
				}
			}
		}
	}
	rel, _ := filepath.Rel(root, s.logs)
	fmt.Printf("running scenarios (logs in %s):\n", rel)
	runRows(clients)
	runRows(tools)

	rep := report{clients: clients, tools: tools, results: results, versions: versions, broker: b.describe,
		took: time.Since(start), nodes: len(b.nodes)}
	var shortTopics []string
	if len(b.nodes) > 1 && *brokerKind != "broken" {
		if rep.spread, shortTopics, err = b.spread(); err != nil {
			rep.spread = "partition leaders not read: " + err.Error()
		}
	}
	text := rep.terminal()
	fmt.Print(text)
	if *docs == "" && *brokerKind == "samsa" && filter == nil && !*control {
		*docs = filepath.Join(root, "docs", "compatibility.md")
	}
	if *docs != "" {
		if err := rep.writeDocs(*docs); err != nil {
			fmt.Fprintf(os.Stderr, "write %s: %v\n", *docs, err)
		} else {
			fmt.Printf("wrote %s\n", *docs)
		}
	}
	passed, failed, na := rep.counts()
	for _, key := range unexpectedNA {
		fmt.Printf("unexpected n/a (counted as a failure): %s\n", key)
	}
	if *control {
		fmt.Printf("negative control: %d batches dropped in Fetch responses\n", b.proxy.DroppedBatches.Load())
		for _, key := range controlPassed {
			fmt.Printf("passed through the faulty proxy (its check cannot see loss): %s\n", key)
		}
		if len(controlPassed) == 0 && failed == 0 {
			fmt.Printf("negative control: every scenario that checks records failed through the faulty proxy\n")
		}
	}
	for _, t := range shortTopics {
		fmt.Printf("topic %s has partitions without %d replicas (counted as a failure)\n", t, *rf)
	}
	for _, key := range stalePass {
		fmt.Printf("listed in compat/na.txt but passed (remove it from the list): %s\n", key)
	}
	fmt.Printf("%d not applicable (client limits listed in compat/na.txt)\n", na)
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	b.stop()
	// -allow-fail tolerates Samsa's failures, not the control's: a control
	// that fails means a check of the suite cannot see loss.
	if (failed > 0 || len(shortTopics) > 0) && (!*allowFail || *control) {
		os.Exit(1)
	}
}

// readNA reads compat/na.txt: the cells that may be n/a, "row/scenario"
// then the reason, one a line; # starts a comment.
func readNA(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cells := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Row names hold spaces ("librdkafka: kcat"): the key ends at the
		// first run of two spaces or a tab after the scenario's slash.
		key, reason, ok := cutGap(line)
		if !ok || !strings.Contains(key, "/") || reason == "" {
			return nil, fmt.Errorf("%s:%d: want \"row/scenario  reason\", got %q", path, i+1, line)
		}
		cells[key] = reason
	}
	return cells, nil
}

func cutGap(line string) (string, string, bool) {
	for i := 0; i < len(line); i++ {
		if line[i] == '\t' || (line[i] == ' ' && i+1 < len(line) && line[i+1] == ' ') {
			return line[:i], strings.TrimSpace(line[i:]), true
		}
	}
	return line, "", false
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compat: "+format+"\n", args...)
	os.Exit(2)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "compat")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the samsa repository")
		}
		dir = parent
	}
}

// run executes one scenario program with the timeout and reads its verdict:
// the last line starting with ok:, fail: or n/a:, agreeing with the exit
// code (0, 1, 3).
func (s *suite) run(r row, scenario string) outcome {
	argv := r.Cmd(scenario)
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.root
	cmd.Env = s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return outcome{Status: "fail", Detail: "cannot start: " + err.Error()}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-ctx.Done():
		timedOut = true
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole process group: scripts start children
		err = <-done
	}
	took := time.Since(start)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // leftovers of a finished script
	logName := filepath.Join(s.logs, sanitize(r.Name)+"-"+scenario+".log")
	os.WriteFile(logName, buf.Bytes(), 0o644)

	verdict, detail := lastVerdict(buf.Bytes())
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		code = -1
	}
	switch {
	case timedOut:
		return outcome{"fail", fmt.Sprintf("timed out after %v%s", s.timeout, lastWords(buf.Bytes())), took}
	case verdict == "ok" && code == 0:
		return outcome{"pass", detail, took}
	case verdict == "n/a" && code == 3:
		return outcome{"n/a", detail, took}
	case verdict == "fail":
		return outcome{"fail", detail, took}
	default:
		return outcome{"fail", fmt.Sprintf("exit code %d%s", code, lastWords(buf.Bytes())), took}
	}
}

// noInducedRetry: the rows whose idempotent scenario runs without a dropped
// Produce response, and why.
var noInducedRetry = map[string]string{
	"librdkafka: kcat": "kcat's producer exits (\"all broker connections are down\") when its only connection closes, before librdkafka can retry",
}

// runRetried runs the idempotent scenario with the proxy dropping the first
// Produce response to an idempotent producer, so the client must retry a
// batch the broker already wrote. The scenario checks that no record is
// duplicated; here the cell also needs the retry to have happened and one
// producer id and epoch to have sent every batch.
func (s *suite) runRetried(r row, scenario string, p *faultproxy.Proxy) outcome {
	p.Arm(1)
	o := s.run(r, scenario)
	p.Disarm()
	if o.Status != "pass" {
		return o
	}
	pids := p.ProducerIDs()
	if p.DroppedProduces.Load() == 0 {
		return outcome{"fail", "no Produce response was dropped: the retry was not induced (" + o.Detail + ")", o.Took}
	}
	if len(pids) != 1 {
		return outcome{"fail", fmt.Sprintf("after a dropped Produce response the batches came from %d producer ids/epochs %v, not one (%s)", len(pids), pids, o.Detail), o.Took}
	}
	for id := range pids {
		o.Detail += fmt.Sprintf("; retried after a lost Produce response, one producer id (%d, epoch %d)", id.ID, id.Epoch)
	}
	return o
}

func lastVerdict(out []byte) (string, string) {
	var verdict, detail string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		for _, v := range []string{"ok", "fail", "n/a"} {
			if rest, ok := strings.CutPrefix(line, v+":"); ok {
				verdict, detail = v, strings.TrimSpace(rest)
			}
		}
	}
	return verdict, oneLine(detail)
}

// lastWords is the last non-empty output line, as context for a failure.
func lastWords(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return " (last output: " + oneLine(l) + ")"
	}
	return ""
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

func sanitize(s string) string {
	return strings.Trim(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// envInt is the integer in the environment variable name, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
