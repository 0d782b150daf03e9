package engine

import (
	"slices"

	"github.com/ticksync/ticksync/sim"
)

// Frames for games with views (sim.Viewer; docs/protocol.md, "Views"). Each client's frame is
// its own part (the movers that touch its view), then the pieces of the cells it sees, then
// its view hash. A piece depends only on (cell, kind, baseline), so it is encoded once per
// tick into that baseline's shared body, however many clients get it; a client's body names
// its pieces, and Seal turns the names into slices once every piece of the tick is encoded
// (the shared body may grow until then). The writer sends the slices with one writev.

// View is one client's view across ticks: the cells of each frame it was given, for as long
// as the ring keeps states, so its next frame can be a delta from any baseline it may hold.
type View struct {
	hist    []viewAt // by tick % ring
	scratch []sim.Cell
}

type viewAt struct {
	tick  uint32
	cells []sim.Cell
}

// NewView makes a client's view record for a pipeline of ring states.
func (f *Frames) NewView() *View { return &View{hist: make([]viewAt, len(f.ring))} }

// Cells returns the cells player sees in w now (the game's Viewer.View, appending to the
// view's scratch), cleaned: sorted, unique, inside the grid.
func (f *Frames) Cells(v *View, w *sim.World, player uint32) []sim.Cell {
	v.scratch = f.grid.Clean(f.viewer.View(w, player, v.scratch[:0]))
	return v.scratch
}

// at returns the cells the client was sent at tick.
func (v *View) at(tick uint32) ([]sim.Cell, bool) {
	h := &v.hist[int(tick)%len(v.hist)]
	return h.cells, tick != 0 && h.tick == tick
}

// set records the cells the client is sent at tick.
func (v *View) set(tick uint32, cells []sim.Cell) {
	h := &v.hist[int(tick)%len(v.hist)]
	h.tick, h.cells = tick, append(h.cells[:0], cells...)
}

// Forget drops the view's history: the client's next frame is a snapshot (a replay viewer
// that starts or stops following a player).
func (v *View) Forget() {
	for i := range v.hist {
		v.hist[i].tick = 0
	}
}

// views is the part of Frames that serves games with views.
type views struct {
	viewer  sim.Viewer
	grid    sim.Grid
	sets    []*pieceSet // this tick's, one per baseline in use (0: snapshots)
	spare   []*pieceSet
	pending []*Body // this tick's client bodies, until Seal
	held    []*Body // sealed client bodies, until Release
	clients bodyPool
	refs    []sim.PieceRef
	hashIDs []uint64 // ViewHash's scratch
}

// pieceSet is the pieces of one tick for clients at one baseline, in one shared body.
type pieceSet struct {
	base     uint32
	body     *Body
	off, end []int32 // by kind × (cells+1) + bucket: the piece's bytes in body.B (off -1: not yet encoded)
	delta    sim.Delta
	found    bool // delta found for this tick
}

// pieceRef is one of a client body's pieces: its set and index there.
type pieceRef struct {
	set *pieceSet
	i   int32
}

// SetViewer makes the pipeline serve a game with views (nil: without). States taken from
// now on know their cells; call Reset too when the game changes under an existing ring.
func (f *Frames) SetViewer(v sim.Viewer) {
	f.viewer = v
	if v != nil {
		f.grid = v.ViewGrid()
	}
}

// Viewer returns the game's views (nil: none).
func (f *Frames) Viewer() sim.Viewer { return f.viewer }

// ViewBody returns the body of the frame to cur of a client with view v that holds tick base
// and sees cells now (clean: Frames.Cells). Its baseline is base while the ring holds it and
// the client's view then is known, else 0 (a snapshot of its view). withHash adds the view
// hash. The body stays valid until Release, and is complete only after Seal.
func (f *Frames) ViewBody(v *View, base uint32, cur *sim.State, cells []sim.Cell, withHash bool) (b *Body, baseline uint32) {
	tick := cur.Tick()
	v.set(tick, cells)
	vb, ok := v.at(base)
	snapshot := !ok || !f.Has(base, tick)
	var from *sim.State
	if snapshot {
		base = 0
	} else {
		from = f.ring[int(base)%len(f.ring)]
	}
	set := f.pieceSet(base)
	b = f.clients.get()
	b.parted = true
	if !snapshot {
		if !set.found {
			set.delta.Find(from, cur)
			set.found = true
		}
		b.B = f.enc.AppendMovers(b.B, &set.delta, vb, cells)
	}
	b.own = len(b.B)
	var d *sim.Delta
	if !snapshot {
		d = &set.delta
	}
	stride := int32(f.grid.Cells() + 1)
	f.refs = sim.AppendPieceRefs(f.refs[:0], vb, cells, snapshot)
	for _, r := range f.refs {
		bucket := int32(r.Cell)
		if r.Cell == sim.Everywhere {
			bucket = stride - 1
		}
		i := int32(r.Kind)*stride + bucket
		if set.off[i] < 0 {
			set.off[i] = int32(len(set.body.B))
			set.body.B = f.enc.AppendPiece(set.body.B, r.Kind, d, cur, r.Cell)
			set.end[i] = int32(len(set.body.B))
		}
		if set.end[i] > set.off[i] {
			b.pieces = append(b.pieces, pieceRef{set, i})
		}
	}
	if withHash {
		var h uint64
		h, f.hashIDs = cur.ViewHash(cells, f.hashIDs)
		b.B = sim.AppendViewHash(b.B, h)
	}
	f.pending = append(f.pending, b)
	return b, base
}

// pieceSet returns this tick's set for baseline base, starting it on first use.
func (f *Frames) pieceSet(base uint32) *pieceSet {
	for _, s := range f.sets {
		if s.base == base {
			return s
		}
	}
	var s *pieceSet
	if n := len(f.spare); n > 0 {
		s, f.spare = f.spare[n-1], f.spare[:n-1]
	} else {
		s = &pieceSet{}
	}
	n := 3 * (f.grid.Cells() + 1)
	s.off, s.end = slices.Grow(s.off[:0], n)[:n], slices.Grow(s.end[:0], n)[:n]
	for i := range s.off {
		s.off[i] = -1
	}
	s.base, s.found, s.body = base, false, f.pool.get()
	f.sets = append(f.sets, s)
	return s
}

// Seal completes this tick's client bodies: each becomes its own part, its pieces and its
// hash as slices, holding a reference to every shared body it points into.
func (f *Frames) Seal() {
	for _, b := range f.pending {
		if b.own > 0 {
			b.parts = append(b.parts, b.B[:b.own])
		}
		for _, r := range b.pieces {
			sb := r.set.body
			b.parts = append(b.parts, sb.B[r.set.off[r.i]:r.set.end[r.i]])
			if !holds(b.deps, sb) {
				sb.Retain()
				b.deps = append(b.deps, sb)
			}
		}
		if len(b.B) > b.own {
			b.parts = append(b.parts, b.B[b.own:])
		}
		f.held = append(f.held, b)
	}
	clear(f.pending)
	f.pending = f.pending[:0]
}

func holds(list []*Body, b *Body) bool {
	for _, x := range list {
		if x == b {
			return true
		}
	}
	return false
}

// releaseViews drops the pipeline's references to this tick's client bodies and sets.
func (f *Frames) releaseViews() {
	f.Seal() // bodies nobody sealed are complete anyway before they go
	for i, b := range f.held {
		b.Release()
		f.held[i] = nil
	}
	f.held = f.held[:0]
	for i, s := range f.sets {
		s.body.Release()
		s.body = nil
		f.spare = append(f.spare, s)
		f.sets[i] = nil
	}
	f.sets = f.sets[:0]
}
