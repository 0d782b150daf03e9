package sim

import "fmt"

// Entity is an entity id. Ids start at 1 and are reused (oldest freed first) after a despawn.
type Entity uint32

// noClass marks an id slot that holds no live entity.
const noClass = 0xFFFF

// slot locates a live entity: its class and its row in the class's dense columns.
type slot struct {
	cls uint16 // noClass when free
	row uint32
	gen uint32 // bumped on every spawn of this id: a reused id is a new entity to clients
}

// classStore holds one class's entities in dense columns (row order is spawn order with
// swap-removal on despawn, so it depends only on the world's history).
type classStore struct {
	ids   []Entity
	ints  [][]int32  // column → row → value
	bytes [][][]byte // bytes column → row → value (never mutated in place)
}

// World is a game's whole state: entities with integer fields, the PRNG, and the tick. It is
// built from a Schema and a seed; only Step moves it forward. One goroutine owns a World.
type World struct {
	schema  *Schema
	classes []classStore
	slots   []slot   // by id; slot 0 is never used
	free    []Entity // freed ids, oldest first from freeHead
	head    int      // index of the oldest freed id in free
	rng     Rand
	tick    uint32
	n       int // live entities

	events []Event // emitted by the last Step
	result *Result // set by End
	hist   history // past states (Historian games)
}

// NewWorld returns an empty World at tick 0.
func NewWorld(s *Schema, seed uint32) *World {
	w := &World{schema: s, classes: make([]classStore, len(s.classes)), slots: make([]slot, 1, 64), rng: NewRand(seed)}
	w.slots[0].cls = noClass
	for i := range w.classes {
		cs := &s.classes[i]
		w.classes[i].ints = make([][]int32, len(cs.intCols))
		w.classes[i].bytes = make([][][]byte, len(cs.bytesCols))
	}
	return w
}

// Schema returns the world's schema.
func (w *World) Schema() *Schema { return w.schema }

// Tick returns the last tick applied (0 before the first Step).
func (w *World) Tick() uint32 { return w.tick }

// Rand returns the world's PRNG. Games draw all randomness from it.
func (w *World) Rand() *Rand { return &w.rng }

// Len returns the number of live entities.
func (w *World) Len() int { return w.n }

// Step advances the world by one tick with g's rules and returns the new tick.
func (w *World) Step(g Game, inputs []Input) uint32 {
	if !w.hist.ready {
		w.hist.setup(g)
	}
	w.tick++
	clear(w.events)
	w.events = w.events[:0]
	g.Step(w, w.tick, inputs)
	w.hist.keep(w)
	return w.tick
}

// Spawn creates an entity of class c with every field zero and returns its id.
func (w *World) Spawn(c Class) Entity {
	var id Entity
	if w.head < len(w.free) {
		id = w.free[w.head]
		w.head++
		if w.head == len(w.free) {
			w.free, w.head = w.free[:0], 0
		}
	} else {
		id = Entity(len(w.slots))
		w.slots = append(w.slots, slot{cls: noClass})
	}
	st := &w.classes[c.idx]
	row := len(st.ids)
	st.ids = append(st.ids, id)
	for i := range st.ints {
		st.ints[i] = append(st.ints[i], 0)
	}
	for i := range st.bytes {
		st.bytes[i] = append(st.bytes[i], nil)
	}
	s := &w.slots[id]
	s.cls, s.row, s.gen = c.idx, uint32(row), s.gen+1
	w.n++
	return id
}

// Despawn removes entity e and reports whether it was alive. Its id is reused later.
func (w *World) Despawn(e Entity) bool {
	if !w.Alive(e) {
		return false
	}
	s := &w.slots[e]
	st := &w.classes[s.cls]
	last := len(st.ids) - 1
	row := int(s.row)
	if row != last { // swap the last row into the hole
		moved := st.ids[last]
		st.ids[row] = moved
		for _, col := range st.ints {
			col[row] = col[last]
		}
		for _, col := range st.bytes {
			col[row] = col[last]
		}
		w.slots[moved].row = uint32(row)
	}
	st.ids = st.ids[:last]
	for i := range st.ints {
		st.ints[i] = st.ints[i][:last]
	}
	for i := range st.bytes {
		st.bytes[i][last] = nil
		st.bytes[i] = st.bytes[i][:last]
	}
	s.cls = noClass
	if w.head > 0 && len(w.free) == cap(w.free) { // compact instead of growing
		n := copy(w.free, w.free[w.head:])
		w.free, w.head = w.free[:n], 0
	}
	w.free = append(w.free, e)
	w.n--
	return true
}

// Alive reports whether e is a live entity.
func (w *World) Alive(e Entity) bool {
	return e > 0 && int(e) < len(w.slots) && w.slots[e].cls != noClass
}

// MaxID returns one past the highest id slot the world holds (live entities are below it).
func (w *World) MaxID() Entity { return Entity(len(w.slots)) }

// ClassOf returns e's class; ok is false when e is not alive.
func (w *World) ClassOf(e Entity) (c Class, ok bool) {
	if !w.Alive(e) {
		return Class{}, false
	}
	return Class{w.slots[e].cls}, true
}

// Entities returns the live entities of class c in row order. The slice is the world's own:
// read it, don't keep it across Spawn or Despawn.
func (w *World) Entities(c Class) []Entity { return w.classes[c.idx].ids }

// Column returns field f's values for every entity of f's class, parallel to Entities. Games
// use it for tight loops; writes through it are writes to the world.
func (w *World) Column(f Field) []int32 { return w.classes[f.cls].ints[f.col] }

func (w *World) row(e Entity, cls uint16) uint32 {
	if !w.Alive(e) {
		panic(fmt.Sprintf("sim: entity %d is not alive", e))
	}
	s := w.slots[e]
	if s.cls != cls {
		panic(fmt.Sprintf("sim: entity %d is of class %d, field of class %d", e, s.cls, cls))
	}
	return s.row
}

// Get returns field f of entity e. Using a field of another class, or a dead entity, is a
// programmer error and panics.
func (w *World) Get(e Entity, f Field) int32 {
	return w.classes[f.cls].ints[f.col][w.row(e, f.cls)]
}

// Set sets field f of entity e.
func (w *World) Set(e Entity, f Field, v int32) {
	w.classes[f.cls].ints[f.col][w.row(e, f.cls)] = v
}

// GetBytes returns bytes field f of entity e. The slice must not be modified.
func (w *World) GetBytes(e Entity, f BytesField) []byte {
	return w.classes[f.cls].bytes[f.col][w.row(e, f.cls)]
}

// SetBytes sets bytes field f of entity e to a copy of v, truncated to the field's max length.
func (w *World) SetBytes(e Entity, f BytesField, v []byte) {
	row := w.row(e, f.cls)
	if n := w.schema.classes[f.cls].Fields[f.idx].MaxLen; len(v) > n {
		v = v[:n]
	}
	var cp []byte
	if len(v) > 0 {
		cp = append([]byte(nil), v...)
	}
	w.classes[f.cls].bytes[f.col][row] = cp
}

// Hash returns the FNV-1a 64 state hash of the world (docs/protocol.md, "State hash").
func (w *World) Hash() uint64 {
	h := newHasher()
	for id := 1; id < len(w.slots); id++ {
		s := w.slots[id]
		if s.cls == noClass {
			continue
		}
		cs := &w.schema.classes[s.cls]
		st := &w.classes[s.cls]
		h.u16(s.cls)
		h.u32(uint32(id))
		for i := range cs.Fields {
			col := cs.colOf[i]
			if cs.Fields[i].Kind == KindBytes {
				h.bytes(st.bytes[col][s.row])
			} else {
				h.u32(uint32(st.ints[col][s.row]))
			}
		}
	}
	return h.sum()
}
