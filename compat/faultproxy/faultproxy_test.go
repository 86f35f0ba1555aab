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
