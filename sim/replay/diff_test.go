package replay

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

func TestDiffWorlds(t *testing.T) {
	b := sim.NewSchemaBuilder()
	ship := b.Class("ship")
	hp := ship.Int("hp")
	name := ship.Bytes("name", 16)
	rock := b.Class("rock")
	size := rock.Int("size")
	s, err := b.Build()
	require.NoError(t, err)
	st, _ := s.Proto()
	names := fieldNames(st)

	build := func(edit func(w *sim.World, ships, rocks []sim.Entity)) *sim.World {
		w := sim.NewWorld(s, 1)
		var ships, rocks []sim.Entity
		for i := range 3 {
			e := w.Spawn(ship.Handle())
			w.Set(e, hp, int32(10*i))
			w.SetBytes(e, name, []byte{'a' + byte(i)})
			ships = append(ships, e)
			r := w.Spawn(rock.Handle())
			w.Set(r, size, int32(i))
			rocks = append(rocks, r)
		}
		edit(w, ships, rocks)
		return w
	}
	want := build(func(*sim.World, []sim.Entity, []sim.Entity) {}).Save()
	same, more := diffWorlds(names, want, build(func(*sim.World, []sim.Entity, []sim.Entity) {}).Save())
	assert.Empty(t, same)
	assert.Zero(t, more)

	got := build(func(w *sim.World, ships, rocks []sim.Entity) {
		w.Set(ships[1], hp, 99)
		w.SetBytes(ships[2], name, []byte("zed"))
		w.SetBytes(ships[0], name, nil)
		w.Despawn(rocks[2])
		w.Rand().Uint32()
	}).Save()
	diff, more := diffWorlds(names, want, got)
	assert.Zero(t, more)
	assert.Equal(t, []FieldDiff{
		{Field: "rng_state", Want: diff[0].Want, Got: diff[0].Got},
		{Field: "free_ids", Want: "[]", Got: "[6]"},
		{Entity: 3, Class: "ship", Field: "hp", Want: "10", Got: "99"},
		{Entity: 6, Class: "rock", Field: "(entity)", Want: "present", Got: "absent"},
		{Entity: 5, Class: "ship", Field: "name", Want: `"c"`, Got: `"zed"`},
		{Entity: 1, Class: "ship", Field: "name", Want: `"a"`, Got: `""`},
	}, diff)
	assert.Contains(t, diff[2].String(), "entity 3 (ship) hp: recorded 10, re-simulated 99")
}
