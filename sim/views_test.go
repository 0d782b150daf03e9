package sim_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

// cellMap is a Viewer for tests: each entity's cell is drawn at random and redrawn now and then
// (a mover); some are Everywhere, some outside the grid (which counts as Everywhere).
type cellMap struct {
	g   sim.Grid
	r   sim.Rand
	gen []uint32 // the incarnation the cell was drawn for
	at  []sim.Cell
}

func (v *cellMap) ViewGrid() sim.Grid { return v.g }

func (v *cellMap) View(*sim.World, uint32, []sim.Cell) []sim.Cell { panic("not used") }

func (v *cellMap) Cells(w *sim.World, cells []sim.Cell) {
	for id := range cells {
		if w.Alive(sim.Entity(id)) {
			cells[id] = v.at[id]
		}
	}
}

// move redraws the cells of the world's entities: a new entity (or a reused id) always, the
// others with probability 1/4.
func (v *cellMap) move(w *sim.World, st *sim.State) {
	n := int(w.MaxID())
	for len(v.at) < n {
		v.at, v.gen = append(v.at, 0), append(v.gen, 0)
	}
	for id := 1; id < n; id++ {
		e := sim.Entity(id)
		if !w.Alive(e) {
			continue
		}
		g := sim.Incarnation(st, e)
		if v.gen[id] != g || v.r.Mod(4) == 0 {
			v.gen[id] = g
			v.at[id] = sim.Cell(int32(v.r.Mod(uint32(v.g.Cells())+3)) - 1) // -1 … cells+1
		}
	}
}

// viewClient is a client of the test: its mirror, its baseline and the views it was sent.
type viewClient struct {
	m     *sim.Mirror
	base  uint32
	views map[uint32][]sim.Cell
}

// TestPropertyViews runs random worlds with a random cell per entity and clients whose views
// change every tick and who skip frames now and then (so their baselines trail and sometimes
// fall out of the ring). After every applied frame a client's mirror must hold exactly the
// world's entities in its view, with the world's values, and its hash must be the view hash.
func TestPropertyViews(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, ed := randomWorld(seed)
		g, err := sim.NewGrid(40, 40, 10) // 4 × 4 cells
		require.NoError(t, err)
		v := &cellMap{g: g, r: sim.NewRand(seed * 7)}
		const ring = 6
		states := map[uint32]*sim.State{}
		clients := make([]*viewClient, 4)
		for i := range clients {
			clients[i] = &viewClient{m: sim.NewMirror(w.Schema()), views: map[uint32][]sim.Cell{}}
		}
		enc := &sim.Encoder{}
		var delta *sim.Delta
		for range 30 {
			ed.Tick(int(ed.R.Mod(12)))
			cur := simtest.Snapshot(w)
			v.move(w, cur)
			cur.PlaceCells(v, w)
			states[cur.Tick()] = cur
			delete(states, cur.Tick()-ring)
			for ci, c := range clients {
				var vt []sim.Cell
				for cell := range g.Cells() {
					if ed.R.Mod(3) == 0 {
						vt = append(vt, sim.Cell(cell))
					}
				}
				if ci == 0 { // one client sees a rectangle, like a game would give
					x, y := int32(ed.R.Mod(40)), int32(ed.R.Mod(40))
					vt = g.AppendSquare(nil, x, y, 8)
				}
				vt = g.Clean(vt)
				c.views[cur.Tick()] = vt
				if ed.R.Mod(3) == 0 && c.base != 0 {
					continue // this frame is coalesced away: the baseline stays
				}
				base, ok := states[c.base]
				delta = nil
				if ok && c.base != 0 {
					delta = &sim.Delta{}
					delta.Find(base, cur)
				} else {
					base = nil
				}
				withHash := ed.R.Mod(2) == 0
				body := enc.AppendViewBody(nil, delta, cur, c.views[c.base], vt, withHash)
				var baseline uint32
				if base != nil {
					baseline = base.Tick()
				}
				msg := sim.AppendFrameHeader(nil, cur.Tick(), baseline, 0, len(body))
				f := apply(t, c.m, append(msg, body...))
				requireViewOf(t, cur, vt, c.m.State())
				h, _ := cur.ViewHash(vt, nil)
				require.Equal(t, h, c.m.State().Hash(), "the mirror's hash is the view hash")
				if withHash {
					require.NotNil(t, f.ViewHash)
					require.Equal(t, h, f.GetViewHash())
				}
				c.base = cur.Tick()
			}
		}
	})
}

// requireViewOf checks that got holds exactly cur's entities in view (and Everywhere), with
// cur's values.
func requireViewOf(t *testing.T, cur *sim.State, view []sim.Cell, got *sim.State) {
	t.Helper()
	n := max(cur.MaxID(), got.MaxID())
	held := 0
	for id := sim.Entity(1); id < n; id++ {
		c, live := cur.ClassOf(id)
		want := live && sim.Sees(view, cur.CellOf(id))
		gc, has := got.ClassOf(id)
		require.Equal(t, want, has, "entity %d (live %v) held", id, live)
		if !want {
			continue
		}
		held++
		require.Equal(t, c, gc, "entity %d: class", id)
		require.Equal(t, cur.Values(id), got.Values(id), "entity %d: values", id)
		for i, b := range cur.BytesValues(id) {
			require.True(t, bytes.Equal(b, got.BytesValues(id)[i]), "entity %d: bytes %d", id, i)
		}
	}
	require.Equal(t, held, got.Len())
}
