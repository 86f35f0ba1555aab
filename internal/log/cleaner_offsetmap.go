package log

import (
	"hash/maphash"
)

// offsetMap is the cleaner's bounded key → latest offset map, Kafka's
// SkimpyOffsetMap in spirit: a fixed array of slots sized from
// log.cleaner.dedupe.buffer.size, open addressing with linear probing, and
// keys stored only as a 128-bit hash so memory does not depend on key size.
//
// The hash is two 64-bit maphash values under two seeds chosen at random
// when the process starts. A collision (two keys with the same 128 bits)
// would make the older key's records look superseded by the newer key's;
// for n distinct keys its probability is about n²/2¹²⁹ (below 10⁻²⁰ for a
// billion keys), and because the seeds are secret and per process, nobody
// can craft colliding keys on purpose (Kafka hashes with unseeded MD5).
//
// Not safe for concurrent use: one cleaner owns it.
type offsetMap struct {
	slots   []mapSlot
	mask    uint64
	maxSize int // entries allowed before the map counts as full (load factor)
	size    int
	latest  int64 // the largest offset put, -1 if none
	s1, s2  maphash.Seed
	lookups int64
	probes  int64
}

// mapSlot is one entry: the key's 128-bit hash and offset+1 (0 = empty).
type mapSlot struct {
	h1, h2 uint64
	off1   int64
}

const mapSlotSize = 24

// The process's secret hash seeds.
var mapSeed1, mapSeed2 = maphash.MakeSeed(), maphash.MakeSeed()

// newOffsetMap sizes the map to at most bufferBytes of slots (a power of
// two, so probing masks instead of dividing), full at loadFactor.
func newOffsetMap(bufferBytes int64, loadFactor float64) *offsetMap {
	n := uint64(1)
	for n*2*mapSlotSize <= uint64(bufferBytes) {
		n *= 2
	}
	if n < 16 {
		n = 16
	}
	m := &offsetMap{slots: make([]mapSlot, n), mask: n - 1, latest: -1, s1: mapSeed1, s2: mapSeed2}
	m.maxSize = max(1, int(float64(n)*loadFactor))
	return m
}

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	h1 := maphash.Bytes(m.s1, key)
	h2 := maphash.Bytes(m.s2, key)
	return h1, h2
}

// clear empties the map for a new cleaning round.
func (m *offsetMap) clear() {
	clear(m.slots)
	m.size = 0
	m.latest = -1
}

// full reports whether the map holds as many keys as its load factor allows.
func (m *offsetMap) full() bool { return m.size >= m.maxSize }

// put records offset as the latest for key. Offsets are put in increasing
// order, so an existing entry is simply overwritten. It returns false,
// changing nothing, when key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h1, h2 := m.hash(key)
	i := h1 & m.mask
	for {
		s := &m.slots[i]
		if s.off1 == 0 {
			if m.size >= m.maxSize {
				return false
			}
			*s = mapSlot{h1: h1, h2: h2, off1: offset + 1}
			m.size++
			break
		}
		if s.h1 == h1 && s.h2 == h2 {
			s.off1 = offset + 1
			break
		}
		i = (i + 1) & m.mask
	}
	m.latest = max(m.latest, offset)
	return true
}

// get returns the latest offset put for key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	h1, h2 := m.hash(key)
	i := h1 & m.mask
	m.lookups++
	for {
		m.probes++
		s := &m.slots[i]
		if s.off1 == 0 {
			return -1
		}
		if s.h1 == h1 && s.h2 == h2 {
			return s.off1 - 1
		}
		i = (i + 1) & m.mask
	}
}

// updateLatest raises the latest offset covered by the map (a batch's last
// offset, even when its last records had no key).
func (m *offsetMap) updateLatest(offset int64) { m.latest = max(m.latest, offset) }

// utilization is the fraction of slots in use.
func (m *offsetMap) utilization() float64 { return float64(m.size) / float64(len(m.slots)) }
