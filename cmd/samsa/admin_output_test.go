package main

import (
	"context"
	"encoding/json"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.yaml.in/yaml/v3"
)

// The administrative commands with --format json and yaml, parsed back and
// checked against what was created.

// decodeOut parses a command's JSON or YAML output into v, failing the test
// on anything but one well-formed document.
func decodeOut(t *testing.T, r result, format string, v any) {
	t.Helper()
	var err error
	switch format {
	case "json":
		dec := json.NewDecoder(strings.NewReader(r.stdout))
		dec.DisallowUnknownFields()
		if err = dec.Decode(v); err == nil && dec.More() {
			t.Fatalf("more than one JSON document:\n%s", r.stdout)
		}
	case "yaml":
		dec := yaml.NewDecoder(strings.NewReader(r.stdout))
		dec.KnownFields(true)
		err = dec.Decode(v)
	}
	if err != nil {
		t.Fatalf("bad %s output: %v\n%s", format, err, r.stdout)
	}
	if r.stderr != "" {
		t.Fatalf("stderr beside %s output: %q", format, r.stderr)
	}
}

// keysOf returns the sorted keys of a JSON object, to check the names scripts see.
func keysOf(t *testing.T, doc string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatalf("%v:\n%s", err, doc)
	}
	return slices.Sorted(maps.Keys(m))
}

func TestTopicOutputFormats(t *testing.T) {
	addr := broker(t)
	name := topicName(t)

	var created topicCreated
	decodeOut(t, ok(t, addr, "", "topic", "create", name, "-p", "3", "-c", "retention.ms=3600000", "--format", "json"), "json", &created)
	if created.Name != name || created.PartitionCount != 3 || created.ReplicationFactor != 1 || !created.Created || len(created.ID) != 22 {
		t.Fatalf("create: %+v", created)
	}
	var again topicCreated
	decodeOut(t, ok(t, addr, "", "topic", "create", name, "--if-not-exists", "-f", "yaml"), "yaml", &again)
	if again.Created || again.topicSummary != created.topicSummary {
		t.Fatalf("create --if-not-exists: %+v, created %+v", again, created)
	}

	var list []topicSummary
	decodeOut(t, ok(t, addr, "", "topic", "list", "--format", "json"), "json", &list)
	i := slices.IndexFunc(list, func(s topicSummary) bool { return s.Name == name })
	if i < 0 || list[i] != created.topicSummary {
		t.Fatalf("list has %+v, want %+v", list, created.topicSummary)
	}
	if !slices.IsSortedFunc(list, func(a, b topicSummary) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatalf("list not sorted by name: %+v", list)
	}
	r := ok(t, addr, "", "topic", "list", "--format", "wide")
	if !regexp.MustCompile(`(?m)^` + name + `\s+3\s+1\s+false\s+` + regexp.QuoteMeta(created.ID) + `\s*$`).MatchString(r.stdout) {
		t.Fatalf("wide list has no row with the id:\n%s", r.stdout)
	}

	ok(t, addr, lines("v", 0, 5), "produce", name, "--partition", "1")
	var descs []topicDescription
	r = ok(t, addr, "", "topic", "describe", name, "--format", "json")
	decodeOut(t, r, "json", &descs)
	if len(descs) != 1 {
		t.Fatalf("describe one topic: %d descriptions", len(descs))
	}
	d := descs[0]
	if d.topicSummary != created.topicSummary || len(d.Partitions) != 3 {
		t.Fatalf("describe: %+v", d)
	}
	if len(d.Configs) != 1 || d.Configs[0].Name != "retention.ms" || *d.Configs[0].Value != "3600000" || d.Configs[0].Source != "DYNAMIC_TOPIC_CONFIG" {
		t.Fatalf("describe configs: %+v", d.Configs)
	}
	for i, p := range d.Partitions {
		wantEnd := int64(0)
		if i == 1 {
			wantEnd = 5
		}
		if p.Partition != int32(i) || p.Leader < 0 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.OfflineReplicas == nil ||
			p.LogStartOffset == nil || *p.LogStartOffset != 0 || p.LogEndOffset == nil || *p.LogEndOffset != wantEnd || p.Error != "" {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	// The names scripts read, literally.
	var raw []json.RawMessage
	json.Unmarshal([]byte(r.stdout), &raw)
	if got := strings.Join(keysOf(t, string(raw[0])), " "); got != "configs id internal name partition_count partitions replication_factor" {
		t.Fatalf("describe keys: %s", got)
	}
	// YAML says the same as JSON.
	var fromYAML []topicDescription
	decodeOut(t, ok(t, addr, "", "topic", "describe", name, "--format", "yaml"), "yaml", &fromYAML)
	if !reflect.DeepEqual(fromYAML, descs) {
		t.Fatalf("yaml %+v\njson %+v", fromYAML, descs)
	}
	var all []topicDescription
	decodeOut(t, ok(t, addr, "", "topic", "describe", name, "--all-configs", "--format", "json"), "json", &all)
	if len(all[0].Configs) <= 1 {
		t.Fatalf("--all-configs: %+v", all[0].Configs)
	}

	var altered topicAltered
	decodeOut(t, ok(t, addr, "", "topic", "alter", name, "-c", "max.message.bytes=65536", "--delete-config", "retention.ms", "-p", "4", "--format", "json"), "json", &altered)
	if altered.Name != name || altered.SetConfigs["max.message.bytes"] != "65536" || len(altered.SetConfigs) != 1 ||
		strings.Join(altered.DeletedConfigs, ",") != "retention.ms" || altered.PartitionCount == nil || *altered.PartitionCount != 4 {
		t.Fatalf("alter: %+v", altered)
	}
	decodeOut(t, ok(t, addr, "", "topic", "describe", name, "--format", "json"), "json", &descs)
	if descs[0].PartitionCount != 4 || len(descs[0].Configs) != 1 || descs[0].Configs[0].Name != "max.message.bytes" {
		t.Fatalf("after alter: %+v", descs[0])
	}

	var deleted []topicDeleted
	decodeOut(t, ok(t, addr, "", "topic", "delete", name, name+"-never", "--if-exists", "--format", "json"), "json", &deleted)
	if !reflect.DeepEqual(deleted, []topicDeleted{{Name: name, Deleted: true}, {Name: name + "-never"}}) {
		t.Fatalf("delete: %+v", deleted)
	}
	// A failure is a sentence on stderr, never half a document.
	r = fails(t, addr, "", `topic "`+name+`" does not exist`, "topic", "describe", name, "--format", "json")
	if r.stdout != "" {
		t.Fatalf("a failed describe printed %q", r.stdout)
	}
}

func TestClusterInfo(t *testing.T) {
	addr := broker(t)
	host, port, _ := strings.Cut(addr, ":")
	for _, f := range []string{"json", "yaml"} {
		var info clusterInfo
		decodeOut(t, ok(t, addr, "", "cluster", "info", "--format", f), f, &info)
		if info.ClusterID == nil || *info.ClusterID == "" || info.Controller == nil || len(info.Brokers) == 0 {
			t.Fatalf("%s: %+v", f, info)
		}
		found := false
		for _, b := range info.Brokers {
			found = found || b.Host == host && strconv.Itoa(int(b.Port)) == port
		}
		if !found && fixture.cmd != nil {
			t.Fatalf("%s: no broker at %s in %+v", f, addr, info.Brokers)
		}
	}
	r := ok(t, addr, "", "cluster", "describe")
	if !strings.HasPrefix(r.stdout, "Cluster ID: ") || !strings.Contains(r.stdout, "Controller: ") || !strings.Contains(r.stdout, "ID  HOST") {
		t.Fatalf("cluster describe:\n%s", r.stdout)
	}
}

func TestGroupOutputFormats(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	group := name + "-group"
	ok(t, addr, "", "topic", "create", name, "--partitions", "2")
	ok(t, addr, lines("a", 0, 5), "produce", name, "--partition", "0")
	ok(t, addr, lines("b", 0, 5), "produce", name, "--partition", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	offs := kadm.Offsets{}
	offs.AddOffset(name, 0, 2, -1)
	if r, err := adm.CommitOffsets(ctx, group, offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v %v", err, r.Error())
	}

	// A member that commits nothing: partition 1 is assigned without a
	// committed offset, so its lag is unknown ("-"), not its log end.
	member, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}, ClientID: "lag-test"},
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(name), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	memberClosed := false
	defer func() {
		if !memberClosed {
			member.Close()
		}
	}()
	var d groupDescription
	for deadline := time.Now().Add(30 * time.Second); ; {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		member.PollFetches(pctx)
		pcancel()
		decodeOut(t, ok(t, addr, "", "group", "describe", group, "--format", "json"), "json", &d)
		if len(d.Members) == 1 && len(d.Offsets) == 2 && d.Offsets[1].MemberID != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the member was not assigned both partitions: %+v", d)
		}
	}
	p0, p1 := d.Offsets[0], d.Offsets[1]
	if d.Name != group || d.State != "Stable" || d.Members[0].ClientID != "lag-test" || d.TotalLag != 3 ||
		p0.Topic != name || p0.Partition != 0 || *p0.CommittedOffset != 2 || *p0.LogEndOffset != 5 || *p0.Lag != 3 || *p0.MemberID != d.Members[0].MemberID ||
		p1.Partition != 1 || p1.CommittedOffset != nil || *p1.LogEndOffset != 5 || p1.Lag != nil {
		t.Fatalf("describe: %+v", d)
	}
	r := ok(t, addr, "", "group", "describe", group)
	if !regexp.MustCompile(`(?m)^`+name+`\s+1\s+-\s+5\s+-\s+\S+\s+lag-test\s`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, ", 1 member\n") || !strings.Contains(r.stdout, "Total lag: 3\n") {
		t.Fatalf("text describe:\n%s", r.stdout)
	}
	var fromYAML groupDescription
	decodeOut(t, ok(t, addr, "", "group", "describe", group, "--format", "yaml"), "yaml", &fromYAML)
	if fromYAML.Name != group || len(fromYAML.Offsets) != 2 || fromYAML.TotalLag != 3 {
		t.Fatalf("yaml describe: %+v", fromYAML)
	}
	member.Close()
	memberClosed = true

	var list []groupSummary
	for deadline := time.Now().Add(30 * time.Second); ; {
		decodeOut(t, ok(t, addr, "", "group", "list", "--format", "json"), "json", &list)
		i := slices.IndexFunc(list, func(g groupSummary) bool { return g.Name == group })
		if i >= 0 && list[i].State == "Empty" {
			if list[i].ProtocolType != "consumer" || list[i].Coordinator < 0 {
				t.Fatalf("list: %+v", list[i])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s not listed as Empty: %+v", group, list)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var reset offsetsReset
	decodeOut(t, ok(t, addr, "", "group", "reset-offsets", group, "--topic", name, "--to-offset", "4", "--format", "json"), "json", &reset)
	if reset.Group != group || reset.Executed || len(reset.Offsets) != 2 || *reset.Offsets[0].CurrentOffset != 2 || reset.Offsets[1].CurrentOffset != nil ||
		reset.Offsets[0].NewOffset != 4 || reset.Offsets[1].NewOffset != 4 {
		t.Fatalf("dry run: %+v", reset)
	}
	decodeOut(t, ok(t, addr, "", "group", "reset-offsets", group, "--topic", name, "--to-offset", "4", "--execute", "--format", "yaml"), "yaml", &reset)
	if !reset.Executed {
		t.Fatalf("execute: %+v", reset)
	}
	if got := fetchCommitted(t, ctx, adm, group, name); got[0] != 4 || got[1] != 4 {
		t.Fatalf("committed %v after --execute", got)
	}

	var deleted []groupDeleted
	decodeOut(t, ok(t, addr, "", "group", "delete", group, "--format", "json"), "json", &deleted)
	if !reflect.DeepEqual(deleted, []groupDeleted{{Name: group, Deleted: true}}) {
		t.Fatalf("delete: %+v", deleted)
	}
}

func TestTxnOutputFormats(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	txnID := name + "-txn"
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}}, kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(name))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var list []txnSummary
	decodeOut(t, ok(t, addr, "", "txn", "list", "--format", "json"), "json", &list)
	i := slices.IndexFunc(list, func(s txnSummary) bool { return s.TransactionalID == txnID })
	if i < 0 || list[i].State != "Ongoing" || list[i].ProducerID < 0 {
		t.Fatalf("list: %+v", list)
	}
	var descs []txnDescription
	decodeOut(t, ok(t, addr, "", "txn", "describe", txnID, txnID+"-never", "--format", "json"), "json", &descs)
	if len(descs) != 2 {
		t.Fatalf("describe: %+v", descs)
	}
	d := descs[0]
	if d.TransactionalID != txnID || d.State != "Ongoing" || d.ProducerID != list[i].ProducerID || d.TimeoutMs <= 0 || d.StartTimestamp == nil ||
		!reflect.DeepEqual(d.Partitions, []topicPartition{{Topic: name, Partition: 0}}) || d.Error != "" {
		t.Fatalf("describe: %+v", d)
	}
	if descs[1].Error == "" {
		t.Fatalf("an unknown transactional id described without an error: %+v", descs[1])
	}
	var fromYAML []txnDescription
	decodeOut(t, ok(t, addr, "", "txn", "describe", txnID, "--format", "yaml"), "yaml", &fromYAML)
	if !reflect.DeepEqual(fromYAML[0], d) {
		t.Fatalf("yaml %+v\njson %+v", fromYAML[0], d)
	}
	r := ok(t, addr, "", "txn", "describe", txnID, "--format", "wide")
	if !strings.Contains(r.stdout, "STARTED") || !strings.Contains(r.stdout, name+"-0") {
		t.Fatalf("wide describe:\n%s", r.stdout)
	}

	var aborted txnAborted
	decodeOut(t, ok(t, addr, "", "txn", "abort", "--topic", name, "--partition", "0", "--start-offset", "0", "--format", "json"), "json", &aborted)
	if aborted.Topic != name || aborted.Partition != 0 || aborted.ProducerID != d.ProducerID || aborted.ProducerEpoch != d.ProducerEpoch {
		t.Fatalf("abort: %+v (transaction %+v)", aborted, d)
	}
	// The partition's last stable offset moved past the aborted record.
	r = ok(t, addr, "", "consume", name, "--from-beginning", "-e", "--isolation-level", "read_committed")
	if r.stdout != "" {
		t.Fatalf("read_committed after the abort printed %q", r.stdout)
	}
}
