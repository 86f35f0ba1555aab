// Command sidebyside runs the same workloads against Samsa and Apache Kafka
// on this machine, alternately (A B A B), and writes docs/benchmarks.md with
// both systems' figures, the ratios Samsa/Kafka and the targets of the
// performance issue. bench/run.sh assembles Kafka from Maven Central, builds
// samsa and runs it; see bench/README.md.
//
//	go run ./bench/sidebyside [flags]                       measure, then write the report
//	go run ./bench/sidebyside -report bench/out/results.json   only write the report
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// config is what one invocation measures.
type config struct {
	Modes      []string `json:"modes"`
	Workloads  []string `json:"workloads"`
	Runs       int      `json:"runs"`
	Scale      float64  `json:"scale"`
	W5Bytes    int64    `json:"w5_bytes"`
	W6Sizes    []int    `json:"w6_partitions"`
	KafkaHeap  string   `json:"kafka_heap"`
	CrossCheck bool     `json:"cross_check"`
	SamsaEnv   []string `json:"samsa_env,omitempty"`
	Profile    bool     `json:"profile"`
}

// sample is one measured value.
type sample struct {
	Mode     string  `json:"mode"`
	Workload string  `json:"workload"`
	Metric   string  `json:"metric"`
	System   string  `json:"system"`
	Run      int     `json:"run"`
	Value    float64 `json:"value"`
}

// command is one command line the run used, for the report.
type command struct {
	Mode     string `json:"mode"`
	Workload string `json:"workload"`
	System   string `json:"system"`
	Line     string `json:"line"`
}

// loadNote is the load average when a workload began.
type loadNote struct {
	Mode     string    `json:"mode"`
	Workload string    `json:"workload"`
	At       time.Time `json:"at"`
	Load     string    `json:"load"` // 1, 5 and 15 minute averages
}

// results is everything one invocation measured; it is saved as JSON after
// every workload and the report is rendered from it.
type results struct {
	Started  time.Time         `json:"started"`
	Finished time.Time         `json:"finished"`
	Argv     []string          `json:"argv"`
	Config   config            `json:"config"`
	Machine  machine           `json:"machine"`
	Brokers  map[string]string `json:"brokers"` // system → start command (one mode)
	Samples  []sample          `json:"samples"`
	Commands []command         `json:"commands"`
	Loads    []loadNote        `json:"loads"`
	Notes    []string          `json:"notes"`
	Profiles []string          `json:"profiles"` // files written by the profiling pass
}

type runner struct {
	cfg      config
	settings *brokerSettings
	res      *results
	outDir   string
	resPath  string
	mode     string
	brokers  map[string]*broker
	seq      int
	// lastClientCPU is the CPU-seconds of the last `samsa bench` process.
	lastClientCPU float64
}

func main() {
	log.SetFlags(log.Ltime)
	var (
		cfg       config
		modes     = flag.String("modes", "pagecache,fsync", "comparison modes: pagecache (both page-cache durability), fsync (both fsync every batch)")
		workloads = flag.String("workloads", "W1,W2,W3,W4,W5,W6", "workloads to run (W7 is measured during W2)")
		w6        = flag.String("w6-partitions", "1000,10000", "partition counts for W6")
		outDir    = flag.String("out", "bench/out", "directory for results, broker data and profiles")
		docPath   = flag.String("doc", "docs/benchmarks.md", "report to write ('' for none)")
		notesPath = flag.String("notes", "bench/analysis.md", "hand-written conclusions embedded in the report")
		report    = flag.String("report", "", "only render the report from this results file")
		samsaBin  = flag.String("samsa", "bench/out/samsa", "samsa binary (broker and benchmark client)")
		cpFile    = flag.String("classpath", "bench/java/target/classpath.txt", "Kafka's classpath (mvn dependency:build-classpath)")
		samsaEnv  = flag.String("samsa-env", "", "extra environment for the Samsa broker, comma-separated KEY=VALUE (e.g. GOGC=400)")
	)
	flag.IntVar(&cfg.Runs, "runs", 3, "measured runs per system and workload")
	flag.Float64Var(&cfg.Scale, "scale", 1, "multiplier for record counts and durations (0.02 for a smoke test)")
	flag.Int64Var(&cfg.W5Bytes, "w5-bytes", 1<<30, "W5 backlog in bytes (the issue asks for 2 GiB)")
	flag.StringVar(&cfg.KafkaHeap, "kafka-heap", "1g", "Kafka's fixed heap (-Xms and -Xmx)")
	flag.BoolVar(&cfg.CrossCheck, "cross-check", true, "also run Kafka's Java perf tools against both (one run each)")
	flag.BoolVar(&cfg.Profile, "profile", false, "after the measurements, profile Samsa under W2 and W3 (pprof)")
	flag.Parse()

	if *report != "" {
		data, err := os.ReadFile(*report)
		if err != nil {
			log.Fatal(err)
		}
		var res results
		if err := json.Unmarshal(data, &res); err != nil {
			log.Fatal(err)
		}
		if err := writeReport(&res, *docPath, *notesPath); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", *docPath)
		return
	}

	cfg.Modes = splitList(*modes)
	cfg.SamsaEnv = splitList(*samsaEnv)
	cfg.Workloads = splitList(strings.ToUpper(*workloads))
	for _, s := range splitList(*w6) {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil || n <= 0 {
			log.Fatalf("-w6-partitions: bad count %q", s)
		}
		cfg.W6Sizes = append(cfg.W6Sizes, n)
	}
	for _, m := range cfg.Modes {
		if m != "pagecache" && m != "fsync" {
			log.Fatalf("-modes: unknown mode %q", m)
		}
	}
	cp, err := os.ReadFile(*cpFile)
	if err != nil {
		log.Fatalf("Kafka's classpath is not assembled (run bench/run.sh): %v", err)
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		log.Fatal(err)
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	r := &runner{
		cfg:      cfg,
		settings: &brokerSettings{samsaBin: abs(*samsaBin), classpath: strings.TrimSpace(string(cp)), kafkaHeap: cfg.KafkaHeap, samsaEnv: splitList(*samsaEnv)},
		outDir:   abs(*outDir),
		res: &results{
			Started: time.Now().UTC(), Argv: os.Args, Config: cfg, Brokers: map[string]string{},
		},
	}
	r.resPath = filepath.Join(r.outDir, "results-"+r.res.Started.Format("20060102-150405")+".json")
	r.res.Machine = describeMachine(r.outDir, r.settings.samsaBin)
	if err := r.run(); err != nil {
		r.note("run stopped early: %v", err)
		log.Printf("error: %v", err)
	}
	r.res.Finished = time.Now().UTC()
	r.save()
	log.Printf("results in %s", r.resPath)
	if *docPath != "" {
		if err := writeReport(r.res, *docPath, *notesPath); err != nil {
			log.Fatal(err)
		}
		log.Printf("wrote %s", *docPath)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (r *runner) want(w string) bool { return slices.Contains(r.cfg.Workloads, w) }

func (r *runner) add(workload, metric, system string, run int, v float64) {
	r.res.Samples = append(r.res.Samples, sample{Mode: r.mode, Workload: workload, Metric: metric, System: system, Run: run, Value: v})
}

// addCommand keeps the first command line per mode, workload and system.
func (r *runner) addCommand(workload, system, line string) {
	for _, c := range r.res.Commands {
		if c.Mode == r.mode && c.Workload == workload && c.System == system {
			return
		}
	}
	r.res.Commands = append(r.res.Commands, command{Mode: r.mode, Workload: workload, System: system, Line: line})
}

func (r *runner) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	r.res.Notes = append(r.res.Notes, n)
	log.Printf("note: %s", n)
}

func (r *runner) save() {
	data, _ := json.MarshalIndent(r.res, "", "  ")
	if err := os.WriteFile(r.resPath, data, 0o644); err != nil {
		log.Printf("save results: %v", err)
	}
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// begin logs and records the start of a workload.
func (r *runner) begin(workload string) {
	l := loadAvg()
	r.res.Loads = append(r.res.Loads, loadNote{Mode: r.mode, Workload: workload, At: time.Now().UTC(), Load: l})
	log.Printf("[%s] %s (load %s)", r.mode, workload, l)
}

// scaled is n times the scale, at least lo.
func (r *runner) scaled(n int64, lo int64) int64 {
	return max(int64(float64(n)*r.cfg.Scale), lo)
}

func (r *runner) topic(prefix string) string {
	r.seq++
	clean := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '-'
	}, prefix)
	return fmt.Sprintf("%s-%d", clean, r.seq)
}

func (r *runner) run() error {
	for _, mode := range r.cfg.Modes {
		r.mode = mode
		if err := r.runMode(); err != nil {
			return fmt.Errorf("%s mode: %w", mode, err)
		}
	}
	if r.cfg.Profile {
		r.mode = "pagecache"
		if err := r.profile(); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	return nil
}

// startPair starts a fresh Samsa and a fresh Kafka for the current mode.
func (r *runner) startPair() error {
	r.brokers = map[string]*broker{}
	for _, sys := range systems {
		b, err := newBroker(sys, r.mode, r.outDir, r.settings)
		if err != nil {
			return err
		}
		if _, err := b.start(nil); err != nil {
			return err
		}
		r.brokers[sys] = b
		line := strings.ReplaceAll(strings.Join(b.cmdline, " "), r.settings.classpath, "$KAFKA_CP")
		r.res.Brokers[sys] = strings.ReplaceAll(line, r.outDir, "bench/out")
		log.Printf("[%s] %s started on %s (pid %d)", r.mode, sys, b.addr, b.pid())
	}
	return nil
}

func (r *runner) stopPair() {
	for _, sys := range systems {
		if b := r.brokers[sys]; b != nil {
			b.stop()
			b.remove()
		}
	}
	r.brokers = nil
}

func (r *runner) runMode() error {
	needPair := false
	for _, w := range []string{"W1", "W2", "W3", "W4", "W5"} {
		needPair = needPair || r.want(w)
	}
	if needPair {
		if err := r.startPair(); err != nil {
			return err
		}
		defer r.stopPair()
		if err := r.warmUp(); err != nil {
			return err
		}
		steps := []struct {
			name string
			fn   func() error
		}{
			{"W1", r.w1}, {"W2", r.w2}, {"W3", r.w3}, {"W4", r.w4}, {"W5", r.w5},
		}
		for _, s := range steps {
			if !r.want(s.name) {
				continue
			}
			if s.name == "W5" && r.mode != "pagecache" {
				continue // a consumer's catch-up does not depend on the producer's fsync
			}
			r.begin(s.name)
			if err := s.fn(); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			r.save()
		}
		r.stopPair()
	}
	if r.want("W6") && r.mode == "pagecache" {
		r.begin("W6")
		if err := r.w6(); err != nil {
			return fmt.Errorf("W6: %w", err)
		}
		r.save()
	}
	return nil
}
