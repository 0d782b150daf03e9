package sim_test

import (
	"flag"
	"fmt"
	"math/bits"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

var (
	seedFlag  = flag.Uint("seed", 0, "run the property tests with this seed only (0: the whole range)")
	casesFlag = flag.Int("cases", 300, "property test cases per test")
)

// seeds returns the property tests' seeds: 1..cases, or the one given with -seed.
func seeds() []uint32 {
	if *seedFlag != 0 {
		return []uint32{uint32(*seedFlag)}
	}
	out := make([]uint32, *casesFlag)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}

// forSeeds runs fn once per seed; a failure names the seed and how to rerun it alone.
func forSeeds(t *testing.T, fn func(t *testing.T, seed uint32)) {
	for _, seed := range seeds() {
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { fn(t, seed) })
		if !ok {
			t.Fatalf("failed with seed %d (rerun: go test ./sim -run '%s' -seed %d)", seed, t.Name(), seed)
		}
	}
}

// randomWorld makes a world of a random schema with some history (spawns, despawns, reused ids)
// and an editor to go on with it, all from seed.
func randomWorld(seed uint32) (*sim.World, *simtest.Editor) {
	r := sim.NewRand(seed)
	s := simtest.RandomSchema(&r)
	w := sim.NewWorld(s, seed)
	ed := simtest.NewEditor(w, seed^0x9e3779b9)
	for range ed.R.Mod(40) {
		ed.Spawn()
	}
	for range 1 + ed.R.Mod(4) {
		ed.Tick(int(ed.R.Mod(30)))
	}
	return w, ed
}

// frame encodes base→cur with sim's encoder, checks the bytes against the reference encoder and
// returns them.
func frame(t *testing.T, enc *sim.Encoder, base, cur *sim.State, lastSeq uint32, withHash bool) []byte {
	t.Helper()
	got := simtest.EncodeFrame(enc, base, cur, lastSeq, withHash)
	want := refBytes(base, cur, lastSeq, withHash)
	require.Equal(t, want, got, "hand-written encoder differs from proto.Marshal of the reference frame")
	return got
}

// apply applies an encoded ServerMessage to m and returns the decoded frame.
func apply(t *testing.T, m *sim.Mirror, msg []byte) *pb.Frame {
	t.Helper()
	got, err := m.ApplyMessage(msg)
	require.NoError(t, err)
	require.NotNil(t, got.GetFrame())
	return proto.CloneOf(got.GetFrame())
}

func requireSame(t *testing.T, want, got *sim.State, msgAndArgs ...any) {
	t.Helper()
	if d := simtest.DiffStates(want, got); d != "" {
		require.Fail(t, "states differ:\n"+d, msgAndArgs...)
	}
}

// mirrorOf returns a mirror that took st as a full snapshot.
func mirrorOf(t *testing.T, st *sim.State) *sim.Mirror {
	t.Helper()
	m := sim.NewMirror(st.Schema())
	apply(t, m, frame(t, &sim.Encoder{}, nil, st, 0, false))
	requireSame(t, st, m.State())
	return m
}

func TestPropertySnapshot(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, _ := randomWorld(seed)
		st := simtest.Snapshot(w)
		assert.Equal(t, w.Hash(), st.Hash(), "World.Hash and State.Hash agree")
		m := mirrorOf(t, st)
		assert.Equal(t, w.Hash(), m.State().Hash())

		// A snapshot replaces whatever the mirror held.
		_, ed := randomWorld(seed)
		ed.Tick(10)
		later := simtest.Snapshot(ed.W)
		apply(t, m, frame(t, &sim.Encoder{}, nil, later, 3, true))
		requireSame(t, later, m.State())
	})
}

func TestPropertyDelta(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, ed := randomWorld(seed)
		a := simtest.Snapshot(w)
		for range 1 + ed.R.Mod(4) { // consecutive ticks (predicted) or a gap (plain differences)
			ed.Tick(int(ed.R.Mod(20)))
		}
		b := simtest.Snapshot(w)
		m := mirrorOf(t, a)
		enc := &sim.Encoder{}
		msg := frame(t, enc, a, b, seed, seed%2 == 0)
		f := apply(t, m, msg)
		requireSame(t, b, m.State())
		assert.Equal(t, b.Tick(), f.GetTick())
		assert.Equal(t, a.Tick(), f.GetBaselineTick())
		assert.Equal(t, seed, f.GetLastInputSeq())
		if seed%2 == 0 {
			require.NotNil(t, f.ViewHash)
			assert.Equal(t, b.Hash(), f.GetViewHash())
		} else {
			assert.Nil(t, f.ViewHash)
		}
		// The encoder keeps scratch buffers: encoding again gives the same bytes.
		assert.Equal(t, msg, simtest.EncodeFrame(enc, a, b, seed, seed%2 == 0))
	})
}

func TestPropertyChain(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, ed := randomWorld(seed)
		states := []*sim.State{simtest.Snapshot(w)}
		for range 2 + ed.R.Mod(6) {
			for range 1 + ed.R.Mod(3)*ed.R.Mod(2) { // mostly consecutive ticks, some gaps
				ed.Tick(int(ed.R.Mod(12)))
			}
			states = append(states, simtest.Snapshot(w))
		}
		first, last := states[0], states[len(states)-1]
		enc := &sim.Encoder{}
		chain := mirrorOf(t, first)
		for i := 1; i < len(states); i++ {
			apply(t, chain, frame(t, enc, states[i-1], states[i], 0, false))
			requireSame(t, states[i], chain.State(), "after chain frame %d", i)
		}
		jump := mirrorOf(t, first)
		apply(t, jump, frame(t, enc, first, last, 0, false))
		requireSame(t, last, jump.State(), "one delta from the first to the last")
		requireSame(t, chain.State(), jump.State())
	})
}

func TestPropertyPredictionExact(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, ed := randomWorld(seed)
		m := mirrorOf(t, simtest.Snapshot(w))
		enc := &sim.Encoder{}
		g := &simtest.Game{S: w.Schema()}
		prev := simtest.Snapshot(w)
		for tick := range 5 {
			// Only the prediction rule moves the world: every predicted entity advances and none
			// is listed, so the frame is empty.
			w.Step(g, nil)
			ed.Advance()
			cur := simtest.Snapshot(w)
			f := apply(t, m, frame(t, enc, prev, cur, 0, false))
			requireSame(t, cur, m.State(), "tick %d", tick)
			assert.Empty(t, f.GetUpdateIds(), "nothing but predicted fields moved: nothing listed")
			assert.Empty(t, f.GetSpawnIds())
			assert.Empty(t, f.GetDespawnIds())
			prev = cur

			// Velocities change (plain fields only): entities are listed with those fields alone,
			// the predicted fields follow with a zero residual.
			w.Step(g, nil)
			s := w.Schema()
			for _, id := range ed.Live() {
				c, _ := w.ClassOf(id)
				for _, fs := range s.ClassSpec(c).Fields {
					if fs.PredictFrom == "" || ed.R.Mod(2) == 0 {
						continue
					}
					v, _ := s.FieldByName(c, fs.PredictFrom)
					w.Set(id, v, w.Get(id, v)+int32(ed.R.Mod(2001))-1000)
				}
			}
			ed.Advance()
			cur = simtest.Snapshot(w)
			f = apply(t, m, frame(t, enc, prev, cur, 0, false))
			requireSame(t, cur, m.State(), "tick %d, velocities changed", tick)
			for i, id := range deltaDecode(f.GetUpdateIds()) {
				c, _ := cur.ClassOf(sim.Entity(id))
				fields := s.ClassSpec(c).Fields
				for mask := f.GetUpdateMasks()[i]; mask != 0; mask &= mask - 1 {
					fi := bits.TrailingZeros32(mask)
					assert.Empty(t, fields[fi].PredictFrom, "entity %d: predicted field %s listed with a zero residual", id, fields[fi].Name)
				}
			}
			prev = cur
		}
	})
}

func TestPropertySaveLoad(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, ed := randomWorld(seed)
		ws := w.Save()
		got, err := sim.LoadWorld(w.Schema(), proto.CloneOf(ws))
		require.NoError(t, err)
		assert.Equal(t, w.Hash(), got.Hash())
		assert.Equal(t, w.Tick(), got.Tick())
		assert.Equal(t, w.Len(), got.Len())
		assert.True(t, proto.Equal(ws, got.Save()), "Save(LoadWorld(ws)) == ws")
		assert.Equal(t, w.Rand().Uint32(), got.Rand().Uint32())

		// Both go on identically: same ids handed out (freed ids first, oldest first), same hashes.
		ed2 := simtest.NewEditor(got, seed)
		ed1 := simtest.NewEditor(w, seed)
		_ = ed
		for range 5 {
			ed1.Tick(10)
			ed2.Tick(10)
			require.Equal(t, w.Hash(), got.Hash())
		}
		assert.True(t, proto.Equal(w.Save(), got.Save()))
	})
}
