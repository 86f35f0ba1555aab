package record

// Kafka's varints are zigzag-encoded base-128 integers, least significant
// group first, as in protocol buffers: a "varint" holds an int32 in at most
// 5 bytes, a "varlong" an int64 in at most 10. Go's encoding/binary uses the
// same zigzag encoding but not the length limits, so the readers below check
// them as Kafka's ByteUtils does.

const (
	maxVarintLen  = 5
	maxVarlongLen = 10
)

// readVarint decodes the varint at b[i:]. ok is false if the buffer ends
// first or the encoding is longer than 5 bytes or overflows 32 bits.
func readVarint(b []byte, i int) (v int32, next int, ok bool) {
	var u uint64
	for n := 0; n < maxVarintLen; n++ {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		u |= uint64(c&0x7f) << (7 * n)
		if c < 0x80 {
			if u > 0xffffffff {
				return 0, i, false
			}
			x := uint32(u)
			return int32(x>>1) ^ -int32(x&1), i, true
		}
	}
	return 0, i, false
}

// readVarlong decodes the varlong at b[i:].
func readVarlong(b []byte, i int) (v int64, next int, ok bool) {
	var u uint64
	for n := 0; n < maxVarlongLen; n++ {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		if n == maxVarlongLen-1 && c > 1 {
			return 0, i, false // more than 64 bits
		}
		u |= uint64(c&0x7f) << (7 * n)
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i, true
		}
	}
	return 0, i, false
}

func appendUvarint(dst []byte, u uint64) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

func appendVarint(dst []byte, v int32) []byte {
	return appendUvarint(dst, uint64(uint32(v<<1)^uint32(v>>31)))
}

func appendVarlong(dst []byte, v int64) []byte {
	return appendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func varintLen(v int32) int {
	u := uint32(v<<1) ^ uint32(v>>31)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

func varlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
