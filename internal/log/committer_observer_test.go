package log

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// recordingObserver keeps what the committer reported.
type recordingObserver struct {
	mu sync.Mutex
	n  observed
}

type observed struct {
	rounds, appends, files, fsyncs, errs int
}

func (o *recordingObserver) CommitRound(appends, files int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n.rounds++
	o.n.appends += appends
	o.n.files += files
}

func (o *recordingObserver) Fsync(d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n.fsyncs++
	if err != nil {
		o.n.errs++
	}
}

func (o *recordingObserver) get() observed {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n
}

// TestCommitObserver: every synchronous append is reported in a round,
// every segment fsync once, and a failed fsync with its error.
func TestCommitObserver(t *testing.T) {
	ff := vfs.NewFaulty(vfs.NewMem())
	obs := &recordingObserver{}
	m := openTestManager(t, ff, "data", func(o *ManagerOptions) { o.CommitObserver = obs })
	defer m.Close()
	var logs []*Log
	for p := int32(0); p < 2; p++ {
		l, err := m.Create(TopicPartition{"c", p}, [16]byte{1}, DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	const n = 5
	for i := 0; i < n; i++ {
		for _, l := range logs {
			if _, err := l.Append(makeBatch(1, 10, 1), AppendOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := obs.get()
	if got.appends != 2*n || got.rounds == 0 || got.rounds > 2*n || got.files != got.fsyncs || got.fsyncs < got.rounds || got.errs != 0 {
		t.Fatalf("observed %+v after %d appends, one at a time", got, 2*n)
	}

	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log"})
	if _, err := logs[0].Append(makeBatch(1, 10, 1), AppendOptions{}); !errors.Is(err, ErrStorage) {
		t.Fatalf("append with failing fsync: %v, want ErrStorage", err)
	}
	ff.ClearRules()
	if after := obs.get(); after.errs != 1 || after.rounds != got.rounds+1 {
		t.Fatalf("after a failed fsync observed %+v, before %+v", after, got)
	}
}
