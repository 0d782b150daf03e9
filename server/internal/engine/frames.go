package engine

import (
	"sync"
	"sync/atomic"

	"github.com/ticksync/ticksync/sim"
)

// Body is one encoded frame body (the part of a Frame message every client at one baseline
// shares). It is reference counted: Frames holds one reference until its tick is released,
// each outbox holding it one more; the last Release returns it to its pool, so a body is never
// reused while a writer may still be writing it.
type Body struct {
	B    []byte
	refs atomic.Int32
	pool *bodyPool

	// A client's frame in a game with views (views.go): its own part and view hash in B, split
	// at own, around the shared pieces it names; Seal resolves them into parts (a writev) and
	// takes a reference to each shared body they point into (deps).
	parted bool
	own    int
	pieces []pieceRef
	parts  [][]byte
	deps   []*Body
}

// Buffers appends the body's bytes to bufs as one or more slices (one per piece for a client
// of a game with views, written with one writev) and returns it.
func (b *Body) Buffers(bufs [][]byte) [][]byte {
	if b.parted {
		return append(bufs, b.parts...)
	}
	return append(bufs, b.B)
}

// Len returns the body's length in bytes.
func (b *Body) Len() int {
	if !b.parted {
		return len(b.B)
	}
	n := 0
	for _, p := range b.parts {
		n += len(p)
	}
	return n
}

// Retain takes one more reference.
func (b *Body) Retain() { b.refs.Add(1) }

// Release drops one reference; the last one returns the body to its pool.
func (b *Body) Release() {
	if b.refs.Add(-1) == 0 {
		for i, d := range b.deps {
			d.Release()
			b.deps[i] = nil
		}
		clear(b.parts)
		b.deps, b.parts, b.pieces, b.parted = b.deps[:0], b.parts[:0], b.pieces[:0], false
		b.pool.put(b)
	}
}

// bodyPool recycles bodies. A plain mutex-guarded free list: it grows to the number of bodies
// in flight and then stops allocating (sync.Pool may drop entries at a GC). Writers release
// from their own goroutines, hence the mutex.
type bodyPool struct {
	mu   sync.Mutex
	free []*Body
}

func (p *bodyPool) get() *Body {
	p.mu.Lock()
	var b *Body
	if n := len(p.free); n > 0 {
		b = p.free[n-1]
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if b == nil {
		b = &Body{pool: p, B: make([]byte, 0, 4<<10)}
	}
	b.B = b.B[:0]
	b.refs.Store(1)
	return b
}

func (p *bodyPool) put(b *Body) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.mu.Unlock()
}

// Frames is the frame pipeline of one world: a ring of its recent states, the encoder, and the
// bodies of the current tick, one per distinct baseline. The engine and replay sessions share
// it. One goroutine uses it; only bodies cross to writers.
type Frames struct {
	ring  []*sim.State
	valid []bool // ring[i] holds a state of the current timeline (Reset clears them)
	enc   sim.Encoder
	pool  bodyPool

	// The current tick's bodies, by baseline (0: snapshot), until Release.
	bodies []*Body
	keys   []uint32

	views // games with views (views.go)
}

// NewFrames makes a pipeline keeping ring past states (at least 2). States are allocated as
// the ring fills, then reused.
func NewFrames(ring int) *Frames {
	ring = max(ring, 2)
	return &Frames{ring: make([]*sim.State, ring), valid: make([]bool, ring)}
}

// Snapshot copies w's current state into the ring and returns that copy (immutable until the
// ring comes round to it again).
func (f *Frames) Snapshot(w *sim.World) *sim.State {
	i := int(w.Tick()) % len(f.ring)
	if f.ring[i] == nil {
		f.ring[i] = sim.NewState(w.Schema())
	}
	w.Snapshot(f.ring[i])
	if f.viewer != nil {
		f.ring[i].PlaceCells(f.viewer, w)
	}
	f.valid[i] = true
	return f.ring[i]
}

// Has reports whether the ring holds tick base of this timeline for a frame to tick.
func (f *Frames) Has(base, tick uint32) bool {
	if base == 0 || base >= tick || tick-base >= uint32(len(f.ring)) {
		return false
	}
	i := int(base) % len(f.ring)
	return f.valid[i] && f.ring[i].Tick() == base
}

// Reset forgets the ring (a replay seek starts another timeline): every client's next frame
// is a snapshot.
func (f *Frames) Reset() { clear(f.valid) }

// Body returns the body of a frame to cur from baseline base (0 or not in the ring: a
// snapshot), encoding it on the first request of the tick. withHash adds the view hash. The
// body stays valid until Release; a holder that keeps it longer must Retain it.
func (f *Frames) Body(base uint32, cur *sim.State, withHash bool) (b *Body, baseline uint32) {
	if !f.Has(base, cur.Tick()) {
		base = 0
	}
	for i, k := range f.keys {
		if k == base {
			return f.bodies[i], base
		}
	}
	var from *sim.State
	if base != 0 {
		from = f.ring[int(base)%len(f.ring)]
	}
	b = f.pool.get()
	b.B = f.enc.AppendBody(b.B, from, cur, withHash)
	f.bodies = append(f.bodies, b)
	f.keys = append(f.keys, base)
	return b, base
}

// Release drops the pipeline's references to the current tick's bodies.
func (f *Frames) Release() {
	for i, b := range f.bodies {
		b.Release()
		f.bodies[i] = nil
	}
	f.bodies, f.keys = f.bodies[:0], f.keys[:0]
	f.releaseViews()
}
