package metadata

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

// crashAcked is what the crash workload was told had succeeded.
type crashAcked struct {
	broker     bool
	topics     map[string]Uuid // created, by name
	partitions map[string]int
	deleted    map[string]bool
	configs    map[string]string // retention.ms set on a topic, by name
	producerID int64             // end of the highest producer-id block handed out
}

func newCrashAcked() *crashAcked {
	return &crashAcked{topics: map[string]Uuid{}, partitions: map[string]int{}, deleted: map[string]bool{}, configs: map[string]string{}}
}

func crashConfig(fs vfs.FS) Config {
	// A snapshot every few entries, keeping two entries behind it, so the
	// workload writes snapshots and drops the log behind them.
	return Config{NodeID: 1, Dir: "meta", FS: fs, Logger: quietLogger(), SnapshotThreshold: 2}
}

// crashWorkload opens a store, registers a broker, creates topics, takes
// a snapshot (which drops the log behind it and, with walCompactMin
// lowered, rewrites raft.wal), deletes a topic, sets a config, hands out
// producer ids, closes, reopens (recovery from the snapshot and the log)
// and writes some more. It records every operation that returned success
// and stops at the first failure: after the crash point every file
// operation fails.
func crashWorkload(fs vfs.FS, acked *crashAcked) {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(crashConfig(fs))
	if err != nil {
		return
	}
	defer func() { s.Close() }()
	if err := s.RegisterBroker(c, Broker{ID: 1, Host: "localhost", Port: 9092}); err != nil {
		return
	}
	acked.broker = true
	create := func(name string, partitions int) bool {
		tp, err := s.CreateTopic(c, CreateTopicRequest{Name: name, NumPartitions: int32(partitions), ReplicationFactor: 1})
		if err != nil {
			return false
		}
		acked.topics[name], acked.partitions[name] = tp.ID, partitions
		return true
	}
	allocate := func() bool {
		first, err := s.AllocateProducerIDs(c, 1000)
		if err != nil {
			return false
		}
		acked.producerID = first + 1000
		return true
	}
	for i := 0; i < 4; i++ {
		if !create(fmt.Sprintf("t%d", i), 1+i%3) {
			return
		}
	}
	if err := s.raft.Snapshot().Error(); err != nil {
		return
	}
	if err := s.DeleteTopicByName(c, "t1"); err != nil {
		return
	}
	acked.deleted["t1"] = true
	retention := "1000"
	if err := s.SetTopicConfigs(c, "t2", map[string]*string{"retention.ms": &retention}, false, false); err != nil {
		return
	}
	acked.configs["t2"] = retention
	if !allocate() || !create("t4", 2) {
		return
	}
	if err := s.Close(); err != nil {
		return
	}
	reopened, err := Open(crashConfig(fs))
	if err != nil {
		return
	}
	s = reopened
	if !allocate() || !create("t5", 1) {
		return
	}
}

var crashTopics = map[string]bool{"t0": true, "t1": true, "t2": true, "t3": true, "t4": true, "t5": true}

// checkCrashRecovered opens the crashed file system and checks that the
// store opens, that every acknowledged change is in its image and nothing
// the workload never asked for is, that producer ids handed out are not
// handed out again, and that the store takes writes.
func checkCrashRecovered(fs vfs.FS, acked *crashAcked) error {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(crashConfig(fs))
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer s.Close()
	im := s.Image()
	if acked.broker && len(im.Brokers) != 1 {
		return fmt.Errorf("registered broker lost: brokers %v", im.Brokers)
	}
	for name, id := range acked.topics {
		tp := im.Topics[name]
		switch {
		case acked.deleted[name] && tp != nil:
			return fmt.Errorf("deleted topic %s is back", name)
		case acked.deleted[name]:
		case tp == nil:
			return fmt.Errorf("created topic %s lost", name)
		case tp.ID != id || len(tp.Partitions) != acked.partitions[name]:
			return fmt.Errorf("topic %s: id %v, %d partitions; created as %v with %d", name, tp.ID, len(tp.Partitions), id, acked.partitions[name])
		}
	}
	for name, v := range acked.configs {
		if tp := im.Topics[name]; tp == nil || tp.Configs["retention.ms"] != v {
			return fmt.Errorf("config of topic %s lost", name)
		}
	}
	for name := range im.Topics {
		if !crashTopics[name] {
			return fmt.Errorf("topic %s was never created", name)
		}
	}
	if len(im.Brokers) == 0 {
		if err := s.RegisterBroker(c, Broker{ID: 1, Host: "localhost", Port: 9092}); err != nil {
			return fmt.Errorf("register after recovery: %w", err)
		}
	}
	if _, err := s.CreateTopic(c, CreateTopicRequest{Name: "after-crash", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		return fmt.Errorf("create after recovery: %w", err)
	}
	if first, err := s.AllocateProducerIDs(c, 1); err != nil || first < acked.producerID {
		return fmt.Errorf("producer ids after recovery start at %d (%v); %d were handed out", first, err, acked.producerID)
	}
	return nil
}

// renameCounter counts renames by the base name of the source.
type renameCounter struct {
	vfs.FS
	mu sync.Mutex
	n  map[string]int
}

func (r *renameCounter) Rename(oldname, newname string) error {
	r.mu.Lock()
	r.n[filepath.Base(oldname)]++
	r.mu.Unlock()
	return r.FS.Rename(oldname, newname)
}

// TestCrashAtEveryStep cuts the power after each mutating file-system
// operation of crashWorkload (meta.properties, raft.wal frames and syncs,
// snapshot files, directory syncs, the log's compaction) and checks that
// the store recovers every acknowledged change. The torn variant lets the
// crashing write reach the file half-done and keeps a random part of any
// unsynced data, as a disk may.
func TestCrashAtEveryStep(t *testing.T) {
	old := walCompactMin
	walCompactMin = 1
	t.Cleanup(func() { walCompactMin = old })

	// A clean run counts the steps, and checks the workload reaches the
	// code it is meant to crash.
	mem := vfs.NewMem()
	ff := vfs.NewFaulty(mem)
	renames := &renameCounter{FS: ff, n: map[string]int{}}
	all := newCrashAcked()
	crashWorkload(renames, all)
	steps := ff.Steps()
	if renames.n["raft.wal.tmp"] == 0 || renames.n["meta.json.tmp"] == 0 {
		t.Fatalf("the workload never compacted the log or wrote a snapshot: renames %v", renames.n)
	}
	if len(all.topics) != 6 || all.producerID != 2000 {
		t.Fatalf("clean run acknowledged %d topics, producer ids up to %d", len(all.topics), all.producerID)
	}
	if err := checkCrashRecovered(mem, all); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if steps < 60 {
		t.Fatalf("workload made only %d steps", steps)
	}

	// Every step is independent, and a store spends most of Open waiting
	// for its election timer, so steps run a few at a time.
	type job struct {
		n    int64
		torn bool
	}
	jobs := make(chan job)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if failed.Load() {
					continue
				}
				mem := vfs.NewMem()
				ff := vfs.NewFaulty(mem)
				ff.CrashAfter(j.n)
				ff.TearCrashingWrite(j.torn)
				acked := newCrashAcked()
				crashWorkload(ff, acked)
				crashed := mem.CrashClone(vfs.CrashOptions{TornWrites: j.torn, Seed: j.n})
				if err := checkCrashRecovered(crashed, acked); err != nil {
					failed.Store(true)
					t.Errorf("crash after step %d (torn %v): %v", j.n, j.torn, err)
				}
			}
		}()
	}
	start := time.Now()
	for n := int64(0); n <= steps; n++ {
		jobs <- job{n, false}
		jobs <- job{n, true}
	}
	close(jobs)
	wg.Wait()
	t.Logf("workload: %d steps, %d crash runs in %s", steps, 2*(steps+1), time.Since(start).Round(time.Millisecond))
}
