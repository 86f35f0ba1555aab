package main

import (
	"net"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"topic", "list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"topic", "create"}, "expected one topic name"},
		{[]string{"topic", "create", "t", "--config", "novalue"}, `"novalue" is not of the form key=value`},
		{[]string{"topic", "create", "t", "--partitions", "0"}, "--partitions must be positive"},
		{[]string{"topic", "alter", "t"}, "nothing to change"},
		{[]string{"topic", "alter", "t", "--config", "a=1", "--delete-config", "a"}, `"a" is both set and deleted`},
		{[]string{"topic", "delete"}, "at least one topic name"},
		{[]string{"cluster", "elect-leaders", "--partition", "0"}, "--partition needs --topic"},
		{[]string{"cluster", "elect-leaders", "--type", "dirty"}, `--type must be preferred or unclean, not "dirty"`},
		{[]string{"produce", "t", "--acks", "2"}, `unknown acks "2"`},
		{[]string{"produce", "t", "--compression", "brotli"}, `unknown compression "brotli"`},
		{[]string{"produce", "t", "--acks", "1", "--idempotent"}, "--idempotent needs --acks all"},
		{[]string{"produce", "t", "--header", "nokv"}, "bad --header"},
		{[]string{"produce", "t", "-f", `%k%v\n`}, "%k and %v need text between them"},
		{[]string{"produce", "t", "-f", `%o %v\n`}, "unknown verb %o (want %k key, %v value or %p partition)"},
		{[]string{"produce", "t", "-f", `%k\n`}, "has no %v"},
		{[]string{"produce", "t", "-f", `%k:%v\n`, "-K", ":"}, "--format replaces --key-separator and --delimiter"},
		{[]string{"produce", "t", "-f", `%v;`, "-D", ";"}, "--format replaces --key-separator and --delimiter"},
		{[]string{"produce", "t", "-k", "a", "-K", ":"}, "give --key or --key-separator, not both"},
		{[]string{"produce", "t", "-k", "a", "-f", `%k=%v\n`}, "give --key or %k in --format, not both"},
		{[]string{"produce", "t", "-p", "0", "-f", `%p:%v\n`}, "give --partition or %p in --format, not both"},
		{[]string{"produce", "t", "-D", `\q`}, `bad --delimiter: unknown escape \q`},
		{[]string{"produce", "t", "--file", "-", "--file", "-"}, "standard input) given twice"},
		{[]string{"consume", "t", "-f", `%k=%x\n`}, "unknown verb %x"},
		{[]string{"consume", "t", "--from-beginning", "--offset", "3"}, "at most one of"},
		{[]string{"consume", "t", "--from-time", "yesterday"}, "neither RFC 3339"},
		{[]string{"consume", "t", "--format", "xml"}, `unknown format "xml" (want text, json, or a template such as '%k=%v\n')`},
		{[]string{"consume", "t", "--group", "g", "--partition", "0"}, "--group cannot be combined"},
		{[]string{"consume", "t", "--reset", "none"}, `unknown --reset "none" (want earliest or latest)`},
		{[]string{"consume", "--regex", "orders-["}, `--regex "orders-[" is not a regular expression`},
		{[]string{"consume"}, "expected at least one topic name"},
		{[]string{"consume", "t", "--isolation-level", "committed"}, `unknown --isolation-level "committed"`},
		{[]string{"consume", "t", "--until", "tomorrow"}, `--until "tomorrow" is neither RFC 3339`},
		{[]string{"consume", "t", "--from-time", "2000", "--until", "1000"}, "--until 1000 is not after --from-time 2000"},
		{[]string{"bench", "produce", "--record-size", "0"}, "record size must be positive"},
		{[]string{"bench", "e2e", "--record-size", "4"}, "at least 8 bytes"},
		{[]string{"bench", "consume", "--messages", "0"}, "must be positive"},
	} {
		r := samsa("", tc.args...)
		if r.code != 2 {
			t.Errorf("samsa %s: exit %d, want 2 (stderr %q)", strings.Join(tc.args, " "), r.code, r.stderr)
			continue
		}
		if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("samsa %s: stderr %q, want %q and a pointer to --help", strings.Join(tc.args, " "), r.stderr, tc.want)
		}
		assertSentence(t, r.stderr)
	}
}

func TestSubcommandTypos(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topic", "lst"}, `unknown command "lst" for "samsa topic"; did you mean list?`},
		{[]string{"topic", "desc", "orders"}, `unknown command "desc" for "samsa topic"; did you mean describe?`},
		{[]string{"group", "delet", "g"}, `unknown command "delet" for "samsa group"; did you mean delete?`},
		{[]string{"txn", "abrot"}, `unknown command "abrot" for "samsa txn"; did you mean abort?`},
		{[]string{"cluster", "inf"}, `unknown command "inf" for "samsa cluster"; did you mean info?`},
		{[]string{"bench", "produc"}, `unknown command "produc" for "samsa bench"; did you mean produce?`},
		{[]string{"tpoic", "list"}, `unknown command "tpoic" for "samsa"; did you mean topic?`},
		{[]string{"topic", "frobnicate"}, `unknown command "frobnicate" for "samsa topic" (want alter, create, delete, describe or list)`},
		{[]string{"topic", "list", "--format", "xml"}, `unknown format "xml" (want text, wide, json or yaml)`},
		{[]string{"topic", "list", "extra"}, "expected no arguments, got 1 argument"},
	} {
		r := samsa("", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "--help' for usage") {
			t.Errorf("samsa %s: exit %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	// A group command alone still prints its help.
	r := samsa("", "topic")
	if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") {
		t.Errorf("samsa topic: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := samsa("", "topic", "ls", "--help"); r.code != 0 || !strings.Contains(r.stdout, "List topics") {
		t.Errorf("the ls alias: exit %d\n%s", r.code, r.stdout)
	}
}

func TestHelp(t *testing.T) {
	r := samsa("", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "topic") || !strings.Contains(r.stdout, "bench") {
		t.Fatalf("help: exit %d\n%s", r.code, r.stdout)
	}
}

func TestUnreachableBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	want := "samsa: cannot reach the broker at " + addr + ": connection refused\n"
	for _, args := range [][]string{
		{"topic", "list"},
		{"topic", "describe", "t"},
		{"produce", "t"},
		{"consume", "t"},
		{"bench", "produce", "--num-records", "1"},
		{"bench", "consume", "--messages", "1"},
	} {
		r := samsa("x\n", append([]string{"-b", addr}, args...)...)
		if r.code != 1 || r.stderr != want {
			t.Errorf("samsa %s: exit %d, stderr %q; want 1 and %q", strings.Join(args, " "), r.code, r.stderr, want)
		}
	}
}

func TestBootstrapFromEnvironment(t *testing.T) {
	t.Setenv("SAMSA_BOOTSTRAP_SERVER", "127.0.0.1:1")
	r := samsa("", "topic", "list")
	if !strings.Contains(r.stderr, "127.0.0.1:1") {
		t.Fatalf("SAMSA_BOOTSTRAP_SERVER ignored: %q", r.stderr)
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]int64{
		"0":                         0,
		"1700000000123":             1700000000123,
		"2023-11-14T22:13:20Z":      1700000000000,
		"2023-11-14T22:13:20.5Z":    1700000000500,
		"2023-11-15T00:13:20+02:00": 1700000000000,
	} {
		got, err := parseTime("--from-time", in)
		if err != nil || got != want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5", "yesterday", "2023-11-14", "1969-12-31T23:59:59Z"} {
		if _, err := parseTime("--from-time", in); err == nil {
			t.Errorf("parseTime(%q) accepted", in)
		}
	}
}

func TestSplitLine(t *testing.T) {
	for _, tc := range []struct {
		line, sep string
		key       []byte
		value     string
	}{
		{"k:v", ":", []byte("k"), "v"},
		{"k:v:w", ":", []byte("k"), "v:w"},
		{":v", ":", []byte{}, "v"},
		{"novalue", ":", nil, "novalue"},
		{"k:v", "", nil, "k:v"},
		{"k::v", "::", []byte("k"), "v"},
	} {
		k, v := splitLine([]byte(tc.line), []byte(tc.sep))
		if string(k) != string(tc.key) || (k == nil) != (tc.key == nil) || string(v) != tc.value {
			t.Errorf("splitLine(%q, %q) = %q, %q", tc.line, tc.sep, k, v)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "1700000000123", "2023-11-14T22:13:20Z", "", "-1", "9999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := parseTime("--from-time", s)
		if err == nil && ms < 0 {
			t.Fatalf("parseTime(%q) = %d", s, ms)
		}
	})
}
