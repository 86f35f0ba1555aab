package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"
)

// latency is the JSON latency summary of `samsa bench` (milliseconds).
type latency struct {
	Count int64   `json:"count"`
	Avg   float64 `json:"avg_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

type produceResult struct {
	Records        int64   `json:"records"`
	Errors         int64   `json:"errors"`
	Bytes          int64   `json:"bytes"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"`
	Latency        latency `json:"latency"`
}

type consumeResult struct {
	Records        int64   `json:"records"`
	Bytes          int64   `json:"bytes"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	MBPerSec       float64 `json:"mb_per_sec"`
	TimedOut       bool    `json:"timed_out"`
}

type e2eResult struct {
	Sent           int64   `json:"sent"`
	Received       int64   `json:"received"`
	ProduceErrors  int64   `json:"produce_errors"`
	RecordsPerSec  float64 `json:"records_per_sec"`
	Latency        latency `json:"latency"`
	ProduceLatency latency `json:"produce_latency"`
}

// samsaBench runs `samsa bench <sub> ... --json` against addr and decodes
// its summary into out. The command line is returned for the report.
func (r *runner) samsaBench(addr, sub string, out any, args ...string) (string, error) {
	argv := append([]string{"bench", sub, "-b", addr, "--json", "--report-interval=-1s"}, args...)
	cmd := exec.Command(r.settings.samsaBin, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.ProcessState != nil {
		r.lastClientCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	line := "samsa " + strings.Join(argv, " ")
	if err != nil {
		return line, fmt.Errorf("%s: %v: %s", line, err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return line, fmt.Errorf("%s: decode summary: %v: %.300s", line, err, stdout.String())
	}
	return line, nil
}

// createTopic creates topic with n partitions (replication factor 1) and
// waits until every partition has a leader, so no run times a creation.
func createTopic(addr, topic string, n int, configs map[string]*string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequestTimeoutOverhead(2*time.Minute))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	adm.SetTimeoutMillis(int32((4 * time.Minute).Milliseconds()))
	resp, err := adm.CreateTopic(ctx, int32(n), 1, configs, topic)
	// REQUEST_TIMED_OUT: created, but not every partition was ready when
	// the broker answered; the wait below covers it.
	if err != nil && !errors.Is(err, kerr.RequestTimedOut) {
		return fmt.Errorf("create topic %s (%d partitions): %v %s", topic, n, err, resp.ErrMessage)
	}
	b := &broker{addr: addr}
	if err := b.waitMetadataOnly(map[string]int{topic: n}, time.Now().Add(5*time.Minute)); err != nil {
		return err
	}
	// Kafka's Metadata can name a leader a moment before the leader's
	// replica manager holds the partition; a produce then fails with
	// NOT_LEADER_OR_FOLLOWER and the client waits out its metadata min age
	// (5 s in franz-go). Wait until every partition answers ListOffsets,
	// which the leader serves from the partition itself.
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			var bad error
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err != nil && bad == nil {
					bad = fmt.Errorf("partition %d: %w", o.Partition, o.Err)
				}
			})
			if bad == nil && len(ends[topic]) == n {
				return nil
			}
			err = bad
		}
		if ctx.Err() != nil {
			return fmt.Errorf("topic %s not ready for writes: %v", topic, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMetadataOnly is waitMetadata for a broker this process did not start.
func (b *broker) waitMetadataOnly(topics map[string]int, deadline time.Time) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		md, err := adm.Metadata(ctx, names...)
		cancel()
		if err == nil {
			err = metadataComplete(md, topics)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settle writes every dirty page back to disk (sync(2)) before a measured
// run, so that no run pays for writing back an earlier run's data: runs of
// hundreds of megabytes each otherwise push the page cache past the
// kernel's dirty thresholds, and whichever run comes later is throttled for
// what came before it, of either system.
func settle() {
	unix.Sync()
}

// evict drops a topic's files from the page cache: each file is synced
// (so its pages are clean) and then advised away with
// posix_fadvise(DONTNEED). Only this benchmark's files are touched, not the
// whole machine's cache.
func evict(dataDir, topic string) (int64, error) {
	var total int64
	dirs, err := filepath.Glob(filepath.Join(dataDir, topic+"-*"))
	if err != nil {
		return 0, err
	}
	if len(dirs) == 0 {
		return 0, fmt.Errorf("no partition directories for %s under %s", topic, dataDir)
	}
	for _, d := range dirs {
		err := filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			defer f.Close()
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				return fmt.Errorf("fdatasync %s: %w", path, err)
			}
			if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
				return fmt.Errorf("fadvise %s: %w", path, err)
			}
			if st, err := f.Stat(); err == nil {
				total += st.Size()
			}
			return nil
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// cachedFraction reports how much of a topic's .log bytes are resident in
// the page cache (mincore over a read-only mapping), to check an eviction.
func cachedFraction(dataDir, topic string) (float64, error) {
	files, err := filepath.Glob(filepath.Join(dataDir, topic+"-*", "*.log"))
	if err != nil {
		return 0, err
	}
	var pages, resident int64
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		st, err := f.Stat()
		if err != nil || st.Size() == 0 {
			f.Close()
			continue
		}
		m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
		f.Close()
		if err != nil {
			return 0, err
		}
		vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
		_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
		unix.Munmap(m)
		if errno != 0 {
			return 0, errno
		}
		for _, v := range vec {
			pages++
			if v&1 != 0 {
				resident++
			}
		}
	}
	if pages == 0 {
		return 0, nil
	}
	return float64(resident) / float64(pages), nil
}

// javaTool runs one of Kafka's tools (a main class of kafka-tools) and
// returns its combined output.
func (r *runner) javaTool(class string, args ...string) (string, string, error) {
	argv := append([]string{"-Xmx512m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", r.settings.classpath, class}, args...)
	cmd := exec.Command("java", argv...)
	out, err := cmd.CombinedOutput()
	line := "java -cp $KAFKA_CP " + class + " " + strings.Join(args, " ")
	if err != nil {
		return line, string(out), fmt.Errorf("%s: %v: %s", line, err, tail(string(out), 600))
	}
	return line, string(out), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// "1000000 records sent, 523835.5 records/sec (49.96 MB/sec), 31.05 ms avg
// latency, 327.00 ms max latency, 26 ms 50th, 63 ms 95th, 83 ms 99th, 213 ms
// 99.9th."
var perfProducerLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th`)

type javaProduce struct{ recordsPerSec, mbPerSec, p50, p99, p999 float64 }

func parseProducerPerformance(out string) (javaProduce, error) {
	m := perfProducerLine.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return javaProduce{}, fmt.Errorf("no summary line in ProducerPerformance output: %s", tail(out, 400))
	}
	last := m[len(m)-1]
	f := func(i int) float64 { v, _ := strconv.ParseFloat(last[i], 64); return v }
	return javaProduce{recordsPerSec: f(2), mbPerSec: f(3), p50: f(6), p99: f(8), p999: f(9)}, nil
}

// parseConsumerPerformance reads the CSV line under ConsumerPerformance's
// header and returns fetch.MB.sec and fetch.nMsg.sec (the rates over the
// fetching time, without the group join).
func parseConsumerPerformance(out string) (mbPerSec, msgsPerSec float64, err error) {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "start.time") || i+1 >= len(lines) {
			continue
		}
		head := splitCSV(l)
		vals := splitCSV(lines[i+1])
		idx := func(name string) int {
			for j, h := range head {
				if h == name {
					return j
				}
			}
			return -1
		}
		a, b := idx("fetch.MB.sec"), idx("fetch.nMsg.sec")
		if a < 0 || b < 0 || a >= len(vals) || b >= len(vals) {
			break
		}
		mbPerSec, _ = strconv.ParseFloat(vals[a], 64)
		msgsPerSec, _ = strconv.ParseFloat(vals[b], 64)
		return mbPerSec, msgsPerSec, nil
	}
	return 0, 0, fmt.Errorf("no result line in ConsumerPerformance output: %s", tail(out, 400))
}

func splitCSV(l string) []string {
	var out []string
	for _, f := range strings.Split(l, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// "Avg latency: 1.2345 ms" and "Percentiles: 50th = 1, 99th = 3, 99.9th = 7"
var (
	e2eAvgLine = regexp.MustCompile(`Avg latency: ([\d.]+) ms`)
	e2ePctLine = regexp.MustCompile(`Percentiles: 50th = (\d+), 99th = (\d+), 99.9th = (\d+)`)
)

func parseEndToEndLatency(out string) (avg, p50, p99, p999 float64, err error) {
	a := e2eAvgLine.FindStringSubmatch(out)
	p := e2ePctLine.FindStringSubmatch(out)
	if a == nil || p == nil {
		return 0, 0, 0, 0, fmt.Errorf("no latency lines in EndToEndLatency output: %s", tail(out, 400))
	}
	avg, _ = strconv.ParseFloat(a[1], 64)
	p50, _ = strconv.ParseFloat(p[1], 64)
	p99, _ = strconv.ParseFloat(p[2], 64)
	p999, _ = strconv.ParseFloat(p[3], 64)
	return avg, p50, p99, p999, nil
}
