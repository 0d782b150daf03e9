package sim_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

type unitSchema struct {
	s          *sim.Schema
	unit, rock sim.Class
	hp, x      sim.Field
	name       sim.BytesField
	size       sim.Field
}

func newUnitSchema(t testing.TB) *unitSchema {
	b := sim.NewSchemaBuilder()
	u := &unitSchema{}
	unit := b.Class("unit")
	u.hp = unit.Int("hp")
	u.name = unit.Bytes("name", 4)
	u.x = unit.Int("x")
	rock := b.Class("rock")
	u.size = rock.Int("size")
	var err error
	u.s, err = b.Build()
	require.NoError(t, err)
	u.unit, u.rock = unit.Handle(), rock.Handle()
	return u
}

func TestWorldIDReuseIsFIFO(t *testing.T) {
	u := newUnitSchema(t)
	w := sim.NewWorld(u.s, 1)
	for want := sim.Entity(1); want <= 5; want++ {
		require.Equal(t, want, w.Spawn(u.unit), "fresh ids count up from 1")
	}
	assert.True(t, w.Despawn(3))
	assert.True(t, w.Despawn(1))
	assert.False(t, w.Despawn(1), "already gone")
	assert.False(t, w.Despawn(0))
	assert.False(t, w.Despawn(99))
	assert.Equal(t, 3, w.Len())
	assert.Equal(t, sim.Entity(3), w.Spawn(u.rock), "oldest freed first")
	assert.True(t, w.Despawn(5))
	assert.Equal(t, sim.Entity(1), w.Spawn(u.unit))
	assert.Equal(t, sim.Entity(5), w.Spawn(u.unit))
	assert.Equal(t, sim.Entity(6), w.Spawn(u.unit), "nothing to reuse: a fresh id")
	c, ok := w.ClassOf(3)
	assert.True(t, ok)
	assert.Equal(t, u.rock, c)

	// Many frees and reuses interleaved (the free list compacts instead of growing).
	for i := range 1000 {
		id := w.Spawn(u.unit)
		if i%3 != 0 {
			w.Despawn(id)
		}
	}
	ws := w.Save()
	assert.Equal(t, int(ws.GetNextId())-1, w.Len()+len(ws.GetFreeIds()))
}

func TestWorldFields(t *testing.T) {
	u := newUnitSchema(t)
	w := sim.NewWorld(u.s, 1)
	a, b, c := w.Spawn(u.unit), w.Spawn(u.unit), w.Spawn(u.unit)
	assert.Zero(t, w.Get(a, u.hp), "spawned entities start at zero")
	assert.Nil(t, w.GetBytes(a, u.name))
	for i, e := range []sim.Entity{a, b, c} {
		w.Set(e, u.hp, int32(10*(i+1)))
		w.Set(e, u.x, int32(-(i + 1)))
	}
	name := []byte("abcdef")
	w.SetBytes(c, u.name, name)
	name[0] = 'X'
	assert.Equal(t, []byte("abcd"), w.GetBytes(c, u.name), "a copy, truncated to max length")

	// Despawning a moves the last row into its hole: values follow their entity.
	w.Despawn(a)
	assert.Equal(t, int32(20), w.Get(b, u.hp))
	assert.Equal(t, int32(30), w.Get(c, u.hp))
	assert.Equal(t, int32(-3), w.Get(c, u.x))
	assert.Equal(t, []byte("abcd"), w.GetBytes(c, u.name))
	ids, hp := w.Entities(u.unit), w.Column(u.hp)
	require.Len(t, hp, len(ids))
	for row, id := range ids {
		assert.Equal(t, w.Get(id, u.hp), hp[row], "Column is parallel to Entities")
	}
	hp[0] = 77 // writes through Column are writes to the world
	assert.Equal(t, int32(77), w.Get(ids[0], u.hp))

	// A reused id starts from zero, bytes included.
	w.Despawn(c)
	d := w.Spawn(u.unit)
	assert.Equal(t, a, d)
	e := w.Spawn(u.unit)
	assert.Equal(t, c, e)
	assert.Zero(t, w.Get(e, u.hp))
	assert.Nil(t, w.GetBytes(e, u.name))
	w.SetBytes(e, u.name, []byte{})
	assert.Nil(t, w.GetBytes(e, u.name))
}

func TestWorldMisusePanics(t *testing.T) {
	u := newUnitSchema(t)
	w := sim.NewWorld(u.s, 1)
	unit, rock := w.Spawn(u.unit), w.Spawn(u.rock)
	w.Despawn(unit)
	_, ok := w.ClassOf(unit)
	assert.False(t, ok)
	assert.False(t, w.Alive(unit))
	assert.Panics(t, func() { w.Get(unit, u.hp) }, "dead entity")
	assert.Panics(t, func() { w.Set(rock, u.hp, 1) }, "field of another class")
	assert.Panics(t, func() { w.GetBytes(rock, u.name) }, "bytes field of another class")
	assert.Panics(t, func() { w.Get(0, u.size) }, "id 0 is never an entity")
}

func TestWorldStepAndRand(t *testing.T) {
	u := newUnitSchema(t)
	w := sim.NewWorld(u.s, 42)
	var ticks []uint32
	g := &simtest.Game{S: u.s, StepFunc: func(w *sim.World, tick uint32, _ []sim.Input) { ticks = append(ticks, tick) }}
	assert.Zero(t, w.Tick())
	assert.Equal(t, uint32(1), w.Step(g, nil))
	assert.Equal(t, uint32(2), w.Step(g, nil))
	assert.Equal(t, []uint32{1, 2}, ticks)
	want := sim.NewRand(42)
	assert.Equal(t, want.Uint32(), w.Rand().Uint32(), "the world's PRNG is seeded with its seed")
	assert.Same(t, u.s, w.Schema())
}

func TestSnapshotReusesState(t *testing.T) {
	u := newUnitSchema(t)
	w := sim.NewWorld(u.s, 1)
	ed := simtest.NewEditor(w, 3)
	st := sim.NewState(u.s)
	for range 50 {
		ed.Tick(8)
		w.Snapshot(st)
		requireSame(t, simtest.Snapshot(w), st)
		assert.Equal(t, w.Hash(), st.Hash())
	}
	// A state of another schema is reset, not mixed.
	other := newUnitSchema(t)
	w2 := sim.NewWorld(other.s, 1)
	w2.Spawn(other.rock)
	w2.Snapshot(st)
	requireSame(t, simtest.Snapshot(w2), st)
	var cp sim.State
	cp.CopyFrom(st)
	requireSame(t, st, &cp)
}

func TestLoadWorldErrors(t *testing.T) {
	u := newUnitSchema(t)
	good := func() *pb.WorldState { // ids 1 (unit), 3 (rock); 2 free
		return &pb.WorldState{Tick: 4, NextId: 4, Ids: []uint32{1, 3}, Classes: []uint32{0, 1}, Values: []int32{10, 5, 7}, FreeIds: []uint32{2},
			BytesValues: []*pb.BytesValue{{EntityId: 1, Field: 1, Value: []byte("ab")}}}
	}
	w, err := sim.LoadWorld(u.s, good())
	require.NoError(t, err)
	assert.Equal(t, int32(5), w.Get(1, u.x))
	assert.Equal(t, []byte("ab"), w.GetBytes(1, u.name))
	assert.Equal(t, int32(7), w.Get(3, u.size))
	assert.Equal(t, sim.Entity(2), w.Spawn(u.unit))
	assert.Equal(t, sim.Entity(4), w.Spawn(u.unit))

	tests := []struct {
		name    string
		corrupt func(ws *pb.WorldState)
	}{
		{"next id 0", func(ws *pb.WorldState) { ws.NextId = 0 }},
		{"next id huge", func(ws *pb.WorldState) { ws.NextId = 1 << 30 }},
		{"classes short", func(ws *pb.WorldState) { ws.Classes = ws.Classes[:1] }},
		{"ids out of order", func(ws *pb.WorldState) {
			ws.Ids = []uint32{3, 1}
			ws.Classes = []uint32{1, 0}
			ws.Values = []int32{7, 10, 5}
		}},
		{"id 0", func(ws *pb.WorldState) { ws.Ids[0] = 0 }},
		{"id beyond next", func(ws *pb.WorldState) { ws.Ids[1] = 4 }},
		{"unknown class", func(ws *pb.WorldState) { ws.Classes[1] = 2 }},
		{"values short", func(ws *pb.WorldState) { ws.Values = ws.Values[:2] }},
		{"values left over", func(ws *pb.WorldState) { ws.Values = append(ws.Values, 1) }},
		{"bytes for dead entity", func(ws *pb.WorldState) { ws.BytesValues[0].EntityId = 2 }},
		{"bytes for an int field", func(ws *pb.WorldState) { ws.BytesValues[0].Field = 0 }},
		{"bytes field out of range", func(ws *pb.WorldState) { ws.BytesValues[0].Field = 9 }},
		{"bytes too long", func(ws *pb.WorldState) { ws.BytesValues[0].Value = []byte("abcde") }},
		{"free id live", func(ws *pb.WorldState) { ws.FreeIds = []uint32{3} }},
		{"free id twice", func(ws *pb.WorldState) { ws.FreeIds = []uint32{2, 2} }},
		{"free id missing", func(ws *pb.WorldState) { ws.FreeIds = nil }},
		{"free id 0", func(ws *pb.WorldState) { ws.FreeIds = []uint32{0} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := good()
			tt.corrupt(ws)
			w, err := sim.LoadWorld(u.s, ws)
			assert.ErrorIs(t, err, sim.ErrBadState)
			assert.Nil(t, w)
		})
	}
}

// TestPropertyIDReuse checks Spawn and Despawn against a plain model: a FIFO queue of freed ids
// and a counter of fresh ones.
func TestPropertyIDReuse(t *testing.T) {
	u := newUnitSchema(t)
	forSeeds(t, func(t *testing.T, seed uint32) {
		w := sim.NewWorld(u.s, seed)
		r := sim.NewRand(seed)
		var queue, live []sim.Entity
		next := sim.Entity(1)
		for range 500 {
			if len(live) == 0 || r.Mod(100) < 45+r.Mod(20) {
				want := next
				if len(queue) > 0 {
					want, queue = queue[0], queue[1:]
				} else {
					next++
				}
				got := w.Spawn(u.unit)
				require.Equal(t, want, got)
				live = append(live, got)
				continue
			}
			i := r.Mod(uint32(len(live)))
			e := live[i]
			live = append(live[:i], live[i+1:]...)
			require.True(t, w.Despawn(e))
			queue = append(queue, e)
		}
		require.Equal(t, len(live), w.Len())
		ws := w.Save()
		var free []sim.Entity
		for _, id := range ws.GetFreeIds() {
			free = append(free, sim.Entity(id))
		}
		require.True(t, slices.Equal(queue, free), "Save lists the free ids in reuse order: %v, want %v", free, queue)
	})
}
