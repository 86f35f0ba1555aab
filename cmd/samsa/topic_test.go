package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestTopicLifecycle(t *testing.T) {
	addr := broker(t)
	name := topicName(t)

	r := ok(t, addr, "", "topic", "create", name, "--partitions", "3", "--config", "retention.ms=3600000")
	if !regexp.MustCompile(`^Created topic "` + name + `" \(3 partitions, replication factor 1, id [A-Za-z0-9_-]{22}\)\.\n$`).MatchString(r.stdout) {
		t.Fatalf("create said %q", r.stdout)
	}
	fails(t, addr, "", `topic "`+name+`" already exists`, "topic", "create", name)
	ok(t, addr, "", "topic", "create", name, "--if-not-exists")

	r = ok(t, addr, "", "topic", "list")
	if !regexp.MustCompile(`(?m)^` + name + `\s+3\s+1\s+false\s*$`).MatchString(r.stdout) {
		t.Fatalf("list has no row for %s:\n%s", name, r.stdout)
	}
	if !strings.HasPrefix(r.stdout, "TOPIC") {
		t.Fatalf("list has no header:\n%s", r.stdout)
	}

	r = ok(t, addr, "", "topic", "describe", name)
	for _, want := range []string{
		"Topic:              " + name + "\n",
		"Partitions:         3\n",
		"Replication factor: 1\n",
		"  retention.ms=3600000\n",
		"PARTITION  LEADER",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, r.stdout)
		}
	}
	rows := regexp.MustCompile(`(?m)^(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)`).FindAllStringSubmatch(r.stdout, -1)
	if len(rows) != 3 {
		t.Fatalf("describe shows %d partition rows, want 3:\n%s", len(rows), r.stdout)
	}
	for _, row := range rows {
		if row[7] != "0" || row[8] != "0" {
			t.Errorf("empty partition %s has offsets %s..%s", row[1], row[7], row[8])
		}
	}

	ok(t, addr, "", "topic", "alter", name, "--config", "retention.ms=7200000", "--config", "max.message.bytes=65536", "--partitions", "4")
	r = ok(t, addr, "", "topic", "describe", name)
	for _, want := range []string{"Partitions:         4\n", "  retention.ms=7200000\n", "  max.message.bytes=65536\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("after alter, describe lacks %q:\n%s", want, r.stdout)
		}
	}
	ok(t, addr, "", "topic", "alter", name, "--delete-config", "retention.ms")
	r = ok(t, addr, "", "topic", "describe", name)
	if strings.Contains(r.stdout, "retention.ms=") {
		t.Errorf("retention.ms still set after --delete-config:\n%s", r.stdout)
	}
	r = ok(t, addr, "", "topic", "describe", name, "--all-configs")
	if !regexp.MustCompile(`retention.ms=\d+  \((default|static broker)\)`).MatchString(r.stdout) {
		t.Errorf("--all-configs does not show retention.ms with its source:\n%s", r.stdout)
	}
	// The broker's reason, not Kafka's generic text for the code
	// ("number of partitions is below 1"), which would contradict it.
	r = fails(t, addr, "", `topic "`+name+`": `, "topic", "alter", name, "--partitions", "2")
	if !strings.Contains(r.stderr, "(INVALID_PARTITIONS)") || strings.Contains(r.stderr, "below 1") {
		t.Errorf("shrinking a topic: %q", r.stderr)
	}

	r = ok(t, addr, "", "topic", "delete", name)
	if r.stdout != `Deleted topic "`+name+`".`+"\n" {
		t.Fatalf("delete said %q", r.stdout)
	}
	fails(t, addr, "", `topic "`+name+`" does not exist`, "topic", "describe", name)
	fails(t, addr, "", `topic "`+name+`" does not exist`, "topic", "delete", name)
	ok(t, addr, "", "topic", "delete", name, "--if-exists")
	fails(t, addr, "", `topic "`+name+`" does not exist`, "topic", "alter", name, "--config", "retention.ms=1")
}

func TestTopicBadName(t *testing.T) {
	addr := broker(t)
	fails(t, addr, "", `cannot use "bad/name" as a topic name: `, "topic", "create", "bad/name")
	fails(t, addr, "", `cannot use "`+strings.Repeat("x", 250)+`" as a topic name: `, "topic", "create", strings.Repeat("x", 250))
}

func TestTopicBadConfig(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	fails(t, addr, "", `topic "`+name+`": `, "topic", "create", name, "--config", "retention.ms=soon")
}
