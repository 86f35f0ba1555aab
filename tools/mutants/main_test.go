package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = `# a comment

id: first
file: a/a.go
pkgs: ./a/ ./b/
run: TestA
rule: the first rule
find:
	if x {
		return
	}
replace:
end

id: second
file: b/b.go
pkgs: ./b/
rule: the second rule
find:
	return a == b
replace:
	return a <= b
end
`

func TestParseMutants(t *testing.T) {
	muts, err := parseMutants(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []mutant{
		{ID: "first", File: "a/a.go", Pkgs: []string{"./a/", "./b/"}, Run: "TestA", Rule: "the first rule",
			Find: "\tif x {\n\t\treturn\n\t}", Replace: "", Line: 3},
		{ID: "second", File: "b/b.go", Pkgs: []string{"./b/"}, Rule: "the second rule",
			Find: "\treturn a == b", Replace: "\treturn a <= b", Line: 15},
	}
	if !reflect.DeepEqual(muts, want) {
		t.Fatalf("parsed\n%#v\nwant\n%#v", muts, want)
	}
}

func TestParseMutantsErrors(t *testing.T) {
	for _, tc := range []struct{ name, list, want string }{
		{"no find", "id: a\nfile: f\npkgs: ./x/\nrule: r\n", "no find:"},
		{"no end", "id: a\nfile: f\npkgs: ./x/\nrule: r\nfind:\nx\nreplace:\ny\n", "no end"},
		{"no replace", "id: a\nfile: f\npkgs: ./x/\nrule: r\nfind:\nx\n", "no replace:"},
		{"missing pkgs", "id: a\nfile: f\nrule: r\nfind:\nx\nreplace:\ny\nend\n", "required"},
		{"empty find", "id: a\nfile: f\npkgs: ./x/\nrule: r\nfind:\nreplace:\ny\nend\n", "empty find"},
		{"no change", "id: a\nfile: f\npkgs: ./x/\nrule: r\nfind:\nx\nreplace:\nx\nend\n", "same as find"},
		{"duplicate id", "id: a\nfile: f\npkgs: ./x/\nrule: r\nfind:\nx\nreplace:\ny\nend\nid: a\n", "already used"},
		{"bad id", "id: A b\n", "lower-case"},
		{"unknown key", "id: a\nfiles: f\n", "unknown key"},
		{"key before id", "file: f\n", "before the first id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseMutants(strings.NewReader(tc.list))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// The list in the repository parses, and every snippet occurs exactly
// once in the current code: a stale mutant fails here before anyone runs
// make mutants.
func TestCheckedInListIsCurrent(t *testing.T) {
	f, err := os.Open("mutants.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	muts, err := parseMutants(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(muts) == 0 {
		t.Fatal("no mutants")
	}
	for _, m := range muts {
		src, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("%s: %v", m.ID, err)
			continue
		}
		if _, err := m.apply(string(src)); err != nil {
			t.Errorf("%s is stale: %v", m.ID, err)
		}
	}
}

func TestApplyStale(t *testing.T) {
	m := mutant{File: "f.go", Find: "a == b", Replace: "a != b"}
	if got, err := m.apply("if a == b {"); err != nil || got != "if a != b {" {
		t.Fatalf("apply: %q, %v", got, err)
	}
	if _, err := m.apply("if a != b {"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing snippet: %v", err)
	}
	if _, err := m.apply("a == b; a == b"); err == nil || !strings.Contains(err.Error(), "2 times") {
		t.Fatalf("repeated snippet: %v", err)
	}
}

func TestSelectMutants(t *testing.T) {
	all := []mutant{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	got, err := selectMutants(all, "c, a")
	if err != nil || len(got) != 2 || got[0].ID != "a" || got[1].ID != "c" {
		t.Fatalf("select: %v, %v", got, err)
	}
	if _, err := selectMutants(all, "a,zz,yy"); err == nil || !strings.Contains(err.Error(), "yy, zz") {
		t.Fatalf("unknown ids: %v", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name    string
		out     string
		passed  bool
		err     error
		outcome string
		killers []string
	}{
		{"passed", "ok  \tx/a\t0.1s\n", true, nil, survived, nil},
		{"tests failed", "--- FAIL: TestA (0.00s)\n    --- FAIL: TestA/sub (0.00s)\n--- FAIL: TestB (0.00s)\nFAIL\nFAIL\tx/a\t0.1s\nFAIL\n", false, nil, killed, []string{"TestA", "TestB"}},
		{"build failed", "# x/a\na/a.go:3:1: undefined: y\nFAIL\tx/a [build failed]\nFAIL\n", false, nil, invalid, nil},
		{"vet failed", "# x/a\n# [x/a]\na/a.go:3:39: fmt.Sprintf format %d has arg \"x\" of wrong type string\nFAIL\tx/a [build failed]\n", false, nil, invalid, nil},
		{"timeout", "panic: test timed out after 1s\n\trunning tests:\n\t\tTestA (1s)\nFAIL\tx/a\t1.0s\n", false, nil, killed, []string{"timeout"}},
		{"crash", "panic: boom\n\ngoroutine 7 [running]:\nFAIL\tx/a\t0.1s\n", false, nil, killed, []string{"panic"}},
		{"panic in a test", "--- FAIL: TestA (0.00s)\npanic: runtime error [recovered]\nFAIL\tx/a\t0.1s\n", false, nil, killed, []string{"TestA"}},
		{"leak", "goleak: Errors on successful test run: found unexpected goroutines\nFAIL\tx/a\t0.1s\nFAIL\n", false, nil, killed, []string{"package x/a"}},
		{"deadline", "", false, context.DeadlineExceeded, killed, []string{"timeout (the build and tests outran -timeout)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outcome, killers, detail := classify(tc.out, tc.passed, tc.err)
			if outcome != tc.outcome || !reflect.DeepEqual(killers, tc.killers) {
				t.Fatalf("classify: %s %q (%s), want %s %q", outcome, killers, detail, tc.outcome, tc.killers)
			}
			if outcome == invalid && !strings.Contains(detail, "a/a.go:3:") {
				t.Fatalf("invalid without the compiler's message: %q", detail)
			}
		})
	}
}

// TestRunOnAModule runs mutants through go test on a small module: one
// its test kills, one it misses, one that does not compile and one whose
// snippet is gone. The module's own files stay as they were.
func TestRunOnAModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	root := t.TempDir()
	files := map[string]string{
		"go.mod":        "module example.com/m\n\ngo 1.22\n",
		"a/a.go":        "package a\n\nfunc Max(x, y int) int {\n\tif x > y {\n\t\treturn x\n\t}\n\treturn y\n}\n\nfunc Untested() int { return 1 }\n",
		"a/a_test.go":   "package a\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tif Max(1, 2) != 2 || Max(2, 1) != 2 {\n\t\tt.Fatal(\"wrong max\")\n\t}\n}\n",
		"docs/notes.md": "not copied\n",
	}
	for name, data := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("git", "-C", root, "init", "-q").CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	mk := func(id, find, replace string) mutant {
		return mutant{ID: id, File: "a/a.go", Pkgs: []string{"./a/"}, Rule: id, Find: find, Replace: replace}
	}
	muts := []mutant{
		mk("flip", "if x > y {", "if x < y {"),
		mk("untested", "return 1 }", "return 2 }"),
		mk("broken", "return y\n}", "return z\n}"),
		mk("gone", "if x >= y {", "if x < y {"),
	}
	dir, err := copyModule(root)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := os.Stat(filepath.Join(dir, "docs", "notes.md")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a directory without Go files was copied: %v", err)
	}
	var out strings.Builder
	r := &runner{dir: dir, timeout: time.Minute, out: &out}
	if !r.baseline(context.Background(), muts[:1]) {
		t.Fatalf("baseline failed:\n%s", out.String())
	}
	results := r.runAll(context.Background(), muts)
	want := map[string]string{"flip": killed, "untested": survived, "broken": invalid, "gone": stale}
	for _, res := range results {
		if res.outcome != want[res.m.ID] {
			t.Errorf("%s: %s (%q %s), want %s", res.m.ID, res.outcome, res.killers, res.detail, want[res.m.ID])
		}
	}
	if res := results[0]; len(res.killers) != 1 || res.killers[0] != "TestMax" {
		t.Errorf("flip killed by %q, want TestMax", res.killers)
	}
	if !strings.Contains(results[2].detail, "undefined: z") {
		t.Errorf("broken mutant's detail %q lacks the compiler's message", results[2].detail)
	}
	for _, d := range []string{root, dir} {
		got, err := os.ReadFile(filepath.Join(d, "a", "a.go"))
		if err != nil || string(got) != files["a/a.go"] {
			t.Fatalf("a/a.go in %s changed: %q, %v", d, got, err)
		}
	}
	var rep strings.Builder
	if report(&rep, results, time.Second) {
		t.Error("report says all were killed")
	}
	if !strings.Contains(rep.String(), "1 of 4 mutants killed (1 survived, 1 invalid, 1 stale)") {
		t.Errorf("summary:\n%s", rep.String())
	}
	var md strings.Builder
	printMarkdown(&md, results)
	for _, want := range []string{"| `flip` | `a/a.go` | flip | `TestMax` |", "| `untested` | `a/a.go` | untested | **survived** |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}
