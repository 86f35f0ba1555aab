package metadata

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestLogFailureStopsRaft: when the log fails a write, the operation
// fails, Raft stops on its own (rather than running on, or panicking when
// it cannot store its term), later operations fail, and a reopen finds
// everything acknowledged before the failure.
func TestLogFailureStopsRaft(t *testing.T) {
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	cfg := Config{NodeID: 1, Dir: "meta", FS: ff, Logger: quietLogger()}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustRegister(t, s, 1)
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "before", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan raft.Observation, 1)
	s.raft.RegisterObserver(raft.NewObserver(stopped, false, func(o *raft.Observation) bool {
		st, ok := o.Data.(raft.RaftState)
		return ok && st == raft.Shutdown
	}))

	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "raft.wal", Nth: 1})
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "failed", NumPartitions: 1, ReplicationFactor: 1}); err == nil {
		t.Fatal("CreateTopic succeeded on a failing log")
	}
	select {
	case <-stopped:
	case <-ctx(t).Done():
		t.Fatal("raft still running after the log failed")
	}
	ff.ClearRules()
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "after", NumPartitions: 1, ReplicationFactor: 1}); err == nil {
		t.Fatal("CreateTopic succeeded after the log failed")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	im := s.Image()
	if im.Topics["before"] == nil || len(im.Brokers) != 1 || im.Topics["after"] != nil {
		t.Fatalf("after reopen: topics %v, brokers %v", im.Topics, im.Brokers)
	}
}
