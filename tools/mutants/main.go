// Command mutants checks that the tests guard the broker's safety rules.
// Each mutant in tools/mutants/mutants.txt breaks one rule with a small
// edit of the real code (skip an fsync, expose data above the high
// watermark, accept a bad CRC); the tool applies each in turn to a copy of
// the module, runs the tests of the packages the mutant names, and counts
// the mutant killed when they fail. It exits 1 unless every mutant is
// killed.
//
//	go run ./tools/mutants                  # all mutants (make mutants)
//	go run ./tools/mutants -list            # what the list holds
//	go run ./tools/mutants -only a,b        # a subset, by id
//
// The copy is made in a temporary directory from the files git knows of
// (committed or not, ignored files left out) under the top-level
// directories that hold Go code, so the module's own tree is never touched
// and editing it while the tool runs is safe. Before the mutants, the same
// tests run once on the unchanged copy: a test that fails without a mutant
// would kill every mutant and prove nothing.
//
// A mutant ends as killed (its tests failed), survived (they passed: a
// missing test), invalid (it does not compile or vet), or stale (its
// snippet no longer occurs exactly once in its file: the code moved and
// the list needs updating). Only an all-killed run exits 0.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(mainErr())
}

func mainErr() int {
	var (
		listFile = flag.String("mutants", "tools/mutants/mutants.txt", "the mutant list, relative to the module root")
		only     = flag.String("only", "", "run only these mutants (comma-separated ids)")
		list     = flag.Bool("list", false, "list the mutants and exit")
		timeout  = flag.Duration("timeout", 5*time.Minute, "go test -timeout for each mutant's tests")
		baseline = flag.Bool("baseline", true, "first run the tests without a mutant; they must pass")
		keep     = flag.Bool("keep", false, "keep the temporary copy of the module")
		verbose  = flag.Bool("v", false, "print the go test output of every mutant")
		markdown = flag.Bool("md", false, "also print the results as a Markdown table")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./tools/mutants [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		return 2
	}

	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		return 2
	}
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(*listFile)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		return 2
	}
	all, err := parseMutants(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mutants: %s: %v\n", *listFile, err)
		return 2
	}
	muts, err := selectMutants(all, *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		return 2
	}
	if *list {
		printList(os.Stdout, muts)
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r := &runner{timeout: *timeout, verbose: *verbose, out: os.Stdout}
	start := time.Now()
	dir, err := copyModule(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants: copy the module:", err)
		return 2
	}
	if *keep {
		fmt.Printf("module copy: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	r.dir = dir
	if *baseline {
		if !r.baseline(ctx, muts) {
			return 1
		}
	}
	results := r.runAll(ctx, muts)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "mutants: interrupted")
		return 1
	}
	ok := report(os.Stdout, results, time.Since(start))
	if *markdown {
		fmt.Println()
		printMarkdown(os.Stdout, results)
	}
	if !ok {
		return 1
	}
	return 0
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// copyModule copies what the tests need into a new temporary directory:
// go.mod, go.sum and every file git lists (tracked, or untracked and not
// ignored) under a top-level directory that holds Go files.
func copyModule(root string) (string, error) {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return "", fmt.Errorf("git ls-files: %w", err)
	}
	var files []string
	goTop := map[string]bool{}
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		files = append(files, name)
		if top, _, nested := strings.Cut(name, "/"); nested && strings.HasSuffix(name, ".go") {
			goTop[top] = true
		}
	}
	dir, err := os.MkdirTemp("", "samsa-mutants-")
	if err != nil {
		return "", err
	}
	for _, name := range files {
		top, _, nested := strings.Cut(name, "/")
		if !(nested && goTop[top]) && name != "go.mod" && name != "go.sum" {
			continue
		}
		if err := copyFile(filepath.Join(root, filepath.FromSlash(name)), filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the work tree, not yet in the index
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, fi.Mode().Perm())
}

// Outcomes of a mutant.
const (
	killed   = "killed"
	survived = "survived"
	invalid  = "invalid"
	stale    = "stale"
)

type result struct {
	m       mutant
	outcome string
	killers []string // the failed tests, for a killed mutant
	detail  string   // why, for an invalid or stale mutant
	elapsed time.Duration
}

type runner struct {
	dir     string // the module copy
	timeout time.Duration
	verbose bool
	out     io.Writer
}

// goTest runs go test in the copy and returns its combined output and
// whether it passed. -trimpath keeps the build cache's keys free of the
// copy's directory, so a later run finds the unchanged packages compiled.
func (r *runner) goTest(ctx context.Context, pkgs []string, run string) (string, bool, error) {
	args := []string{"test", "-count=1", "-trimpath", "-timeout", r.timeout.String()}
	if run != "" {
		args = append(args, "-run", run)
	}
	args = append(args, pkgs...)
	// go test's own -timeout stops a hung test binary; this one covers
	// the build on top of it.
	ctx, cancel := context.WithTimeout(ctx, r.timeout+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.dir
	setProcessGroup(cmd)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ctx.Err() != nil {
		return buf.String(), false, ctx.Err()
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return buf.String(), false, err
	}
	return buf.String(), err == nil, nil
}

// baseline runs each distinct set of tests once without a mutant.
func (r *runner) baseline(ctx context.Context, muts []mutant) bool {
	seen := map[string]bool{}
	ok := true
	for _, m := range muts {
		key := strings.Join(m.Pkgs, " ") + " -run " + m.Run
		if seen[key] {
			continue
		}
		seen[key] = true
		t0 := time.Now()
		out, passed, err := r.goTest(ctx, m.Pkgs, m.Run)
		if ctx.Err() != nil {
			return false
		}
		desc := strings.Join(m.Pkgs, " ")
		if m.Run != "" {
			desc += " -run " + m.Run
		}
		if err == nil && passed {
			fmt.Fprintf(r.out, "baseline  %-60s ok (%.1fs)\n", desc, time.Since(t0).Seconds())
			continue
		}
		ok = false
		fmt.Fprintf(r.out, "baseline  %-60s FAILS without a mutant\n%s\n", desc, out)
	}
	if !ok {
		fmt.Fprintln(r.out, "mutants: the tests fail without a mutant; fix them first")
	}
	return ok
}

func (r *runner) runAll(ctx context.Context, muts []mutant) []result {
	var results []result
	for i, m := range muts {
		res := r.runOne(ctx, m)
		if ctx.Err() != nil {
			break
		}
		results = append(results, res)
		line := fmt.Sprintf("[%d/%d] %-32s %-8s %5.1fs", i+1, len(muts), m.ID, res.outcome, res.elapsed.Seconds())
		switch {
		case len(res.killers) > 0:
			line += "  " + strings.Join(res.killers, ", ")
		case res.detail != "":
			line += "  " + firstLine(res.detail)
		}
		fmt.Fprintln(r.out, line)
	}
	return results
}

// runOne applies m to the copy, runs its tests and restores the file.
func (r *runner) runOne(ctx context.Context, m mutant) result {
	t0 := time.Now()
	res := result{m: m}
	res.outcome, res.killers, res.detail = r.try(ctx, m)
	res.elapsed = time.Since(t0)
	return res
}

func (r *runner) try(ctx context.Context, m mutant) (outcome string, killers []string, detail string) {
	path := filepath.Join(r.dir, filepath.FromSlash(m.File))
	fi, err := os.Stat(path)
	if err != nil {
		return stale, nil, err.Error()
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		return invalid, nil, err.Error()
	}
	mutated, err := m.apply(string(orig))
	if err != nil {
		return stale, nil, err.Error()
	}
	if err := os.WriteFile(path, []byte(mutated), fi.Mode().Perm()); err != nil {
		return invalid, nil, err.Error()
	}
	defer func() {
		if err := os.WriteFile(path, orig, fi.Mode().Perm()); err != nil {
			// Every later mutant would run on a broken copy.
			panic(fmt.Sprintf("restore %s after mutant %s: %v", m.File, m.ID, err))
		}
	}()
	out, passed, err := r.goTest(ctx, m.Pkgs, m.Run)
	if r.verbose {
		fmt.Fprintf(r.out, "--- %s: go test output\n%s", m.ID, out)
	}
	return classify(out, passed, err)
}

var (
	failedTest = regexp.MustCompile(`(?m)^--- FAIL: (\S+)`)
	failedPkg  = regexp.MustCompile(`(?m)^FAIL\t(\S+)`)
)

// classify reads a mutant's go test run: build or vet failures make it
// invalid; failed tests, a test timeout or a crash kill it.
func classify(out string, passed bool, err error) (outcome string, killers []string, detail string) {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return killed, []string{"timeout (the build and tests outran -timeout)"}, ""
	case err != nil:
		return invalid, nil, "go test: " + err.Error()
	case strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]"):
		return invalid, nil, buildErrors(out)
	case passed:
		return survived, nil, ""
	}
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			killers = append(killers, k)
		}
	}
	for _, m := range failedTest.FindAllStringSubmatch(out, -1) {
		add(m[1])
	}
	if strings.Contains(out, "panic: test timed out") {
		add("timeout")
	} else if len(killers) == 0 && (strings.HasPrefix(out, "panic: ") || strings.Contains(out, "\npanic: ")) {
		// A panic inside a test fails that test; this one crashed the
		// binary from another goroutine.
		add("panic")
	}
	if len(killers) == 0 {
		// A package failed outside any test: TestMain's leak check, say.
		for _, m := range failedPkg.FindAllStringSubmatch(out, -1) {
			add("package " + m[1])
		}
	}
	if len(killers) == 0 {
		return invalid, nil, "go test failed without a failed test or package:\n" + out
	}
	return killed, killers, ""
}

// buildErrors keeps the compiler's and vet's lines of a failed build.
func buildErrors(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if l == "" || l == "FAIL" || strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "ok\t") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

func printList(w io.Writer, muts []mutant) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tFILE\tTESTS\tRULE")
	for _, m := range muts {
		tests := strings.Join(m.Pkgs, " ")
		if m.Run != "" {
			tests += " -run " + m.Run
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.File, tests, m.Rule)
	}
	tw.Flush()
}

// report prints the table and the summary; it says whether every mutant
// was killed.
func report(w io.Writer, results []result, took time.Duration) bool {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "MUTANT\tRESULT\tTIME\tKILLED BY / WHY")
	count := map[string]int{}
	for _, r := range results {
		count[r.outcome]++
		why := strings.Join(r.killers, ", ")
		if r.outcome != killed {
			why = firstLine(r.detail)
		}
		if r.outcome == survived {
			why = "no test failed: " + r.m.Rule
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\n", r.m.ID, r.outcome, r.elapsed.Seconds(), why)
	}
	tw.Flush()
	for _, r := range results {
		if r.outcome == invalid || r.outcome == stale {
			fmt.Fprintf(w, "\n%s is %s (%s, list line %d):\n%s\n", r.m.ID, r.outcome, r.m.File, r.m.Line, indent(r.detail))
		}
	}
	fmt.Fprintf(w, "\n%d of %d mutants killed", count[killed], len(results))
	var rest []string
	for _, o := range []string{survived, invalid, stale} {
		if count[o] > 0 {
			rest = append(rest, fmt.Sprintf("%d %s", count[o], o))
		}
	}
	if len(rest) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(rest, ", "))
	}
	fmt.Fprintf(w, " in %s\n", took.Round(time.Second))
	return count[killed] == len(results)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n")
}

// printMarkdown prints the results as the table of docs/testing.md.
func printMarkdown(w io.Writer, results []result) {
	fmt.Fprintln(w, "| Mutant | File | Rule it breaks | Killed by |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range results {
		by := "**" + r.outcome + "**"
		if r.outcome == killed {
			names := append([]string(nil), r.killers...)
			sort.Strings(names)
			for i, n := range names {
				names[i] = "`" + n + "`"
			}
			by = strings.Join(names, ", ")
		}
		fmt.Fprintf(w, "| `%s` | `%s` | %s | %s |\n", r.m.ID, r.m.File, escapePipes(r.m.Rule), by)
	}
}

func escapePipes(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
