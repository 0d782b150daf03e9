package sim_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// A ring's copy of a tick holds the whole world: a keyframe saved from it off the tick path
// loads into a world that steps on exactly like the original.
func TestStateSaveFromRingCopy(t *testing.T) {
	b := sim.NewSchemaBuilder()
	c := b.Class("thing")
	x := c.Int("x")
	s, err := b.Build()
	require.NoError(t, err)
	w := sim.NewWorld(s, 9)
	var ids []sim.Entity
	for range 8 {
		e := w.Spawn(c.Handle())
		w.Set(e, x, int32(w.Rand().Uint32()))
		ids = append(ids, e)
	}
	w.Despawn(ids[2])
	w.Despawn(ids[5]) // two freed ids, reused in this order
	var snap, ring sim.State
	w.Snapshot(&snap)
	ring.CopyFrom(&snap)
	require.True(t, proto.Equal(w.Save(), ring.Save()))
	w2, err := sim.LoadWorld(s, ring.Save())
	require.NoError(t, err)
	for range 3 {
		a, b := w.Spawn(c.Handle()), w2.Spawn(c.Handle())
		require.Equal(t, a, b, "same id reuse order")
		v := int32(w.Rand().Uint32())
		require.Equal(t, v, int32(w2.Rand().Uint32()), "same PRNG state")
		w.Set(a, x, v)
		w2.Set(b, x, v)
	}
	require.Equal(t, w.Hash(), w2.Hash())
}
