package replica

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-streaming/samsa/internal/metadata"
	"github.com/samsa-streaming/samsa/internal/txn"
)

// fakeCluster is the marker channel's world in a test: an image that the
// test replaces (closing the changed channel, as an applied image does),
// local writes, and a sender whose answers the test scripts per broker.
type fakeCluster struct {
	mu      sync.Mutex
	im      *metadata.Image
	changed chan struct{}
	sent    []sentMarkers // every request, in order
	local   []txn.TopicPartition
	// answer gives a request's answer; nil answers every partition 0.
	answer func(broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)
}

type sentMarkers struct {
	broker int32
	req    *kmsg.WriteTxnMarkersRequest
}

// leaders builds an image of topic "t" whose partition i is led by
// leaders[i], with brokers 1, 2 and 3 registered.
func leaders(l ...int32) *metadata.Image {
	im := &metadata.Image{Brokers: map[int32]metadata.Broker{}, Topics: map[string]*metadata.Topic{}}
	for id := int32(1); id <= 3; id++ {
		im.Brokers[id] = metadata.Broker{ID: id, Host: "127.0.0.1", Port: 9000 + id}
	}
	t := &metadata.Topic{Name: "t"}
	for i, leader := range l {
		t.Partitions = append(t.Partitions, metadata.Partition{ID: int32(i), Leader: leader, LeaderEpoch: 1, Replicas: []int32{leader}})
	}
	im.Topics["t"] = t
	return im
}

func newFakeCluster(im *metadata.Image) *fakeCluster {
	return &fakeCluster{im: im, changed: make(chan struct{})}
}

// setImage applies a new image.
func (f *fakeCluster) setImage(im *metadata.Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.im = im
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeCluster) requests() []sentMarkers {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func (f *fakeCluster) channel(t *testing.T, tweak func(*markerChannelConfig)) *markerChannel {
	cfg := markerChannelConfig{
		self: 1,
		image: func() *metadata.Image {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.im
		},
		changed: func() <-chan struct{} {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.changed
		},
		local: func(_ context.Context, _ txn.Marker, tp txn.TopicPartition) int16 {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.local = append(f.local, tp)
			return 0
		},
		send: func(ctx context.Context, broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
			f.mu.Lock()
			f.sent = append(f.sent, sentMarkers{broker, req})
			answer := f.answer
			f.mu.Unlock()
			if answer != nil {
				return answer(broker, req)
			}
			return answerAll(req, 0), nil
		},
		logger: slog.New(slog.DiscardHandler),
		// Retries come from image changes unless a test says otherwise.
		backoff: time.Hour, maxBackoff: time.Hour,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c := newMarkerChannel(cfg)
	t.Cleanup(c.close)
	return c
}

// answerAll answers every partition of req with code.
func answerAll(req *kmsg.WriteTxnMarkersRequest, code int16) *kmsg.WriteTxnMarkersResponse {
	resp := req.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	for _, m := range req.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.WriteTxnMarkersResponseMarkerTopicPartition{Partition: p, ErrorCode: code})
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

func marker(pid int64, parts ...int32) txn.Marker {
	m := txn.Marker{TransactionalID: "tx", ProducerID: pid, ProducerEpoch: 3, Commit: true, CoordinatorEpoch: 5}
	for _, p := range parts {
		m.Partitions = append(m.Partitions, txn.TopicPartition{Topic: "t", Partition: p})
	}
	return m
}

// markerPIDs lists the producer ids of a request's markers.
func markerPIDs(req *kmsg.WriteTxnMarkersRequest) []int64 {
	var out []int64
	for _, m := range req.Markers {
		out = append(out, m.ProducerID)
	}
	slices.Sort(out)
	return out
}

// TestMarkerChannelBatchesPerBroker: a transaction's markers go in
// process to the partitions this node leads and as one WriteTxnMarkers
// request (v1, the coordinator epoch and producer epoch in it) to each
// other leader; the markers of the transactions that queue for a broker
// while its request is in flight leave together in the next request, at
// most one per producer id.
func TestMarkerChannelBatchesPerBroker(t *testing.T) {
	f := newFakeCluster(leaders(2, 3, 2, 1)) // t-3 is this node's
	inFlight, release := make(chan struct{}, 1), make(chan struct{})
	first := true
	f.answer = func(broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		if broker == 2 && first {
			first = false
			inFlight <- struct{}{}
			<-release
		}
		return answerAll(req, 0), nil
	}
	c := f.channel(t, nil)
	ctx := context.Background()

	results := make(chan []txn.TopicPartition, 5)
	go func() { results <- c.WriteMarkers(ctx, marker(10, 0, 1, 2, 3)) }()
	<-inFlight // broker 2 holds the first request
	for _, pid := range []int64{11, 12, 13, 12} {
		go func() { results <- c.WriteMarkers(ctx, marker(pid, 2)) }()
	}
	waitFor(t, "four markers queued for broker 2", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.queues[2].waiting) == 4
	})
	close(release)
	for range 5 {
		if failed := <-results; len(failed) != 0 {
			t.Fatalf("failed: %v", failed)
		}
	}

	var to2 [][]int64
	var to3 []*kmsg.WriteTxnMarkersRequest
	for _, s := range f.requests() {
		switch s.broker {
		case 2:
			to2 = append(to2, markerPIDs(s.req))
		case 3:
			to3 = append(to3, s.req)
		default:
			t.Fatalf("a request to broker %d", s.broker)
		}
	}
	if len(to2) != 3 || !slices.Equal(to2[0], []int64{10}) || !slices.Equal(to2[1], []int64{11, 12, 13}) || !slices.Equal(to2[2], []int64{12}) {
		t.Fatalf("requests to broker 2 carry producers %v, want [10] [11 12 13] [12]", to2)
	}
	if len(to3) != 1 || len(to3[0].Markers) != 1 {
		t.Fatalf("requests to broker 3: %d", len(to3))
	}
	m := to3[0].Markers[0]
	if to3[0].GetVersion() != 1 || m.ProducerID != 10 || m.ProducerEpoch != 3 || m.CoordinatorEpoch != 5 || !m.Committed ||
		len(m.Topics) != 1 || m.Topics[0].Topic != "t" || !slices.Equal(m.Topics[0].Partitions, []int32{1}) {
		t.Fatalf("marker to broker 3: v%d %+v", to3[0].GetVersion(), m)
	}
	if want := []txn.TopicPartition{{Topic: "t", Partition: 3}}; !slices.Equal(f.local, want) {
		t.Fatalf("in-process markers %v, want %v", f.local, want)
	}
}

// TestMarkerChannelRetriesAfterLeaderChange: NOT_LEADER_OR_FOLLOWER, a
// failed connection or a partition without a leader hold the marker until
// an applied image names another leader, and it then goes there (the
// backoff is an hour here, so only the image change can retry).
func TestMarkerChannelRetriesAfterLeaderChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start *metadata.Image
		fail  func(req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)
	}{
		{"not leader", leaders(2), func(req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
			return answerAll(req, kerr.NotLeaderForPartition.Code), nil
		}},
		{"connection failed", leaders(2), func(*kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
			return nil, errors.New("connection refused")
		}},
		{"no leader", leaders(-1), nil},
		{"leader fenced", func() *metadata.Image {
			im := leaders(2)
			b := im.Brokers[2]
			b.Fenced = true
			im.Brokers[2] = b
			return im
		}(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCluster(tc.start)
			f.answer = func(broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
				if broker == 2 {
					return tc.fail(req)
				}
				return answerAll(req, 0), nil
			}
			c := f.channel(t, nil)
			done := make(chan []txn.TopicPartition, 1)
			go func() { done <- c.WriteMarkers(context.Background(), marker(10, 0)) }()
			if tc.fail != nil {
				waitFor(t, "the first attempt", func() bool { return len(f.requests()) == 1 })
			}
			select {
			case failed := <-done:
				t.Fatalf("returned %v before the leader changed", failed)
			case <-time.After(50 * time.Millisecond):
			}
			f.setImage(leaders(3))
			if failed := <-done; len(failed) != 0 {
				t.Fatalf("failed after the leader moved: %v", failed)
			}
			reqs := f.requests()
			if last := reqs[len(reqs)-1]; last.broker != 3 {
				t.Fatalf("last request to broker %d, want 3", last.broker)
			}
		})
	}
}

// TestMarkerChannelRetriesAfterBackoff: a leader that answers
// NOT_LEADER_OR_FOLLOWER before it has applied the image that made it
// leader is asked again after the backoff, without an image change.
func TestMarkerChannelRetriesAfterBackoff(t *testing.T) {
	f := newFakeCluster(leaders(2))
	answers := []int16{kerr.NotLeaderForPartition.Code, kerr.NotEnoughReplicas.Code, 0}
	f.answer = func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		code := answers[0]
		answers = answers[1:]
		return answerAll(req, code), nil
	}
	c := f.channel(t, func(cfg *markerChannelConfig) { cfg.backoff, cfg.maxBackoff = time.Millisecond, 2*time.Millisecond })
	if failed := c.WriteMarkers(context.Background(), marker(10, 0)); len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	if n := len(f.requests()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

// TestMarkerChannelDropsDeletedPartitions: a partition the image no
// longer has gets no marker and counts as written, whether it was gone
// before the first attempt or went while its leader answered
// UNKNOWN_TOPIC_OR_PARTITION.
func TestMarkerChannelDropsDeletedPartitions(t *testing.T) {
	f := newFakeCluster(leaders(2, 3))
	c := f.channel(t, nil)
	m := marker(10, 0, 1)
	m.Partitions = append(m.Partitions, txn.TopicPartition{Topic: "gone", Partition: 0}, txn.TopicPartition{Topic: "t", Partition: 7})
	if failed := c.WriteMarkers(context.Background(), m); len(failed) != 0 {
		t.Fatalf("failed: %v", failed)
	}
	if n := len(f.requests()); n != 2 {
		t.Fatalf("%d requests, want one to each leader of t", n)
	}

	f = newFakeCluster(leaders(2))
	f.answer = func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
		return answerAll(req, kerr.UnknownTopicOrPartition.Code), nil
	}
	c = f.channel(t, nil)
	done := make(chan []txn.TopicPartition, 1)
	go func() { done <- c.WriteMarkers(context.Background(), marker(10, 0)) }()
	waitFor(t, "the first attempt", func() bool { return len(f.requests()) == 1 })
	deleted := leaders(2)
	delete(deleted.Topics, "t")
	f.setImage(deleted)
	if failed := <-done; len(failed) != 0 {
		t.Fatalf("failed after the topic was deleted: %v", failed)
	}
	if n := len(f.requests()); n != 1 {
		t.Fatalf("%d requests, want no retry of a deleted partition", n)
	}
}

// TestMarkerChannelGivesUp: a fenced coordinator's markers fail at once;
// markers still unwritten when the call's window ends, or once the
// coordinator epoch moved on, or when the channel closes, are returned
// as failed, for the coordinator to keep the transaction prepared.
func TestMarkerChannelGivesUp(t *testing.T) {
	t.Run("fenced", func(t *testing.T) {
		f := newFakeCluster(leaders(2, 3))
		f.answer = func(broker int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
			if broker == 2 {
				return answerAll(req, kerr.TransactionCoordinatorFenced.Code), nil
			}
			return answerAll(req, 0), nil
		}
		c := f.channel(t, nil)
		failed := c.WriteMarkers(context.Background(), marker(10, 0, 1))
		if want := []txn.TopicPartition{{Topic: "t", Partition: 0}}; !slices.Equal(failed, want) || len(f.requests()) != 2 {
			t.Fatalf("failed %v after %d requests, want %v after 2", failed, len(f.requests()), want)
		}
	})
	t.Run("window", func(t *testing.T) {
		f := newFakeCluster(leaders(-1))
		c := f.channel(t, func(cfg *markerChannelConfig) { cfg.window = 20 * time.Millisecond })
		if failed := c.WriteMarkers(context.Background(), marker(10, 0)); len(failed) != 1 {
			t.Fatalf("failed %v, want t-0", failed)
		}
	})
	t.Run("coordinator moved", func(t *testing.T) {
		f := newFakeCluster(leaders(2))
		f.answer = func(_ int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
			return answerAll(req, kerr.NotLeaderForPartition.Code), nil
		}
		c := f.channel(t, func(cfg *markerChannelConfig) {
			cfg.current = func(m txn.Marker) bool { return m.CoordinatorEpoch > 5 }
		})
		if failed := c.WriteMarkers(context.Background(), marker(10, 0)); len(failed) != 1 || len(f.requests()) != 1 {
			t.Fatalf("failed %v after %d requests, want t-0 after 1", failed, len(f.requests()))
		}
	})
	t.Run("closed", func(t *testing.T) {
		f := newFakeCluster(leaders(-1))
		c := f.channel(t, nil)
		done := make(chan []txn.TopicPartition, 1)
		go func() { done <- c.WriteMarkers(context.Background(), marker(10, 0)) }()
		time.Sleep(20 * time.Millisecond)
		c.close()
		select {
		case failed := <-done:
			if len(failed) != 1 {
				t.Fatalf("failed %v, want t-0", failed)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WriteMarkers still waits after close")
		}
		f.setImage(leaders(2))
		if failed := c.WriteMarkers(context.Background(), marker(10, 0)); len(failed) != 1 || len(f.requests()) != 0 {
			t.Fatalf("after close: failed %v, %d requests", failed, len(f.requests()))
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
