package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/cli"
	"github.com/twmb/franz-go/pkg/kadm"
)

func TestConsumeGroupCommits(t *testing.T) {
	addr := broker(t)
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

// admin returns a kadm client on the test cluster, closed with the test.
func admin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cli.Dial(ctx, cli.Options{BootstrapServers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// sameLines reports whether got holds exactly the lines of want, in any
// order (records of several partitions interleave).
func sameLines(got, want string) bool {
	g := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	w := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestConsumeGroupIdleTimeoutReadsLag(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	group := name + "-group"
	ok(t, addr, "", "topic", "create", name, "--partitions", "3")
	for p := range 3 {
		ok(t, addr, lines(fmt.Sprintf("p%d", p), 0, 12), "produce", name, "--partition", strconv.Itoa(p))
	}
	// Lag in partitions 0 and 1; partition 2 has no committed offset, so
	// it starts at its end (--reset latest).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := admin(t, addr)
	offs := kadm.Offsets{}
	offs.AddOffset(name, 0, 4, -1)
	offs.AddOffset(name, 1, 4, -1)
	if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}

	// Joining takes the group seconds (group.initial.rebalance.delay.ms is
	// 3s by default); the idle clock starts once partitions are assigned,
	// so a 1s idle timeout still reads the whole lag.
	r := ok(t, addr, "", "consume", name, "--group", group, "--idle-timeout", "1s")
	if want := lines("p0", 4, 12) + lines("p1", 4, 12); !sameLines(r.stdout, want) {
		t.Fatalf("printed\n%s\nwant the lag of partitions 0 and 1", r.stdout)
	}
	for _, want := range []string{"Consumed 16 records.", "No record for 1s; stopping."} {
		if !strings.Contains(r.stderr, want) {
			t.Fatalf("stderr %q lacks %q", r.stderr, want)
		}
	}
	if got := fetchCommitted(t, ctx, adm, group, name); got[0] != 12 || got[1] != 12 {
		t.Fatalf("committed %v, want 12 in partitions 0 and 1", got)
	}
}

func TestConsumeGroupCommittedOffsetOutsideLog(t *testing.T) {
	addr := broker(t)
	name := topicName(t)
	group := name + "-group"
	ok(t, addr, "", "topic", "create", name, "--partitions", "1")
	ok(t, addr, lines("c", 0, 5), "produce", name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs := kadm.Offsets{}
	offs.AddOffset(name, 0, 500, -1)
	if err := admin(t, addr).CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}
	r := ok(t, addr, "", "consume", name, "--group", group, "--reset", "earliest", "--idle-timeout", "1s")
	want := `The committed offset 500 of group "` + group + `" is past the end of topic "` + name + `" partition 0 (5); starting at the beginning (offset 0), as --reset earliest says.`
	if r.stdout != lines("c", 0, 5) || !strings.Contains(r.stderr, want) {
		t.Fatalf("got %q / %q", r.stdout, r.stderr)
	}
}
