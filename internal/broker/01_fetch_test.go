package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// longPollFetch is a fetch of partitions 0 to partitions-1 of topic from
// offset that waits up to 20 s for a byte.
func longPollFetch(n *testNode, topic string, partitions int32, offset int64) *kmsg.FetchRequest {
	fetch := kmsg.NewPtrFetchRequest()
	fetch.SetVersion(12)
	fetch.MaxWaitMillis = 20000
	fetch.MinBytes = 1
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	ft.TopicID = n.b.meta.Image().Topic(topic).ID // kgo sends the newest version, which names topics by id
	for p := int32(0); p < partitions; p++ {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = p
		fp.FetchOffset = offset
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
	}
	fetch.Topics = append(fetch.Topics, ft)
	return fetch
}

// TestFetchLongPollWokenByProduce parks a fetch past the end of a
// partition: only an append answers it, with the new record. Other APIs it
// uses: Produce, Metadata (the topic is auto-created).
func TestFetchLongPollWokenByProduce(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := n.client(t, kgo.DefaultProduceTopic("lp"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("first")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	fetch := longPollFetch(n, "lp", 1, 1)

	type result struct {
		resp *kmsg.FetchResponse
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	started := time.Now()
	go func() {
		resp, err := fetch.RequestWith(ctx, cl)
		done <- result{resp, err, time.Since(started)}
	}()
	// The fetch is parked; nothing can answer it but an append.
	select {
	case r := <-done:
		t.Fatalf("fetch answered before any produce: %+v %v", r.resp, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("second")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.took > 10*time.Second {
		t.Fatalf("fetch took %s: not woken by the append", r.took)
	}
	p := r.resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.HighWatermark != 2 || len(p.RecordBatches) == 0 {
		t.Fatalf("partition %+v", p)
	}
}

// TestFetchLongPollWokenByAnyPartition parks a fetch on three empty
// partitions and produces to the last one: that append alone must answer
// the fetch, with its record.
//
// Other APIs it uses: CreateTopics, Produce.
func TestFetchLongPollWokenByAnyPartition(t *testing.T) {
	n := startNode(t, map[string]string{"num.partitions": "3"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := n.client(t, kgo.DefaultProduceTopic("lp3"), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "lp3"); err != nil {
		t.Fatal(err)
	}
	fetch := longPollFetch(n, "lp3", 3, 0)
	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	done := make(chan result, 1)
	started := time.Now()
	go func() {
		resp, err := fetch.RequestWith(ctx, cl)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("fetch answered before any produce: %+v %v", r.resp, r.err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Partition: 2, Value: []byte("woke")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if took := time.Since(started); took > 10*time.Second {
		t.Fatalf("fetch took %s: not woken by the append", took)
	}
	for _, p := range r.resp.Topics[0].Partitions {
		wantHW, wantData := int64(0), false
		if p.Partition == 2 {
			wantHW, wantData = 1, true
		}
		if p.ErrorCode != 0 || p.HighWatermark != wantHW || (len(p.RecordBatches) > 0) != wantData {
			t.Fatalf("partition %d: error %d, high watermark %d, %d bytes of records", p.Partition, p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
		}
	}
}

// TestFetchLeaderEpochs: a fetch's current leader epoch and last fetched
// epoch (KIP-320) are answered per partition, with the partition's offsets,
// as Kafka answers them: a fenced or unknown epoch as an error, a log that
// diverged from the client's with the diverging epoch and no records.
//
// Other APIs it uses: Produce.
func TestFetchLeaderEpochs(t *testing.T) {
	n, cl := sessionNode(t, "epochs", 1, 3) // offsets 0-2 in leader epoch 0
	part := n.b.hostedPartition("epochs", 0)
	if part == nil {
		t.Fatal("no local partition")
	}
	part.SetLeaderEpoch(1) // as a leader change would
	produceN(t, cl, 0, 2)  // 3-4 in epoch 1
	s := newSessionConn(t, n, "epochs", 17)
	fetch := func(offset int64, current, lastFetched int32) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.SetVersion(s.version)
		req.ReplicaID, req.MaxBytes, req.MinBytes, req.SessionEpoch = -1, 1<<20, 1, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = s.topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
		rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = current, lastFetched
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := s.send(req)
		wantCode(t, "fetch", resp, nil)
		p := respParts(resp)[0]
		if p.HighWatermark != 5 || p.LastStableOffset != 5 || p.LogStartOffset != 0 {
			t.Fatalf("offsets hw %d lso %d start %d, want 5 5 0", p.HighWatermark, p.LastStableOffset, p.LogStartOffset)
		}
		return p
	}
	noDivergence := kmsg.NewFetchResponseTopicPartitionDivergingEpoch()

	for _, tc := range []struct {
		name                 string
		offset               int64
		current, lastFetched int32
		code                 *kerr.Error
		diverging            kmsg.FetchResponseTopicPartitionDivergingEpoch
		next                 int64 // offset after the records, -1 for none
	}{
		{"no epochs", 0, -1, -1, nil, noDivergence, 5},
		{"the current epochs", 3, 1, 1, nil, noDivergence, 5},
		{"the last fetched epoch ends at the fetch offset", 3, 1, 0, nil, noDivergence, 5},
		{"the last fetched epoch ended before the fetch offset", 4, 1, 0, nil, kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: 0, EndOffset: 3}, -1},
		{"a last fetched epoch newer than the log's", 3, -1, 2, kerr.OffsetOutOfRange, noDivergence, -1},
		{"a fenced leader epoch", 0, 0, -1, kerr.FencedLeaderEpoch, noDivergence, -1},
		{"an unknown leader epoch", 0, 2, -1, kerr.UnknownLeaderEpoch, noDivergence, -1},
		{"out of range", 6, -1, -1, kerr.OffsetOutOfRange, noDivergence, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fetch(tc.offset, tc.current, tc.lastFetched)
			want := int16(0)
			if tc.code != nil {
				want = tc.code.Code
			}
			if p.ErrorCode != want {
				t.Fatalf("error %v, want %v", kerr.ErrorForCode(p.ErrorCode), tc.code)
			}
			if d := p.DivergingEpoch; d.Epoch != tc.diverging.Epoch || d.EndOffset != tc.diverging.EndOffset {
				t.Fatalf("diverging epoch %+v, want %+v", p.DivergingEpoch, tc.diverging)
			}
			if got := nextOffset(t, p); got != tc.next {
				t.Fatalf("records up to %d, want %d", got, tc.next)
			}
		})
	}
}
