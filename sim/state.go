package sim

import (
	"errors"
	"fmt"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// maxEntityID bounds ids a restored or mirrored state accepts, so a corrupt or hostile input
// cannot make it allocate gigabytes (a million entities is far beyond one room).
const maxEntityID = 1 << 20

// State is a copy of a world's entities at one tick, laid out by id: what the server's ring of
// recent ticks keeps, what diffs compare and what a client's Mirror holds. The server treats a
// State in its ring as immutable.
type State struct {
	schema  *Schema
	tick    uint32
	cls     []uint16 // by id; noClass when absent
	gen     []uint32 // by id: incarnation, so a reused id reads as a despawn and a spawn
	vals    []int32  // by id*stride + int column
	bytes   [][]byte // by id*bstride + bytes column
	stride  int
	bstride int
	n       int
	rng     uint32   // the world's PRNG state (snapshots of a World only)
	free    []Entity // the world's freed ids, next reused first (snapshots of a World only)
	order   []Entity // live ids in the world's storage order, class after class (snapshots of a World only)

	// Views (views.go, set by PlaceCells): each entity's cell by id, and the entities by cell.
	ncells    int
	cells     []Cell
	cellStart []int32 // bucket b (cell b; Everywhere is bucket ncells) holds cellIDs[cellStart[b]:cellStart[b+1]]
	cellFill  []int32 // scratch
	cellIDs   []Entity
}

// NewState returns an empty state (tick 0) for schema s.
func NewState(s *Schema) *State {
	st := &State{}
	st.reset(s)
	return st
}

func (st *State) reset(s *Schema) {
	st.schema, st.tick, st.n = s, 0, 0
	st.stride = s.maxInts
	st.bstride = 0
	for i := range s.classes {
		st.bstride = max(st.bstride, len(s.classes[i].bytesCols))
	}
	st.resize(1)
	st.cls[0] = noClass
}

// resize makes room for ids below n, marking new slots absent.
func (st *State) resize(n int) {
	old := len(st.cls)
	if n <= old {
		st.cls, st.gen = st.cls[:n], st.gen[:n]
		st.vals = st.vals[:n*st.stride]
		st.bytes = st.bytes[:n*st.bstride]
		return
	}
	st.cls = grow(st.cls, n)
	st.gen = grow(st.gen, n)
	st.vals = grow(st.vals, n*st.stride)
	st.bytes = grow(st.bytes, n*st.bstride)
	for i := old; i < n; i++ {
		st.cls[i] = noClass
		st.gen[i] = 0
	}
}

func grow[T any](s []T, n int) []T {
	if n <= cap(s) {
		return s[:n]
	}
	out := make([]T, n, n+n/4)
	copy(out, s)
	return out
}

// Schema returns the state's schema.
func (st *State) Schema() *Schema { return st.schema }

// Tick returns the tick the state is at.
func (st *State) Tick() uint32 { return st.tick }

// Len returns the number of live entities.
func (st *State) Len() int { return st.n }

// MaxID returns one past the highest id slot the state holds.
func (st *State) MaxID() Entity { return Entity(len(st.cls)) }

// ClassOf returns the class of entity e; ok is false when e is not live.
func (st *State) ClassOf(e Entity) (c Class, ok bool) {
	if int(e) >= len(st.cls) || st.cls[e] == noClass {
		return Class{}, false
	}
	return Class{st.cls[e]}, true
}

// Value returns non-bytes field f of entity e (which must be live and of f's class).
func (st *State) Value(e Entity, f Field) int32 { return st.vals[int(e)*st.stride+int(f.col)] }

// Values returns the non-bytes fields of live entity e in schema order (a view into the state).
func (st *State) Values(e Entity) []int32 {
	c := st.cls[e]
	n := len(st.schema.classes[c].intCols)
	return st.vals[int(e)*st.stride : int(e)*st.stride+n]
}

// BytesValue returns bytes field f of live entity e.
func (st *State) BytesValue(e Entity, f BytesField) []byte {
	return st.bytes[int(e)*st.bstride+int(f.col)]
}

// BytesValues returns the bytes fields of live entity e in schema order (a view into the state).
func (st *State) BytesValues(e Entity) [][]byte {
	c := st.cls[e]
	n := len(st.schema.classes[c].bytesCols)
	return st.bytes[int(e)*st.bstride : int(e)*st.bstride+n]
}

// Hash returns the FNV-1a 64 state hash (docs/protocol.md, "State hash"), equal to World.Hash of the world it copies.
func (st *State) Hash() uint64 {
	h := newHasher()
	for id := 1; id < len(st.cls); id++ {
		if st.cls[id] != noClass {
			h = st.hashEntity(h, id)
		}
	}
	return h.sum()
}

// hashEntity returns h fed with live entity id: its class, id and fields in schema order.
func (st *State) hashEntity(h hasher, id int) hasher {
	c := st.cls[id]
	cs := &st.schema.classes[c]
	h = h.add16(c).add32(uint32(id))
	if len(cs.bytesCols) == 0 { // the int columns are the fields, in schema order
		for _, v := range st.vals[id*st.stride : id*st.stride+len(cs.intCols)] {
			h = h.add32(uint32(v))
		}
		return h
	}
	for i := range cs.Fields {
		col := int(cs.colOf[i])
		if cs.Fields[i].Kind == KindBytes {
			h.bytes(st.bytes[id*st.bstride+col])
		} else {
			h = h.add32(uint32(st.vals[id*st.stride+col]))
		}
	}
	return h
}

// CopyFrom makes st an exact copy of src, reusing st's memory.
func (st *State) CopyFrom(src *State) {
	st.schema, st.tick, st.n, st.stride, st.bstride = src.schema, src.tick, src.n, src.stride, src.bstride
	st.cls = append(st.cls[:0], src.cls...)
	st.gen = append(st.gen[:0], src.gen...)
	st.vals = append(st.vals[:0], src.vals...)
	st.bytes = append(st.bytes[:0], src.bytes...)
	st.rng = src.rng
	st.free = append(st.free[:0], src.free...)
	st.order = append(st.order[:0], src.order...)
	st.ncells = src.ncells
	st.cells = append(st.cells[:0], src.cells...)
	st.cellStart = append(st.cellStart[:0], src.cellStart...)
	st.cellIDs = append(st.cellIDs[:0], src.cellIDs...)
}

// Snapshot copies the world into dst, reusing dst's memory (no allocation in steady state).
func (w *World) Snapshot(dst *State) {
	if dst.schema != w.schema {
		dst.reset(w.schema)
	}
	dst.tick, dst.n, dst.rng = w.tick, w.n, w.rng.State()
	dst.cellStart = dst.cellStart[:0] // a game with views places the cells again (PlaceCells)
	dst.free = append(dst.free[:0], w.free[w.head:]...)
	dst.order = dst.order[:0]
	for ci := range w.classes {
		dst.order = append(dst.order, w.classes[ci].ids...)
	}
	dst.resize(len(w.slots))
	for id := range w.slots {
		s := &w.slots[id]
		dst.cls[id], dst.gen[id] = s.cls, s.gen
	}
	for ci := range w.classes {
		st := &w.classes[ci]
		for row, id := range st.ids {
			base := int(id) * dst.stride
			for col, vals := range st.ints {
				dst.vals[base+col] = vals[row]
			}
			bbase := int(id) * dst.bstride
			for col, vals := range st.bytes {
				dst.bytes[bbase+col] = vals[row]
			}
		}
	}
}

// Save returns the world's whole state for a keyframe.
func (w *World) Save() *pb.WorldState {
	var st State
	w.Snapshot(&st)
	return st.Save()
}

// Save returns the whole state of the world this State is a snapshot of (entities, PRNG, id
// allocator) as a keyframe holds it: LoadWorld of it steps on exactly like the original. A
// recorder calls it off the tick path on the ring's copy.
func (st *State) Save() *pb.WorldState {
	ws := &pb.WorldState{Tick: st.tick, RngState: st.rng, NextId: uint32(len(st.cls))}
	for id := 1; id < len(st.cls); id++ {
		c := st.cls[id]
		if c == noClass {
			continue
		}
		cs := &st.schema.classes[c]
		ws.Ids = append(ws.Ids, uint32(id))
		ws.Classes = append(ws.Classes, uint32(c))
		ws.Values = append(ws.Values, st.vals[id*st.stride:id*st.stride+len(cs.intCols)]...)
		for bcol, b := range st.bytes[id*st.bstride : id*st.bstride+len(cs.bytesCols)] {
			if len(b) > 0 {
				ws.BytesValues = append(ws.BytesValues, &pb.BytesValue{EntityId: uint32(id), Field: uint32(cs.bytesCols[bcol]), Value: b})
			}
		}
	}
	for _, id := range st.free {
		ws.FreeIds = append(ws.FreeIds, uint32(id))
	}
	if !ascendingByClass(st) {
		ws.Order = make([]uint32, len(st.order))
		for i, id := range st.order {
			ws.Order[i] = uint32(id)
		}
	}
	return ws
}

// ascendingByClass reports whether st.order lists each class's ids in ascending order (what
// LoadWorld rebuilds without being told).
func ascendingByClass(st *State) bool {
	for i := 1; i < len(st.order); i++ {
		if st.order[i] < st.order[i-1] && st.cls[st.order[i]] == st.cls[st.order[i-1]] {
			return false
		}
	}
	return true
}

// ErrBadState reports a WorldState that does not fit the schema.
var ErrBadState = errors.New("sim: bad world state")

// LoadWorld rebuilds a World from a state returned by Save. Stepping it on with the same inputs
// gives the same hashes as the original world.
func LoadWorld(s *Schema, ws *pb.WorldState) (*World, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadState, fmt.Sprintf(format, a...))
	}
	next := ws.GetNextId()
	if next == 0 || next > maxEntityID {
		return nil, bad("next id %d out of range", next)
	}
	if len(ws.GetClasses()) != len(ws.GetIds()) {
		return nil, bad("%d ids, %d classes", len(ws.GetIds()), len(ws.GetClasses()))
	}
	w := NewWorld(s, 0)
	w.rng.SetState(ws.GetRngState())
	w.tick = ws.GetTick()
	w.slots = make([]slot, next)
	for i := range w.slots {
		w.slots[i].cls = noClass
	}
	vals := ws.GetValues()
	prev := uint32(0)
	for i, id := range ws.GetIds() {
		c := ws.GetClasses()[i]
		switch {
		case id <= prev || id >= next:
			return nil, bad("id %d out of order or range", id)
		case c >= uint32(len(s.classes)):
			return nil, bad("entity %d: class %d unknown", id, c)
		}
		prev = id
		cs := &s.classes[c]
		if len(vals) < len(cs.intCols) {
			return nil, bad("entity %d: values run short", id)
		}
		st := &w.classes[c]
		row := len(st.ids)
		st.ids = append(st.ids, Entity(id))
		for col := range st.ints {
			st.ints[col] = append(st.ints[col], vals[col])
		}
		for col := range st.bytes {
			st.bytes[col] = append(st.bytes[col], nil)
		}
		vals = vals[len(cs.intCols):]
		w.slots[id] = slot{cls: uint16(c), row: uint32(row), gen: 1}
		w.n++
	}
	if len(vals) != 0 {
		return nil, bad("%d values left over", len(vals))
	}
	for _, bv := range ws.GetBytesValues() {
		id := bv.GetEntityId()
		if id == 0 || id >= next || w.slots[id].cls == noClass {
			return nil, bad("bytes value for dead entity %d", id)
		}
		cs := &s.classes[w.slots[id].cls]
		f := bv.GetField()
		if f >= uint32(len(cs.Fields)) || cs.Fields[f].Kind != KindBytes || len(bv.GetValue()) > cs.Fields[f].MaxLen {
			return nil, bad("entity %d: bad bytes field %d", id, f)
		}
		w.classes[w.slots[id].cls].bytes[cs.colOf[f]][w.slots[id].row] = append([]byte(nil), bv.GetValue()...)
	}
	seen := make(map[uint32]bool, len(ws.GetFreeIds()))
	for _, id := range ws.GetFreeIds() {
		if id == 0 || id >= next || w.slots[id].cls != noClass || seen[id] {
			return nil, bad("free id %d invalid", id)
		}
		seen[id] = true
		w.free = append(w.free, Entity(id))
	}
	if w.n+len(w.free) != int(next)-1 {
		return nil, bad("%d live and %d free ids, want %d", w.n, len(w.free), next-1)
	}
	if order := ws.GetOrder(); len(order) > 0 {
		if err := w.reorder(order); err != nil {
			return nil, bad("%v", err)
		}
	}
	return w, nil
}

// reorder lays each class's entities out in the saved storage order (a permutation of the live
// ids, class after class), so a restored World iterates exactly as the original did.
func (w *World) reorder(order []uint32) error {
	if len(order) != w.n {
		return fmt.Errorf("order lists %d ids, %d are live", len(order), w.n)
	}
	off := 0
	for ci := range w.classes {
		st := &w.classes[ci]
		n := len(st.ids)
		ids := make([]Entity, n)
		rows := make([]uint32, n)
		for i, id := range order[off : off+n] {
			if id == 0 || int(id) >= len(w.slots) || w.slots[id].cls != uint16(ci) {
				return fmt.Errorf("order: id %d is not a live entity of class %d", id, ci)
			}
			ids[i], rows[i] = Entity(id), w.slots[id].row
		}
		seen := make([]bool, n)
		for _, r := range rows {
			if seen[r] {
				return fmt.Errorf("order: class %d lists an id twice", ci)
			}
			seen[r] = true
		}
		for col, vals := range st.ints {
			nv := make([]int32, n)
			for i, r := range rows {
				nv[i] = vals[r]
			}
			st.ints[col] = nv
		}
		for col, vals := range st.bytes {
			nv := make([][]byte, n)
			for i, r := range rows {
				nv[i] = vals[r]
			}
			st.bytes[col] = nv
		}
		st.ids = ids
		for i, id := range ids {
			w.slots[id].row = uint32(i)
		}
		off += n
	}
	return nil
}
