package cli

import (
	"strings"
	"testing"
)

func TestParseKV(t *testing.T) {
	for _, tc := range []struct {
		in, k, v string
		bad      bool
	}{
		{in: "a=b", k: "a", v: "b"},
		{in: "retention.ms=1000", k: "retention.ms", v: "1000"},
		{in: "k=", k: "k", v: ""},
		{in: "k=v=w", k: "k", v: "v=w"},
		{in: " k =v", k: "k", v: "v"},
		{in: "noequals", bad: true},
		{in: "=v", bad: true},
		{in: "", bad: true},
	} {
		k, v, err := ParseKV(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseKV(%q) = %q, %q; want an error", tc.in, k, v)
			}
			continue
		}
		if err != nil || k != tc.k || v != tc.v {
			t.Errorf("ParseKV(%q) = %q, %q, %v; want %q, %q", tc.in, k, v, err, tc.k, tc.v)
		}
	}
}

func TestParseConfigs(t *testing.T) {
	m, err := ParseConfigs([]string{"retention.ms=1000", "cleanup.policy=compact"})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || *m["retention.ms"] != "1000" || *m["cleanup.policy"] != "compact" {
		t.Fatalf("got %v", m)
	}
	if m, err := ParseConfigs(nil); m != nil || err != nil {
		t.Fatalf("no flags: got %v, %v", m, err)
	}
	if _, err := ParseConfigs([]string{"a=1", "a=2"}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate key: got %v", err)
	}
	if _, err := ParseConfigs([]string{"a"}); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Fatalf("bad pair: got %v", err)
	}
}

func TestParseBootstrap(t *testing.T) {
	got := ParseBootstrap(" a:1, ,b:2,")
	if len(got) != 2 || got[0] != "a:1" || got[1] != "b:2" {
		t.Fatalf("got %q", got)
	}
	if err := (Options{}).Validate(); err == nil {
		t.Fatal("no servers: want an error")
	}
	if err := (Options{BootstrapServers: []string{"a:1"}, Timeout: -1}).Validate(); err == nil {
		t.Fatal("negative timeout: want an error")
	}
	if d := (Options{}).EffectiveTimeout(); d.Seconds() != 10 {
		t.Fatalf("default timeout %v", d)
	}
}

func FuzzParseKV(f *testing.F) {
	for _, s := range []string{"a=b", "=", "k=v=w", "", "x", " = ", "\x00=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := ParseKV(s)
		if err != nil {
			return
		}
		if k == "" || strings.Contains(k, "=") {
			t.Fatalf("ParseKV(%q): bad key %q", s, k)
		}
		if !strings.HasSuffix(s, v) {
			t.Fatalf("ParseKV(%q): value %q is not the tail", s, v)
		}
	})
}
