package arena

import (
	"fmt"

	"github.com/ticksync/ticksync/sim"
)

// MinView is the smallest view and cell side in units.
const MinView = 10

// views validates the config's view and cell (after World's default) and fills Cell's default.
func (c *Config) views() error {
	if c.View == 0 {
		if c.Cell != 0 {
			return fmt.Errorf("arena: cell %d without a view", c.Cell)
		}
		return nil
	}
	if c.View < MinView || c.View > c.World {
		return fmt.Errorf("arena: view %d out of range %d..%d", c.View, MinView, c.World)
	}
	if c.Cell == 0 {
		c.Cell = max(c.View/4, MinView)
	}
	if c.Cell < MinView || c.Cell > c.World {
		return fmt.Errorf("arena: cell %d out of range %d..%d", c.Cell, MinView, c.World)
	}
	if n := (c.World + c.Cell - 1) / c.Cell; n*n > sim.MaxCells {
		return fmt.Errorf("arena: cell %d cuts world %d into %d × %d cells, more than %d", c.Cell, c.World, n, n, sim.MaxCells)
	}
	return nil
}

// viewGame is arena with views (Config.View > 0): the Game and sim.Viewer. A Game without
// views stays a plain *Game, which is no Viewer, so its rooms send today's frames.
type viewGame struct {
	*Game
	grid sim.Grid
	half int32 // half the view's side in 1/100 units
}

var _ sim.Viewer = (*viewGame)(nil)

// newViewGame wraps g with the views of cfg (validated, so the grid fits).
func newViewGame(g *Game, cfg Config) (*viewGame, error) {
	grid, err := sim.NewGrid(g.world, g.world, int32(cfg.Cell)*Scale)
	if err != nil {
		return nil, fmt.Errorf("arena: view grid: %w", err)
	}
	return &viewGame{Game: g, grid: grid, half: int32(cfg.View) * Scale / 2}, nil
}

// ViewGrid returns the world cut into the config's cells.
func (v *viewGame) ViewGrid() sim.Grid { return v.grid }

// Cells puts every NPC and player in the cell of its position.
func (v *viewGame) Cells(w *sim.World, cells []sim.Cell) {
	v.cellsOf(w, v.npc, v.nx, v.ny, cells)
	v.cellsOf(w, v.player, v.px, v.py, cells)
}

// cellsOf puts the entities of class c in the cells of their positions x, y.
func (v *viewGame) cellsOf(w *sim.World, c sim.Class, x, y sim.Field, cells []sim.Cell) {
	xs, ys := w.Column(x), w.Column(y)
	for i, e := range w.Entities(c) {
		cells[e] = v.grid.CellAt(xs[i], ys[i])
	}
}

// View appends the cells the view's square around player's entity overlaps; a player not in
// the match sees nothing.
func (v *viewGame) View(w *sim.World, player uint32, dst []sim.Cell) []sim.Cell {
	e, ok := v.byPlayer[player]
	if !ok {
		return dst
	}
	return v.grid.AppendSquare(dst, w.Get(e, v.px), w.Get(e, v.py), v.half)
}
