package server

import (
	"bytes"
	"encoding/binary"
	"runtime/debug"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestFrameClassesCoverTheirSizes(t *testing.T) {
	for _, size := range []int{minPooledFrame / 2, minPooledFrame/2 + 1, minPooledFrame - 1, minPooledFrame, minPooledFrame + 1,
		1 << 20, 1<<20 + 1, 3 << 20, maxPooledFrame - 1, maxPooledFrame} {
		c := frameClass(size)
		if c < 0 || c >= frameClasses {
			t.Fatalf("size %d: class %d", size, c)
		}
		if capacity := minPooledFrame << c; capacity < size || (c > 0 && capacity/2 >= size) {
			t.Fatalf("size %d: class %d holds %d bytes, not the smallest class that fits", size, c, capacity)
		}
		b := getFrame(size)
		if len(b) != size || frameClass(cap(b)) != c {
			t.Fatalf("size %d: buffer len %d cap %d", size, len(b), cap(b))
		}
		putFrame(b)
	}
	for _, size := range []int{0, 8, minPooledFrame/2 - 1, maxPooledFrame + 1} {
		if c := frameClass(size); c != -1 {
			t.Fatalf("size %d pooled in class %d", size, c)
		}
	}
	// A buffer whose capacity is not a class size never enters a pool.
	putFrame(make([]byte, 100<<10))
	if b := getFrame(100 << 10); cap(b) != 128<<10 {
		t.Fatalf("got a buffer of capacity %d for a 100 KiB frame", cap(b))
	}
}

// produceFrame is a size-prefixed Produce v9 request of about size bytes.
func produceFrame(size int) []byte {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	tp := kmsg.NewProduceRequestTopicPartition()
	tp.Records = bytes.Repeat([]byte{7}, size)
	t := kmsg.NewProduceRequestTopic()
	t.Topic = "t"
	t.Partitions = append(t.Partitions, tp)
	req.Topics = append(req.Topics, t)
	return kmsg.NewRequestFormatter().AppendRequest(nil, req, 1)
}

func TestRecycledFramesAreReused(t *testing.T) {
	const frames, size = 64, 256 << 10
	one := produceFrame(size)
	stream := bytes.Repeat(one, frames)
	r := bytes.NewReader(stream)
	var scratch [4]byte
	// A collection empties the pools; none may run while counting.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := frameAllocs.Load()
	for i := 0; i < frames; i++ {
		req, err := ReadRequest(r, scratch[:], 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if req.Key != 0 || req.Size != len(one)-4 || !bytes.Equal(req.Body[len(req.Body)-size:], one[len(one)-size:]) {
			t.Fatalf("frame %d read wrong: key %d size %d", i, req.Key, req.Size)
		}
		req.Recycle()
		req.Recycle() // twice does nothing
		if req.Body != nil {
			t.Fatal("Body still set after Recycle")
		}
	}
	// Without reuse every frame is a new buffer. The race detector drops
	// a quarter of what is put in a sync.Pool at random, so allow for that.
	if got := frameAllocs.Load() - before; got > frames/2 {
		t.Fatalf("reading %d recycled frames of %d bytes allocated %d new buffers", frames, size, got)
	}
}

func TestReadRequestRecyclesOnError(t *testing.T) {
	// A frame cut short, and one whose header does not parse: both are
	// errors, and neither request escapes.
	short := produceFrame(64 << 10)
	var scratch [4]byte
	if _, err := ReadRequest(bytes.NewReader(short[:len(short)-1]), scratch[:], 1<<30); err == nil {
		t.Fatal("a truncated frame was read")
	}
	bad := make([]byte, 4+32<<10)
	binary.BigEndian.PutUint32(bad, uint32(len(bad)-4))
	binary.BigEndian.PutUint16(bad[4:], 0x7fff) // unknown API key
	if _, err := ReadRequest(bytes.NewReader(bad), scratch[:], 1<<30); err == nil {
		t.Fatal("an unknown API key was parsed")
	}
}
