// Package simtest is the test harness that packages built on sim share (as raft's rafttest is
// for raft): random schemas, random worlds and edits driven by a seeded sim.Rand, a no-op Game,
// frame encoding in one call and a field-by-field state comparison. It is for tests only and,
// like sim, keeps no package-level state and reads no clock.
package simtest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ticksync/ticksync/sim"
)

// Predict is the contract's prediction rule written out again (docs/protocol.md, "Prediction rule"):
// prev + trunc(v*num/den), wrapping mod 2^32.
func Predict(prev, v, num, den int32) int32 {
	return int32(int64(prev) + int64(v)*int64(num)/int64(den))
}

// Game is a Game whose Step calls StepFunc (nothing when nil): it lets tests move a World's tick
// with World.Step and edit the world by hand.
type Game struct {
	S        *sim.Schema
	StepFunc func(w *sim.World, tick uint32, inputs []sim.Input)
}

// Schema returns g.S.
func (g *Game) Schema() *sim.Schema { return g.S }

// Init does nothing.
func (g *Game) Init(*sim.World) error { return nil }

// Step calls StepFunc.
func (g *Game) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	if g.StepFunc != nil {
		g.StepFunc(w, tick, inputs)
	}
}

// Load does nothing.
func (g *Game) Load(*sim.World) error { return nil }

// RandomSchema returns a random valid schema: 1 to 3 classes of 0 to 8 fields (sometimes 32,
// the widest update mask) of every kind, some fields predicted from others.
func RandomSchema(r *sim.Rand) *sim.Schema {
	// Denominators to draw from (a negative one included: the rule truncates toward zero
	// whatever the signs).
	predictDens := [...]int32{1, 2, 3, 7, 20, 60, -20}
	b := sim.NewSchemaBuilder()
	nc := 1 + int(r.Mod(3))
	for c := range nc {
		cb := b.Class(fmt.Sprintf("c%d", c))
		nf := int(r.Mod(9))
		if r.Mod(8) == 0 {
			nf = sim.MaxFields
		}
		kinds := make([]int, nf) // 0 int, 1 fixed, 2 bool, 3 bytes, 4 predicted
		var sources []int
		for i := range kinds {
			switch k := r.Mod(10); {
			case k < 3:
				kinds[i] = 0
			case k < 5:
				kinds[i] = 1
			case k < 6:
				kinds[i] = 2
			case k < 7:
				kinds[i] = 3
			default:
				kinds[i] = 4
			}
			if kinds[i] <= 2 {
				sources = append(sources, i)
			}
		}
		for i, k := range kinds {
			name := fmt.Sprintf("f%d", i)
			if k == 4 && len(sources) == 0 {
				k = 0
			}
			var opts []sim.FieldOption
			if r.Mod(4) == 0 {
				opts = append(opts, sim.Interpolate())
			}
			switch k {
			case 0:
				cb.Int(name, opts...)
			case 1:
				cb.Fixed(name, int32(1+r.Mod(1000)), opts...)
			case 2:
				cb.Bool(name, opts...)
			case 3:
				cb.Bytes(name, 1+int(r.Mod(16)))
			case 4:
				src := sources[r.Mod(uint32(len(sources)))]
				num := int32(1 + r.Mod(5))
				if r.Mod(4) == 0 {
					num = -num
				}
				den := predictDens[r.Mod(uint32(len(predictDens)))]
				opts = append(opts, sim.PredictFrom(fmt.Sprintf("f%d", src), num, den))
				if r.Mod(2) == 0 {
					cb.Fixed(name, 100, opts...)
				} else {
					cb.Int(name, opts...)
				}
			}
		}
	}
	s, err := b.Build()
	if err != nil {
		panic(fmt.Sprintf("simtest: random schema does not build: %v", err)) // a harness bug
	}
	return s
}

// predictedField is a field predicted from another, with its rule.
type predictedField struct {
	f, from  sim.Field
	num, den int32
}

// Editor makes random edits to a World: spawns, despawns, field changes (int32 extremes
// included), bytes changes, and ticks in which predicted fields follow the prediction rule.
type Editor struct {
	R sim.Rand
	W *sim.World

	game      Game
	classes   []sim.Class
	ints      [][]sim.Field      // by class: non-bytes fields
	bytes     [][]sim.BytesField // by class: bytes fields
	maxLen    [][]int            // by class: each bytes field's max length
	predicted [][]predictedField // by class
	bools     [][]bool           // by class, parallel to ints: a bool field
}

// NewEditor returns an Editor of w drawing from a generator seeded with seed.
func NewEditor(w *sim.World, seed uint32) *Editor {
	s := w.Schema()
	e := &Editor{R: sim.NewRand(seed), W: w, game: Game{S: s}, classes: Classes(s)}
	for _, c := range e.classes {
		spec := s.ClassSpec(c)
		var ints []sim.Field
		var bools []bool
		var bs []sim.BytesField
		var lens []int
		var preds []predictedField
		for _, fs := range spec.Fields {
			if fs.Kind == sim.KindBytes {
				bf, _ := s.BytesFieldByName(c, fs.Name)
				bs, lens = append(bs, bf), append(lens, fs.MaxLen)
				continue
			}
			f, _ := s.FieldByName(c, fs.Name)
			ints, bools = append(ints, f), append(bools, fs.Kind == sim.KindBool)
			if fs.PredictFrom != "" {
				from, _ := s.FieldByName(c, fs.PredictFrom)
				preds = append(preds, predictedField{f: f, from: from, num: fs.PredictNum, den: fs.PredictDen})
			}
		}
		e.ints, e.bools, e.bytes, e.maxLen = append(e.ints, ints), append(e.bools, bools), append(e.bytes, bs), append(e.maxLen, lens)
		e.predicted = append(e.predicted, preds)
	}
	return e
}

// Classes returns the schema's class handles in class-number order (class names must be
// unique, as Build requires).
func Classes(s *sim.Schema) []sim.Class {
	names := classNames(s)
	out := make([]sim.Class, len(names))
	for i, n := range names {
		c, ok := s.ClassByName(n)
		if !ok || c.Index() != i {
			panic("simtest: class names are not unique")
		}
		out[i] = c
	}
	return out
}

// classNames lists the schema's class names in class-number order.
func classNames(s *sim.Schema) []string {
	st, _ := s.Proto()
	names := make([]string, len(st.GetClasses()))
	for i, c := range st.GetClasses() {
		names[i] = c.GetName()
	}
	return names
}

// Value returns a random int32 with weight on the cases that break encoders: 0, small numbers
// of both signs, the int32 extremes and their neighbours, any 32-bit pattern.
func (e *Editor) Value() int32 {
	switch e.R.Mod(8) {
	case 0:
		return math.MinInt32 + int32(e.R.Mod(4))
	case 1:
		return math.MaxInt32 - int32(e.R.Mod(4))
	case 2:
		return int32(e.R.Uint32())
	case 3:
		return 0
	default:
		return int32(e.R.Mod(2001)) - 1000
	}
}

// Bytes returns a random value for a bytes field of at most maxLen bytes (empty sometimes).
func (e *Editor) Bytes(maxLen int) []byte {
	if e.R.Mod(4) == 0 {
		return nil
	}
	b := make([]byte, 1+int(e.R.Mod(uint32(maxLen))))
	for i := range b {
		b[i] = byte(e.R.Uint32())
	}
	return b
}

// Live returns the world's live entities, ascending.
func (e *Editor) Live() []sim.Entity {
	var out []sim.Entity
	for _, c := range e.classes {
		out = append(out, e.W.Entities(c)...)
	}
	slices.Sort(out)
	return out
}

// Spawn spawns an entity of a random class with random values and returns it.
func (e *Editor) Spawn() sim.Entity {
	ci := int(e.R.Mod(uint32(len(e.classes))))
	id := e.W.Spawn(e.classes[ci])
	for i, f := range e.ints[ci] {
		if e.R.Mod(3) != 0 {
			e.W.Set(id, f, e.fieldValue(ci, i))
		}
	}
	for i, f := range e.bytes[ci] {
		e.W.SetBytes(id, f, e.Bytes(e.maxLen[ci][i]))
	}
	return id
}

func (e *Editor) fieldValue(ci, i int) int32 {
	if e.bools[ci][i] {
		return int32(e.R.Mod(2))
	}
	return e.Value()
}

// Despawn despawns a random live entity, if any.
func (e *Editor) Despawn() {
	live := e.Live()
	if len(live) > 0 {
		e.W.Despawn(live[e.R.Mod(uint32(len(live)))])
	}
}

// Change changes one random field (int or bytes) of a random live entity.
func (e *Editor) Change() {
	live := e.Live()
	if len(live) == 0 {
		return
	}
	id := live[e.R.Mod(uint32(len(live)))]
	c, _ := e.W.ClassOf(id)
	ci := c.Index()
	ni, nb := len(e.ints[ci]), len(e.bytes[ci])
	if ni+nb == 0 {
		return
	}
	k := int(e.R.Mod(uint32(ni + nb)))
	if k >= ni {
		k -= ni
		e.W.SetBytes(id, e.bytes[ci][k], e.Bytes(e.maxLen[ci][k]))
		return
	}
	f := e.ints[ci][k]
	switch e.R.Mod(3) {
	case 0: // a small step: wraps at the extremes
		e.W.Set(id, f, e.W.Get(id, f)+int32(e.R.Mod(7))-3)
	default:
		e.W.Set(id, f, e.fieldValue(ci, k))
	}
}

// Edit makes n random edits: spawns, despawns and changes.
func (e *Editor) Edit(n int) {
	for range n {
		switch k := e.R.Mod(10); {
		case k < 2:
			e.Spawn()
		case k < 4:
			e.Despawn()
		default:
			e.Change()
		}
	}
}

// Advance moves every predicted field of every live entity by the prediction rule, reading the
// current value of its source field: a world that only does this sends empty frames.
func (e *Editor) Advance() {
	for ci, preds := range e.predicted {
		ids := e.W.Entities(e.classes[ci])
		for _, p := range preds {
			f, v := e.W.Column(p.f), e.W.Column(p.from)
			for row := range ids {
				f[row] = Predict(f[row], v[row], p.num, p.den)
			}
		}
	}
}

// Tick steps the world one tick, makes n random edits, then advances predicted fields by the
// rule (so the frame of this tick carries residuals only where edits broke the prediction,
// e.g. bounces).
func (e *Editor) Tick(n int) {
	e.W.Step(&e.game, nil)
	e.Edit(n)
	e.Advance()
	for range e.R.Mod(3) { // a bounce or a teleport after the prediction
		e.Change()
	}
}

// Snapshot returns a new State holding w now.
func Snapshot(w *sim.World) *sim.State {
	st := sim.NewState(w.Schema())
	w.Snapshot(st)
	return st
}

// EncodeFrame returns one ServerMessage holding the frame that brings a client holding base
// (nil: a full snapshot) to cur, encoded by sim's Encoder.
func EncodeFrame(enc *sim.Encoder, base, cur *sim.State, lastSeq uint32, withHash bool) []byte {
	body := enc.AppendBody(nil, base, cur, withHash)
	var baseline uint32
	if base != nil {
		baseline = base.Tick()
	}
	msg := sim.AppendFrameHeader(nil, cur.Tick(), baseline, lastSeq, len(body))
	return append(msg, body...)
}

// DiffStates describes how got differs from want, field by field (tick, entities, classes,
// values, bytes, hash); it returns "" when they are the same.
func DiffStates(want, got *sim.State) string {
	var d []string
	add := func(format string, a ...any) {
		if len(d) < 10 {
			d = append(d, fmt.Sprintf(format, a...))
		}
	}
	if want.Tick() != got.Tick() {
		add("tick: want %d, got %d", want.Tick(), got.Tick())
	}
	if want.Len() != got.Len() {
		add("len: want %d, got %d", want.Len(), got.Len())
	}
	for id := sim.Entity(1); id < max(want.MaxID(), got.MaxID()); id++ {
		wc, wok := want.ClassOf(id)
		gc, gok := got.ClassOf(id)
		switch {
		case wok != gok:
			add("entity %d: want live=%v, got live=%v", id, wok, gok)
			continue
		case !wok:
			continue
		case wc != gc:
			add("entity %d: want class %d, got %d", id, wc.Index(), gc.Index())
			continue
		}
		if wv, gv := want.Values(id), got.Values(id); !equalInts(wv, gv) {
			add("entity %d: want values %v, got %v", id, wv, gv)
		}
		wb, gb := want.BytesValues(id), got.BytesValues(id)
		for i := range wb {
			if !bytes.Equal(wb[i], gb[i]) {
				add("entity %d: bytes column %d: want %x, got %x", id, i, wb[i], gb[i])
			}
		}
	}
	if wh, gh := want.Hash(), got.Hash(); wh != gh {
		add("hash: want %016x, got %016x", wh, gh)
	}
	return strings.Join(d, "\n")
}

func equalInts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// CheckState reports what makes st an impossible state for its schema: a live entity of an
// unknown class, a bytes value longer than its field allows, a count that does not match. It
// is what a mirror must hold after any frame it accepted.
func CheckState(st *sim.State) error {
	s := st.Schema()
	classes := Classes(s)
	n := 0
	for id := sim.Entity(1); id < st.MaxID(); id++ {
		c, ok := st.ClassOf(id)
		if !ok {
			continue
		}
		n++
		if c.Index() >= len(classes) {
			return fmt.Errorf("entity %d: class %d unknown", id, c.Index())
		}
		spec := s.ClassSpec(c)
		if got := len(st.Values(id)); got != spec.NumInts() {
			return fmt.Errorf("entity %d: %d values, class has %d", id, got, spec.NumInts())
		}
		var maxLens []int
		for _, f := range spec.Fields {
			if f.Kind == sim.KindBytes {
				maxLens = append(maxLens, f.MaxLen)
			}
		}
		for i, b := range st.BytesValues(id) {
			if len(b) > maxLens[i] {
				return fmt.Errorf("entity %d: bytes field %d holds %d bytes, at most %d", id, i, len(b), maxLens[i])
			}
		}
	}
	if n != st.Len() {
		return fmt.Errorf("%d live entities, Len says %d", n, st.Len())
	}
	return nil
}
