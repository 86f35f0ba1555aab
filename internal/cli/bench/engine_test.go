package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
)

func TestPayload(t *testing.T) {
	p := Payload(4096, 1)
	if len(p) != 4096 {
		t.Fatalf("len %d", len(p))
	}
	for _, c := range p {
		if c < 'A' || c > 'Z' {
			t.Fatalf("byte %q is not an upper-case letter", c)
		}
	}
	if !bytes.Equal(p, Payload(4096, 1)) || bytes.Equal(p, Payload(4096, 2)) {
		t.Fatal("payload must depend on the seed only")
	}
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	// Unlimited: never waits.
	th := newThrottle(-1, time.Now())
	for i := range int64(1000) {
		if err := th.wait(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	// 1000/s from now: record 50 is due 50 ms after the start.
	start := time.Now()
	th = newThrottle(1000, start)
	if err := th.wait(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 49*time.Millisecond {
		t.Fatalf("record 50 at 1000/s released after %v", el)
	}
	// A cancelled context ends a wait at once.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	th = newThrottle(1, time.Now())
	if err := th.wait(cctx, 3600); err == nil {
		t.Fatal("cancelled wait returned nil")
	}
}

func TestWindow(t *testing.T) {
	var w window
	t0 := time.Now()
	w.started = t0
	w.add(100, 2*time.Millisecond)
	w.add(300, 4*time.Millisecond)
	c, b, avg, mx, el := w.take(t0.Add(2 * time.Second))
	if c != 2 || b != 400 || avg != 3*time.Millisecond || mx != 4*time.Millisecond || el != 2*time.Second {
		t.Fatalf("take = %d %d %v %v %v", c, b, avg, mx, el)
	}
	if c, _, _, _, _ := w.take(t0.Add(3 * time.Second)); c != 0 {
		t.Fatal("window not reset")
	}
	rps, mbs := rates(2, 2<<20, 2*time.Second)
	if rps != 1 || mbs != 1 {
		t.Fatalf("rates %v %v", rps, mbs)
	}
}

func TestValidate(t *testing.T) {
	client := cli.Options{BootstrapServers: []string{"h:1"}}
	good := ProduceConfig{Client: client, Topic: "t", NumRecords: 1, RecordSize: 1, Throughput: -1}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*ProduceConfig){
		"no topic":        func(c *ProduceConfig) { c.Topic = "" },
		"zero records":    func(c *ProduceConfig) { c.NumRecords = 0 },
		"zero size":       func(c *ProduceConfig) { c.RecordSize = 0 },
		"bad throughput":  func(c *ProduceConfig) { c.Throughput = -5 },
		"bad acks":        func(c *ProduceConfig) { c.Acks = "2" },
		"bad compression": func(c *ProduceConfig) { c.Compression = "brotli" },
		"negative linger": func(c *ProduceConfig) { c.Linger = -time.Second },
		"no servers":      func(c *ProduceConfig) { c.Client = cli.Options{} },
	} {
		c := good
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	cc := ConsumeConfig{Client: client, Topic: "t", Messages: 0}
	if err := cc.Validate(); err == nil || !strings.Contains(err.Error(), "positive") {
		t.Errorf("consume with 0 messages: %v", err)
	}
	ec := E2EConfig{Client: client, Topic: "t", NumRecords: 1, RecordSize: 7}
	if err := ec.Validate(); err == nil || !strings.Contains(err.Error(), "at least 8") {
		t.Errorf("e2e with 7-byte records: %v", err)
	}
}

func TestResultText(t *testing.T) {
	r := &ProduceResult{Topic: "t", Records: 10, Errors: 1, FirstError: "boom", Latency: Latency{P99: 1.5}}
	s := r.Text()
	for _, want := range []string{"10 records sent", "p99 1.50 ms", "1 record failed; first error: boom"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in:\n%s", want, s)
		}
	}
}
