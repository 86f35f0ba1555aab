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
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/samsa-streaming/samsa/compat/faultproxy"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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
	waitSec := flag.Int("wait", 0, "seconds a scenario waits for a condition (default 25, 5 with -broker broken)")
	docs := flag.String("docs", "", "write the matrix to this markdown file (default docs/compatibility.md for a full samsa run)")
	control := flag.Bool("control", false, "negative control: run the scenarios that check records through a proxy that loses record batches; each must fail")
	allowFail := flag.Bool("allow-fail", os.Getenv("COMPAT_ALLOW_FAIL") == "1", "exit 0 even when cells fail (also COMPAT_ALLOW_FAIL=1)")
	flag.Parse()
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
			*waitSec = 10
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
	if *control {
		s.logs = filepath.Join(s.logs, "control")
	}
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		fatalf("%v", err)
	}

	start := time.Now()
	b, err := startBroker(s, *brokerKind, *control)
	if err != nil {
		fatalf("start %s broker: %v", *brokerKind, err)
	}
	defer b.stop()
	fmt.Printf("broker: %s at %s (started in %.1fs)\n", b.describe, b.addr, time.Since(start).Seconds())
	s.env = append(os.Environ(),
		"COMPAT_BOOTSTRAP="+b.addr,
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
				if b.exited() {
					fmt.Printf("  broker exited during %s\n", key)
				}
			}
		}
	}
	rel, _ := filepath.Rel(root, s.logs)
	fmt.Printf("running scenarios (logs in %s):\n", rel)
	runRows(clients)
	runRows(tools)

	rep := report{clients: clients, tools: tools, results: results, versions: versions, broker: b.describe,
		took: time.Since(start), brokerLog: b.logTail()}
	text := rep.terminal()
	fmt.Print(text)
	if *docs == "" && *brokerKind == "samsa" && filter == nil && !*control {
		*docs = filepath.Join(root, "docs", "compatibility.md")
	}
	if *docs != "" {
		if err := os.WriteFile(*docs, []byte(rep.markdown()), 0o644); err != nil {
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
	for _, key := range stalePass {
		fmt.Printf("listed in compat/na.txt but passed (remove it from the list): %s\n", key)
	}
	fmt.Printf("%d not applicable (client limits listed in compat/na.txt)\n", na)
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	b.stop()
	// -allow-fail tolerates Samsa's failures, not the control's: a control
	// that fails means a check of the suite cannot see loss.
	if failed > 0 && (!*allowFail || *control) {
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

// ---- brokers ----

type broker struct {
	describe string
	addr     string
	cmd      *exec.Cmd
	done     chan struct{}
	log      *tailBuffer
	dir      string
	proxy    *faultproxy.Proxy // -control: clients connect through it
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startBroker(s *suite, kind string, control bool) (*broker, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &broker{addr: "127.0.0.1:" + strconv.Itoa(port), log: &tailBuffer{max: 64 << 10}}
	advertised := b.addr
	if kind != "broken" {
		// Clients reach the broker through compat/faultproxy: under -control
		// it loses record batches; otherwise it is transparent but for the
		// idempotent scenario, where it drops one Produce response.
		cfg := faultproxy.Config{Logf: func(f string, a ...any) { fmt.Fprintf(b.log, f+"\n", a...) }}
		if control {
			cfg.DropFetchEvery = 100
		}
		b.proxy, err = faultproxy.Listen("127.0.0.1:0", b.addr, cfg)
		if err != nil {
			return nil, err
		}
		advertised = b.proxy.Addr()
	} else if control {
		return nil, errors.New("-control needs a broker")
	}
	switch kind {
	case "broken":
		b.describe = "nothing listening (closed port): every scenario must fail"
		return b, nil
	case "samsa", "reference":
	default:
		return nil, fmt.Errorf("unknown broker kind %q", kind)
	}
	b.dir, err = os.MkdirTemp("", "samsa-compat-")
	if err != nil {
		return nil, err
	}
	port2, err := freePort()
	if err != nil {
		return nil, err
	}
	if kind == "samsa" {
		bin := filepath.Join(s.out, "samsa")
		build := exec.Command("go", "build", "-o", bin, "./cmd/samsa")
		build.Dir = s.root
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("build samsa: %v\n%s", err, out)
		}
		rev, _ := exec.Command("git", "-C", s.root, "rev-parse", "--short", "HEAD").Output()
		b.describe = "samsa serve (commit " + strings.TrimSpace(string(rev)) + ")"
		b.cmd = exec.Command(bin, "serve")
		b.cmd.Env = append(os.Environ(),
			"SAMSA_LISTENERS=PLAINTEXT://"+b.addr,
			"SAMSA_ADVERTISED_LISTENERS=PLAINTEXT://"+advertised,
			"SAMSA_LOG_DIRS="+filepath.Join(b.dir, "data"),
			"SAMSA_ADMIN_LISTENER=127.0.0.1:"+strconv.Itoa(port2),
		)
	} else {
		cp, err := os.ReadFile(filepath.Join(s.root, "compat", "java", "target", "classpath.txt"))
		if err != nil {
			return nil, fmt.Errorf("the Java classpath is not built (run compat/run.sh): %v", err)
		}
		props := filepath.Join(b.dir, "server.properties")
		os.WriteFile(props, []byte(strings.Join([]string{
			"process.roles=broker,controller", "node.id=1",
			"controller.quorum.voters=1@127.0.0.1:" + strconv.Itoa(port2),
			"listeners=PLAINTEXT://" + b.addr + ",CONTROLLER://127.0.0.1:" + strconv.Itoa(port2),
			"advertised.listeners=PLAINTEXT://" + advertised,
			"controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
			"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
			"log.dirs=" + filepath.Join(b.dir, "data"),
			"offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
			"transaction.state.log.min.isr=1", "group.initial.rebalance.delay.ms=0",
			// two shared cores: a slow heartbeat must not fence the only broker
			"broker.session.timeout.ms=60000", "broker.heartbeat.interval.ms=2000",
		}, "\n")+"\n"), 0o644)
		java := []string{"java", "-Xmx768m", "-cp", strings.TrimSpace(string(cp))}
		format := exec.Command(java[0], append(java[1:], "kafka.tools.StorageTool", "format", "-t", "c2Ftc2EtY29tcGF0LXJlZg", "-c", props)...)
		if out, err := format.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("format Kafka storage: %v\n%s", err, out)
		}
		b.describe = "Apache Kafka 4.4.0 (reference, KRaft combined mode)"
		b.cmd = exec.Command(java[0], append(java[1:], "kafka.Kafka", props)...)
	}
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	b.done = make(chan struct{})
	go func() { b.cmd.Wait(); close(b.done) }()
	if err := b.waitReady(90 * time.Second); err != nil {
		b.stop()
		return nil, fmt.Errorf("%v\n%s", err, b.logTail())
	}
	if control {
		b.describe += ", through a proxy that loses record batches (negative control)"
	}
	if b.proxy != nil {
		b.addr = b.proxy.Addr()
	}
	return b, nil
}

// waitReady polls with a real Metadata request until the broker answers.
func (b *broker) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if b.exited() {
			return errors.New("the broker exited during start-up")
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			var md kadm.Metadata
			md, err = kadm.NewClient(cl).BrokerMetadata(ctx)
			cancel()
			cl.Close()
			if err == nil && len(md.Brokers) > 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not answering Metadata after %v: %v", limit, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *broker) exited() bool {
	if b.done == nil {
		return false
	}
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

func (b *broker) stop() {
	if b.cmd != nil && !b.exited() {
		b.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-b.done
		}
	}
	if b.proxy != nil {
		b.proxy.Close()
	}
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir = ""
	}
}

func (b *broker) logTail() string { return b.log.String() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
