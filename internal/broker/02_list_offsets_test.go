package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/partition"
	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listOffsetsRaw asks for one partition's offset at a timestamp with a
// given ListOffsets version.
func listOffsetsRaw(t *testing.T, addr string, version int16, topic string, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = version, -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = 0, ts, -1, 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := kmsg.NewPtrListOffsetsResponse()
	resp.Version = version
	if err := resp.ReadFrom(rawRequest(t, addr, req)); err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("response %+v", resp)
	}
	return resp.Topics[0].Partitions[0]
}

// TestListOffsets asks kadm for the earliest, latest and by-timestamp
// offsets of ten records a minute apart. Other APIs it uses: Produce,
// Metadata (the topic is auto-created).
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

// TestListOffsetsInsideBatches produces multi-record batches with every
// codec through franz-go, with timestamps out of order inside a batch and a
// leader change between batches, and checks that ListOffsets answers with
// the exact record, its timestamp and its batch's leader epoch, as Kafka
// does: by timestamp (kadm), max timestamp and the special timestamps
// (raw requests), also after DeleteRecords moved the log start offset into
// a batch.
//
// Other APIs it uses: Produce, DeleteRecords.
func TestListOffsetsInsideBatches(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	ms := func(rel int64) int64 { return base.UnixMilli() + rel }
	codecs := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	wantCodec := map[string]record.Compression{
		"none": record.CompressionNone, "gzip": record.CompressionGzip, "snappy": record.CompressionSnappy,
		"lz4": record.CompressionLZ4, "zstd": record.CompressionZstd,
	}
	for name, codec := range codecs {
		t.Run(name, func(t *testing.T) {
			topic := "lo-" + name
			// A client of its own per batch, flushed by hand: each
			// produceBatch call is one batch of all its records. (One
			// client across the leader-epoch bump below may split a batch
			// when its metadata refresh sees the new epoch.)
			produceBatch := func(rels ...int64) {
				t.Helper()
				cl := n.client(t, kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
					kgo.ProducerBatchCompression(codec), kgo.ManualFlushing())
				defer cl.Close()
				for i, rel := range rels {
					v := bytes.Repeat([]byte(fmt.Sprintf("record %d at +%d ", i, rel)), 20) // compressible
					cl.Produce(ctx, &kgo.Record{Value: v, Timestamp: time.UnixMilli(ms(rel))}, func(_ *kgo.Record, err error) {
						if err != nil {
							t.Errorf("produce: %v", err)
						}
					})
				}
				// Flush once the client has the topic's partitions: it
				// moves records buffered while the topic was unknown to
				// the partition one by one, and a flush under way may send
				// the first ones as a batch of their own. The partitions
				// are stored after the move.
				for {
					if leader, _, _ := cl.PartitionLeader(topic, 0); leader >= 0 {
						break
					}
					if ctx.Err() != nil {
						t.Fatalf("the client has no leader for %s-0: %v", topic, ctx.Err())
					}
					time.Sleep(5 * time.Millisecond)
				}
				if err := cl.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			produceBatch(0, 10, 20, 30, 40) // offsets 0-4, leader epoch 0
			rep := n.b.replicas.Replica(topic, 0)
			if rep == nil {
				t.Fatal("no replica for the topic")
			}
			rep.Partition().SetLeaderEpoch(1) // as a leader change would
			produceBatch(50, 70, 60, 90, 80)  // 5-9, epoch 1
			produceBatch(100, 130, 110, 120)  // 10-13, epoch 1

			// The batches as a consumer reads them, through the partition.
			var shape []string
			res, err := rep.Partition().Read(partition.ReadOptions{Offset: 0, MaxBytes: 1 << 20, CurrentLeaderEpoch: -1, LastFetchedEpoch: -1})
			if err == nil {
				var raw []byte
				raw, err = res.Records.AppendTo(nil)
				res.Records.Release()
				for it := record.Batches(raw); err == nil && it.Next(); {
					h := it.Header()
					shape = append(shape, fmt.Sprintf("%d+%d %v epoch %d", h.BaseOffset, h.NumRecords, h.Compression(), h.PartitionLeaderEpoch))
				}
			}
			c := wantCodec[name]
			wantShape := fmt.Sprintf("[0+5 %v epoch 0 5+5 %v epoch 1 10+4 %v epoch 1]", c, c, c)
			if err != nil || fmt.Sprint(shape) != wantShape {
				t.Fatalf("batches %v (%v), want %s", shape, err, wantShape)
			}

			adm := kadm.NewClient(n.client(t))
			byTime := func(rel, wantOff, wantRel int64, wantEpoch int32) {
				t.Helper()
				lo, err := adm.ListOffsetsAfterMilli(ctx, ms(rel), topic)
				if err != nil {
					t.Fatal(err)
				}
				o, _ := lo.Lookup(topic, 0)
				if o.Err != nil || o.Offset != wantOff || o.Timestamp != ms(wantRel) || o.LeaderEpoch != wantEpoch {
					t.Errorf("after +%d: offset %d, timestamp %+d, epoch %d, err %v; want %d, %+d, %d",
						rel, o.Offset, o.Timestamp-base.UnixMilli(), o.LeaderEpoch, o.Err, wantOff, wantRel, wantEpoch)
				}
			}
			byTime(20, 2, 20, 0) // exactly, in the middle of a batch
			byTime(25, 3, 30, 0) // between two records
			byTime(41, 5, 50, 1) // between two batches
			byTime(55, 6, 70, 1) // the first in offset order, not 60 at 7
			byTime(125, 11, 130, 1)

			special := func(version int16, ts, wantOff, wantTs int64, wantEpoch int32) {
				t.Helper()
				p := listOffsetsRaw(t, n.addr, version, topic, ts)
				if p.ErrorCode != 0 || p.Offset != wantOff || p.Timestamp != wantTs || p.LeaderEpoch != wantEpoch {
					t.Errorf("v%d timestamp %d: offset %d, timestamp %d, epoch %d, error %d; want %d, %d, %d",
						version, ts, p.Offset, p.Timestamp, p.LeaderEpoch, p.ErrorCode, wantOff, wantTs, wantEpoch)
				}
			}
			special(11, -1, 14, -1, 1)       // latest: the current leader epoch
			special(11, -2, 0, -1, 0)        // earliest: the epoch at the log start
			special(11, -3, 11, ms(130), 1)  // max timestamp: the record, mid-batch
			special(8, -4, 0, -1, 0)         // earliest local
			special(11, -5, -1, -1, -1)      // latest tiered: nothing is
			special(11, -6, -1, -1, -1)      // earliest pending upload: likewise
			special(11, ms(131), -1, -1, -1) // past the last timestamp
			special(3, ms(131), -1, -1, -1)  // no leader epoch before v4
			if p := listOffsetsRaw(t, n.addr, 3, topic, ms(25)); p.Offset != 3 || p.Timestamp != ms(30) {
				t.Errorf("v3 by timestamp: %+v", p)
			}

			// DeleteRecords moves the log start offset into batch C,
			// past the record with the largest timestamp.
			dr, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {At: 12}}})
			if err != nil || dr.Error() != nil {
				t.Fatalf("delete records: %v %v", err, dr.Error())
			}
			byTime(0, 12, 110, 1)
			byTime(111, 13, 120, 1)
			special(11, -2, 12, -1, 1)
			special(11, -3, 13, ms(120), 1)
		})
	}
}

// TestListOffsetsTimestampVersions checks which special timestamps each
// ListOffsets version accepts (UNSUPPORTED_VERSION for the others), before
// the partition is looked up. Other APIs it uses: Produce, Metadata (the
// topic is auto-created).
func TestListOffsetsTimestampVersions(t *testing.T) {
	n := startNode(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := n.client(t, kgo.DefaultProduceTopic("v"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version int16
		ts      int64
		code    int16
	}{
		{0, -1, 0}, {0, -2, 0}, {1, -1, 0}, {1, -2, 0},
		{6, -3, kerr.UnsupportedVersion.Code}, {7, -3, 0},
		{7, -4, kerr.UnsupportedVersion.Code}, {8, -4, 0},
		{8, -5, kerr.UnsupportedVersion.Code}, {9, -5, 0},
		{10, -6, kerr.UnsupportedVersion.Code}, {11, -6, 0},
		{11, -7, kerr.UnsupportedVersion.Code}, {11, -100, kerr.UnsupportedVersion.Code},
	} {
		if p := listOffsetsRaw(t, n.addr, tc.version, "v", tc.ts); p.ErrorCode != tc.code {
			t.Errorf("v%d timestamp %d: error %d, want %d", tc.version, tc.ts, p.ErrorCode, tc.code)
		}
	}
	// The timestamp is checked before the partition is looked up.
	if p := listOffsetsRaw(t, n.addr, 11, "no-such-topic", -7); p.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Errorf("unknown topic, timestamp -7: error %d", p.ErrorCode)
	}
	if p := listOffsetsRaw(t, n.addr, 11, "no-such-topic", -1); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic, latest: error %d", p.ErrorCode)
	}
}
