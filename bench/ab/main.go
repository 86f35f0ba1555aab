// Command ab measures two builds of samsa side by side on this machine:
// the same workloads against each build's broker in turn, A B A B ..., with
// the same client (build B's `samsa bench`), and prints a Markdown table of
// medians and the ratio B/A. It answers "did this change move throughput,
// latency or memory?" without Apache Kafka in the loop (bench/run.sh is the
// comparison with Kafka).
//
//	go run ./bench/ab -a /tmp/samsa-before -b bin/samsa -rounds 5
//
// After -warmup unrecorded rounds, per round and build: a fresh data
// directory and broker, then
//   - produce: `bench produce` of -records records of 1 KiB, acks=all
//     (throughput, and the producer's p99 latency),
//   - consume: `bench consume` of the same records (fetch throughput),
//   - e2e: `bench e2e` at 1,000 records/s (end-to-end p99),
//
// and the broker's peak resident memory (VmHWM) when it stops.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type latency struct {
	P99 float64 `json:"p99_ms"`
}

type summary struct {
	MBPerSec float64 `json:"mb_per_sec"`
	Latency  latency `json:"latency"`
}

func main() {
	var (
		binA    = flag.String("a", "", "samsa binary A (the baseline)")
		binB    = flag.String("b", "", "samsa binary B (the change); also the benchmark client")
		rounds  = flag.Int("rounds", 5, "rounds, each running A then B")
		records = flag.Int("records", 300000, "records per produce and consume run")
		e2eN    = flag.Int("e2e-records", 5000, "records of the end-to-end run (at 1,000/s)")
		dur     = flag.String("durability", "sync", "samsa.log.durability of both brokers: sync or pagecache")
		warmup  = flag.Int("warmup", 1, "unrecorded rounds first")
	)
	flag.Parse()
	if *binA == "" || *binB == "" {
		fmt.Fprintln(os.Stderr, "ab: -a and -b are required")
		os.Exit(2)
	}
	metrics := []string{"produce MB/s", "produce p99 ms", "consume MB/s", "e2e p99 ms", "broker peak RSS MiB"}
	got := map[string]map[string][]float64{"A": {}, "B": {}}
	for r := -*warmup; r < *rounds; r++ {
		for _, side := range []string{"A", "B"} {
			bin := *binA
			if side == "B" {
				bin = *binB
			}
			m, err := round(bin, *binB, *records, *e2eN, *dur)
			if err != nil {
				fmt.Fprintf(os.Stderr, "ab: round %d %s: %v\n", r+1, side, err)
				os.Exit(1)
			}
			fmt.Fprintf(os.Stderr, "round %d %s: %v\n", r+1, side, m)
			if r < 0 {
				continue // warm-up
			}
			for k, v := range m {
				got[side][k] = append(got[side][k], v)
			}
		}
	}
	fmt.Printf("%d rounds, A = %s, B = %s, durability %s, %d records of 1 KiB\n\n", *rounds, *binA, *binB, *dur, *records)
	fmt.Println("| figure | A median | B median | B/A | A min–max | B min–max |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, k := range metrics {
		a, b := got["A"][k], got["B"][k]
		ma, mb := median(a), median(b)
		fmt.Printf("| %s | %.2f | %.2f | %.2f | %.2f–%.2f | %.2f–%.2f |\n", k, ma, mb, mb/ma, slices.Min(a), slices.Max(a), slices.Min(b), slices.Max(b))
	}
}

// round starts bin's broker on a fresh directory, runs the workloads with
// the client binary, stops the broker and returns the figures.
func round(bin, client string, records, e2eN int, durability string) (map[string]float64, error) {
	dir, err := os.MkdirTemp("", "samsa-ab")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	port, admin := freePort(), freePort()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"SAMSA_LISTENERS=PLAINTEXT://"+addr,
		"SAMSA_LOG_DIRS="+filepath.Join(dir, "data"),
		"SAMSA_ADMIN_LISTENER=127.0.0.1:"+strconv.Itoa(admin),
		"SAMSA_LOG_DURABILITY="+durability,
	)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer cmd.Process.Kill()
	if err := waitListening(addr, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, logs.String())
	}
	out := map[string]float64{}
	var s summary
	n := strconv.Itoa(records)
	if err := run(client, &s, "bench", "produce", "-b", addr, "-n", n, "--json", "--report-interval", "-1s"); err != nil {
		return nil, err
	}
	out["produce MB/s"], out["produce p99 ms"] = s.MBPerSec, s.Latency.P99
	if err := run(client, &s, "bench", "consume", "-b", addr, "-n", n, "--json", "--report-interval", "-1s"); err != nil {
		return nil, err
	}
	out["consume MB/s"] = s.MBPerSec
	if err := run(client, &s, "bench", "e2e", "-b", addr, "-n", strconv.Itoa(e2eN), "--throughput", "1000", "--json", "--report-interval", "-1s"); err != nil {
		return nil, err
	}
	out["e2e p99 ms"] = s.Latency.P99
	out["broker peak RSS MiB"] = peakRSS(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("broker exit: %v\n%s", err, logs.String())
	}
	return out, nil
}

func run(bin string, into *summary, args ...string) error {
	c := exec.Command(bin, args...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	b, err := c.Output()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr.String())
	}
	*into = summary{}
	return json.Unmarshal(b, into)
}

// peakRSS is a process's peak resident set (VmHWM) in MiB, -1 if unknown.
func peakRSS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

func waitListening(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("broker not listening on %s after %v", addr, limit)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err) // no free loopback port: nothing to measure
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
