package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkFetch serves sessionless Fetch requests (v16, topics by id) that
// find records at once, up to encoding the response into parts: the
// broker's own cost of a consumer's fetch, without the network. Each
// partition holds 20 batches of one 1 KiB record; every request reads
// them all.
func BenchmarkFetch(b *testing.B) {
	for _, bc := range []struct {
		name       string
		partitions int32
		isolation  int8
	}{
		{"partitions=1", 1, 0},
		{"partitions=16", 16, 0},
		{"partitions=16/read_committed", 16, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchmarkFetch(b, bc.partitions, bc.isolation)
		})
	}
}

func benchmarkFetch(b *testing.B, partitions int32, isolation int8) {
	n := startNode(b, map[string]string{"samsa.log.durability": "pagecache"})
	ctx := context.Background()
	cl := n.client(b, kgo.DefaultProduceTopic("bench"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, "bench"); err != nil {
		b.Fatal(err)
	}
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < 20; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: make([]byte, 1024)}).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
	}
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(16)
	req.ReplicaID = -1
	req.MaxBytes = 50 << 20
	req.MinBytes = 1
	req.IsolationLevel = isolation
	req.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = n.b.meta.Image().Topic("bench").ID
	for p := int32(0); p < partitions; p++ {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition = p
		fp.PartitionMaxBytes = 1 << 20
		ft.Partitions = append(ft.Partitions, fp)
	}
	req.Topics = append(req.Topics, ft)
	frame := kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)

	serve := func() int64 {
		sreq, err := server.ParseRequest(append([]byte(nil), frame[4:]...))
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		resp, err := n.b.Serve(ctx, sreq)
		if err != nil || resp == nil {
			b.Fatal(err)
		}
		size := resp.Len()
		if resp.Release != nil {
			resp.Release()
		}
		if resp.Observe != nil {
			resp.Observe(size, nil)
		}
		return size
	}
	if size := serve(); size < int64(partitions)*20*1024 {
		b.Fatalf("response of %d bytes: the records are not all there", size)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		serve()
	}
}
