package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Templates, delimiters, fixed keys, headers and files on produce, and
// templates on consume, through a real broker.

func TestProduceConsumeTemplates(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")

	r := ok(t, addr, "k1=v1\nk2=v=2\n=v3", "produce", name, "-f", `%k=%v\n`, "-H", "a=1", "-H", "b=2")
	if !strings.Contains(r.stderr, `3 records sent to "`+name+`", 0 failed`) {
		t.Fatalf("produce: %q", r.stderr)
	}
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e", "-f", `%k=%v|%h\n`)
	if r.stdout != "k1=v1|a=1,b=2\nk2=v=2|a=1,b=2\n=v3|a=1,b=2\n" {
		t.Fatalf("consume %%k=%%v|%%h: %q", r.stdout)
	}
	// An empty key (=v3) is not a null one: its length is 0, not -1.
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e", "-f", `%t\t%p\t%o\t%K\t%S\n`)
	want := name + "\t0\t0\t2\t2\n" + name + "\t0\t1\t2\t3\n" + name + "\t0\t2\t0\t2\n"
	if r.stdout != want || !strings.Contains(r.stderr, "Consumed 3 records.") {
		t.Fatalf("consume %%t %%p %%o %%K %%S: %q / %q", r.stdout, r.stderr)
	}

	// A fixed key and NUL-delimited records; one record, one noun.
	r = ok(t, addr, "x\x00", "produce", name, "-k", "fixed", "-D", `\0`)
	if !strings.Contains(r.stderr, `1 record sent to "`+name+`", 0 failed`) {
		t.Fatalf("produce -k -D: %q", r.stderr)
	}
	r = ok(t, addr, "", "consume", name, "--offset", "3", "-e", "-f", `[%k][%v]\0`)
	if r.stdout != "[fixed][x]\x00" || !strings.Contains(r.stderr, "Consumed 1 record.") {
		t.Fatalf("consume after -k: %q / %q", r.stdout, r.stderr)
	}

	// Records that do not fit the template: the ones before are sent, the
	// first that does not fit is named, and the exit code is 1.
	r = samsa("a=1\nno separator\nb=2\n", "-b", addr, "produce", name, "-f", `%k=%v\n`)
	if r.code != 1 || !strings.Contains(r.stderr, "1 record sent") ||
		!strings.Contains(r.stderr, `samsa: standard input: record 2: no "=" before the end of the record ("\n")`) {
		t.Fatalf("a record that does not fit: exit %d, %q", r.code, r.stderr)
	}
	assertSentence(t, r.stderr)
}

func TestProduceFiles(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	ok(t, addr, "", "topic", "create", name, "--partitions", "2")
	dir := t.TempDir()
	first, second, whole := filepath.Join(dir, "first.txt"), filepath.Join(dir, "second.txt"), filepath.Join(dir, "whole.txt")
	for f, content := range map[string]string{first: "0|a;1|b;", second: "1|c", whole: "line 1\nline 2\n"} {
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The partition from the input, the files one after the other (the
	// last record of a file may lack its delimiter).
	r := ok(t, addr, "", "produce", name, "-f", `%p|%v;`, "--file", first, "--file", second)
	if !strings.Contains(r.stderr, "3 records sent") {
		t.Fatalf("produce --file: %q", r.stderr)
	}
	if r := ok(t, addr, "", "consume", name, "-p", "1", "--from-beginning", "-e", "-f", `%v\n`); r.stdout != "b\nc\n" {
		t.Fatalf("partition 1: %q", r.stdout)
	}
	if r := ok(t, addr, "", "consume", name, "-p", "0", "--from-beginning", "-e", "-f", `%v\n`); r.stdout != "a\n" {
		t.Fatalf("partition 0: %q", r.stdout)
	}
	// An empty delimiter: each file is one record, as kcat -P sends files.
	ok(t, addr, "", "produce", name, "-p", "0", "-D", "", "--file", whole)
	r = ok(t, addr, "", "consume", name, "-p", "0", "--offset", "1", "-e", "--format", "json")
	if recs := decodeJSON(t, r.stdout); len(recs) != 1 || *recs[0].Value != "line 1\nline 2\n" {
		t.Fatalf("a whole file: %q", r.stdout)
	}
	// Standard input among files, with "-".
	r = ok(t, addr, "from stdin\n", "produce", name, "-p", "0", "--file", "-")
	if !strings.Contains(r.stderr, "1 record sent") {
		t.Fatalf("--file -: %q", r.stderr)
	}
	missing := filepath.Join(dir, "missing.txt")
	r = fails(t, addr, "", "cannot read "+missing+": no such file or directory", "produce", name, "--file", missing)
	if strings.Contains(r.stderr, "sent") {
		t.Fatalf("a missing file still dialed and produced: %q", r.stderr)
	}
}
