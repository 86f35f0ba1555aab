package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/samsa-streaming/samsa/internal/cli/bench"
)

func TestBenchProduceConsumeE2E(t *testing.T) {
	addr := broker(t)
	name := topicName(t)

	r := ok(t, addr, "", "bench", "produce", "--topic", name, "--partitions", "3", "--num-records", "3000",
		"--record-size", "512", "--producers", "2", "--compression", "lz4", "--linger", "1ms", "--json")
	var pr bench.ProduceResult
	if err := json.Unmarshal([]byte(r.stdout), &pr); err != nil {
		t.Fatalf("bench produce --json: %v\n%s", err, r.stdout)
	}
	l := pr.Latency
	if pr.Records != 3000 || pr.Errors != 0 || pr.Bytes != 3000*512 || pr.Partitions != 3 || l.Count != 3000 {
		t.Fatalf("produce result %+v", pr)
	}
	if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) || pr.RecordsPerSec <= 0 {
		t.Fatalf("latency or rate implausible: %+v", pr)
	}

	r = ok(t, addr, "", "bench", "consume", "--topic", name, "--messages", "3000", "--json")
	var cr bench.ConsumeResult
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil {
		t.Fatalf("bench consume --json: %v\n%s", err, r.stdout)
	}
	if cr.Records != 3000 || cr.Bytes != 3000*512 || cr.FetchResponses == 0 || cr.MBPerSec <= 0 {
		t.Fatalf("consume result %+v", cr)
	}

	// Asking for more than there is ends on the idle timeout, with the
	// partial result printed and a sentence on stderr.
	r = samsa("", "-b", addr, "bench", "consume", "--topic", name, "--messages", "3001", "--idle-timeout", "500ms")
	if r.code != 1 || !strings.Contains(r.stdout, "3000 records consumed") ||
		!strings.Contains(r.stderr, "stopped after 3000 of 3001 records: no record for 500ms") {
		t.Fatalf("short consume: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	r = ok(t, addr, "", "bench", "e2e", "--topic", name+"-e2e", "--partitions", "2", "--num-records", "300",
		"--throughput", "3000", "--record-size", "64", "--json")
	var er bench.E2EResult
	if err := json.Unmarshal([]byte(r.stdout), &er); err != nil {
		t.Fatalf("bench e2e --json: %v\n%s", err, r.stdout)
	}
	if er.Sent != 300 || er.Received != 300 || er.Latency.Count != 300 || er.Latency.P50 <= 0 || er.Latency.P99 > er.Latency.Max {
		t.Fatalf("e2e result %+v", er)
	}

	// The text report, as a person reads it, with progress lines on
	// stderr: 600 records at 2000/s take 300 ms, reported every 50 ms.
	r = ok(t, addr, "", "bench", "produce", "--topic", name, "--num-records", "600", "--record-size", "100",
		"--throughput", "2000", "--report-interval", "50ms")
	if !strings.Contains(r.stdout, "600 records sent") || !strings.Contains(r.stdout, "p99.9") {
		t.Fatalf("text report:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, " records/sec (") || !strings.Contains(r.stderr, "ms avg latency") {
		t.Fatalf("no progress line on stderr:\n%s", r.stderr)
	}
}
