package main

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// needGroups skips unless the cluster serves the classic consumer group
// protocol (the group coordinator arrives in a later issue for Samsa).
func needGroups(t *testing.T, addr string) {
	t.Helper()
	o := cli.Options{BootstrapServers: []string{addr}}
	cl, err := cli.Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	vs, err := kadm.NewClient(cl).ApiVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Sorted() {
		for _, key := range []int16{kmsg.FindCoordinator.Int16(), kmsg.JoinGroup.Int16(), kmsg.OffsetCommit.Int16()} {
			if _, ok := v.KeyMaxVersion(key); !ok {
				t.Skipf("the cluster does not serve %s; consumer groups come later", kmsg.NameForKey(key))
			}
		}
	}
}

func TestConsumeGroupCommits(t *testing.T) {
	addr := broker(t)
	needGroups(t, addr)
	name := topicName(t)
	group := name + "-group"
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, lines("g", 0, 6), "produce", name)

	// A new group starts where --from-beginning says and commits only what
	// it printed.
	r := ok(t, addr, "", "consume", name, "--group", group, "--from-beginning", "-n", "4")
	if r.stdout != lines("g", 0, 4) {
		t.Fatalf("first run: %q", r.stdout)
	}
	r = ok(t, addr, "", "consume", name, "--group", group, "-n", "2")
	if r.stdout != lines("g", 4, 6) {
		t.Fatalf("second run resumed at the wrong place: %q", r.stdout)
	}
}
