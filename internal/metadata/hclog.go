package metadata

import (
	"context"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// newHCLogger returns an hclog.Logger for Raft that forwards warnings and
// errors to l and drops the rest (Raft is chatty at info level).
func newHCLogger(l *slog.Logger) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name:   "raft",
		Output: io.Discard,
		Level:  hclog.Warn,
	})
	il.RegisterSink(slogSink{l})
	return il
}

type slogSink struct{ l *slog.Logger }

func (s slogSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	var sl slog.Level
	switch {
	case level >= hclog.Error:
		sl = slog.LevelError
	case level == hclog.Warn:
		sl = slog.LevelWarn
		if expectedAtStart(msg, args) {
			sl = slog.LevelDebug
		}
	default:
		return
	}
	if !s.l.Enabled(context.Background(), sl) {
		return
	}
	s.l.Log(context.Background(), sl, name+": "+msg, args...)
}

// expectedAtStart reports Raft's warning that a node with no known leader
// starts an election: every node does so when it starts (a single voter
// always), so it is not worth a warning, nor is a node without a
// configuration (a non-voter waiting to be added) declining to stand.
// Losing a known leader still is.
func expectedAtStart(msg string, args []any) bool {
	if msg == "no known peers, aborting election" {
		// A broker-only node before the quorum adds it as a non-voter.
		return true
	}
	if msg != "heartbeat timeout reached, starting election" {
		return false
	}
	for i := 0; i+1 < len(args); i += 2 {
		if k, _ := args[i].(string); k == "last-leader-id" {
			v, _ := args[i+1].(string)
			return v == ""
		}
	}
	return false
}
