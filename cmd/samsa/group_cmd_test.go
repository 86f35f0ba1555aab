package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupCmd runs `samsa group ...` in-process (the group command is built
// directly, so this works whether or not the root command lists it).
func groupCmd(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	cmd := newGroupCmd(&clientFlags{bootstrap: addr, clientID: "samsa-test", timeout: 20 * time.Second})
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestGroupCommands(t *testing.T) {
	addr := broker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}}, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topic := "group-cmd-" + strings.ReplaceAll(t.Name(), "/", "-")
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	const group = "cli-group"
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, 2, -1)
	offs.AddOffset(topic, 1, 4, -1)
	if r, err := adm.CommitOffsets(ctx, group, offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v %v", err, r.Error())
	}

	out, err := groupCmd(t, addr, "list")
	if err != nil || !strings.Contains(out, group) || !strings.Contains(out, "Empty") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = groupCmd(t, addr, "describe", group)
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	// Partition 0: committed 2 of 5 (lag 3); partition 1: 4 of 5 (lag 1).
	for _, want := range []string{"Empty", "Total lag: 4"} {
		if !strings.Contains(out, want) {
			t.Fatalf("describe lacks %q:\n%s", want, out)
		}
	}

	out, err = groupCmd(t, addr, "reset-offsets", group, "--topic", topic, "--to-earliest")
	if err != nil || !strings.Contains(out, "Dry run") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	if got := fetchCommitted(t, ctx, adm, group, topic); got[0] != 2 || got[1] != 4 {
		t.Fatalf("a dry run changed the offsets: %v", got)
	}
	for _, tc := range []struct {
		args []string
		want map[int32]int64
	}{
		{[]string{"--to-earliest"}, map[int32]int64{0: 0, 1: 0}},
		{[]string{"--to-latest"}, map[int32]int64{0: 5, 1: 5}},
		{[]string{"--to-offset", "3"}, map[int32]int64{0: 3, 1: 3}},
		{[]string{"--to-offset", "99"}, map[int32]int64{0: 5, 1: 5}}, // clamped to the log end
		{[]string{"--to-datetime", "1970-01-01T00:00:00Z"}, map[int32]int64{0: 0, 1: 0}},
	} {
		args := append([]string{"reset-offsets", group, "--topic", topic, "--execute"}, tc.args...)
		if out, err := groupCmd(t, addr, args...); err != nil {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		if got := fetchCommitted(t, ctx, adm, group, topic); got[0] != tc.want[0] || got[1] != tc.want[1] {
			t.Fatalf("%v: offsets %v, want %v", tc.args, got, tc.want)
		}
	}
	if out, err := groupCmd(t, addr, "reset-offsets", group, "--topic", topic+":1", "--to-offset", "1", "--execute"); err != nil {
		t.Fatalf("one partition: %v\n%s", err, out)
	}
	if got := fetchCommitted(t, ctx, adm, group, topic); got[0] != 0 || got[1] != 1 {
		t.Fatalf("one-partition reset: %v", got)
	}
	if _, err := groupCmd(t, addr, "reset-offsets", group, "--topic", topic); err == nil {
		t.Fatal("reset-offsets without a target succeeded")
	}

	out, err = groupCmd(t, addr, "delete", group)
	if err != nil || !strings.Contains(out, "Deleted group") {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if _, err := groupCmd(t, addr, "delete", group); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("deleting a deleted group: %v", err)
	}
	if _, err := groupCmd(t, addr, "describe", "no-such-group"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("describing an unknown group: %v", err)
	}
}

func fetchCommitted(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	r, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	r.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out
}
