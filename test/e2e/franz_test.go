package e2e

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sent is one acknowledged record as the producer saw it.
type sent struct {
	key, value string
	offset     int64
}

// produceKeyed produces n keyed records and returns, per partition, the
// acknowledged records in offset order.
func produceKeyed(t *testing.T, cl *kgo.Client, topic, prefix string, n int) map[int32][]sent {
	t.Helper()
	ctx := testContext(t, 3*time.Minute)
	var mu sync.Mutex
	acked := map[int32][]sent{}
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		r := &kgo.Record{
			Topic: topic,
			Key:   []byte(fmt.Sprintf("key-%d", i%997)),
			Value: []byte(fmt.Sprintf("%s-value-%d-%s", prefix, i, strings.Repeat("x", i%64))),
		}
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			mu.Lock()
			acked[r.Partition] = append(acked[r.Partition], sent{string(r.Key), string(r.Value), r.Offset})
			mu.Unlock()
		})
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return acked
}

// consumeAll reads every partition of topic from the beginning up to the
// current end offsets and returns the records per partition.
func consumeAll(t *testing.T, b *broker, topic string, opts ...kgo.Opt) map[int32][]*kgo.Record {
	t.Helper()
	ctx := testContext(t, 3*time.Minute)
	adm := b.admin()
	// Right after a restart of a cluster, a partition's leadership may
	// still be on its way to the node the client asks (NOT_LEADER,
	// LEADER_NOT_AVAILABLE): ask again, as a client does, until every
	// partition answers or the minute is up.
	want := map[int32]int64{}
	for deadline := time.Now().Add(time.Minute); ; {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var failed error
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				if !kerr.IsRetriable(o.Err) || time.Now().After(deadline) {
					t.Fatalf("end offset of %d: %v", o.Partition, o.Err)
				}
				failed = o.Err
			}
			want[o.Partition] = o.Offset
		})
		if failed == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl := b.client(append([]kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
	got := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, end := range want {
			recs := got[p]
			if end > 0 && (len(recs) == 0 || recs[len(recs)-1].Offset < end-1) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume: timed out; have %d partitions", len(got))
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], r) })
	}
	return got
}

// compareExact checks that the consumed records are exactly the acknowledged
// ones, in order per partition, nothing missing and nothing extra.
func compareExact(t *testing.T, acked map[int32][]sent, got map[int32][]*kgo.Record) {
	t.Helper()
	total := 0
	for p, want := range acked {
		recs := got[p]
		if len(recs) != len(want) {
			t.Fatalf("partition %d: consumed %d records, acknowledged %d", p, len(recs), len(want))
		}
		for i, w := range want {
			r := recs[i]
			if string(r.Key) != w.key || string(r.Value) != w.value || r.Offset != w.offset {
				t.Fatalf("partition %d record %d: got (%d %q %q), want (%d %q %q)", p, i, r.Offset, r.Key, r.Value, w.offset, w.key, w.value)
			}
		}
		total += len(want)
	}
	for p, recs := range got {
		if _, ok := acked[p]; !ok && len(recs) > 0 {
			t.Fatalf("partition %d: %d records that were never produced", p, len(recs))
		}
	}
	t.Logf("compared %d records exactly", total)
}

func createTopic(t *testing.T, b *broker, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := b.admin().CreateTopic(testContext(t, 30*time.Second), partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v %s", topic, resp.Err, resp.ErrMessage)
	}
	b.waitTopic(t, topic, int(partitions))
}

func TestFranzProduceConsumeEveryCodec(t *testing.T) {
	b := startBroker(t)
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	codecs := map[string]kgo.CompressionCodec{
		"none":   kgo.NoCompression(),
		"gzip":   kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "codec-" + name
			createTopic(t, b, topic, 3, nil)
			cl := b.client(kgo.ProducerBatchCompression(codec), kgo.RequiredAcks(kgo.AllISRAcks()))
			acked := produceKeyed(t, cl, topic, name, n)
			compareExact(t, acked, consumeAll(t, b, topic))
		})
	}
}

// TestFranzRestartMidStream produces continuously while the broker is
// stopped gracefully and then killed, and checks that every acknowledged
// record is present exactly once afterwards.
func TestFranzRestartMidStream(t *testing.T) {
	b := startBroker(t)
	const topic = "restarts"
	createTopic(t, b, topic, 3, nil)
	cl := b.client(
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(1000),
		kgo.RetryTimeout(2*time.Minute),
		kgo.ProduceRequestTimeout(10*time.Second),
	)
	ctx := testContext(t, 4*time.Minute)

	var mu sync.Mutex
	acked := map[string]bool{}
	var failed []error
	var wg sync.WaitGroup
	var produced atomic.Int64
	stop := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprintf("v%07d", i)
			wg.Add(1)
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(v), Value: []byte(v)}, func(r *kgo.Record, err error) {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, err)
					return
				}
				acked[string(r.Value)] = true
				produced.Add(1)
			})
			if i%1000 == 999 {
				// Keep the number of buffered records bounded.
				cl.Flush(ctx)
			}
		}
	}()
	waitFor := func(n int64) {
		for produced.Load() < n {
			if ctx.Err() != nil {
				t.Fatalf("only %d records acknowledged", produced.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(5_000)
	b.stop()
	b.restart()
	waitFor(produced.Load() + 5_000)
	b.kill()
	b.restart()
	waitFor(produced.Load() + 5_000)
	close(stop)
	<-producerDone
	wg.Wait()
	if len(failed) > 0 {
		t.Logf("%d records failed to produce (not acknowledged, may or may not be present): first %v", len(failed), failed[0])
	}

	got := consumeAll(t, b, topic)
	seen := map[string]int{}
	for _, recs := range got {
		for _, r := range recs {
			seen[string(r.Value)]++
		}
	}
	for v := range acked {
		if seen[v] != 1 {
			t.Fatalf("acknowledged record %s present %d times", v, seen[v])
		}
	}
	for v, n := range seen {
		if n > 1 {
			t.Fatalf("record %s present %d times", v, n)
		}
	}
	t.Logf("%d acknowledged records, all present exactly once across a graceful restart and a kill -9", len(acked))
}

func TestFranzListOffsetsByTimestamp(t *testing.T) {
	b := startBroker(t)
	const topic = "by-time"
	createTopic(t, b, topic, 1, nil)
	cl := b.client(kgo.DefaultProduceTopic(topic))
	ctx := testContext(t, time.Minute)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := b.admin()
	// The first offset whose timestamp is at or after base+4m30s is 5.
	lo, err := adm.ListOffsetsAfterMilli(ctx, base.Add(4*time.Minute+30*time.Second).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := lo.Lookup(topic, 0)
	if o.Err != nil || o.Offset != 5 {
		t.Fatalf("offset after base+4m30s: got %d (%v), want 5", o.Offset, o.Err)
	}
	// After the newest timestamp: the log end offset.
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(time.Hour).UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lo.Lookup(topic, 0); o.Offset != 10 {
		t.Fatalf("offset after the last timestamp: got %d, want 10", o.Offset)
	}
	// Earliest timestamp gives offset 0.
	lo, err = adm.ListOffsetsAfterMilli(ctx, base.UnixMilli(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lo.Lookup(topic, 0); o.Offset != 0 {
		t.Fatalf("offset at the first timestamp: got %d, want 0", o.Offset)
	}
}

// TestFranzListOffsetsInsideCompressedBatch: ListOffsets by timestamp
// finds the exact record inside a compressed multi-record batch, as Kafka
// does, before and after a restart.
func TestFranzListOffsetsInsideCompressedBatch(t *testing.T) {
	b := startBroker(t)
	const topic = "by-time-batched"
	createTopic(t, b, topic, 1, nil)
	ctx := testContext(t, time.Minute)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	// One zstd batch (a long linger, then Flush) whose timestamps are not
	// in offset order.
	cl := b.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(time.Minute))
	for i, sec := range []int{0, 10, 30, 20, 40} {
		r := &kgo.Record{Value: []byte(strings.Repeat(fmt.Sprint(i), 100)), Timestamp: base.Add(time.Duration(sec) * time.Second)}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		adm := b.admin()
		for _, c := range []struct{ after, offset, at int }{
			{0, 0, 0},
			{10, 1, 10}, // exactly, inside the batch
			{15, 2, 30}, // the first record in offset order at or after +15s
			{25, 2, 30}, // likewise: +20s at offset 3 comes later
			{35, 4, 40},
		} {
			lo, err := adm.ListOffsetsAfterMilli(ctx, base.Add(time.Duration(c.after)*time.Second).UnixMilli(), topic)
			if err != nil {
				t.Fatal(err)
			}
			o, _ := lo.Lookup(topic, 0)
			if o.Err != nil || o.Offset != int64(c.offset) || o.Timestamp != base.Add(time.Duration(c.at)*time.Second).UnixMilli() {
				t.Fatalf("%s: after +%ds: offset %d, timestamp %v (%v); want %d at +%ds", when, c.after, o.Offset, time.UnixMilli(o.Timestamp).Sub(base), o.Err, c.offset, c.at)
			}
		}
	}
	check("running")
	b.stop()
	b.restart()
	check("after a restart")
}

func TestFranzDeleteRecords(t *testing.T) {
	b := startBroker(t)
	const topic = "delete-records"
	createTopic(t, b, topic, 1, nil)
	cl := b.client(kgo.DefaultProduceTopic(topic))
	ctx := testContext(t, time.Minute)
	for i := 0; i < 100; i++ {
		if err := cl.ProduceSync(ctx, kgo.StringRecord(fmt.Sprint(i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := b.admin()
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 60})
	resp, err := adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup(topic, 0); r.Err != nil || r.LowWatermark != 60 {
		t.Fatalf("delete records: low watermark %d err %v, want 60", r.LowWatermark, r.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 60 {
		t.Fatalf("log start offset %d, want 60", o.Offset)
	}
	got := consumeAll(t, b, topic)
	if len(got[0]) != 40 || got[0][0].Offset != 60 || string(got[0][0].Value) != "60" {
		t.Fatalf("after delete records: %d records, first at %d", len(got[0]), got[0][0].Offset)
	}
	// Deleting past the high watermark is refused.
	offs = kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1000})
	resp, err = adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup(topic, 0); !errors.Is(r.Err, kerr.OffsetOutOfRange) {
		t.Fatalf("delete past the high watermark: %v, want OFFSET_OUT_OF_RANGE", r.Err)
	}
	// The new start survives a restart.
	b.stop()
	b.restart()
	starts, err = b.admin().ListStartOffsets(testContext(t, 30*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup(topic, 0); o.Offset != 60 {
		t.Fatalf("log start offset after restart %d, want 60", o.Offset)
	}
}

// TestFranzRetentionDeletesOldSegments uses small segments and a short
// retention, and waits until the broker's retention pass removes the old ones.
func TestFranzRetentionDeletesOldSegments(t *testing.T) {
	b := startBroker(t, "SAMSA_LOG_RETENTION_CHECK_INTERVAL_MS=100")
	const topic = "retention"
	createTopic(t, b, topic, 1, map[string]*string{
		"segment.bytes": kadm.StringPtr("1048576"), // Kafka's smallest
	})
	cl := b.client(kgo.DefaultProduceTopic(topic))
	ctx := testContext(t, 2*time.Minute)
	old := time.Now().Add(-48 * time.Hour)
	recs := make([]*kgo.Record, 3000)
	for i := range recs {
		recs[i] = &kgo.Record{Value: incompressible(1000), Timestamp: old}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := b.admin()
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, topic); err != nil {
		t.Fatal(err)
	}
	for {
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := starts.Lookup(topic, 0); o.Offset > 0 {
			ends, _ := adm.ListEndOffsets(ctx, topic)
			e, _ := ends.Lookup(topic, 0)
			if e.Offset != 3000 {
				t.Fatalf("end offset %d after retention, want 3000", e.Offset)
			}
			t.Logf("retention moved the log start offset to %d", o.Offset)
			return
		}
		if ctx.Err() != nil {
			t.Fatal("retention never deleted a segment")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFranzTopicConfigChangeTakesEffect(t *testing.T) {
	b := startBroker(t)
	const topic = "config-change"
	createTopic(t, b, topic, 1, nil)
	cl := b.client(kgo.DefaultProduceTopic(topic), kgo.RecordRetries(0))
	ctx := testContext(t, time.Minute)
	big := &kgo.Record{Value: incompressible(20_000)}
	if err := cl.ProduceSync(ctx, big).FirstErr(); err != nil {
		t.Fatalf("20 kB record under the default limit: %v", err)
	}
	adm := b.admin()
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("10000")}}, topic); err != nil {
		t.Fatal(err)
	}
	b.waitTopicConfig(t, topic, "max.message.bytes", "10000")
	big = &kgo.Record{Value: incompressible(20_000)}
	if err := cl.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("20 kB record over max.message.bytes=10000: %v, want MESSAGE_TOO_LARGE", err)
	}
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	c, err := rc.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range c.Configs {
		if kv.Key == "max.message.bytes" {
			found = true
			if kv.MaybeValue() != "10000" || kv.Source != 1 /* DYNAMIC_TOPIC_CONFIG */ {
				t.Fatalf("max.message.bytes described as %q source %v", kv.MaybeValue(), kv.Source)
			}
		}
	}
	if !found {
		t.Fatal("max.message.bytes missing from DescribeConfigs")
	}
}

func TestFranzAutoCreateOnProduce(t *testing.T) {
	b := startBroker(t, "SAMSA_NUM_PARTITIONS=2")
	cl := b.client(kgo.DefaultProduceTopic("auto-created"), kgo.AllowAutoTopicCreation())
	ctx := testContext(t, time.Minute)
	if err := cl.ProduceSync(ctx, kgo.StringRecord("hello")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	td, err := b.admin().ListTopics(ctx, "auto-created")
	if err != nil {
		t.Fatal(err)
	}
	if d := td["auto-created"]; d.Err != nil || len(d.Partitions) != 2 {
		t.Fatalf("auto-created topic: %v, %d partitions, want 2", d.Err, len(d.Partitions))
	}
}

func TestFranzErrors(t *testing.T) {
	b := startBroker(t)
	ctx := testContext(t, time.Minute)
	adm := b.admin()
	resp, err := adm.CreateTopic(ctx, 1, 1, nil, "bad/name")
	if err == nil {
		err = resp.Err
	}
	if !errors.Is(err, kerr.InvalidTopicException) {
		t.Fatalf("create bad/name: %v, want INVALID_TOPIC_EXCEPTION", err)
	}
	createTopic(t, b, "limits", 1, nil)
	cl := b.client(kgo.DefaultProduceTopic("limits"), kgo.RecordRetries(0), kgo.ProducerBatchMaxBytes(4<<20), kgo.MaxBufferedBytes(8<<20))
	huge := &kgo.Record{Value: incompressible(2 << 20)}
	if err := cl.ProduceSync(ctx, huge).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("2 MiB record: %v, want MESSAGE_TOO_LARGE", err)
	}
	// The broker is unharmed: a normal record still goes through.
	if err := cl.ProduceSync(ctx, kgo.StringRecord("ok")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "limits")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("limits", 0); o.Offset != 1 {
		t.Fatalf("end offset %d, want 1", o.Offset)
	}
}

// incompressible returns n random bytes, so that a client's compression
// cannot shrink a record under a size limit.
func incompressible(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
