package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/record"
	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkProduceOneRecord serves a produce of a single 1 KiB record
// (acks=all, page-cache durability), the request a latency-bound producer
// sends: what the broker itself adds to a record's round trip.
func BenchmarkProduceOneRecord(b *testing.B) {
	n := startNode(b, map[string]string{"samsa.log.durability": "pagecache"})
	ctx := context.Background()
	cl := n.client(b)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "one"); err != nil {
		b.Fatal(err)
	}
	spec := record.DefaultBatchSpec()
	spec.BaseTimestamp = time.Now().UnixMilli()
	batch, err := record.EncodeBatch(spec, []record.Record{{Value: make([]byte, 1024)}})
	if err != nil {
		b.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = -1
	req.TimeoutMillis = 30000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "one"
	p := kmsg.NewProduceRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Topics[0].Partitions[0].Records = append([]byte(nil), batch...)
		frame := kmsg.NewRequestFormatter().AppendRequest(nil, req, int32(i))
		sreq, err := server.ParseRequest(frame[4:])
		if err != nil {
			b.Fatal(err)
		}
		resp, err := n.b.Serve(ctx, sreq)
		if err != nil || resp == nil {
			b.Fatal(err)
		}
		if resp.Await != nil {
			if err := resp.Await(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if resp.Observe != nil {
			resp.Observe(resp.Len(), nil)
		}
	}
}
