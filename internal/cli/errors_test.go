package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDialRefused(t *testing.T) {
	addr := closedPort(t)
	o := Options{BootstrapServers: []string{addr}, Timeout: 5 * time.Second}
	_, err := Dial(context.Background(), o)
	want := fmt.Sprintf("cannot reach the broker at %s: connection refused", addr)
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestDialUnresolvable(t *testing.T) {
	o := Options{BootstrapServers: []string{"no-such-host.invalid:9092"}, Timeout: 5 * time.Second}
	_, err := Dial(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the broker at no-such-host.invalid:9092") {
		t.Fatalf("got %v", err)
	}
}

func TestDialTimeout(t *testing.T) {
	// A listener that accepts but never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	defer func() {
		l.Close()
		for c := range conns {
			c.Close()
		}
	}()
	o := Options{BootstrapServers: []string{l.Addr().String()}, Timeout: 300 * time.Millisecond}
	_, err = Dial(context.Background(), o)
	want := "no answer from the broker at " + l.Addr().String() + " within 300ms"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

func TestExplain(t *testing.T) {
	o := Options{BootstrapServers: []string{"h:1"}}
	if Explain(nil, o) != nil {
		t.Fatal("nil must stay nil")
	}
	s := Sentencef(nil, "already a sentence")
	if Explain(s, o) != s {
		t.Fatal("sentences pass through")
	}
	got := Explain(fmt.Errorf("wrapped: %w", kerr.PolicyViolation), o).Error()
	if !strings.Contains(got, "POLICY_VIOLATION") || !strings.HasPrefix(got, "the broker refused: ") {
		t.Fatalf("kerr: got %q", got)
	}
	if got := Explain(context.DeadlineExceeded, o).Error(); got != "no answer from the broker at h:1 within 10s" {
		t.Fatalf("deadline: got %q", got)
	}
	if !errors.Is(Explain(kerr.PolicyViolation, o), kerr.PolicyViolation) {
		t.Fatal("the cause must stay reachable")
	}
}

func TestTopicError(t *testing.T) {
	o := Options{BootstrapServers: []string{"h:1"}}
	for _, tc := range []struct {
		err  error
		msg  string
		want string
	}{
		{kerr.UnknownTopicOrPartition, "", `topic "t" does not exist`},
		{kerr.UnknownTopicID, "", `topic "t" does not exist`},
		{kerr.TopicAlreadyExists, "", `topic "t" already exists`},
		{kerr.TopicAlreadyExists, "Topic 't' already exists.", `topic "t" already exists`},
		{kerr.InvalidTopicException, "", `"t" is not a valid topic name`},
		// The broker's message goes first; the code's generic description
		// ("Number of partitions is below 1.") would contradict it.
		{kerr.InvalidPartitions, "Topic currently has 3 partitions, which is higher than the requested 2.",
			`topic "t": Topic currently has 3 partitions, which is higher than the requested 2 (INVALID_PARTITIONS)`},
		{kerr.InvalidPartitions, "", `topic "t": number of partitions is below 1 (INVALID_PARTITIONS)`},
		// The same codes for other cases than the usual sentence says.
		{kerr.TopicAlreadyExists, "Topic 't' is marked for deletion.", `topic "t": Topic 't' is marked for deletion (TOPIC_ALREADY_EXISTS)`},
		{kerr.InvalidTopicException, "Topic 't' collides with existing topic: t_",
			`cannot use "t" as a topic name: Topic 't' collides with existing topic: t_`},
		{kerr.InvalidTopicException, "Topic name \"t/\" is illegal", `cannot use "t" as a topic name: Topic name "t/" is illegal`},
		{kerr.UnknownTopicOrPartition, "This server does not host this topic: t", `topic "t" does not exist`},
	} {
		got := TopicError("t", tc.err, tc.msg, o).Error()
		if got != tc.want {
			t.Errorf("%v %q: got %q, want %q", tc.err, tc.msg, got, tc.want)
		}
		if !errors.Is(TopicError("t", tc.err, tc.msg, o), tc.err) {
			t.Errorf("%v: the cause must stay reachable", tc.err)
		}
	}
	if TopicError("t", nil, "", o) != nil {
		t.Error("nil must stay nil")
	}
}

func TestExplainRetriable(t *testing.T) {
	o := Options{BootstrapServers: []string{"h:1"}}
	got := Explain(kerr.RequestTimedOut, o).Error()
	if got != "the broker could not complete the request: the request timed out (REQUEST_TIMED_OUT)" {
		t.Fatalf("got %q", got)
	}
}
