package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// profile runs W2 and W3 (60%) against a Samsa that serves /debug/pprof and
// captures CPU, allocation, mutex and block profiles over each, with a
// `go tool pprof -top` summary next to each profile.
func (r *runner) profile() error {
	dir := filepath.Join(r.outDir, "pprof")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r.settings.pprof = true
	defer func() { r.settings.pprof = false }()
	b, err := newBroker(sysSamsa, r.mode, r.outDir, r.settings)
	if err != nil {
		return err
	}
	defer b.remove()
	if _, err := b.start(nil); err != nil {
		return err
	}
	admin := "http://" + r.settings.adminAddr
	secs := max(int(15*r.cfg.Scale), 3)

	// Kafka's W2 peak from this invocation sets W3's rate, as in W3.
	r.mode = "pagecache"
	peak := r.median("W2", mRecPerSec, sysKafka)
	if peak == 0 {
		peak = 50_000
	}
	type job struct {
		name string
		args []string
		cmd  string
	}
	jobs := []job{
		{"W2", []string{"--num-records", strconv.FormatInt(int64(secs)*200_000, 10), "--record-size", "1024", "--acks", "all"}, "produce"},
		{"W3-60", []string{"--num-records", strconv.FormatInt(int64(peak*0.6)*int64(secs+2), 10),
			"--throughput", strconv.FormatInt(int64(peak*0.6), 10), "--record-size", "1024", "--acks", "all"}, "e2e"},
	}
	for _, j := range jobs {
		t := r.topic("profile-" + j.name)
		if err := createTopic(b.addr, t, 16, nil); err != nil {
			return err
		}
		var (
			wg sync.WaitGroup
			mu sync.Mutex
		)
		errs := make(chan error, 4)
		for _, kind := range []string{"profile", "allocs", "mutex", "block"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := filepath.Join(dir, fmt.Sprintf("%s-%s.pb.gz", j.name, kind))
				if err := fetchProfile(fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", admin, kind, secs), path); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				r.res.Profiles = append(r.res.Profiles, path)
				mu.Unlock()
			}()
		}
		time.Sleep(200 * time.Millisecond) // the delta profiles take their first snapshot
		var out any
		if j.cmd == "produce" {
			out = &produceResult{}
		} else {
			out = &e2eResult{}
		}
		line, err := r.samsaBench(b.addr, j.cmd, out, append([]string{"--topic", t}, j.args...)...)
		if err != nil {
			return err
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		r.addCommand("profile-"+j.name, sysSamsa, line)
		log.Printf("  profiled %s over %d s: %s", j.name, secs, dir)
	}
	// Text summaries for reading without the tool.
	for _, p := range r.res.Profiles {
		args := []string{"tool", "pprof", "-top", "-nodecount=40"}
		switch {
		case strings.Contains(p, "-allocs."):
			args = append(args, "-sample_index=alloc_space")
		case strings.Contains(p, "-mutex."), strings.Contains(p, "-block."):
			args = append(args, "-sample_index=delay")
		}
		out, err := exec.Command("go", append(args, r.settings.samsaBin, p)...).CombinedOutput()
		if err != nil {
			log.Printf("pprof -top %s: %v", p, err)
			continue
		}
		os.WriteFile(p[:len(p)-len(".pb.gz")]+".txt", out, 0o644)
	}
	return nil
}

func fetchProfile(url, path string) error {
	cl := &http.Client{Timeout: 5 * time.Minute}
	resp, err := cl.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
