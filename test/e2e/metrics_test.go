package e2e

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// docMetric is one row of a table in docs/metrics.md.
type docMetric struct {
	name, typ string
	labels    []string // sorted
	line      int
}

var codeSpan = regexp.MustCompile("`([^`]*)`")

// readMetricsDoc parses the metric tables of docs/metrics.md: every row
// whose first cell is a metric name in a code span.
func readMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]docMetric{}
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("docs/metrics.md:%d: %d cells, want Metric | Type | Labels | Meaning", i+1, len(cells))
		}
		m := docMetric{name: strings.Trim(strings.TrimSpace(cells[0]), "`"), typ: strings.TrimSpace(cells[1]), line: i + 1}
		for _, sm := range codeSpan.FindAllStringSubmatch(cells[2], -1) {
			m.labels = append(m.labels, sm[1])
		}
		sort.Strings(m.labels)
		if _, dup := out[m.name]; dup {
			t.Fatalf("docs/metrics.md:%d: %s listed twice", m.line, m.name)
		}
		if strings.TrimSpace(cells[3]) == "" {
			t.Errorf("docs/metrics.md:%d: %s has no meaning", m.line, m.name)
		}
		out[m.name] = m
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md lists no metric")
	}
	return out
}

// family is one metric family of a scrape.
type family struct {
	typ     string
	labels  map[string]bool // label names of its samples, le and quantile left out
	samples []sample
}

type sample struct {
	name   string // with a histogram's _bucket, _sum or _count
	labels map[string]string
	value  float64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$`)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrapeMetrics reads /metrics from a node's admin server and parses the
// text format: # TYPE lines and samples.
func scrapeMetrics(t *testing.T, n *node) map[string]*family {
	t.Helper()
	resp, err := http.Get("http://" + n.adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics answered %s", resp.Status)
	}
	fams := map[string]*family{}
	var cur *family
	var curName string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			curName, cur = name, &family{typ: typ, labels: map[string]bool{}}
			fams[name] = cur
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || cur == nil || !strings.HasPrefix(m[1], curName) {
			t.Fatalf("unexpected line in /metrics: %q", line)
		}
		s := sample{name: m[1], labels: map[string]string{}}
		for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
			s.labels[lp[1]] = lp[2]
			if lp[1] != "le" && lp[1] != "quantile" {
				cur.labels[lp[1]] = true
			}
		}
		s.value, _ = strconv.ParseFloat(m[3], 64)
		cur.samples = append(cur.samples, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the sample of the family named name (a histogram's
// name_count, say) whose labels include want.
func value(fams map[string]*family, family, name string, want map[string]string) (float64, bool) {
	f := fams[family]
	if f == nil {
		return 0, false
	}
next:
	for _, s := range f.samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

// TestMetricsDocumented runs a node, produces, consumes in a group and
// commits, then holds docs/metrics.md to what /metrics serves: every
// samsa_ metric served is documented, every one documented is served, with
// the documented type and labels; the go_ and process_ rows exist. It
// checks some values too: per-topic traffic and consumer-group lag.
func TestMetricsDocumented(t *testing.T) {
	doc := readMetricsDoc(t)
	b := startBroker(t)
	ctx := testContext(t, 60*time.Second)
	const topic, group = "metrics-doc", "metrics-doc-group"
	// In a cluster, a partition on every node: the group's coordinator
	// leads one, so its lag has a series (see coordinatorNodeLag).
	partitions := int32(2)
	if b.clustered() {
		partitions = int32(len(b.nodes))
	}
	createTopic(t, b, topic, partitions, nil)
	// An error, so samsa_request_errors_total has a series.
	if _, err := b.admin().CreateTopic(ctx, 1, 1, nil, topic); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("creating %s again: %v", topic, err)
	}

	const n = 20
	prod := b.client(kgo.DefaultProduceTopic(topic))
	produce := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: []byte("value")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(n)

	cons := b.client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	got := 0
	for got < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	cons.Close() // leaves the group; its committed offsets stay
	const more = 7
	produce(more)

	// Every node serves its own figures: the documentation is held to
	// each, and a metric is served when some node serves it.
	scrapes := make([]map[string]*family, len(b.nodes))
	servedBy := map[string]bool{}
	for i, node := range b.nodes {
		where := ""
		if b.clustered() {
			where = fmt.Sprintf(" (node %d)", node.id)
		}
		scrapes[i] = scrapeMetrics(t, node)
		for name, f := range scrapes[i] {
			servedBy[name] = true
			d, ok := doc[name]
			if !ok {
				if strings.HasPrefix(name, "samsa_") {
					t.Errorf("%s is served%s but not in docs/metrics.md", name, where)
				}
				continue
			}
			if d.typ != f.typ {
				t.Errorf("docs/metrics.md:%d: %s is a %s, served as a %s%s", d.line, name, d.typ, f.typ, where)
			}
			served := make([]string, 0, len(f.labels))
			for l := range f.labels {
				served = append(served, l)
			}
			sort.Strings(served)
			if strings.HasPrefix(name, "samsa_") && !slices.Equal(served, d.labels) {
				t.Errorf("docs/metrics.md:%d: %s has labels %v, served with %v%s", d.line, name, d.labels, served, where)
			}
		}
	}
	for name, d := range doc {
		if servedBy[name] {
			continue
		}
		if strings.HasPrefix(name, "samsa_") || runtime.GOOS == "linux" {
			t.Errorf("docs/metrics.md:%d: %s is not served", d.line, name)
		}
	}

	// The values are summed over the nodes: each counts the partitions it
	// leads; one node is the active controller and leads the quorum.
	tl := map[string]string{"topic": topic}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   func(float64) bool
		what   string
	}{
		{"samsa_topic_produced_records_total", tl, func(v float64) bool { return v == n+more }, fmt.Sprint(n + more)},
		{"samsa_topic_fetched_records_total", tl, func(v float64) bool { return v >= n }, fmt.Sprintf(">= %d", n)},
		{"samsa_topic_fetched_bytes_total", tl, func(v float64) bool { return v > 0 }, "> 0"},
		{"samsa_controller_active", nil, func(v float64) bool { return v == 1 }, "1"},
		{"samsa_raft_state", map[string]string{"state": "Leader"}, func(v float64) bool { return v == 1 }, "1"},
	} {
		v, ok := total(scrapes, c.family, c.family, c.labels)
		if !ok || !c.want(v) {
			t.Errorf("%s%v = %v (served %v), want %s", c.family, c.labels, v, ok, c.what)
		}
	}
	if v, _ := total(scrapes, "samsa_log_commit_round_appends", "samsa_log_commit_round_appends_sum", nil); v < n+more {
		t.Errorf("group-commit rounds acknowledged %v appends, want at least the %d produces", v, n+more)
	}
	// The lag, as documented, counts the partitions on the node of the
	// group's coordinator: on a single node all of them, the new records.
	wantLag, lagServed := int64(more), true
	if b.clustered() {
		wantLag, lagServed = coordinatorNodeLag(t, b, group, topic)
	}
	lag, ok := total(scrapes, "samsa_consumer_group_lag", "samsa_consumer_group_lag", map[string]string{"group": group, "topic": topic})
	if ok != lagServed || lag != float64(wantLag) {
		t.Errorf("samsa_consumer_group_lag = %v (served %v), want %d (served %v)", lag, ok, wantLag, lagServed)
	}
}

// total sums the samples of family named name whose labels include want
// over the scrapes of every node; ok reports whether a node served one.
func total(scrapes []map[string]*family, family, name string, want map[string]string) (sum float64, ok bool) {
	for _, fams := range scrapes {
		if v, served := value(fams, family, name, want); served {
			sum += v
			ok = true
		}
	}
	return sum, ok
}

// coordinatorNodeLag is what samsa_consumer_group_lag reports for group
// and topic in a cluster: over the topic's partitions led by the node of
// the group's coordinator that have a committed offset, the high watermark
// minus the committed offset; served reports whether there is a series.
func coordinatorNodeLag(t *testing.T, b *broker, group, topic string) (lag int64, served bool) {
	t.Helper()
	ctx := testContext(t, 30*time.Second)
	adm := b.admin()
	co := adm.FindGroupCoordinators(ctx, group)[group]
	if co.Err != nil {
		t.Fatalf("coordinator of %s: %v", group, co.Err)
	}
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range md.Topics[topic].Partitions {
		if p.Leader != co.NodeID {
			continue
		}
		c, ok := committed.Lookup(topic, p.Partition)
		e, _ := ends.Lookup(topic, p.Partition)
		if ok {
			lag += max(e.Offset-c.At, 0)
			served = true
		}
	}
	t.Logf("group %s: coordinator on node %d, lag %d on its partitions of %s (served %v)", group, co.NodeID, lag, topic, served)
	return lag, served
}

// apiVersionsProbe sends an ApiVersions request of a version the broker
// does not serve, as a client newer than the broker does first, and
// returns the error code of the v0-format answer.
func apiVersionsProbe(t *testing.T, addr string, version int16) int16 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// Header v2: key, version, correlation id, client id, no tags; body:
	// client software name and version (compact strings), no tags.
	body := binary.BigEndian.AppendUint16(nil, 18)
	body = binary.BigEndian.AppendUint16(body, uint16(version))
	body = binary.BigEndian.AppendUint32(body, 7)
	body = binary.BigEndian.AppendUint16(body, 5)
	body = append(body, "probe"...)
	body = append(body, 0)
	body = append(body, 6, 'p', 'r', 'o', 'b', 'e', 2, '1', 0)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	if _, err := conn.Write(append(frame, body...)); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		t.Fatal(err)
	}
	if len(resp) < 6 || binary.BigEndian.Uint32(resp) != 7 {
		t.Fatalf("ApiVersions answer %x", resp)
	}
	return int16(binary.BigEndian.Uint16(resp[4:])) // v0 format: header v0, then the error code
}

// TestAdminServerAndVersionProbe: / on the admin port (of every node) lists
// the endpoints, and a client's ApiVersions version probe is answered
// UNSUPPORTED_VERSION and counted as a request, not as an error.
func TestAdminServerAndVersionProbe(t *testing.T) {
	b := startBroker(t)
	for _, n := range b.nodes {
		resp, err := http.Get("http://" + n.adminAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		index, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/ answered %s", resp.Status)
		}
		for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
			if !strings.Contains(string(index), p+" ") {
				t.Errorf("/ does not list %s:\n%s", p, index)
			}
		}

		const probeVersion = 99
		if code := apiVersionsProbe(t, n.addr, probeVersion); code != kerr.UnsupportedVersion.Code {
			t.Fatalf("probe answered error %d, want UNSUPPORTED_VERSION", code)
		}
		fams := scrapeMetrics(t, n)
		if v, ok := value(fams, "samsa_requests_total", "samsa_requests_total", map[string]string{"api": "ApiVersions", "version": strconv.Itoa(probeVersion)}); !ok || v != 1 {
			t.Errorf("probe counted as %v requests (served %v), want 1", v, ok)
		}
		if v, ok := value(fams, "samsa_request_errors_total", "samsa_request_errors_total", map[string]string{"api": "ApiVersions"}); ok {
			t.Errorf("probe counted as an error: samsa_request_errors_total{api=\"ApiVersions\"} = %v", v)
		}
	}
}

// TestMetricsDocsNameDocumentedMetrics: the dashboard, the alerting rules,
// the scrape example and the operations guide name only metrics that
// docs/metrics.md lists.
func TestMetricsDocsNameDocumentedMetrics(t *testing.T) {
	doc := readMetricsDoc(t)
	metricName := regexp.MustCompile(`\b(?:samsa|process|go)_[a-z0-9_]+`)
	suffixes := []string{"_bucket", "_sum", "_count"}
	for _, f := range []string{"grafana/samsa.json", "samsa-alerts.yml", "prometheus.yml", "operations.md"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "docs", f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") && !json.Valid(data) {
			t.Errorf("docs/%s is not valid JSON", f)
		}
		seen := map[string]bool{}
		for _, name := range metricName.FindAllString(string(data), -1) {
			if seen[name] {
				continue
			}
			seen[name] = true
			if documented(doc, name, suffixes) {
				continue
			}
			t.Errorf("docs/%s names %s, which docs/metrics.md does not list", f, name)
		}
	}
}

// documented reports whether docs/metrics.md lists name: a metric, one of
// a histogram's series (name_bucket, name_sum, name_count), or, for a name
// ending in "_" (a pattern such as samsa_partition_.*), a prefix of one.
func documented(doc map[string]docMetric, name string, suffixes []string) bool {
	if strings.HasSuffix(name, "_") {
		for d := range doc {
			if strings.HasPrefix(d, name) {
				return true
			}
		}
		return false
	}
	if _, ok := doc[name]; ok {
		return true
	}
	for _, s := range suffixes {
		if base, ok := strings.CutSuffix(name, s); ok {
			if _, ok := doc[base]; ok {
				return true
			}
		}
	}
	return false
}
