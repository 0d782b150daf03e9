package sim_test

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

func TestNewGrid(t *testing.T) {
	for _, tc := range []struct {
		name                string
		width, height, size int32
		cols, rows          int32 // 0: NewGrid fails
	}{
		{"exact", 100, 100, 10, 10, 10},
		{"rounds up", 101, 95, 10, 11, 10},
		{"one cell", 5, 7, 10, 1, 1},
		{"cell as big as the world", 10, 10, 10, 1, 1},
		{"unit cells", 3, 2, 1, 3, 2},
		{"max cells", 1024, 1024, 1, 1024, 1024},
		{"max int32 sides", math.MaxInt32, math.MaxInt32, math.MaxInt32, 1, 1},
		{"max int32 sides, 1024 × 1024", math.MaxInt32, math.MaxInt32, 1 << 21, 1024, 1024},
		{"too many cells", 1025, 1024, 1, 0, 0},
		{"too many cells, huge", math.MaxInt32, math.MaxInt32, 1, 0, 0},
		{"zero width", 0, 10, 1, 0, 0},
		{"zero height", 10, 0, 1, 0, 0},
		{"zero size", 10, 10, 0, 0, 0},
		{"negative width", -10, 10, 1, 0, 0},
		{"negative height", 10, -1, 1, 0, 0},
		{"negative size", 10, 10, -5, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := sim.NewGrid(tc.width, tc.height, tc.size)
			if tc.cols == 0 {
				require.Error(t, err)
				assert.Equal(t, sim.Grid{}, g)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, [3]int32{tc.width, tc.height, tc.size}, [3]int32{g.Width, g.Height, g.Size})
			assert.Equal(t, [2]int32{tc.cols, tc.rows}, [2]int32{g.Cols(), g.Rows()})
			assert.Equal(t, int(tc.cols)*int(tc.rows), g.Cells())
		})
	}
	assert.Zero(t, sim.Grid{}.Cells(), "the zero grid")
}

// grid95 is a 95 × 42 world in cells of 10: 10 columns (the last 5 wide inside the world), 5 rows.
func grid95(t *testing.T) sim.Grid {
	t.Helper()
	g, err := sim.NewGrid(95, 42, 10)
	require.NoError(t, err)
	require.Equal(t, [2]int32{10, 5}, [2]int32{g.Cols(), g.Rows()})
	return g
}

func TestCellAt(t *testing.T) {
	g := grid95(t)
	const lo, hi = math.MinInt32, math.MaxInt32
	for _, tc := range []struct {
		x, y int32
		cell sim.Cell
	}{
		{0, 0, 0}, {9, 9, 0}, {10, 0, 1}, {0, 10, 10}, {55, 23, 25},
		{89, 39, 38}, {90, 40, 49}, // the last column and row start
		{94, 41, 49}, {95, 42, 49}, // the world's far corner is in the last cell
		// clamped: left, right, top, bottom, and the four corners beyond
		{-1, 15, 10}, {lo, 15, 10},
		{96, 15, 19}, {hi, 15, 19},
		{35, -1, 3}, {35, lo, 3},
		{35, 43, 43}, {35, hi, 43},
		{-1, -1, 0}, {lo, lo, 0},
		{hi, lo, 9}, {lo, hi, 40}, {hi, hi, 49}, {100, 50, 49},
	} {
		assert.Equal(t, tc.cell, g.CellAt(tc.x, tc.y), "CellAt(%d, %d)", tc.x, tc.y)
	}
}

// cellsOf is the brute-force reference: the set of cells CellAt gives the integer points of
// [x0, x1] × [y0, y1] that keep is true for, ascending.
func cellsOf(g sim.Grid, x0, y0, x1, y1 int32, keep func(x, y int32) bool) []sim.Cell {
	seen := map[sim.Cell]bool{}
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			if keep(x, y) {
				seen[g.CellAt(x, y)] = true
			}
		}
	}
	out := []sim.Cell{}
	for c := range seen {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

func everyPoint(x, y int32) bool { return true }

// grids are the worlds the area tests cut: grid95's, and a 100 × 40 one whose far borders
// (x = 100, y = 40: positions inside the world) clamp into the last column and row.
func grids(t *testing.T) []sim.Grid {
	t.Helper()
	g100, err := sim.NewGrid(100, 40, 10)
	require.NoError(t, err)
	return []sim.Grid{grid95(t), g100}
}

// points are the fixed centres the area tests try: inside, on every border and corner, in the
// short last column, and beyond each side.
var points = [][2]int32{
	{0, 0}, {5, 5}, {9, 9}, {10, 10}, {47, 21}, {50, 20}, {89, 39}, {90, 40}, {94, 41}, {95, 42},
	{0, 42}, {95, 0}, {-1, 20}, {-13, -7}, {99, 20}, {120, 60}, {40, -25}, {40, 70}, {-30, 80},
	{110, -3}, {33, 41}, {61, 1}, {100, 40}, {100, 20}, {50, 40},
}

// fromBase checks that an Append* result kept dst's prefix and returns what it appended.
func fromBase(t *testing.T, got []sim.Cell) []sim.Cell {
	t.Helper()
	require.GreaterOrEqual(t, len(got), 1)
	require.Equal(t, sim.Cell(-7), got[0], "dst's prefix kept")
	return got[1:]
}

func TestAppendRect(t *testing.T) {
	g := grid95(t)
	rects := [][4]int32{
		{0, 0, 94, 41}, {0, 0, 95, 42}, {0, 0, 0, 0}, {9, 9, 10, 10}, {10, 10, 19, 19}, {12, 3, 57, 33},
		{-50, -50, -1, -1}, {96, 43, 130, 70}, {-20, 15, 200, 16}, {30, -9, 31, 99}, {89, 39, 90, 40},
		{5, 5, 4, 9}, {5, 9, 9, 5}, // empty: x1 < x0, y1 < y0
	}
	for _, p := range points { // every point's 0..23-half squares, as rectangles, some lopsided
		for h := int32(0); h < 24; h += 3 {
			rects = append(rects, [4]int32{p[0] - h, p[1] - h/2, p[0] + h/3, p[1] + h})
		}
	}
	for _, g := range grids(t) {
		for _, r := range rects {
			want := cellsOf(g, r[0], r[1], r[2], r[3], everyPoint)
			got := fromBase(t, g.AppendRect([]sim.Cell{-7}, r[0], r[1], r[2], r[3]))
			assert.Equal(t, want, got, "%d × %d: AppendRect %v: the cells of its points, row by row, each once", g.Width, g.Height, r)
		}
	}
	const lo, hi = math.MinInt32, math.MaxInt32
	assert.Len(t, g.AppendRect(nil, lo, lo, hi, hi), g.Cells(), "everything")
	assert.Empty(t, sim.Grid{}.AppendRect(nil, 0, 0, 10, 10), "the zero grid has no cells")
}

func TestAppendSquare(t *testing.T) {
	g := grid95(t)
	for _, g := range grids(t) {
		for _, p := range points {
			for half := int32(-1); half <= 30; half++ {
				x, y := p[0], p[1]
				want := cellsOf(g, x-half, y-half, x+half, y+half, everyPoint)
				got := fromBase(t, g.AppendSquare([]sim.Cell{-7}, x, y, half))
				assert.Equal(t, want, got, "%d × %d: AppendSquare(%d, %d, %d)", g.Width, g.Height, x, y, half)
			}
		}
	}
	const lo, hi = math.MinInt32, math.MaxInt32
	assert.Equal(t, []sim.Cell{49}, g.AppendSquare(nil, hi, hi, 10), "no overflow at the top")
	assert.Equal(t, []sim.Cell{0}, g.AppendSquare(nil, lo, lo, 10), "no overflow at the bottom")
	assert.Len(t, g.AppendSquare(nil, hi, hi, hi), g.Cells(), "everything, saturated")
	assert.Len(t, g.AppendSquare(nil, lo, lo, hi), 1, "only the corner, saturated")
}

func TestAppendRadius(t *testing.T) {
	g := grid95(t)
	for _, g := range grids(t) {
		for _, p := range points {
			for r := int32(-1); r <= 40; r++ {
				x, y := p[0], p[1]
				rr := int64(r) * int64(r)
				within := func(px, py int32) bool {
					dx, dy := int64(px-x), int64(py-y)
					return dx*dx+dy*dy <= rr
				}
				want := cellsOf(g, x-r, y-r, x+r, y+r, within)
				got := fromBase(t, g.AppendRadius([]sim.Cell{-7}, x, y, r))
				assert.Equal(t, want, got, "%d × %d: AppendRadius(%d, %d, %d): exactly the cells whose positions (CellAt's) have a point within r", g.Width, g.Height, x, y, r)
			}
		}
	}
	const lo, hi = math.MinInt32, math.MaxInt32
	assert.Equal(t, []sim.Cell{0}, g.AppendRadius(nil, lo, lo, 0), "far outside, r 0: the point's own cell")
	assert.Equal(t, []sim.Cell{49}, g.AppendRadius(nil, hi, hi, 0), "far outside, r 0: the point's own cell")
	assert.Equal(t, []sim.Cell{0}, g.AppendRadius(nil, lo, lo, hi), "no overflow: only the corner cell is within MaxInt32")
	assert.Len(t, g.AppendRadius(nil, 47, 21, hi), g.Cells(), "everything")
	assert.Empty(t, sim.Grid{}.AppendRadius(nil, 0, 0, 10), "the zero grid has no cells")
}

// TestAppendAllocs: appending to a dst with room does not allocate (View runs per client per
// tick).
func TestAppendAllocs(t *testing.T) {
	g := grid95(t)
	dst := make([]sim.Cell, 0, g.Cells())
	allocs := testing.AllocsPerRun(100, func() {
		dst = g.AppendRect(dst[:0], 3, 4, 60, 30)
		dst = g.AppendSquare(dst[:0], 50, 20, 25)
		dst = g.AppendRadius(dst[:0], 50, 20, 25)
		_ = g.CellAt(50, 20)
	})
	assert.Zero(t, allocs)
}
