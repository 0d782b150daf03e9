package sim

// Rand is mulberry32, the World's only source of randomness. Its whole state is one uint32, so
// it is saved in keyframes and restored exactly.
type Rand struct{ a uint32 }

// NewRand returns a generator seeded with seed.
func NewRand(seed uint32) Rand { return Rand{a: seed} }

// Uint32 returns the next draw.
func (r *Rand) Uint32() uint32 {
	r.a += 0x6D2B79F5
	t := r.a
	t = (t ^ t>>15) * (t | 1)
	t ^= t + (t^t>>7)*(t|61)
	return t ^ t>>14
}

// Mod returns a draw modulo n (n > 0). The bias of a 32-bit draw modulo a small n is part of the
// workload's definition, not a flaw to fix: every implementation must agree bit for bit.
func (r *Rand) Mod(n uint32) uint32 { return r.Uint32() % n }

// Below reports whether a draw is below threshold: a chance of threshold / 2^32.
func (r *Rand) Below(threshold uint32) bool { return r.Uint32() < threshold }

// State returns the generator's state.
func (r *Rand) State() uint32 { return r.a }

// SetState restores a state returned by State.
func (r *Rand) SetState(s uint32) { r.a = s }
