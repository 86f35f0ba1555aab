package main

import (
	"fmt"
	"log"
	"sort"
	"strconv"
	"time"
)

// Metric names used in samples (the report knows their labels and units).
const (
	mMBps       = "mb_per_sec"
	mRecPerSec  = "records_per_sec"
	mP50        = "p50_ms"
	mP99        = "p99_ms"
	mP999       = "p999_ms"
	mPubP50     = "publish_p50_ms"
	mPubP99     = "publish_p99_ms"
	mPubP999    = "publish_p999_ms"
	mCPUPerGB   = "cpu_s_per_gb"
	mPeakRSS    = "peak_rss_mb"
	mIdleRSS    = "idle_rss_mb"
	mStartup    = "startup_s"
	mCreate     = "create_s"
	mAchieved   = "achieved_records_per_sec"
	mJavaMBps   = "java_mb_per_sec"
	mJavaP99    = "java_p99_ms"
	mJavaP999   = "java_p999_ms"
	mJavaP50    = "java_p50_ms"
	mBacklogMBs = "backlog_produce_mb_per_sec"
	mClientCPU  = "client_cpu_s_per_gb"
)

// warmUp sends a short burst to each broker, unrecorded, so the first
// measured run of the JVM is not its JIT warm-up.
func (r *runner) warmUp() error {
	for _, sys := range systems {
		b := r.brokers[sys]
		t, _, err := r.produceW2Like(sys, "warmup", r.scaled(200_000, 2000))
		if err != nil {
			return fmt.Errorf("warm-up %s: %w", sys, err)
		}
		var e2e e2eResult
		if _, err := r.samsaBench(b.addr, "e2e", &e2e, "--topic", t, "--num-records", strconv.FormatInt(r.scaled(2000, 100), 10),
			"--throughput", "1000", "--record-size", "1024"); err != nil {
			return fmt.Errorf("warm-up %s: %w", sys, err)
		}
	}
	return nil
}

// produceW2Like produces n records of 1 KiB with acks=all to a fresh
// 16-partition topic named after what, unrecorded (a warm-up, or Kafka's
// peak measured for W3), and returns the topic and the result.
func (r *runner) produceW2Like(sys, what string, n int64) (string, produceResult, error) {
	b := r.brokers[sys]
	t := r.topic(what)
	var res produceResult
	if err := createTopic(b.addr, t, 16, nil); err != nil {
		return t, res, err
	}
	_, err := r.samsaBench(b.addr, "produce", &res, "--topic", t, "--num-records", strconv.FormatInt(n, 10),
		"--record-size", "1024", "--acks", "all")
	return t, res, err
}

// minShortRuns is the least number of runs of the workloads whose runs take
// a few seconds each (W1, W2, W5), for a steadier median on a shared
// machine.
const minShortRuns = 5

// produceRuns runs `samsa bench produce` runs times against each system
// alternately, each run on a fresh topic of parts partitions. around, if
// set, is called before (start=true) and after each run.
func (r *runner) produceRuns(workload string, parts int, args []string, around func(sys string, run int, start bool, res *produceResult)) error {
	for run := 1; run <= max(r.cfg.Runs, minShortRuns); run++ {
		for _, sys := range systems {
			b := r.brokers[sys]
			t := r.topic(workload)
			if err := createTopic(b.addr, t, parts, nil); err != nil {
				return err
			}
			settle()
			if around != nil {
				around(sys, run, true, nil)
			}
			var res produceResult
			line, err := r.samsaBench(b.addr, "produce", &res, append([]string{"--topic", t}, args...)...)
			if err != nil {
				return err
			}
			if around != nil {
				around(sys, run, false, &res)
			}
			r.addCommand(workload, sys, line)
			r.add(workload, mMBps, sys, run, res.MBPerSec)
			r.add(workload, mRecPerSec, sys, run, res.RecordsPerSec)
			r.add(workload, mPubP99, sys, run, res.Latency.P99)
			if gb := float64(res.Bytes) / 1e9; gb > 0 {
				r.add(workload, mClientCPU, sys, run, r.lastClientCPU/gb)
			}
			log.Printf("  %s %s run %d: %.0f records/s, %.1f MB/s, p99 %.1f ms", workload, sys, run, res.RecordsPerSec, res.MBPerSec, res.Latency.P99)
		}
	}
	return nil
}

// W1: 100-byte records, 6 partitions, acks=1.
func (r *runner) w1() error {
	n := r.scaled(1_000_000, 10_000)
	args := []string{"--num-records", strconv.FormatInt(n, 10), "--record-size", "100", "--acks", "1"}
	if err := r.produceRuns("W1", 6, args, nil); err != nil {
		return err
	}
	if r.cfg.CrossCheck {
		return r.javaProduceCheck("W1", 6, n, 100, "1")
	}
	return nil
}

// W2: 1 KiB records, 16 partitions, acks=all, maximum rate; W7 (broker
// CPU-seconds per GB and peak RSS) is measured across the same runs.
func (r *runner) w2() error {
	n := r.scaled(300_000, 3_000)
	args := []string{"--num-records", strconv.FormatInt(n, 10), "--record-size", "1024", "--acks", "all"}
	var cpu0 float64
	around := func(sys string, run int, start bool, res *produceResult) {
		b := r.brokers[sys]
		if start {
			if err := b.resetPeak(); err != nil {
				log.Printf("reset peak RSS of %s: %v", sys, err)
			}
			cpu0, _ = b.cpuSeconds()
			return
		}
		cpu1, _ := b.cpuSeconds()
		_, peak, _ := b.memory()
		gb := float64(res.Bytes) / 1e9
		if gb > 0 {
			r.add("W7", mCPUPerGB, sys, run, (cpu1-cpu0)/gb)
		}
		r.add("W7", mPeakRSS, sys, run, float64(peak)/(1<<20))
		log.Printf("  W7 %s run %d: %.1f CPU-s/GB, peak RSS %.0f MiB", sys, run, (cpu1-cpu0)/gb, float64(peak)/(1<<20))
	}
	if err := r.produceRuns("W2", 16, args, around); err != nil {
		return err
	}
	if r.cfg.CrossCheck {
		return r.javaProduceCheck("W2", 16, n, 1024, "all")
	}
	return nil
}

// javaProduceCheck runs Kafka's ProducerPerformance once per system.
func (r *runner) javaProduceCheck(workload string, parts int, n int64, size int, acks string) error {
	for _, sys := range systems {
		b := r.brokers[sys]
		t := r.topic(workload + "-java")
		if err := createTopic(b.addr, t, parts, nil); err != nil {
			return err
		}
		line, out, err := r.javaTool("org.apache.kafka.tools.ProducerPerformance", "--topic", t,
			"--num-records", strconv.FormatInt(n, 10), "--record-size", strconv.Itoa(size), "--throughput", "-1",
			"--producer-props", "bootstrap.servers="+b.addr, "acks="+acks)
		if err != nil {
			r.note("%s %s: Kafka's ProducerPerformance failed against %s: %v", r.mode, workload, sys, err)
			continue
		}
		p, err := parseProducerPerformance(out)
		if err != nil {
			r.note("%s %s: %v", r.mode, workload, err)
			continue
		}
		r.addCommand(workload+"-java", sys, line)
		r.add(workload, mJavaMBps, sys, 1, p.mbPerSec)
		r.add(workload, mJavaP99, sys, 1, p.p99)
		log.Printf("  %s %s ProducerPerformance: %.0f records/s, %.1f MB/s, p99 %.0f ms", workload, sys, p.recordsPerSec, p.mbPerSec, p.p99)
	}
	return nil
}

// median of the samples of one system's metric in this mode.
func (r *runner) median(workload, metric, system string) float64 {
	var v []float64
	for _, s := range r.res.Samples {
		if s.Mode == r.mode && s.Workload == workload && s.Metric == metric && s.System == system {
			v = append(v, s.Value)
		}
	}
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[len(v)/2]
}

// e2eRuns runs `samsa bench e2e` runs times per system alternately.
func (r *runner) e2eRuns(workload string, parts int, args []string) error {
	for run := 1; run <= r.cfg.Runs; run++ {
		for _, sys := range systems {
			b := r.brokers[sys]
			t := r.topic(workload)
			if err := createTopic(b.addr, t, parts, nil); err != nil {
				return err
			}
			settle()
			var res e2eResult
			line, err := r.samsaBench(b.addr, "e2e", &res, append([]string{"--topic", t}, args...)...)
			if err != nil {
				return err
			}
			r.addCommand(workload, sys, line)
			r.add(workload, mP50, sys, run, res.Latency.P50)
			r.add(workload, mP99, sys, run, res.Latency.P99)
			r.add(workload, mP999, sys, run, res.Latency.P999)
			r.add(workload, mPubP50, sys, run, res.ProduceLatency.P50)
			r.add(workload, mPubP99, sys, run, res.ProduceLatency.P99)
			r.add(workload, mPubP999, sys, run, res.ProduceLatency.P999)
			r.add(workload, mAchieved, sys, run, res.RecordsPerSec)
			log.Printf("  %s %s run %d: %.0f records/s, e2e p50 %.2f p99 %.2f p99.9 %.2f ms; publish p99 %.2f ms",
				workload, sys, run, res.RecordsPerSec, res.Latency.P50, res.Latency.P99, res.Latency.P999, res.ProduceLatency.P99)
		}
	}
	return nil
}

// W3: latency at 30% and 60% of Kafka's W2 peak (records/s, this mode).
func (r *runner) w3() error {
	peak := r.median("W2", mRecPerSec, sysKafka)
	if peak == 0 {
		// W2 was not run in this invocation: measure Kafka's peak once.
		_, res, err := r.produceW2Like(sysKafka, "W3-peak", r.scaled(300_000, 3000))
		if err != nil {
			return err
		}
		peak = res.RecordsPerSec
		r.note("%s W3: Kafka's W2 peak measured once for W3: %.0f records/s", r.mode, peak)
	}
	dur := max(10*r.cfg.Scale, 2) // seconds per run
	for _, pct := range []int{30, 60} {
		rate := float64(int(peak * float64(pct) / 100))
		n := int64(rate * dur)
		w := fmt.Sprintf("W3@%d%%", pct)
		r.add(w, "rate_records_per_sec", "target", 0, rate)
		if err := r.e2eRuns(w, 16, []string{"--num-records", strconv.FormatInt(n, 10), "--throughput", strconv.FormatFloat(rate, 'f', 0, 64),
			"--record-size", "1024", "--acks", "all"}); err != nil {
			return err
		}
	}
	return nil
}

// W4: one message at a time (200 per second, at most one record buffered
// in the producer), 1 KiB, one partition, acks=all: end-to-end latency.
func (r *runner) w4() error {
	n := r.scaled(3000, 100)
	if err := r.e2eRuns("W4", 1, []string{"--num-records", strconv.FormatInt(n, 10), "--throughput", "200",
		"--record-size", "1024", "--acks", "all", "--max-buffered-records", "1"}); err != nil {
		return err
	}
	if !r.cfg.CrossCheck {
		return nil
	}
	// Kafka's EndToEndLatency: strictly one record in flight (send, wait
	// until consumed, repeat).
	for _, sys := range systems {
		b := r.brokers[sys]
		t := r.topic("W4-java")
		if err := createTopic(b.addr, t, 1, nil); err != nil {
			return err
		}
		line, out, err := r.javaTool("org.apache.kafka.tools.EndToEndLatency", b.addr, t, strconv.FormatInt(n, 10), "all", "1024")
		if err != nil {
			r.note("%s W4: Kafka's EndToEndLatency failed against %s: %v", r.mode, sys, err)
			continue
		}
		_, p50, p99, p999, err := parseEndToEndLatency(out)
		if err != nil {
			r.note("%s W4: %v", r.mode, err)
			continue
		}
		r.addCommand("W4-java", sys, line)
		r.add("W4", mJavaP50, sys, 1, p50)
		r.add("W4", mJavaP99, sys, 1, p99)
		r.add("W4", mJavaP999, sys, 1, p999)
		log.Printf("  W4 %s EndToEndLatency: p50 %.0f p99 %.0f p99.9 %.0f ms", sys, p50, p99, p999)
	}
	return nil
}

// W5: a consumer catching up on a backlog, from a cold page cache (the
// topic's files evicted) and then a warm one.
func (r *runner) w5() error {
	size := int64(float64(r.cfg.W5Bytes) * r.cfg.Scale)
	n := max(size/1024, 1000)
	topics := map[string]string{}
	for _, sys := range systems {
		b := r.brokers[sys]
		t := r.topic("W5")
		topics[sys] = t
		if err := createTopic(b.addr, t, 6, nil); err != nil {
			return err
		}
		var res produceResult
		line, err := r.samsaBench(b.addr, "produce", &res, "--topic", t, "--num-records", strconv.FormatInt(n, 10),
			"--record-size", "1024", "--acks", "1")
		if err != nil {
			return err
		}
		r.addCommand("W5-backlog", sys, line)
		r.add("W5", mBacklogMBs, sys, 1, res.MBPerSec)
		log.Printf("  W5 %s backlog: %d records (%.0f MiB) at %.1f MB/s", sys, n, float64(n*1024)/(1<<20), res.MBPerSec)
	}
	consume := func(sys string, run int, metric string) error {
		b := r.brokers[sys]
		var res consumeResult
		line, err := r.samsaBench(b.addr, "consume", &res, "--topic", topics[sys], "--messages", strconv.FormatInt(n, 10))
		if err != nil {
			return err
		}
		r.addCommand("W5", sys, line)
		r.add("W5", metric, sys, run, res.MBPerSec)
		log.Printf("  W5 %s %s run %d: %.1f MB/s (%.2f s)", sys, metric, run, res.MBPerSec, res.ElapsedSeconds)
		return nil
	}
	for run := 1; run <= max(r.cfg.Runs, minShortRuns); run++ {
		for _, sys := range systems {
			b := r.brokers[sys]
			if _, err := evict(b.dataDir, topics[sys]); err != nil {
				return err
			}
			if f, err := cachedFraction(b.dataDir, topics[sys]); err == nil && f > 0.05 {
				r.note("W5 cold run %d %s: %.0f%% of the log still cached after eviction", run, sys, f*100)
			}
			if err := consume(sys, run, "cold_mb_per_sec"); err != nil {
				return err
			}
		}
	}
	for run := 1; run <= max(r.cfg.Runs, minShortRuns); run++ {
		for _, sys := range systems {
			if err := consume(sys, run, "warm_mb_per_sec"); err != nil {
				return err
			}
		}
	}
	if !r.cfg.CrossCheck {
		return nil
	}
	for _, sys := range systems {
		b := r.brokers[sys]
		line, out, err := r.javaTool("org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", b.addr,
			"--topic", topics[sys], "--messages", strconv.FormatInt(n, 10), "--timeout", "30000")
		if err != nil {
			r.note("W5: Kafka's ConsumerPerformance failed against %s: %v", sys, err)
			continue
		}
		mbs, _, err := parseConsumerPerformance(out)
		if err != nil {
			r.note("W5: %v", err)
			continue
		}
		r.addCommand("W5-java", sys, line)
		r.add("W5", mJavaMBps, sys, 1, mbs)
		log.Printf("  W5 %s ConsumerPerformance (warm): %.1f MB/s", sys, mbs)
	}
	return nil
}

// W6: many partitions: creation, start-up time after a clean shutdown
// (until Metadata shows a leader for every partition), idle memory and
// produce throughput, on fresh brokers holding only those partitions. Kafka
// refuses a CreateTopics that makes more than 10,000 records at once, so the
// partitions are spread over topics of at most 1,000 each; produce runs one
// `samsa bench produce` per topic at the same time.
func (r *runner) w6() error {
	for _, parts := range r.cfg.W6Sizes {
		w := fmt.Sprintf("W6/%d", parts)
		brokers := map[string]*broker{}
		ntopics := (parts + 999) / 1000
		topics := map[string]int{}
		for i := range ntopics {
			n := parts / ntopics
			if i < parts%ntopics {
				n++
			}
			topics[fmt.Sprintf("w6-%d", i)] = n
		}
		for _, sys := range systems {
			b, err := newBroker(sys, r.mode, r.outDir, r.settings)
			if err != nil {
				return err
			}
			defer b.remove()
			brokers[sys] = b
			if _, err := b.start(nil); err != nil {
				return err
			}
			began := time.Now()
			for t, n := range topics {
				if err := createTopic(b.addr, t, n, nil); err != nil {
					return fmt.Errorf("%s: %w", sys, err)
				}
			}
			r.add(w, mCreate, sys, 1, time.Since(began).Seconds())
			log.Printf("  %s %s: %d partitions in %d topic(s) created in %.1f s", w, sys, parts, ntopics, time.Since(began).Seconds())
		}
		records := r.scaled(300_000, 3000)
		for run := 1; run <= r.cfg.Runs; run++ {
			for _, sys := range systems {
				b := brokers[sys]
				stopTook := b.stop()
				took, err := b.start(topics)
				if err != nil {
					return err
				}
				r.add(w, mStartup, sys, run, took.Seconds())
				// Idle: five seconds after start-up, no client connected.
				time.Sleep(5 * time.Second)
				rss, _, _ := b.memory()
				r.add(w, mIdleRSS, sys, run, float64(rss)/(1<<20))
				mbs, err := r.produceParallel(b.addr, "W6", sys, topics, records)
				if err != nil {
					return err
				}
				r.add(w, mMBps, sys, run, mbs)
				log.Printf("  %s %s run %d: shutdown %.1f s, start-up %.2f s, idle RSS %.0f MiB, produce %.1f MB/s",
					w, sys, run, stopTook.Seconds(), took.Seconds(), float64(rss)/(1<<20), mbs)
			}
		}
		for _, sys := range systems {
			brokers[sys].remove()
		}
	}
	return nil
}

// produceParallel runs one `samsa bench produce` per topic at once
// (records shared out) and returns the total MiB/s over the longest run.
func (r *runner) produceParallel(addr, workload, sys string, topics map[string]int, records int64) (float64, error) {
	type out struct {
		res  produceResult
		line string
		err  error
	}
	results := make(chan out, len(topics))
	per := max(records/int64(len(topics)), 1)
	for t := range topics {
		go func() {
			var o out
			o.line, o.err = r.samsaBench(addr, "produce", &o.res, "--topic", t, "--num-records", strconv.FormatInt(per, 10),
				"--record-size", "1024", "--acks", "all")
			results <- o
		}()
	}
	var bytes int64
	var longest float64
	var firstErr error
	for range topics {
		o := <-results
		if o.err != nil && firstErr == nil {
			firstErr = o.err
		}
		bytes += o.res.Bytes
		longest = max(longest, o.res.ElapsedSeconds)
		r.addCommand(workload, sys, o.line)
	}
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(bytes) / (1 << 20) / longest, nil
}
