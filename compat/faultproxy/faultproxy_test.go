package faultproxy

import (
	"net"
	"testing"
	"time"

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

// TestReplicaFetch: a follower's Fetch (replica id before v15, replica
// state from v15) is told from a consumer's, whose id is -1.
func TestReplicaFetch(t *testing.T) {
	for _, tc := range []struct {
		version int16
		id      int32
		want    bool
	}{{11, 2, true}, {11, -1, false}, {13, 3, true}, {13, -1, false}, {15, 2, true}, {15, -1, false}, {17, 1, true}} {
		req := kmsg.NewFetchRequest()
		req.Version = tc.version
		if tc.version >= 15 {
			req.ReplicaState.ID = tc.id
			req.ReplicaState.Epoch = 7
		} else {
			req.ReplicaID = tc.id
		}
		frame := []byte{0, 1, byte(tc.version >> 8), byte(tc.version), 0, 0, 0, 9, 0, 2, 'i', 'd'}
		if tc.version >= 12 {
			frame = append(frame, 0) // header v2: no tagged fields
		}
		frame = req.AppendTo(frame)
		if got := replicaFetch(frame, tc.version); got != tc.want {
			t.Errorf("Fetch v%d with replica %d: replicaFetch %v, want %v", tc.version, tc.id, got, tc.want)
		}
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

// TestForwardSharesFaults: a proxy in front of two brokers forwards each
// listener to its own broker, and the Produce responses it drops are
// counted once over both: armed with one, it drops the first response on
// the second listener and lets the next one, on the first, through.
func TestForwardSharesFaults(t *testing.T) {
	broker := func(name string) string { // answers every request with its name
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					for {
						frame, err := readFrame(c)
						if err != nil {
							return
						}
						if writeFrame(c, append(append([]byte(nil), frame[4:8]...), name...)) != nil {
							return
						}
					}
				}()
			}
		}()
		return ln.Addr().String()
	}
	p, err := Listen("127.0.0.1:0", broker("one"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	second, err := p.Forward("127.0.0.1:0", broker("two"))
	if err != nil {
		t.Fatal(err)
	}
	if addrs := p.Addrs(); len(addrs) != 2 || addrs[0] != p.Addr() || addrs[1] != second {
		t.Fatalf("Addrs %v, Addr %s, Forward's %s", addrs, p.Addr(), second)
	}
	// An idempotent Produce request (acks -1, producer id 42 epoch 3).
	req := kmsg.NewProduceRequest()
	req.Version = 11
	req.Acks = -1
	batch := kmsg.NewRecordBatch()
	batch.Magic = 2
	batch.ProducerID = 42
	batch.ProducerEpoch = 3
	batch.Length = 49
	tp := kmsg.NewProduceRequestTopic()
	tp.Topic = "t"
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = batch.AppendTo(nil)
	tp.Partitions = append(tp.Partitions, pp)
	req.Topics = append(req.Topics, tp)
	frame := req.AppendTo([]byte{0, 0, 0, 11, 0, 0, 0, 7, 0, 2, 'i', 'd', 0})
	produce := func(addr string) (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := writeFrame(c, frame); err != nil {
			return "", err
		}
		resp, err := readFrame(c)
		if err != nil {
			return "", err
		}
		return string(resp[4:]), nil
	}
	p.Arm(1)
	if got, err := produce(second); err == nil {
		t.Fatalf("the first Produce response came through (%q); want it dropped", got)
	}
	if got, err := produce(p.Addr()); err != nil || got != "one" {
		t.Fatalf("the second Produce: %q, %v; want broker one's answer", got, err)
	}
	if got, err := produce(second); err != nil || got != "two" {
		t.Fatalf("the third Produce: %q, %v; want broker two's answer", got, err)
	}
	if n := p.DroppedProduces.Load(); n != 1 {
		t.Fatalf("dropped %d Produce responses, want 1", n)
	}
	if pids := p.ProducerIDs(); len(pids) != 1 || pids[ProducerID{42, 3}] != 3 {
		t.Fatalf("producer ids %v, want 3 batches of 42/3", pids)
	}
}
