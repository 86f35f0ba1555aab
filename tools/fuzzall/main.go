// Command fuzzall runs every fuzz target of the module, one after another,
// with Go's native fuzzing:
//
//	go test -run '^$' -fuzz '^FuzzX$' -fuzztime T ./pkg
//
// Targets are found by parsing the test files of every package `go list
// ./...` reports (a top-level func FuzzX(f *testing.F)), so a new target is
// fuzzed without editing anything. It prints a line per target with the
// executions and the new interesting inputs, and exits 1 if any target
// failed (a failing input is then in the package's testdata/fuzz/FuzzX/,
// written there by go test).
//
// Go keeps the interesting inputs it finds in the build cache
// ($GOCACHE/fuzz/<import path>/FuzzX/), where later local runs start from
// them but nobody else sees them. With -keep, the entries a run added to
// the cache are copied into the package's testdata/fuzz/FuzzX/, where they
// become seed corpus: go test runs them as regression inputs on every
// test run, and committing them shares them.
//
//	go run ./tools/fuzzall -fuzztime 10s [-run regexp] [-keep] [-list]
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// target is one fuzz target.
type target struct {
	ImportPath string // package import path
	Rel        string // import path relative to the module's ("internal/log")
	Dir        string // package directory
	Name       string // FuzzX
}

func (t target) String() string { return t.Rel + "." + t.Name }

// result is what fuzzing one target did.
type result struct {
	target
	err         error
	elapsed     time.Duration
	execs       int64 // -1 if go test did not say
	interesting int   // new interesting inputs, as go test counted them
	added       int   // entries the run added to the cache corpus
	kept        int   // of those, copied into testdata
	output      []byte
}

func main() {
	fuzztime := flag.String("fuzztime", "10s", "time (or Nx iterations) to fuzz each target, as go test -fuzztime")
	run := flag.String("run", "", "fuzz only the targets whose name, as -list prints it (internal/log.FuzzOffsetIndex), matches this regexp")
	keep := flag.Bool("keep", false, "copy the new interesting inputs into the package's testdata/fuzz/FuzzX/ as seed corpus")
	list := flag.Bool("list", false, "list the targets and exit")
	verbose := flag.Bool("v", false, "stream go test's output")
	flag.Parse()

	targets, err := discover(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzall:", err)
		os.Exit(2)
	}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fuzzall: -run:", err)
			os.Exit(2)
		}
		targets = filter(targets, re)
	}
	if *list {
		for _, t := range targets {
			fmt.Println(t)
		}
		return
	}
	if len(targets) == 0 {
		fmt.Fprintln(os.Stderr, "fuzzall: no fuzz targets")
		os.Exit(2)
	}
	cacheDir, err := fuzzCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fuzzall:", err)
		os.Exit(2)
	}
	fmt.Printf("fuzzing %d targets for %s each\n", len(targets), *fuzztime)
	var results []result
	start := time.Now()
	for i, t := range targets {
		fmt.Printf("[%d/%d] %s\n", i+1, len(targets), t)
		r := fuzz(t, *fuzztime, cacheDir, *keep, *verbose)
		results = append(results, r)
		fmt.Println(summaryLine(r, *keep))
		if r.err != nil && !*verbose {
			os.Stdout.Write(tail(r.output, 80))
		}
	}
	os.Exit(report(os.Stdout, results, *keep, time.Since(start)))
}

// discover finds the fuzz targets of the packages under dir.
func discover(dir string) ([]target, error) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}\t{{.Module.Path}}\t{{.Dir}}\t{{join .TestGoFiles \",\"}}\t{{join .XTestGoFiles \",\"}}", "./...")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var targets []target
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(f[0], f[1]), "/")
		if rel == "" {
			rel = "."
		}
		var files []string
		for _, s := range f[3:] {
			if s != "" {
				files = append(files, strings.Split(s, ",")...)
			}
		}
		for _, file := range files {
			names, err := fuzzFuncs(filepath.Join(f[2], file))
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				targets = append(targets, target{ImportPath: f[0], Rel: rel, Dir: f[2], Name: n})
			}
		}
	}
	sort.Slice(targets, func(i, j int) bool {
		if targets[i].Rel != targets[j].Rel {
			return targets[i].Rel < targets[j].Rel
		}
		return targets[i].Name < targets[j].Name
	})
	return targets, nil
}

// fuzzFuncs returns the fuzz targets a test file declares: top-level
// functions named Fuzz followed by anything but a lower-case letter, with
// one *testing.F parameter, as go test finds them.
func fuzzFuncs(path string) ([]string, error) {
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	testing := "testing"
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "testing" && imp.Name != nil {
			testing = imp.Name.Name
		}
	}
	var names []string
	for _, d := range file.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !isFuzzName(fn.Name.Name) {
			continue
		}
		params := fn.Type.Params.List
		if len(params) != 1 || len(params[0].Names) > 1 {
			continue
		}
		star, ok := params[0].Type.(*ast.StarExpr)
		if !ok {
			continue
		}
		sel, ok := star.X.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "F" {
			continue
		}
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == testing {
			names = append(names, fn.Name.Name)
		}
	}
	return names, nil
}

func isFuzzName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Fuzz")
	return ok && (rest == "" || !('a' <= rest[0] && rest[0] <= 'z'))
}

func filter(targets []target, re *regexp.Regexp) []target {
	var out []target
	for _, t := range targets {
		if re.MatchString(t.String()) {
			out = append(out, t)
		}
	}
	return out
}

// fuzzCacheDir is where go test keeps fuzzing corpora: $GOCACHE/fuzz.
func fuzzCacheDir() (string, error) {
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOCACHE: %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" || dir == "off" {
		return "", errors.New("the build cache is off (GOCACHE), and go test -fuzz needs it")
	}
	return filepath.Join(dir, "fuzz"), nil
}

// fuzz runs go test -fuzz on one target and, with keep, copies the cache
// entries the run added into the package's testdata.
func fuzz(t target, fuzztime, cacheDir string, keep, verbose bool) result {
	r := result{target: t, execs: -1}
	corpus := filepath.Join(cacheDir, filepath.FromSlash(t.ImportPath), t.Name)
	before, err := entries(corpus)
	if err != nil {
		r.err = err
		return r
	}
	// go test's default -timeout (10m) would cut a long -fuzztime short.
	timeout := 10 * time.Minute
	if d, err := time.ParseDuration(fuzztime); err == nil {
		timeout += d
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+t.Name+"$", "-fuzztime", fuzztime, "-timeout", timeout.String(), ".")
	cmd.Dir = t.Dir
	var out bytes.Buffer
	var w io.Writer = &out
	if verbose {
		w = io.MultiWriter(&out, os.Stdout)
	}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	r.err = cmd.Run()
	r.elapsed = time.Since(start)
	r.output = out.Bytes()
	r.execs, r.interesting = progress(r.output)
	after, err := entries(corpus)
	if err != nil && r.err == nil {
		r.err = err
	}
	var added []string
	for name := range after {
		if !before[name] {
			added = append(added, name)
		}
	}
	sort.Strings(added)
	r.added = len(added)
	if keep {
		n, err := copyEntries(corpus, filepath.Join(t.Dir, "testdata", "fuzz", t.Name), added)
		r.kept = n
		if err != nil && r.err == nil {
			r.err = err
		}
	}
	return r
}

// entries lists a corpus directory; a missing one is empty.
func entries(dir string) (map[string]bool, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(des))
	for _, de := range des {
		if de.Type().IsRegular() {
			m[de.Name()] = true
		}
	}
	return m, nil
}

// copyEntries copies the named corpus files from src to dst, skipping
// those dst already has (names are content hashes), and returns how many
// it copied.
func copyEntries(src, dst string, names []string) (int, error) {
	n := 0
	for _, name := range names {
		to := filepath.Join(dst, name)
		if _, err := os.Stat(to); err == nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return n, err
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// progressLine matches go test's fuzzing status lines:
//
//	fuzz: elapsed: 3s, execs: 10463 (3486/sec), new interesting: 12 (total: 37)
var progressLine = regexp.MustCompile(`^fuzz: elapsed: \S+, execs: (\d+) \([^)]*\), new interesting: (\d+) \(total: \d+\)`)

// progress returns the executions and new interesting inputs of go test's
// last fuzzing status line, -1 and 0 if there is none.
func progress(output []byte) (execs int64, interesting int) {
	execs = -1
	sc := bufio.NewScanner(bytes.NewReader(output))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := progressLine.FindSubmatch(sc.Bytes())
		if m == nil {
			continue
		}
		execs, _ = strconv.ParseInt(string(m[1]), 10, 64)
		interesting, _ = strconv.Atoi(string(m[2]))
	}
	return execs, interesting
}

func summaryLine(r result, keep bool) string {
	status := "ok  "
	if r.err != nil {
		status = "FAIL"
	}
	execs := "?"
	if r.execs >= 0 {
		execs = strconv.FormatInt(r.execs, 10)
	}
	line := fmt.Sprintf("%s %s %s: %s execs, %d new interesting, %d new corpus entries", status, r.target, r.elapsed.Round(time.Second), execs, r.interesting, r.added)
	if keep {
		line += fmt.Sprintf(" (%d copied to testdata)", r.kept)
	}
	if r.err != nil {
		line += fmt.Sprintf(" [%v]", r.err)
	}
	return line
}

// report prints the summary and returns the exit code.
func report(w io.Writer, results []result, keep bool, elapsed time.Duration) int {
	var failed []string
	interesting, added, kept := 0, 0, 0
	for _, r := range results {
		interesting += r.interesting
		added += r.added
		kept += r.kept
		if r.err != nil {
			failed = append(failed, r.target.String())
		}
	}
	fmt.Fprintf(w, "\n%d targets in %s: %d new interesting inputs, %d new corpus entries", len(results), elapsed.Round(time.Second), interesting, added)
	if keep {
		fmt.Fprintf(w, ", %d copied to testdata/fuzz", kept)
	} else if added > 0 {
		fmt.Fprint(w, " (in the build cache only; -keep, or make fuzz FUZZKEEP=1, copies them to testdata/fuzz)")
	}
	fmt.Fprintln(w)
	if len(failed) > 0 {
		fmt.Fprintf(w, "FAIL: %s\n(failing inputs are in the packages' testdata/fuzz/; go test -run 'FuzzX/<name>' replays one)\n", strings.Join(failed, ", "))
		return 1
	}
	fmt.Fprintln(w, "ok")
	return 0
}

// tail returns the last n lines of b.
func tail(b []byte, n int) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, nil)
}
