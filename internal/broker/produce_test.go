package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/vfs"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceAcksOnlyDurableRecords: a produce with acks=1 is answered
// once its records are fsynced, not once they are written. When the fsync
// fails the partition answers KAFKA_STORAGE_ERROR, never success, and the
// records stay invisible to consumers.
func TestProduceAcksOnlyDurableRecords(t *testing.T) {
	ff := vfs.NewFaulty(vfs.OS)
	n := startNodeWith(t, nil, Options{FS: ff})
	cl := n.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, 1, nil, "durable"); err != nil {
		t.Fatal(err)
	}
	// Every fsync of a segment fails from here on (the metadata log is
	// raft.wal, not matched).
	ff.AddRule(vfs.Rule{Ops: vfs.OpSync, Path: "*.log"})

	spec := record.DefaultBatchSpec()
	spec.BaseTimestamp = time.Now().UnixMilli()
	batch, err := record.EncodeBatch(spec, []record.Record{{Value: []byte("lost")}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = 1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "durable"
	if tt := n.b.meta.Image().Topic("durable"); tt != nil {
		rt.TopicID = tt.ID // v13+ names topics by id
	}
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce whose fsync failed: %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
	}

	lo, err := kadm.NewClient(cl).ListEndOffsets(ctx, "durable")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := lo.Lookup("durable", 0); !ok || o.Err != nil || o.Offset != 0 {
		t.Fatalf("end offset after the failed produce: %+v, want 0 (nothing committed)", o)
	}
}
