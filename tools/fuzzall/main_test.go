package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFuzzFuncs(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want []string
	}{
		{`package p

import "testing"

func FuzzA(f *testing.F)          {}
func Fuzz_C(f *testing.F)         {}
func Fuzz(f *testing.F)           {}
func Fuzzy(f *testing.F)          {} // lower case after Fuzz: not a target
func FuzzT(t *testing.T)          {}
func FuzzTwo(f *testing.F, x int) {}
func FuzzOther(f *other.F)        {}
func (x) FuzzMethod(f *testing.F) {}
func helper(f *testing.F)         {}
`, []string{"FuzzA", "Fuzz_C", "Fuzz"}},
		{`package p_test

import tt "testing"

func FuzzB(f *tt.F)       {}
func FuzzD(f *testing.F) {}
`, []string{"FuzzB"}},
	} {
		path := filepath.Join(t.TempDir(), "x_test.go")
		if err := os.WriteFile(path, []byte(tc.src), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := fuzzFuncs(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("targets %v, want %v in\n%s", got, tc.want, tc.src)
		}
	}
}

func TestDiscoverFindsThisModulesTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	targets, err := discover("../..")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, tg := range targets {
		found[tg.String()] = true
		if tg.ImportPath != "github.com/samsa-streaming/samsa/"+tg.Rel || tg.Dir == "" {
			t.Errorf("target %+v", tg)
		}
	}
	for _, want := range []string{
		"internal/record.FuzzValidate",
		"internal/broker.FuzzRequest",
	} {
		if !found[want] {
			t.Errorf("%s not found among %d targets", want, len(targets))
		}
	}
	if got := filter(targets, regexp.MustCompile(`record\.FuzzValidate$`)); len(got) != 1 {
		t.Errorf("filter: %v", got)
	}
}

func TestProgress(t *testing.T) {
	out := []byte(`fuzz: elapsed: 0s, gathering baseline coverage: 0/41 completed
fuzz: elapsed: 0s, gathering baseline coverage: 41/41 completed, now fuzzing with 2 workers
fuzz: elapsed: 3s, execs: 10463 (3486/sec), new interesting: 2 (total: 43)
fuzz: elapsed: 5s, execs: 17170 (3355/sec), new interesting: 5 (total: 46)
PASS
`)
	if execs, n := progress(out); execs != 17170 || n != 5 {
		t.Fatalf("progress = %d, %d", execs, n)
	}
	if execs, n := progress([]byte("FAIL\n")); execs != -1 || n != 0 {
		t.Fatalf("no status line: %d, %d", execs, n)
	}
}

func TestCopyEntries(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "testdata", "fuzz", "FuzzX")
	for _, n := range []string{"a", "b"} {
		os.WriteFile(filepath.Join(src, n), []byte("go test fuzz v1\n[]byte(\""+n+"\")\n"), 0o644)
	}
	if n, err := copyEntries(src, dst, []string{"a", "b"}); n != 2 || err != nil {
		t.Fatalf("copied %d: %v", n, err)
	}
	if n, err := copyEntries(src, dst, []string{"a", "b"}); n != 0 || err != nil {
		t.Fatalf("copied %d again: %v", n, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "b")); !bytes.Contains(b, []byte(`"b"`)) {
		t.Fatalf("copy holds %q", b)
	}
}

func TestReport(t *testing.T) {
	var buf bytes.Buffer
	rs := []result{
		{target: target{Rel: "p", Name: "FuzzA"}, interesting: 3, added: 3},
		{target: target{Rel: "q", Name: "FuzzB"}, err: os.ErrInvalid},
	}
	if code := report(&buf, rs, false, time.Second); code != 1 || !strings.Contains(buf.String(), "FAIL: q.FuzzB") || !strings.Contains(buf.String(), "3 new corpus entries") {
		t.Fatalf("exit %d:\n%s", code, buf.String())
	}
	buf.Reset()
	if code := report(&buf, rs[:1], true, time.Second); code != 0 || !strings.HasSuffix(buf.String(), "ok\n") {
		t.Fatalf("exit %d:\n%s", code, buf.String())
	}
}
