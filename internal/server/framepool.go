package server

import (
	"math/bits"
	"sync"
	"sync/atomic"
)

// Request frames are read into buffers that the handler may give back
// (Request.Recycle) once nothing refers to the request any more, so that a
// broker taking hundreds of megabytes of produce requests a second reads
// them into the same few buffers instead of allocating — and the runtime
// zeroing — a fresh one per request. Frames are pooled by power-of-two size
// class between minPooledFrame and maxPooledFrame; smaller frames are cheap
// to allocate and larger ones are rare.
const (
	minPooledFrame = 16 << 10
	frameClasses   = 13 // 16 KiB, 32 KiB, ... 64 MiB
	maxPooledFrame = minPooledFrame << (frameClasses - 1)
)

var (
	// framePools[i] holds *[]byte of capacity minPooledFrame << i.
	framePools [frameClasses]sync.Pool
	// boxes holds the empty *[]byte the pools store buffers in, so that
	// giving a buffer back does not allocate one.
	boxes = sync.Pool{New: func() any { return new([]byte) }}
	// frameAllocs counts the buffers of pooled sizes that had to be
	// allocated because the pool was empty.
	frameAllocs atomic.Int64
	// frameRecycles counts the buffers given back to a pool, frameReuses
	// the frames read into a buffer taken from one.
	frameRecycles, frameReuses atomic.Int64
)

// FrameStats reports how many request frame buffers were given back for
// reuse (Request.Recycle of a frame of a pooled size) and how many frames
// were read into a reused buffer, since the process started.
func FrameStats() (recycled, reused int64) {
	return frameRecycles.Load(), frameReuses.Load()
}

// frameClass is the pool index for a buffer of at least size bytes, or -1
// when such frames are not pooled.
func frameClass(size int) int {
	if size < minPooledFrame/2 || size > maxPooledFrame {
		return -1
	}
	if size <= minPooledFrame {
		return 0
	}
	return bits.Len(uint(size-1)) - bits.Len(minPooledFrame-1)
}

// getFrame returns a buffer of length size, from the pool when size has a
// class. Its content is not zeroed.
func getFrame(size int) []byte {
	c := frameClass(size)
	if c < 0 {
		return make([]byte, size)
	}
	if box, ok := framePools[c].Get().(*[]byte); ok {
		b := *box
		*box = nil
		boxes.Put(box)
		frameReuses.Add(1)
		return b[:size]
	}
	frameAllocs.Add(1)
	return make([]byte, size, minPooledFrame<<c)
}

// putFrame gives a buffer back to its class's pool. Buffers whose capacity
// is not exactly a class size (not from getFrame) are left to the garbage
// collector.
func putFrame(b []byte) {
	c := frameClass(cap(b))
	if c < 0 || cap(b) != minPooledFrame<<c {
		return
	}
	if poisonRecycledFrames {
		b = b[:cap(b)]
		for i := range b {
			b[i] = 0xA5
		}
	}
	box := boxes.Get().(*[]byte)
	*box = b[:0]
	framePools[c].Put(box)
	frameRecycles.Add(1)
}
