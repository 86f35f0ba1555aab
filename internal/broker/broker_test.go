package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/config"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testNode is an in-process broker serving on a loopback port.
type testNode struct {
	b    *Broker
	srv  *server.Server
	addr string
}

func startNode(t testing.TB, props map[string]string) *testNode {
	t.Helper()
	return startNodeWith(t, props, Options{})
}

// startNodeWith is startNode with Options (a file system, a clock); the
// address and logger are set here.
func startNodeWith(t testing.TB, props map[string]string, opts Options) *testNode {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{"listeners": "PLAINTEXT://127.0.0.1:0", "log.dirs": dir, "samsa.admin.listener": ""}
	for k, v := range props {
		all[k] = v
	}
	cfg, err := config.Parse(all)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.AdvertisedAddr, opts.Logger = l.Addr().String(), slog.New(slog.DiscardHandler)
	b, err := New(cfg, opts)
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	srv := server.New(server.Config{MaxRequestBytes: cfg.SocketRequestMaxBytes}, b)
	if err := srv.Serve(l); err != nil {
		t.Fatal(err)
	}
	n := &testNode{b: b, srv: srv, addr: l.Addr().String()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return n
}

func (n *testNode) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	n := startNode(t, map[string]string{"num.partitions": "3"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prod := n.client(t, kgo.DefaultProduceTopic("events"), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(kgo.AllISRAcks()))
	const count = 300
	want := map[string]string{}
	for i := 0; i < count; i++ {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("value-%d", i)
		want[k] = v
		prod.Produce(ctx, &kgo.Record{Key: []byte(k), Value: []byte(v)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	cons := n.client(t, kgo.ConsumeTopics("events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]string{}
	lastOffset := map[int32]int64{}
	for len(got) < count {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(got), count, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if prev, ok := lastOffset[r.Partition]; ok && r.Offset != prev+1 {
				t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
			}
			lastOffset[r.Partition] = r.Offset
			got[string(r.Key)] = string(r.Value)
		})
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("key %s: got %q want %q", k, got[k], v)
		}
	}
	if len(lastOffset) != 3 {
		t.Errorf("records in %d partitions, want 3", len(lastOffset))
	}
	if n.b.sessions.len() == 0 {
		t.Errorf("the consumer fetched without a fetch session")
	}
}

func TestListOffsets(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := n.client(t, kgo.DefaultProduceTopic("lo"), kgo.AllowAutoTopicCreation())
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Value: []byte{byte(i)}, Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	check := func(what string, lo kadm.ListedOffsets, err error, wantOffset int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		o, ok := lo.Lookup("lo", 0)
		if !ok || o.Err != nil || o.Offset != wantOffset {
			t.Fatalf("%s: %+v, want offset %d", what, o, wantOffset)
		}
	}
	lo, err := adm.ListStartOffsets(ctx, "lo")
	check("earliest", lo, err, 0)
	lo, err = adm.ListEndOffsets(ctx, "lo")
	check("latest", lo, err, 10)
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(4*time.Minute+time.Second).UnixMilli(), "lo")
	check("by timestamp", lo, err, 5)
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(time.Hour).UnixMilli(), "lo")
	check("after the last timestamp", lo, err, 10) // kadm maps "none" to the end offset
}

// rawRequest sends one request on a fresh connection and returns the
// response body (after the correlation id and any header tags).
func rawRequest(t testing.TB, addr string, req kmsg.Request) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wire := kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, req, 7)
	if _, err := c.Write(wire); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 {
		body = body[1:] // empty header tags
	}
	return body
}

func TestAPIVersionsUnsupportedVersion(t *testing.T) {
	n := startNode(t, nil)
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(99)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
	body := rawRequest(t, n.addr, req)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("v0 response does not parse: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %d", resp.ErrorCode)
	}
	var sawAPIVersions bool
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 18 && k.MinVersion == 0 && k.MaxVersion == 4 {
			sawAPIVersions = true
		}
	}
	if !sawAPIVersions {
		t.Fatalf("ranges do not list ApiVersions 0-4: %+v", resp.ApiKeys)
	}

	// A supported version answers normally.
	req.SetVersion(3)
	resp.SetVersion(3)
	if err := resp.ReadFrom(rawRequest(t, n.addr, req)); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("v3: %v code %d", err, resp.ErrorCode)
	}
}

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

// TestLargeProduceFramesRecycled produces requests big enough that their
// frames are read into recycled buffers (which race-enabled builds overwrite
// as they are recycled), pipelined on one connection with acks=1 and acks=all,
// and reads every record back: nothing of a request may be used after the
// server reuses its frame.
func TestLargeProduceFramesRecycled(t *testing.T) {
	n := startNode(t, map[string]string{"num.partitions": "4"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const count, size = 2000, 3000
	value := func(i int) []byte {
		v := bytes.Repeat([]byte{byte(i)}, size)
		copy(v, fmt.Sprintf("record-%d|", i))
		return v
	}
	for _, level := range []int{1, -1} {
		acks, topic := kgo.AllISRAcks(), fmt.Sprintf("recycled-%d", level)
		if level == 1 {
			acks = kgo.LeaderAck()
		}
		opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(), kgo.RequiredAcks(acks),
			kgo.ProducerLinger(5 * time.Millisecond)}
		if level == 1 {
			opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
		}
		prod := n.client(t, opts...)
		for i := 0; i < count; i++ {
			prod.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i)), Value: value(i)}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Errorf("produce: %v", err)
				}
			})
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cons := n.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen := map[int]bool{}
		for len(seen) < count {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("acks %d: consumed %d of %d: %v", level, len(seen), count, err)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				i, err := strconv.Atoi(string(r.Key))
				if err != nil || !bytes.Equal(r.Value, value(i)) || seen[i] {
					t.Fatalf("acks %d: record at %d/%d (key %q) is wrong or repeated", level, r.Partition, r.Offset, r.Key)
				}
				seen[i] = true
			})
		}
	}
}

// TestFetchLongPollWokenByAnyPartition parks a fetch on three empty
// partitions and produces to the last one: that append alone must answer
// the fetch, with its record.
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
