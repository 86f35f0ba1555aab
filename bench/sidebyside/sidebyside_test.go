package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseProducerPerformance(t *testing.T) {
	out := "500000 records sent, 100000.0 records/sec (9.54 MB/sec), 20.1 ms avg latency, 300.0 ms max latency.\n" +
		"1000000 records sent, 245700.2 records/sec (23.43 MB/sec), 12.34 ms avg latency, 327.00 ms max latency, 26 ms 50th, 40 ms 95th, 50 ms 99th, 213 ms 99.9th.\n"
	p, err := parseProducerPerformance(out)
	if err != nil {
		t.Fatal(err)
	}
	if p.recordsPerSec != 245700.2 || p.mbPerSec != 23.43 || p.p50 != 26 || p.p99 != 50 || p.p999 != 213 {
		t.Fatalf("parsed %+v", p)
	}
	if _, err := parseProducerPerformance("Exception in thread main"); err == nil {
		t.Fatal("no summary line: want an error")
	}
}

func TestParseConsumerPerformance(t *testing.T) {
	out := "WARN something\n" +
		"start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
		"2026-11-26 07:44:01:000, 2026-11-26 07:44:05:000, 2048.0000, 512.0, 2097152, 524288.0, 120, 3955, 517.8, 530253.1\n"
	mbs, msgs, err := parseConsumerPerformance(out)
	if err != nil {
		t.Fatal(err)
	}
	if mbs != 517.8 || msgs != 530253.1 {
		t.Fatalf("parsed %v MB/s, %v msgs/s", mbs, msgs)
	}
	if _, _, err := parseConsumerPerformance("start.time, end.time\n"); err == nil {
		t.Fatal("header without a result line: want an error")
	}
}

func TestParseEndToEndLatency(t *testing.T) {
	out := "0\t3.2\n1000\t0.9\nAvg latency: 0.8123 ms\nPercentiles: 50th = 1, 99th = 4, 99.9th = 7\n"
	avg, p50, p99, p999, err := parseEndToEndLatency(out)
	if err != nil {
		t.Fatal(err)
	}
	if avg != 0.8123 || p50 != 1 || p99 != 4 || p999 != 7 {
		t.Fatalf("parsed %v %v %v %v", avg, p50, p99, p999)
	}
	if _, _, _, _, err := parseEndToEndLatency("Avg latency: 1 ms"); err == nil {
		t.Fatal("no percentiles: want an error")
	}
}

func FuzzParseToolOutput(f *testing.F) {
	f.Add("1 records sent, 1.0 records/sec (0.01 MB/sec), 1.0 ms avg latency, 1.0 ms max latency, 1 ms 50th, 1 ms 95th, 1 ms 99th, 1 ms 99.9th.")
	f.Add("start.time, fetch.MB.sec, fetch.nMsg.sec\nx, 1.5, 2.5\n")
	f.Add("start.time, fetch.MB.sec, fetch.nMsg.sec\nx\n")
	f.Add("Avg latency: 1 ms\nPercentiles: 50th = 1, 99th = 2, 99.9th = 3")
	f.Fuzz(func(t *testing.T, s string) {
		// Any text: an error or numbers, never a panic.
		parseProducerPerformance(s)
		parseConsumerPerformance(s)
		parseEndToEndLatency(s)
	})
}

func TestStatsAndVerdict(t *testing.T) {
	s := stats([]float64{3, 1, 2, 10})
	if s.med != 2.5 || s.min != 1 || s.max != 10 || s.n != 4 {
		t.Fatalf("stats %+v", s)
	}
	up := target{bound: 1.5, atLeast: true}
	down := target{bound: 0.5}
	for _, c := range []struct {
		t     target
		ratio float64
		want  string
	}{
		{up, 1.6, "**met**"}, {up, 1.2, "missed (20% short)"},
		{down, 0.4, "**met**"}, {down, 0.75, "missed (1.50× the bound)"},
		{down, math.NaN(), "not measured"},
	} {
		if got := verdict(c.t, c.ratio); got != c.want {
			t.Errorf("verdict(%+v, %v) = %q, want %q", c.t, c.ratio, got, c.want)
		}
	}
	if !(target{workload: "W3*", metric: mP99}).matches("W3@60%", mP99) || (target{workload: "W6/10000", metric: mStartup}).matches("W6/1000", mStartup) {
		t.Error("target matching")
	}
	if !workloadLess("W2", "W7") || !workloadLess("W7", "W3@30%") || !workloadLess("W6/1000", "W6/10000") {
		t.Error("workload order")
	}
}

// TestReport renders a report from a small results set and checks the
// ratio, the verdict and the embedded notes.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes.md")
	os.WriteFile(notes, []byte("## Conclusions\n\nhand-written\n"), 0o644)
	res := &results{Config: config{Runs: 3, Scale: 1, KafkaHeap: "1g"}, Brokers: map[string]string{}}
	for run, v := range []float64{100, 120, 110} {
		res.Samples = append(res.Samples,
			sample{Mode: "pagecache", Workload: "W2", Metric: mMBps, System: sysSamsa, Run: run + 1, Value: v * 2},
			sample{Mode: "pagecache", Workload: "W2", Metric: mMBps, System: sysKafka, Run: run + 1, Value: v})
	}
	res.Loads = []loadNote{{Mode: "pagecache", Workload: "W2", Load: "1.20 1.00 0.90"}}
	doc := filepath.Join(dir, "benchmarks.md")
	if err := writeReport(res, doc, notes); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"| W2 throughput ≥ 1.5× | pagecache | 220 | 110 | 2.00× | **met** | 1.20 |",
		"| W2 | throughput, MB/s | 220 (200–240) | 110 (100–120) | 2.00× | higher |",
		"hand-written",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
