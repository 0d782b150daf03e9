package sim

import "fmt"

// Viewer is a game whose players each see only part of the world (interest management). The
// game cuts its world into the square cells of a Grid, says each tick which cell every entity is
// in and which cells each player sees; a client then holds exactly the entities in the cells it
// sees (docs/protocol.md, "Views"). The rule lives in the game and reads only the World, so it
// is deterministic and a replay can show any player's view. Spectators see the whole world
// unless they follow a player.
//
// The server encodes each cell's changes once per baseline and builds a client's frame from the
// pieces of the cells it sees, so the per-tick cost grows with the cells that changed, not with
// clients × visible entities. A game without Viewer gets today's frames, at today's cost.
type Viewer interface {
	// ViewGrid returns the grid the world is cut into; the same value every call.
	ViewGrid() Grid
	// Cells writes the cell of every live entity at the world's current tick into cells, which
	// has one slot per entity id below World.MaxID(), each preset to Everywhere: an entity left
	// at Everywhere is seen by every client (a scoreboard, a global timer). Slots of ids that
	// hold no entity are ignored.
	Cells(w *World, cells []Cell)
	// View appends to dst the cells player sees at the world's current tick (any order;
	// duplicates and cells outside the grid are ignored) and returns it. Called once per tick
	// for every client that sees through a player's eyes, so it must not allocate: append to
	// dst, which the server reuses. A player without an entity may see nothing.
	View(w *World, player uint32, dst []Cell) []Cell
}

// Cell is a grid cell, numbered row-major from 0 (row × cols + col).
type Cell int32

// Everywhere is the cell of an entity every view holds.
const Everywhere Cell = -1

// Grid cuts a Width × Height world, in the raw integer units of the game's position fields
// (1/100 unit for a field with scale 100), into square cells of side Size. Positions are
// clamped into the world, so an entity on the far border is in the last row or column.
type Grid struct {
	Width, Height, Size int32
	cols, rows          int32
}

// MaxCells bounds a grid's cell count (a 1,024 × 1,024 grid).
const MaxCells = 1 << 20

// NewGrid returns the grid of a width × height world with cells of side size. It fails when a
// side is not positive or the grid would have more than MaxCells cells.
func NewGrid(width, height, size int32) (Grid, error) {
	if width <= 0 || height <= 0 || size <= 0 {
		return Grid{}, fmt.Errorf("sim: grid %d × %d with cells of %d: sides must be positive", width, height, size)
	}
	g := Grid{Width: width, Height: height, Size: size}
	g.cols = int32((int64(width) + int64(size) - 1) / int64(size))
	g.rows = int32((int64(height) + int64(size) - 1) / int64(size))
	if int64(g.cols)*int64(g.rows) > MaxCells {
		return Grid{}, fmt.Errorf("sim: grid %d × %d with cells of %d has %d × %d cells, more than %d", width, height, size, g.cols, g.rows, MaxCells)
	}
	return g, nil
}

// Cols returns the number of columns.
func (g Grid) Cols() int32 { return g.cols }

// Rows returns the number of rows.
func (g Grid) Rows() int32 { return g.rows }

// Cells returns the number of cells (0 for the zero Grid).
func (g Grid) Cells() int { return int(g.cols) * int(g.rows) }

// col returns the column of x, clamped into the grid.
func (g Grid) col(x int32) int32 { return min(max(x, 0)/g.Size, g.cols-1) }

// row returns the row of y, clamped into the grid.
func (g Grid) row(y int32) int32 { return min(max(y, 0)/g.Size, g.rows-1) }

// CellAt returns the cell holding position (x, y), clamped into the grid.
func (g Grid) CellAt(x, y int32) Cell { return Cell(g.row(y)*g.cols + g.col(x)) }

// AppendRect appends the cells that overlap the rectangle [x0, x1] × [y0, y1] (clamped into the
// grid), row by row, and returns dst.
func (g Grid) AppendRect(dst []Cell, x0, y0, x1, y1 int32) []Cell {
	if x1 < x0 || y1 < y0 || g.cols == 0 {
		return dst
	}
	c0, c1, r0, r1 := g.col(x0), g.col(x1), g.row(y0), g.row(y1)
	for r := r0; r <= r1; r++ {
		for c := c0; c <= c1; c++ {
			dst = append(dst, Cell(r*g.cols+c))
		}
	}
	return dst
}

// AppendSquare appends the cells that overlap the square of side 2 × half centred on (x, y):
// the common "what is around me" view.
func (g Grid) AppendSquare(dst []Cell, x, y, half int32) []Cell {
	return g.AppendRect(dst, sat(int64(x)-int64(half)), sat(int64(y)-int64(half)), sat(int64(x)+int64(half)), sat(int64(y)+int64(half)))
}

// AppendRadius appends the cells that have a point within distance r of (x, y), row by row. A
// cell's points are the positions CellAt puts in it, so the border cells reach beyond the grid.
func (g Grid) AppendRadius(dst []Cell, x, y, r int32) []Cell {
	if r < 0 || g.cols == 0 {
		return dst
	}
	c0, c1 := g.col(sat(int64(x)-int64(r))), g.col(sat(int64(x)+int64(r)))
	r0, r1 := g.row(sat(int64(y)-int64(r))), g.row(sat(int64(y)+int64(r)))
	rr := int64(r) * int64(r)
	for row := r0; row <= r1; row++ {
		dy := g.axisGap(int64(y), row, g.rows)
		for col := c0; col <= c1; col++ {
			dx := g.axisGap(int64(x), col, g.cols)
			if dx*dx+dy*dy <= rr {
				dst = append(dst, Cell(row*g.cols+col))
			}
		}
	}
	return dst
}

// axisGap is the distance on one axis from p to the nearest position of column (or row) i of n:
// [i × Size, (i+1) × Size), open below for the first and above for the last, as positions clamp
// into the grid (0 inside). Within AppendRadius's range of columns and rows it is at most r.
func (g Grid) axisGap(p int64, i, n int32) int64 {
	lo, hi := int64(i)*int64(g.Size), (int64(i)+1)*int64(g.Size)-1
	switch {
	case p < lo && i > 0:
		return lo - p
	case p > hi && i < n-1:
		return p - hi
	}
	return 0
}

// sat saturates v into int32.
func sat(v int64) int32 { return int32(min(max(v, -1<<31), 1<<31-1)) }
