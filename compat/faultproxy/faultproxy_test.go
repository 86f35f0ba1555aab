package faultproxy

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceInfo: a Produce request as franz-go encodes it is read back
// with its acks and the producer id of its batch.
func TestProduceInfo(t *testing.T) {
	req := kmsg.NewProduceRequest()
	req.Version = 11
	req.Acks = -1
	batch := kmsg.NewRecordBatch()
	batch.Magic = 2
	batch.ProducerID = 42
	batch.ProducerEpoch = 3
	batch.NumRecords = 0
	batch.Length = 49
	raw := batch.AppendTo(nil)
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = raw
	tp.Partitions = append(tp.Partitions, pp)
	req.Topics = append(req.Topics, tp)
	frame := []byte{0, 0, 0, 11, 0, 0, 0, 7, 0, 2, 'i', 'd', 0}
	frame = req.AppendTo(frame)
	p := &Proxy{pids: map[ProducerID]int{}}
	acks, idem := p.produceInfo(frame, 11)
	if acks != -1 || !idem || p.pids[ProducerID{42, 3}] != 1 {
		t.Fatalf("acks %d idempotent %v pids %v (batch %d bytes)", acks, idem, p.pids, len(raw))
	}
}

// TestDropBatches: the first data batch of a partition is dropped on every
// fetch, control batches pass, and a partition left without batches has
// empty records, not null ones (kafka-python fails on null).
func TestDropBatches(t *testing.T) {
	batch := func(base int64, control bool) []byte {
		b := kmsg.NewRecordBatch()
		b.FirstOffset = base
		b.Magic = 2
		b.Length = 49
		if control {
			b.Attributes = 0x20
		}
		return b.AppendTo(nil)
	}
	p := &Proxy{cfg: Config{DropFetchEvery: 100}, seen: map[string]int{}, dropped: map[string]bool{}, order: map[string]bool{}}
	in := append(append(batch(0, false), batch(1, true)...), batch(2, false)...)
	out, n := p.dropBatches("t/0", in)
	if n != 1 || string(out) != string(in[61:]) {
		t.Fatalf("dropped %d, kept %d bytes; want the first batch dropped", n, len(out))
	}
	out, n = p.dropBatches("t/0", batch(0, false)) // fetched again
	if n != 1 || out == nil || len(out) != 0 {
		t.Fatalf("refetch: dropped %d, out %v (nil %v); want empty, not null", n, out, out == nil)
	}
	if _, n = p.dropBatches("t/0", batch(2, false)); n != 0 {
		t.Fatalf("the second data batch was dropped")
	}
}
