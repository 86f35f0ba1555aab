package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-streaming/samsa/internal/vfs"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTestStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustRegister(t *testing.T, s *Store, ids ...int32) {
	t.Helper()
	for _, id := range ids {
		if err := s.RegisterBroker(ctx(t), Broker{ID: id, Host: "127.0.0.1", Port: 9092 + id}); err != nil {
			t.Fatalf("RegisterBroker(%d): %v", id, err)
		}
	}
}

func wantCode(t *testing.T, err error, code *kerr.Error) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("error = %v, want %s", err, code.Message)
	}
}

func TestOpenCreateDelete(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	im := s.Image()
	if im.ControllerID != 1 || im.ClusterID == "" {
		t.Fatalf("image after open: controller %d cluster %q", im.ControllerID, im.ClusterID)
	}
	mustRegister(t, s, 1)
	tp, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "orders", NumPartitions: 3, ReplicationFactor: 1,
		Configs: map[string]string{"retention.ms": "1000"}})
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	im = s.Image()
	got := im.Topics["orders"]
	if got == nil || got != im.TopicsByID[tp.ID] || len(got.Partitions) != 3 || got.Configs["retention.ms"] != "1000" {
		t.Fatalf("topic in image = %+v", got)
	}
	for i, p := range got.Partitions {
		if p.ID != int32(i) || p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 {
			t.Fatalf("partition %d = %+v", i, p)
		}
	}
	_, err = s.CreateTopic(ctx(t), CreateTopicRequest{Name: "orders", NumPartitions: 1, ReplicationFactor: 1})
	wantCode(t, err, kerr.TopicAlreadyExists)

	if err := s.DeleteTopic(ctx(t), tp.ID); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	if s.Image().Topics["orders"] != nil || s.Image().TopicsByID[tp.ID] != nil {
		t.Fatal("topic still in image after delete")
	}
	wantCode(t, s.DeleteTopic(ctx(t), tp.ID), kerr.UnknownTopicID)
}

// populate creates a little of everything.
func populate(t *testing.T, s *Store) {
	t.Helper()
	mustRegister(t, s, 1, 2)
	for i := 0; i < 5; i++ {
		if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: fmt.Sprintf("topic-%d", i), NumPartitions: int32(i + 1), ReplicationFactor: 2,
			Configs: map[string]string{"retention.ms": fmt.Sprint(1000 * (i + 1))}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteTopicByName(ctx(t), "topic-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePartitions(ctx(t), "topic-1", 4, nil, false); err != nil {
		t.Fatal(err)
	}
	// An ISR shrink and a leader change: partition epoch 2, leader epoch 1.
	t3 := s.Image().Topics["topic-3"]
	p0 := t3.Partitions[0]
	if _, err := s.ChangePartition(ctx(t), t3.ID, 0, NoLeaderChange, p0.Replicas[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangePartition(ctx(t), t3.ID, 0, p0.Replicas[1], p0.Replicas[1:]); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTopicConfigs(ctx(t), "topic-2", map[string]*string{"cleanup.policy": strp("compact")}, false, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigs(ctx(t), map[string]*string{"log.retention.hours": strp("24")}, false, false); err != nil {
		t.Fatal(err)
	}
	if err := s.SetBrokerConfigsOf(ctx(t), "1", map[string]*string{"log.retention.ms": strp("60000")}, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllocateProducerIDs(ctx(t), 1000); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFeatureLevel(ctx(t), "metadata.version", 27); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	populate(t, s)
	before := s.Image()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s = openTestStore(t, dir)
	defer s.Close()
	t.Logf("reopen took %s", time.Since(start))
	after := s.Image()
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("image changed across restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// And the store still works.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "after-restart", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeID: 1, Dir: dir, Logger: quietLogger(), SnapshotThreshold: 4}
	s, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	populate(t, s)
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	// Changes after the snapshot come from the log on restart.
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "post-snapshot", NumPartitions: 2, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	first, _ := s.wal.FirstIndex()
	if first <= 1 {
		t.Fatalf("log not truncated after snapshot: first index %d", first)
	}
	before := s.Image()
	if p, _ := before.Partition("topic-3", 0); p.PartitionEpoch != 2 || p.LeaderEpoch != 1 {
		t.Fatalf("topic-3-0 before the restart: %+v, want partition epoch 2, leader epoch 1", p)
	}
	s.Close()

	s, err = Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if after := s.Image(); !reflect.DeepEqual(before, after) {
		t.Fatalf("image changed across snapshot restart:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestSnapshotEncodingRoundTrip(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	populate(t, s)
	im := s.Image()
	got, err := decodeSnapshot(encodeSnapshot(im), im.ClusterID, im.ControllerID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(im, got) {
		t.Fatalf("snapshot round trip:\nwant %+v\ngot  %+v", im, got)
	}
	// Through the FSM interface, as raft uses it.
	snap, err := s.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	fresh := &Store{wake: make(chan struct{}, 1)}
	fresh.image.Store(emptyImage(im.ClusterID, im.ControllerID))
	if err := (&fsm{s: fresh}).Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(im, fresh.Image()) {
		t.Fatal("FSM restore differs")
	}
	if _, err := decodeSnapshot([]byte{9, 0, 0}, "", 0); err == nil {
		t.Fatal("short snapshot decoded")
	}
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

func TestConcurrentReaders(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				im := s.Image()
				if im.Epoch < last {
					t.Errorf("epoch went back from %d to %d", last, im.Epoch)
					return
				}
				last = im.Epoch
				for name, tp := range im.Topics {
					if im.TopicsByID[tp.ID] != tp || tp.Name != name {
						t.Errorf("inconsistent topic maps for %s", name)
						return
					}
					for i, p := range tp.Partitions {
						if p.ID != int32(i) || len(p.Replicas) == 0 {
							t.Errorf("bad partition %+v", p)
							return
						}
					}
					_ = len(tp.Configs["retention.ms"])
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("t%d", i)
		if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: name, NumPartitions: 2, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreatePartitions(ctx(t), name, 3, nil, false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetTopicConfigs(ctx(t), name, map[string]*string{"retention.ms": strp("5")}, false, false); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.DeleteTopicByName(ctx(t), name); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	if n := len(s.Image().Topics); n != 10 {
		t.Fatalf("%d topics, want 10", n)
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	mustRegister(t, s, 1)
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "race", NumPartitions: 1, ReplicationFactor: 1})
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		err := <-errs
		if err == nil {
			ok++
		} else if !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want 1", ok)
	}
}

func TestWatchOrder(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	events := make(chan [2]*Image, 100)
	s.Watch(func(prev, next *Image) { events <- [2]*Image{prev, next} })
	mustRegister(t, s, 1)
	for i := 0; i < 5; i++ {
		if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: fmt.Sprintf("w%d", i), NumPartitions: 1, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
	}
	final := s.Image()
	var last *Image
	timeout := time.After(10 * time.Second)
	for last != final {
		select {
		case ev := <-events:
			if last != nil && ev[0] != last {
				t.Fatal("watch events out of order: prev is not the last next")
			}
			if ev[1].Epoch < ev[0].Epoch {
				t.Fatal("epoch went back")
			}
			last = ev[1]
		case <-timeout:
			t.Fatal("did not see the final image")
		}
	}
	if len(last.Topics) != 5 {
		t.Fatalf("final watched image has %d topics", len(last.Topics))
	}
}

func TestOpenChecksClusterID(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger(), ClusterID: "MkU3OEVBNTcwNTJENDM2Qk"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Image().ClusterID != "MkU3OEVBNTcwNTJENDM2Qk" || s.ClusterID() != "MkU3OEVBNTcwNTJENDM2Qk" {
		t.Fatalf("cluster id %q", s.Image().ClusterID)
	}
	s.Close()
	if _, err := Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger(), ClusterID: "other"}); err == nil {
		t.Fatal("opened with a different cluster id")
	}
	if _, err := Open(Config{NodeID: 2, Dir: dir, Logger: quietLogger()}); err == nil {
		t.Fatal("opened with a different node id")
	}
	s, err = Open(Config{NodeID: 1, Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Image().ClusterID != "MkU3OEVBNTcwNTJENDM2Qk" {
		t.Fatal("persisted cluster id not loaded")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{NodeID: -1, Dir: "x"},
		{NodeID: 1},
		{NodeID: 1, Dir: "x", DefaultNumPartitions: -1},
		{NodeID: 1, Dir: "x", DefaultReplicationFactor: -1},
		{NodeID: 1, Dir: "x", ClusterID: "has space"},
		{NodeID: 1, Dir: "x", OpenTimeout: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
	good := Config{NodeID: 0, Dir: "x"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseTwiceAndNotController(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	mustRegister(t, s, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "late", NumPartitions: 1, ReplicationFactor: -1})
	wantCode(t, err, kerr.NotController)
}

// TestOpenFinishesInterruptedBootstrap: a crash between the term and the
// configuration entry of the first start's bootstrap leaves a term and
// nothing else; Open must bootstrap again rather than wait for a
// configuration that will never come.
func TestOpenFinishesInterruptedBootstrap(t *testing.T) {
	mem := vfs.NewMem()
	if err := mem.MkdirAll("meta", 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := openWALStore(mem, "meta/raft.wal")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetUint64([]byte(raftCurrentTerm), 1); err != nil {
		t.Fatal(err)
	}
	w.Close()
	s, err := Open(Config{NodeID: 1, Dir: "meta", FS: mem, Logger: quietLogger(), OpenTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustRegister(t, s, 1)
}

// TestRaftStatus: a lone voter leads, has applied what it committed, and
// its image is at the last applied batch; after Close Raft is shut down.
func TestRaftStatus(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	mustRegister(t, s, 1)
	if _, err := s.CreateTopic(ctx(t), CreateTopicRequest{Name: "status", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// Raft records an entry as applied just after the FSM published its
	// image, so the applied index may trail the image epoch for a moment.
	st := s.RaftStatus()
	for deadline := time.Now().Add(5 * time.Second); st.AppliedIndex < uint64(st.ImageEpoch) && time.Now().Before(deadline); st = s.RaftStatus() {
		time.Sleep(time.Millisecond)
	}
	if st.State != "Leader" || st.Term < 1 || st.ControllerID != 1 ||
		st.CommitIndex < uint64(st.ImageEpoch) || st.AppliedIndex < uint64(st.ImageEpoch) ||
		st.LastLogIndex < st.CommitIndex || st.ImageEpoch < 2 {
		t.Fatalf("status of a lone voter: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.RaftStatus(); st.State != "Shutdown" {
		t.Fatalf("status after Close: %+v", st)
	}
}
