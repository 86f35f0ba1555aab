package metadata

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// A node starting an election with no known leader is not a warning; one
// that lost its leader is.
func TestRaftElectionAtStartNotAWarning(t *testing.T) {
	var buf bytes.Buffer
	s := slogSink{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	s.Accept("raft", hclog.Warn, "heartbeat timeout reached, starting election", "last-leader-addr", "", "last-leader-id", "")
	if buf.Len() != 0 {
		t.Fatalf("logged at info or above: %s", buf.String())
	}
	s.Accept("raft", hclog.Warn, "heartbeat timeout reached, starting election", "last-leader-addr", "node-2", "last-leader-id", "2")
	if !strings.Contains(buf.String(), "level=WARN") {
		t.Fatalf("a lost leader is not a warning: %q", buf.String())
	}
}
