package arena

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

// newViewWorld is newWorld for a config with a view: the game is a viewGame.
func newViewWorld(t testing.TB, config string, seed uint32) (*viewGame, *sim.World) {
	t.Helper()
	g, err := New(20, []byte(config))
	require.NoError(t, err)
	v, ok := g.(*viewGame)
	require.True(t, ok, "a config with a view makes a viewGame, got %T", g)
	w := sim.NewWorld(g.Schema(), seed)
	require.NoError(t, g.Init(w))
	return v, w
}

func TestViewConfig(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		cell         int32 // the grid's cell side in 1/100 units; 0: New fails
	}{
		{"smallest view", `{"view":10}`, 10 * Scale},
		{"view", `{"view":400}`, 100 * Scale},
		{"default cell is a quarter of the view", `{"world":4000,"view":400}`, 100 * Scale},
		{"default cell at least 10", `{"view":30}`, 10 * Scale},
		{"cell", `{"view":400,"cell":50}`, 50 * Scale},
		{"view as wide as the world", `{"world":300,"view":300,"cell":300}`, 300 * Scale},
		{"1024 × 1024 cells", `{"world":10240,"view":40,"cell":10}`, 10 * Scale},
		{"view too small", `{"view":9}`, 0},
		{"view wider than the world", `{"world":300,"view":301}`, 0},
		{"view wider than the default world", `{"view":1001}`, 0},
		{"negative view", `{"view":-1}`, 0},
		{"cell too small", `{"view":400,"cell":9}`, 0},
		{"cell wider than the world", `{"world":300,"view":300,"cell":301}`, 0},
		{"negative cell", `{"view":400,"cell":-10}`, 0},
		{"cell without a view", `{"cell":50}`, 0},
		{"too many cells", `{"world":10250,"view":40,"cell":10}`, 0},
		{"far too many cells", `{"world":100000,"view":10}`, 0},
		{"view not a number", `{"view":"big"}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(20, []byte(tc.config))
			if tc.cell == 0 {
				require.Error(t, err)
				assert.Regexp(t, `^arena: `, err.Error())
				return
			}
			require.NoError(t, err)
			v, ok := g.(sim.Viewer)
			require.True(t, ok, "a game with a view is a sim.Viewer")
			grid := v.ViewGrid()
			assert.Equal(t, tc.cell, grid.Size)
			world := g.(*viewGame).world
			assert.Equal(t, [2]int32{world, world}, [2]int32{grid.Width, grid.Height}, "the grid covers the world")
		})
	}
}

// TestNoViewsByDefault: without a view the game is no sim.Viewer (the server asks with a type
// assertion), and a view changes neither the schema nor the match.
func TestNoViewsByDefault(t *testing.T) {
	for _, config := range []string{"", `{"npcs":5}`, `{"world":300}`, `{"view":0}`} {
		g, err := New(20, []byte(config))
		require.NoError(t, err)
		_, viewer := g.(sim.Viewer)
		assert.False(t, viewer, "config %q: no view, no Viewer", config)
		assert.IsType(t, &Game{}, g)
	}
	g, a := newWorld(t, 20, `{"npcs":300}`, 42)
	v, b := newViewWorld(t, `{"npcs":300,"view":200}`, 42)
	assert.Equal(t, schemaJSON(t, g.Schema()), schemaJSON(t, v.Schema()), "a view leaves the schema as it is")
	ma, mb := newMatch(7), newMatch(7)
	for tick := 1; tick <= 500; tick++ {
		a.Step(g, ma.tick())
		b.Step(v, mb.tick())
		require.Equal(t, a.Hash(), b.Hash(), "tick %d: a view leaves the match as it is", tick)
	}
}

// viewMatch is a view game's world after a random match with leaves (freed, reused ids) and a
// player standing on the far corner.
func viewMatch(t *testing.T) (*viewGame, *sim.World) {
	v, w := newViewWorld(t, `{"npcs":400,"world":1000,"view":230,"cell":60}`, 42)
	require.Equal(t, [2]int32{17, 17}, [2]int32{v.grid.Cols(), v.grid.Rows()}, "the last column and row are short")
	m := newMatch(3)
	for range 600 {
		w.Step(v, m.tick())
	}
	require.GreaterOrEqual(t, len(w.Entities(v.player)), 3, "players in the match")
	w.Step(v, []sim.Input{{Player: 98, Kind: sim.InputJoin}, {Player: 99, Kind: sim.InputJoin}})
	place := func(p uint32, x, y int32) {
		e, ok := v.Player(p)
		require.True(t, ok)
		w.Set(e, v.px, x)
		w.Set(e, v.py, y)
	}
	place(98, 5*60*Scale-230*Scale/2, 2*60*Scale+230*Scale/2) // the square just reaches column 5 and just misses row 1
	place(99, v.world, v.world)                               // on the far corner: the last cell
	return v, w
}

// cellsOf returns Cells' answer in a fresh slice preset to Everywhere.
func cellsOf(v *viewGame, w *sim.World) []sim.Cell {
	cells := make([]sim.Cell, w.MaxID())
	for i := range cells {
		cells[i] = sim.Everywhere
	}
	v.Cells(w, cells)
	return cells
}

// position returns entity e's position, whatever its class.
func position(t *testing.T, v *viewGame, w *sim.World, e sim.Entity) (x, y int32) {
	c, ok := w.ClassOf(e)
	require.True(t, ok)
	if c == v.npc {
		return w.Get(e, v.nx), w.Get(e, v.ny)
	}
	return w.Get(e, v.px), w.Get(e, v.py)
}

// TestCells: every live entity is in the cell of its position (counted from the grid's
// geometry here, not through CellAt); free ids stay Everywhere.
func TestCells(t *testing.T) {
	v, w := viewMatch(t)
	size := 60 * Scale
	cells := cellsOf(v, w)
	live := 0
	for id := sim.Entity(1); id < w.MaxID(); id++ {
		if !w.Alive(id) {
			assert.Equal(t, sim.Everywhere, cells[id], "free id %d untouched", id)
			continue
		}
		live++
		x, y := position(t, v, w, id)
		col, row := min(int(x)/size, 16), min(int(y)/size, 16)
		assert.Equal(t, sim.Cell(row*17+col), cells[id], "entity %d at %d, %d", id, x, y)
	}
	assert.Equal(t, w.Len(), live)
	e, _ := v.Player(99)
	assert.Equal(t, sim.Cell(17*17-1), cells[e], "the far corner is in the last cell")
}

// TestView: a player's view is the cells its square overlaps (from the grid's geometry here),
// so it holds every entity within the square; a player not in the match sees nothing.
func TestView(t *testing.T) {
	v, w := viewMatch(t)
	const size, half = 60 * Scale, 230 * Scale / 2
	cells := cellsOf(v, w)
	for _, e := range w.Entities(v.player) {
		p := uint32(w.Get(e, v.pown))
		px, py := w.Get(e, v.px), w.Get(e, v.py)
		got := v.View(w, p, []sim.Cell{-7})
		require.Equal(t, sim.Cell(-7), got[0], "dst's prefix kept")
		seen := map[sim.Cell]bool{}
		for _, c := range got[1:] {
			assert.False(t, seen[c], "player %d: cell %d twice", p, c)
			seen[c] = true
		}
		overlaps := func(i int32, p int32) bool { // column or row i of 17 against [p-half, p+half]
			lo, hi := i*size, (i+1)*size-1
			if i == 16 {
				hi = 1 << 30
			}
			return p+half >= lo && p-half <= hi
		}
		for c := range int32(17 * 17) {
			assert.Equal(t, overlaps(c%17, px) && overlaps(c/17, py), seen[sim.Cell(c)], "player %d at %d, %d: cell %d", p, px, py, c)
		}
		for id := sim.Entity(1); id < w.MaxID(); id++ {
			if !w.Alive(id) {
				continue
			}
			if x, y := position(t, v, w, id); abs(x-px) <= half && abs(y-py) <= half {
				assert.True(t, seen[cells[id]], "player %d sees entity %d at %d, %d", p, id, x, y)
			}
		}
	}
	assert.Equal(t, []sim.Cell{3}, v.View(w, 1000, []sim.Cell{3}), "no entity: nothing")
}

func abs(v int32) int32 { return max(v, -v) }

// TestViewsAllocateNothing: Cells and View run every tick (View once per client).
func TestViewsAllocateNothing(t *testing.T) {
	v, w := viewMatch(t)
	cells := cellsOf(v, w)
	dst := make([]sim.Cell, 0, v.grid.Cells())
	allocs := testing.AllocsPerRun(50, func() {
		v.Cells(w, cells)
		for _, e := range w.Entities(v.player) {
			dst = v.View(w, uint32(w.Get(e, v.pown)), dst[:0])
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkCells is the server's per-tick cell pass over bench scenario D's world: 20,000 NPCs.
func BenchmarkCells(b *testing.B) {
	v, w := newViewWorld(b, `{"npcs":20000,"world":4000,"view":400}`, 42)
	cells := make([]sim.Cell, w.MaxID())
	b.ReportAllocs()
	for b.Loop() {
		v.Cells(w, cells)
	}
}
