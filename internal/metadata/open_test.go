package metadata

import (
	"fmt"
	"testing"
	"time"
)

// TestOpenIsQuick guards the start-up cost every broker start pays: a fresh
// bootstrap and a reopen should each take well under a second (the bound
// here is loose for loaded CI machines; the log line shows the real figure).
func TestOpenIsQuick(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	s := openTestStore(t, dir)
	first := time.Since(start)
	mustRegister(t, s, 1)
	s.Close()
	start = time.Now()
	s = openTestStore(t, dir)
	again := time.Since(start)
	s.Close()
	t.Logf("first open %s, reopen %s", first, again)
	if first > 3*time.Second || again > 3*time.Second {
		t.Fatalf("open too slow: first %s, reopen %s", first, again)
	}
}

func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	s, err := Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func BenchmarkCreateTopic(b *testing.B) {
	s, err := Open(Config{NodeID: 1, Dir: b.TempDir(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.RegisterBroker(b.Context(), Broker{ID: 1}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.CreateTopic(b.Context(), CreateTopicRequest{Name: fmt.Sprintf("t%d", i), NumPartitions: 3, ReplicationFactor: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
