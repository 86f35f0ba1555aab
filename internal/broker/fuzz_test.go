package broker

import (
	"context"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzRequest feeds frames through header parsing, dispatch and response
// encoding on a live broker: nothing may panic, and every response must be
// releasable.
func FuzzRequest(f *testing.F) {
	formatter := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	seed := func(r kmsg.Request, version int16) {
		r.SetVersion(version)
		f.Add(formatter.AppendRequest(nil, r, 1)[4:])
	}
	seed(kmsg.NewPtrApiVersionsRequest(), 3)
	seed(kmsg.NewPtrApiVersionsRequest(), 0)
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("fuzz")
	md.Topics = append(md.Topics, mt)
	md.AllowAutoTopicCreation = true
	seed(md, 12)
	seed(kmsg.NewPtrMetadataRequest(), 1)
	pr := kmsg.NewPtrProduceRequest()
	pr.Acks = 1
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = "fuzz"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = make([]byte, 70)
	pt.Partitions = append(pt.Partitions, pp)
	pr.Topics = append(pr.Topics, pt)
	seed(pr, 9)
	seed(pr, 3)
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxWaitMillis = 10
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "fuzz"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1000
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	seed(fr, 12)
	seed(fr, 4)
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "fuzz"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	seed(lo, 7)
	seed(lo, 0)

	n := startNode(f, nil)
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := server.ParseRequest(frame)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		resp, err := n.b.Serve(ctx, req)
		if err != nil || resp == nil {
			return
		}
		for _, p := range resp.Parts {
			_ = p.Size()
		}
		if resp.Release != nil {
			resp.Release()
		}
		if resp.Observe != nil {
			resp.Observe(resp.Len(), nil)
		}
	})
}
