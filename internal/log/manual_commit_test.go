package log

import (
	"testing"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// TestManualCommit: with ManualCommit nothing appended is durable (nor
// survives a crash) until CommitRound runs the round; Close runs the
// pending one.
func TestManualCommit(t *testing.T) {
	mem := vfs.NewMem()
	m := openTestManager(t, mem, "data", func(o *ManagerOptions) { o.ManualCommit = true })
	tp := TopicPartition{Topic: "manual", Partition: 0}
	l, err := m.Create(tp, [16]byte{9}, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendAsync(makeBatch(3, 10, 1), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if l.DurableOffset() != 0 {
		t.Fatalf("durable offset %d before any round, want 0", l.DurableOffset())
	}
	crashed := mem.Crash()
	if n := m.CommitRound(); n != 1 {
		t.Fatalf("round covered %d logs, want 1", n)
	}
	if l.DurableOffset() != 3 {
		t.Fatalf("durable offset %d after the round, want 3", l.DurableOffset())
	}
	if n := m.CommitRound(); n != 0 {
		t.Fatalf("an empty round covered %d logs", n)
	}
	if _, err := l.AppendAsync(makeBatch(2, 10, 2), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if l.DurableOffset() != 5 {
		t.Fatalf("durable offset %d after close, want 5", l.DurableOffset())
	}

	m2 := openTestManager(t, crashed, "data")
	defer m2.Close()
	if l2, ok := m2.Get(tp); ok && l2.LogEndOffset() != 0 {
		t.Fatalf("a crash before the round kept %d records", l2.LogEndOffset())
	}
}
