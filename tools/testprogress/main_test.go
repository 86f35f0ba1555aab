package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"a","Test":"TestOK"}`,
		`{"Action":"output","Package":"a","Test":"TestOK","Output":"noise\n"}`,
		`{"Action":"pass","Package":"a","Test":"TestOK","Elapsed":0.1}`,
		`{"Action":"run","Package":"a","Test":"TestBad"}`,
		`{"Action":"output","Package":"a","Test":"TestBad","Output":"    x_test.go:3: boom\n"}`,
		`{"Action":"fail","Package":"a","Test":"TestBad","Elapsed":0.2}`,
		`{"Action":"fail","Package":"a","Elapsed":0.3}`,
		`{"Action":"pass","Package":"b","Elapsed":1}`,
		`# c [c.test]`,
	}, "\n") + "\n"
	var out strings.Builder
	if code := run(strings.NewReader(in), &out, time.Hour); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	got := out.String()
	for _, want := range []string{"--- FAIL a TestBad", "x_test.go:3: boom", "FAIL a", "ok   b (1.0s)", "# c [c.test]"} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "noise") {
		t.Fatalf("a passing test's output was printed:\n%s", got)
	}
}

// A quiet stretch names the tests still running.
func TestProgressWhileQuiet(t *testing.T) {
	r, w := io.Pipe()
	var out syncBuilder
	done := make(chan int)
	go func() { done <- run(r, &out, 40*time.Millisecond) }()
	io.WriteString(w, `{"Action":"run","Package":"e2e","Test":"TestSlow"}`+"\n")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "still running: e2e TestSlow") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	io.WriteString(w, `{"Action":"pass","Package":"e2e","Test":"TestSlow"}`+"\n")
	w.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
