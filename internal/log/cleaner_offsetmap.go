package log

import (
	"hash/maphash"
)

// offsetMap is the cleaner's bounded key → latest offset map, Kafka's
// SkimpyOffsetMap in spirit: an array of slots bounded by
// log.cleaner.dedupe.buffer.size, open addressing with linear probing, and
// keys stored only as a 128-bit hash so memory does not depend on key size.
// Unlike Kafka's, the array starts small and doubles (up to the bound) as
// keys arrive, so a log with few keys probes a small, cache-friendly table.
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
	slots      []mapSlot
	mask       uint64
	maxSlots   int     // the bound from the buffer size
	loadFactor float64 // how full the slots may get before doubling (or, at the bound, refusing keys)
	growAt     int     // size at which the current slots are full
	size       int
	latest     int64 // the largest offset put, -1 if none
	s1, s2     maphash.Seed
	lookups    int64
	probes     int64
}

// mapSlot is one entry: the key's 128-bit hash and offset+1 (0 = empty).
type mapSlot struct {
	h1, h2 uint64
	off1   int64
}

const (
	mapSlotSize     = 24
	mapInitialSlots = 1 << 12
)

// The process's secret hash seeds.
var mapSeed1, mapSeed2 = maphash.MakeSeed(), maphash.MakeSeed()

// newOffsetMap bounds the map to bufferBytes of slots (a power of two, so
// probing masks instead of dividing), full at loadFactor.
func newOffsetMap(bufferBytes int64, loadFactor float64) *offsetMap {
	n := 16
	for int64(n)*2*mapSlotSize <= bufferBytes {
		n *= 2
	}
	m := &offsetMap{maxSlots: n, loadFactor: loadFactor, latest: -1, s1: mapSeed1, s2: mapSeed2}
	m.alloc(min(n, mapInitialSlots))
	return m
}

func (m *offsetMap) alloc(n int) {
	m.slots = make([]mapSlot, n)
	m.mask = uint64(n - 1)
	m.growAt = max(1, int(float64(n)*m.loadFactor))
}

// grow doubles the slots and reinserts the entries.
func (m *offsetMap) grow() {
	old := m.slots
	m.alloc(2 * len(old))
	for _, s := range old {
		if s.off1 == 0 {
			continue
		}
		i := s.h1 & m.mask
		for m.slots[i].off1 != 0 {
			i = (i + 1) & m.mask
		}
		m.slots[i] = s
	}
}

// capacity is how many keys the map can hold at its bound.
func (m *offsetMap) capacity() int { return max(1, int(float64(m.maxSlots)*m.loadFactor)) }

func (m *offsetMap) hash(key []byte) (uint64, uint64) {
	h1 := maphash.Bytes(m.s1, key)
	h2 := maphash.Bytes(m.s2, key)
	return h1, h2
}

// clear empties the map for a new cleaning round, shrinking it back.
func (m *offsetMap) clear() {
	if len(m.slots) > mapInitialSlots {
		m.alloc(min(m.maxSlots, mapInitialSlots))
	} else {
		clear(m.slots)
	}
	m.size = 0
	m.latest = -1
}

// put records offset as the latest for key. Offsets are put in increasing
// order, so an existing entry is simply overwritten. It returns false,
// changing nothing, when key is new and the map is full.
func (m *offsetMap) put(key []byte, offset int64) bool {
	h1, h2 := m.hash(key)
	i := h1 & m.mask
	for {
		s := &m.slots[i]
		if s.off1 == 0 {
			if m.size >= m.growAt {
				if len(m.slots) >= m.maxSlots {
					return false
				}
				m.grow()
				return m.put(key, offset)
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

// utilization is the fraction of the bound's slots in use.
func (m *offsetMap) utilization() float64 { return float64(m.size) / float64(m.maxSlots) }
