package broker

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/samsa-streaming/samsa/internal/server"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzRequest feeds frames through header parsing, dispatch and response
// encoding on a live broker: nothing may panic, and every response must be
// releasable, carry the request's correlation id and the header version of
// its API, and decode as that API's response at the request's version
// (ApiVersions at an unsupported version answers at version 0), with
// nothing left over.
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
		key, version, corr := req.Key, req.Version, req.CorrelationID
		resp, err := n.b.Serve(ctx, req)
		if err != nil || resp == nil {
			return
		}
		defer func() {
			if resp.Release != nil {
				resp.Release()
			}
			if resp.Observe != nil {
				resp.Observe(resp.Len(), nil)
			}
		}()
		if resp.Await != nil {
			if err := resp.Await(ctx); err != nil {
				return
			}
		}
		kresp := kmsg.ResponseForKey(key)
		kresp.SetVersion(version)
		if _, ok := Lookup(key, version); !ok && key == 18 {
			kresp.SetVersion(0)
		}
		if resp.CorrelationID != corr || resp.FlexibleHeader != (kresp.IsFlexible() && key != 18) {
			t.Fatalf("%s v%d: response header (correlation id %d, flexible %v) for correlation id %d",
				kmsg.NameForKey(key), version, resp.CorrelationID, resp.FlexibleHeader, corr)
		}
		var body []byte
		for _, p := range resp.Parts {
			if p.File == nil {
				body = append(body, p.Bytes...)
				continue
			}
			b := make([]byte, p.File.Size)
			var r io.ReaderAt = p.File.ReaderAt
			if r == nil {
				r = p.File.OS
			}
			if _, err := r.ReadAt(b, p.File.Offset); err != nil {
				t.Fatalf("file part: %v", err)
			}
			body = append(body, b...)
		}
		if int64(len(body)) != resp.Len()-4-map[bool]int64{true: 1}[resp.FlexibleHeader] {
			t.Fatalf("response body of %d bytes, Len says %d", len(body), resp.Len())
		}
		if err := kresp.ReadFrom(body); err != nil {
			t.Fatalf("%s v%d: response does not decode: %v", kmsg.NameForKey(key), version, err)
		}
		if again := kresp.AppendTo(nil); len(again) != len(body) {
			t.Fatalf("%s v%d: response of %d bytes re-encodes to %d: bytes left over", kmsg.NameForKey(key), version, len(body), len(again))
		}
	})
}
