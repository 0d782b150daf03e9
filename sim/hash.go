package sim

// FNV-1a 64 constants.
const (
	fnvOffset = 0xcbf29ce484222325
	fnvPrime  = 0x100000001b3
)

// hasher is FNV-1a 64 fed with the state hash's little-endian layout.
type hasher uint64

func newHasher() hasher { return fnvOffset }

func (h *hasher) byte(b byte) { *h = (*h ^ hasher(b)) * fnvPrime }

func (h *hasher) u16(v uint16) { h.byte(byte(v)); h.byte(byte(v >> 8)) }

func (h *hasher) u32(v uint32) {
	h.byte(byte(v))
	h.byte(byte(v >> 8))
	h.byte(byte(v >> 16))
	h.byte(byte(v >> 24))
}

func (h *hasher) bytes(b []byte) {
	h.u16(uint16(len(b)))
	for _, c := range b {
		h.byte(c)
	}
}

func (h hasher) sum() uint64 { return uint64(h) }

// add16 and add32 are u16 and u32 on a value, which the compiler keeps in a register through a
// loop (through a pointer it stores and reloads the hash at every byte).
func (h hasher) add16(v uint16) hasher {
	h = (h ^ hasher(byte(v))) * fnvPrime
	return (h ^ hasher(byte(v>>8))) * fnvPrime
}

func (h hasher) add32(v uint32) hasher {
	h = (h ^ hasher(byte(v))) * fnvPrime
	h = (h ^ hasher(byte(v>>8))) * fnvPrime
	h = (h ^ hasher(byte(v>>16))) * fnvPrime
	return (h ^ hasher(byte(v>>24))) * fnvPrime
}

// FNV64 returns the FNV-1a 64 hash of b.
func FNV64(b []byte) uint64 {
	h := newHasher()
	for _, c := range b {
		h.byte(c)
	}
	return h.sum()
}
