package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"
)

// metricInfo says how to show a metric and which way is better.
type metricInfo struct {
	label  string
	higher bool // higher is better
}

var metrics = map[string]metricInfo{
	mMBps:                  {"throughput, MB/s", true},
	mRecPerSec:             {"records/s", true},
	mP50:                   {"end-to-end p50, ms", false},
	mP99:                   {"end-to-end p99, ms", false},
	mP999:                  {"end-to-end p99.9, ms", false},
	mPubP50:                {"publish p50, ms", false},
	mPubP99:                {"publish p99, ms", false},
	mPubP999:               {"publish p99.9, ms", false},
	mAchieved:              {"records/s delivered", true},
	mCPUPerGB:              {"broker CPU-seconds per GB produced", false},
	mPeakRSS:               {"broker peak RSS (VmHWM), MiB", false},
	mIdleRSS:               {"idle RSS 5 s after start-up, MiB", false},
	mStartup:               {"start-up until Metadata has every leader, s", false},
	mCreate:                {"CreateTopics until every leader is known, s", false},
	"cold_mb_per_sec":      {"catch-up, cold page cache, MB/s", true},
	"warm_mb_per_sec":      {"catch-up, warm page cache, MB/s", true},
	mBacklogMBs:            {"backlog produce (acks=1), MB/s", true},
	mClientCPU:             {"client (samsa bench) CPU-seconds per GB", false},
	mJavaMBps:              {"Kafka's perf tool, MB/s", true},
	mJavaP50:               {"Kafka's EndToEndLatency p50, ms", false},
	mJavaP99:               {"Kafka's perf tool p99, ms", false},
	mJavaP999:              {"Kafka's EndToEndLatency p99.9, ms", false},
	"rate_records_per_sec": {"target rate, records/s", true},
}

// metricOrder is the order of rows within a workload.
var metricOrder = []string{
	mMBps, mRecPerSec, mAchieved, "cold_mb_per_sec", "warm_mb_per_sec", mBacklogMBs,
	mP50, mP99, mP999, mPubP50, mPubP99, mPubP999,
	mClientCPU, mCPUPerGB, mPeakRSS, mCreate, mStartup, mIdleRSS,
	mJavaMBps, mJavaP50, mJavaP99, mJavaP999,
}

// target is one of the goals, as a bound on the ratio Samsa/Kafka.
type target struct {
	workload string // exact, or a prefix ending in "*"
	metric   string
	bound    float64
	atLeast  bool // ratio >= bound; else ratio <= bound
	text     string
}

var targets = []target{
	{"W1", mMBps, 1.5, true, "W1 throughput ≥ 1.5×"},
	{"W2", mMBps, 1.5, true, "W2 throughput ≥ 1.5×"},
	{"W3*", mP99, 0.5, false, "W3 end-to-end p99 ≤ 0.5×"},
	{"W3*", mP999, 0.5, false, "W3 end-to-end p99.9 ≤ 0.5×"},
	{"W3*", mPubP99, 0.5, false, "W3 publish p99 ≤ 0.5×"},
	{"W3*", mPubP999, 0.5, false, "W3 publish p99.9 ≤ 0.5×"},
	{"W4", mP99, 0.5, false, "W4 end-to-end p99 ≤ 0.5×"},
	{"W4", mP999, 0.5, false, "W4 end-to-end p99.9 ≤ 0.5×"},
	{"W5", "cold_mb_per_sec", 1.2, true, "W5 catch-up (cold) ≥ 1.2×"},
	{"W5", "warm_mb_per_sec", 1.2, true, "W5 catch-up (warm) ≥ 1.2×"},
	{"W7", mPeakRSS, 0.25, false, "W7 peak RSS ≤ 0.25×"},
	{"W7", mCPUPerGB, 0.7, false, "W7 CPU-seconds per GB ≤ 0.7×"},
	{"W6/10000", mStartup, 0.3, false, "W6 start-up with 10,000 partitions ≤ 0.3×"},
}

func (t target) matches(workload, metric string) bool {
	if metric != t.metric {
		return false
	}
	if p, ok := strings.CutSuffix(t.workload, "*"); ok {
		return strings.HasPrefix(workload, p)
	}
	return workload == t.workload
}

type stat struct {
	n             int
	med, min, max float64
}

func stats(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{n: len(s), med: med, min: s[0], max: s[len(s)-1]}
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 10000:
		return commas(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (s stat) String() string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 {
		return num(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.med), num(s.min), num(s.max))
}

// key of a table row.
type rowKey struct{ mode, workload, metric string }

type row struct {
	rowKey
	samsa, kafka stat
}

func (r row) ratio() float64 {
	if r.samsa.n == 0 || r.kafka.n == 0 || r.kafka.med == 0 || r.samsa.med == 0 {
		return math.NaN()
	}
	return r.samsa.med / r.kafka.med
}

func workloadLess(a, b string) bool {
	// W1 < W2 < W3@30% < W3@60% < W4 < W5 < W6/1000 < W6/10000 < W7
	na, nb := workloadRank(a), workloadRank(b)
	if na != nb {
		return na < nb
	}
	return a < b
}

func workloadRank(w string) float64 {
	var major float64
	fmt.Sscanf(w, "W%f", &major)
	if w == "W7" {
		major = 2.5 // W7 is measured across W2
	}
	minor := 0.0
	if i := strings.IndexAny(w, "@/"); i >= 0 {
		var n float64
		fmt.Sscanf(strings.TrimSuffix(w[i+1:], "%"), "%f", &n)
		minor = n / 1e6
	}
	return major + minor
}

func buildRows(res *results) []row {
	vals := map[rowKey]map[string][]float64{}
	for _, s := range res.Samples {
		if s.System != sysSamsa && s.System != sysKafka {
			continue
		}
		k := rowKey{s.Mode, s.Workload, s.Metric}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
		}
		vals[k][s.System] = append(vals[k][s.System], s.Value)
	}
	var rows []row
	for k, v := range vals {
		rows = append(rows, row{rowKey: k, samsa: stats(v[sysSamsa]), kafka: stats(v[sysKafka])})
	}
	rank := map[string]int{}
	for i, m := range metricOrder {
		rank[m] = i
	}
	modeRank := map[string]int{"pagecache": 0, "fsync": 1}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.mode != b.mode {
			return modeRank[a.mode] < modeRank[b.mode]
		}
		if a.workload != b.workload {
			return workloadLess(a.workload, b.workload)
		}
		return rank[a.metric] < rank[b.metric]
	})
	return rows
}

var modeTitle = map[string]string{
	"pagecache": "both with page-cache durability (Samsa `--log-durability pagecache`, Kafka's defaults)",
	"fsync":     "both with an fsync for every batch (Samsa's default `sync` durability, Kafka `log.flush.interval.messages=1`)",
}

var workloadTitle = map[string]string{
	"W1": "W1: 100-byte records, 6 partitions, acks=1, one producer, maximum rate",
	"W2": "W2: 1 KiB records, 16 partitions, acks=all (idempotent), one producer, maximum rate",
	"W3": "W3: latency at fixed rates of 30% and 60% of Kafka's W2 peak (1 KiB, 16 partitions, acks=all)",
	"W4": "W4: one message at a time (200/s, at most one record buffered; 1 KiB, 1 partition, acks=all)",
	"W5": "W5: a consumer catching up on a backlog (1 KiB records, 6 partitions), cold and warm page cache",
	"W6": "W6: many partitions (topics of at most 1,000 partitions): creation, start-up after a clean shutdown, idle memory, produce throughput (1 KiB, acks=all)",
	"W7": "W7: broker CPU and memory across the W2 runs",
}

func verdict(t target, ratio float64) string {
	if math.IsNaN(ratio) {
		return "not measured"
	}
	if (t.atLeast && ratio >= t.bound) || (!t.atLeast && ratio <= t.bound) {
		return "**met**"
	}
	if t.atLeast {
		return fmt.Sprintf("missed (%.0f%% short)", (1-ratio/t.bound)*100)
	}
	return fmt.Sprintf("missed (%.2f× the bound)", ratio/t.bound)
}

func fmtRatio(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	switch {
	case x >= 10:
		return fmt.Sprintf("%.0f×", x)
	case x < 0.1:
		return fmt.Sprintf("%.3f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

// writeReport renders docs/benchmarks.md from the results and the
// hand-written notes (bench/analysis.md).
func writeReport(res *results, path, notesPath string) error {
	rows := buildRows(res)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks: Samsa and Apache Kafka side by side\n\n")
	p("This page is written by `bench/run.sh` (the generator is `bench/sidebyside`; see\n")
	p("[bench/README.md](../bench/README.md)). It runs the same workloads against Samsa and\n")
	p("Apache Kafka on the same machine, alternately (A B A B: Samsa, Kafka, Samsa, Kafka, ...),\n")
	p("with the same client for both, and reports each system's median with the range over the\n")
	p("runs in brackets, and the ratio Samsa/Kafka of the medians. The closing section (from\n")
	p("`bench/analysis.md`) holds the profiles' conclusions and what would close each gap.\n\n")
	p("Run: %s to %s UTC, %d measured run(s) per system and workload (%d at least for W1, W2 and W5,\n"+
		"whose runs take seconds), scale %.2g.\n\n",
		res.Started.Format("2006-01-02 15:04"), res.Finished.Format("15:04"), res.Config.Runs, minShortRuns, res.Config.Scale)

	m := res.Machine
	p("## Machine\n\n| | |\n|---|---|\n")
	p("| CPUs | %d × %s |\n| memory | %s |\n| disk | %s; %s |\n| kernel | Linux %s |\n| Go | %s |\n| Java | %s |\n| Kafka | %s |\n| Samsa | commit %s |\n\n",
		m.CPUs, m.CPUModel, m.MemTotal, m.Disk, m.Filesystem, m.Kernel, m.Go, m.Java, m.Kafka, m.SamsaRev)
	p("The machine is shared: other work ran during the measurements, so the load average at the\n")
	p("start of each workload is listed with its figures. Client and broker share the 2 cores.\n\n")

	p("## How the systems run\n\n")
	p("Both listen on loopback with a fresh data directory on the same file system, a single node\n")
	p("(KRaft combined mode for Kafka; `samsa serve` is always combined), replication factor 1,\n")
	p("1 GiB segments, default retention. Kafka runs with a fixed heap of %s (`-Xms -Xmx`, the\n", res.Config.KafkaHeap)
	p("heap `kafka-server-start.sh` uses) and the JVM options of `kafka-run-class.sh`; Samsa with\n")
	p("Go's defaults (GOMAXPROCS = CPUs, no memory limit).\n\n")
	p("The start commands (of the last mode run; the other mode differs only in `--log-durability`\n")
	p("for Samsa and in `log.flush.interval.messages` for Kafka):\n\n")
	for _, sys := range systems {
		if c := res.Brokers[sys]; c != "" {
			if sys == sysSamsa && len(res.Config.SamsaEnv) > 0 {
				c = strings.Join(res.Config.SamsaEnv, " ") + " " + c
			}
			p("- %s: `%s`\n", sys, c)
		}
	}
	p("\nKafka's `server.properties` adds `num.partitions=1`, replication factors 1 for the internal topics,\n")
	p("`group.initial.rebalance.delay.ms=0`, a 60 s broker session timeout (a single broker on two shared\n")
	p("cores must not fence itself), and in fsync mode `log.flush.interval.messages=1`.\n")
	p("`$KAFKA_CP` is the classpath that `mvn dependency:build-classpath` assembles from\n")
	p("`bench/java/pom.xml`; Kafka's storage is formatted first with `kafka.tools.StorageTool format`.\n\n")
	p("The client is `samsa bench` (franz-go) for both systems: `produce` (like\n")
	p("`kafka-producer-perf-test`), `consume` (like `kafka-consumer-perf-test`) and `e2e` (send time in\n")
	p("each record, a consumer in the same process). Kafka's own Java tools (`ProducerPerformance`,\n")
	p("`ConsumerPerformance`, `EndToEndLatency`) run once per system as a cross-check. Every run\n")
	p("writes to a topic of its own, created (and its leaders seen in Metadata) before the clock starts;\n")
	p("W1–W4 runs start after a `sync(2)`, so that no run pays for writing back an earlier run's data.\n")
	p("MB/s are MiB (2^20 bytes) of record values per second, as in Kafka's tools. W5's cold runs\n")
	p("first drop the topic's files from the page cache (fdatasync, then `posix_fadvise(DONTNEED)`\n")
	p("on each file), so only the benchmark's own files leave the cache.\n\n")

	// Targets.
	p("## Targets (ratio Samsa/Kafka, same machine, same run)\n\n")
	loads := map[[2]string]string{}
	for _, l := range res.Loads {
		loads[[2]string{l.Mode, l.Workload}] = l.Load
	}
	loadOf := func(mode, workload string) string {
		w := workload
		if i := strings.IndexAny(w, "@/"); i >= 0 {
			w = w[:i]
		}
		if w == "W7" {
			w = "W2"
		}
		l, _, _ := strings.Cut(loads[[2]string{mode, w}], " ")
		return l
	}
	p("Samsa and Kafka are medians; the load is the 1-minute load average when the workload began.\n\n")
	p("| target | mode | Samsa | Kafka | ratio | verdict | load |\n|---|---|---|---|---|---|---|\n")
	for _, t := range targets {
		for _, r := range rows {
			if !t.matches(r.workload, r.metric) {
				continue
			}
			label := t.text
			if strings.HasPrefix(r.workload, "W3@") {
				label += " (at " + strings.TrimPrefix(r.workload, "W3@") + ")"
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", label, r.mode, num(r.samsa.med), num(r.kafka.med), fmtRatio(r.ratio()), verdict(t, r.ratio()), loadOf(r.mode, r.workload))
		}
	}
	p("\n")

	// Figures per mode.
	curMode, curGroup := "", ""
	for _, r := range rows {
		if r.mode != curMode {
			if curMode != "" {
				p("\n")
			}
			curMode, curGroup = r.mode, ""
			p("## Figures: %s\n", modeTitle[r.mode])
		}
		group := r.workload
		if i := strings.IndexAny(group, "@/"); i >= 0 {
			group = group[:i]
		}
		if group != curGroup {
			curGroup = group
			p("\n### %s\n\n", workloadTitle[group])
			lw := group
			if group == "W7" {
				lw = "W2"
			}
			if l := loads[[2]string{r.mode, lw}]; l != "" {
				p("Load average (1, 5, 15 min) when it began: %s.\n\n", l)
			}
			if group == "W3" {
				for _, s := range res.Samples {
					if s.Mode == r.mode && strings.HasPrefix(s.Workload, "W3@") && s.System == "target" {
						p("- %s: %s records/s (%s MB/s)\n", s.Workload, num(s.Value), num(s.Value*1024/(1<<20)))
					}
				}
				p("\n")
			}
			p("| workload | metric | Samsa | Kafka | Samsa/Kafka | better |\n|---|---|---|---|---|---|\n")
		}
		info := metrics[r.metric]
		if info.label == "" {
			info.label = r.metric
		}
		better := "lower"
		if info.higher {
			better = "higher"
		}
		p("| %s | %s | %s | %s | %s | %s |\n", r.workload, info.label, r.samsa, r.kafka, fmtRatio(r.ratio()), better)
	}
	p("\n")

	if len(res.Notes) > 0 {
		p("## Notes from the run\n\n")
		for _, n := range res.Notes {
			p("- %s\n", n)
		}
		p("\n")
	}

	p("## Commands\n\n")
	p("The whole measurement:\n\n```sh\n%s\n```\n\n", reproduce(res))
	p("Each workload's client command (the first run of each; later runs differ only in the topic;\n")
	p("W6 runs one such process per topic at the same time):\n\n```sh\n")
	for _, c := range res.Commands {
		p("# %s, %s, %s\n%s\n", c.Mode, c.Workload, c.System, c.Line)
	}
	p("```\n\n")
	if len(res.Profiles) > 0 {
		p("Profiles (pprof, from Samsa's admin server with `samsa.admin.pprof.enable=true`) were written to\n")
		p("`bench/out/pprof/` with a `go tool pprof -top` summary next to each.\n\n")
	}

	if notes, err := os.ReadFile(notesPath); err == nil {
		p("%s\n", strings.TrimSpace(string(notes)))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func reproduce(res *results) string {
	args := []string{"bench/run.sh"}
	if len(res.Argv) > 1 {
		args = append(args, res.Argv[1:]...)
	}
	took := res.Finished.Sub(res.Started).Round(time.Minute)
	return strings.Join(args, " ") + fmt.Sprintf("   # took %v", took)
}
