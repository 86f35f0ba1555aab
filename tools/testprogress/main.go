// Command testprogress turns `go test -json` into the progress a person
// watching the test command wants: one line per finished package, one per
// failed test with its output, and a line naming what still runs whenever
// nothing was printed for 20 seconds, so a long end-to-end test never looks
// like a hang. It exits 1 if any test or package failed, and passes on
// every line that is not JSON (build errors).
//
//	go test -json ./... | go run ./tools/testprogress
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	os.Exit(run(os.Stdin, os.Stdout, 20*time.Second))
}

// progress is what run has seen; quiet reports on it.
type progress struct {
	mu      sync.Mutex
	out     io.Writer
	last    time.Time
	running map[string]time.Time // "pkg TestName" → start
	output  map[string][]string  // test output, kept until it passes
	failed  bool
}

func (p *progress) printf(format string, args ...any) {
	fmt.Fprintf(p.out, format, args...)
	p.last = time.Now()
}

func run(in io.Reader, out io.Writer, quiet time.Duration) int {
	p := &progress{out: out, last: time.Now(), running: map[string]time.Time{}, output: map[string][]string{}}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(quiet / 4)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.mu.Lock()
				if time.Since(p.last) >= quiet && len(p.running) > 0 {
					var names []string
					for n, start := range p.running {
						names = append(names, fmt.Sprintf("%s (%s)", n, time.Since(start).Round(time.Second)))
					}
					sort.Strings(names)
					p.printf("... still running: %s\n", strings.Join(names, ", "))
				}
				p.mu.Unlock()
			}
		}
	}()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			p.mu.Lock()
			p.printf("%s\n", line)
			p.mu.Unlock()
			continue
		}
		p.mu.Lock()
		p.handle(e)
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := sc.Err(); err != nil {
		p.printf("testprogress: %v\n", err)
		return 1
	}
	if p.failed {
		return 1
	}
	return 0
}

func (p *progress) handle(e event) {
	key := e.Package
	if e.Test != "" {
		key += " " + e.Test
	}
	switch e.Action {
	case "run":
		if e.Test != "" && !strings.Contains(e.Test, "/") {
			p.running[key] = time.Now()
		}
	case "output":
		if e.Test != "" {
			p.output[key] = append(p.output[key], e.Output)
		} else if strings.HasPrefix(e.Output, "FAIL") || strings.HasPrefix(e.Output, "panic:") || strings.Contains(e.Output, "[build failed]") || strings.Contains(e.Output, "[setup failed]") {
			p.printf("%s", e.Output)
		}
	case "pass", "skip":
		delete(p.running, key)
		delete(p.output, key)
		if e.Test == "" {
			p.printf("%-4s %s (%.1fs)\n", "ok", e.Package, e.Elapsed)
		}
	case "fail":
		delete(p.running, key)
		p.failed = true
		if e.Test != "" {
			p.printf("--- FAIL %s (%.1fs)\n%s", key, e.Elapsed, strings.Join(p.output[key], ""))
			delete(p.output, key)
		} else {
			p.printf("FAIL %s (%.1fs)\n", e.Package, e.Elapsed)
		}
	}
}
