package arena

import (
	"encoding/json"
	"fmt"

	"github.com/ticksync/ticksync/sim"
)

// Name is the name arena registers under.
const Name = "arena"

// Units: positions in 1/100 world unit, velocities in 1/100 unit per second.
const (
	Scale     = 100               // fixed-point scale of positions and velocities
	WorldSize = 1000 * Scale      // the default world is [0, WorldSize] on both axes
	MaxInput  = 200 * Scale       // input velocities are clamped to ±MaxInput
	minSpeed  = 20 * Scale        // NPC speed is minSpeed + draw mod speedSpan
	speedSpan = 80*Scale + 1      // 2000 + draw mod 8001: 20..100 units/s
	turnBelow = 85899345          // 0.02 × 2^32: chance an NPC turns each tick
	hurtBelow = 42949672          // 0.01 × 2^32: chance an NPC loses 1 hp each tick
	fullHP    = 100               // hp of a new entity; hp 1 wraps back to it
	headings  = len(sinTable)     // heading resolution (4096 steps per turn)
	sinOne    = 16384             // sinTable's fixed-point one
	quarter   = len(sinTable) / 4 // cos(a) = sin(a + quarter)
	maxNPCs   = 100_000           // config bound: a room is not a galaxy
	maxPlayer = 1<<31 - 1         // player ids fit the owner field
	noPlayer  = 0                 // owner of an NPC
)

// Config is arena's room config (JSON). The zero value means the defaults.
type Config struct {
	// NPCs is the number of NPCs (default 200; the benchmark's scenario B uses 1000).
	NPCs int `json:"npcs"`
	// World is the world's side in units (default 1000, at least MinWorld, at most MaxWorld):
	// positions are in [0, World] on both axes, and the schema's x and y ranges say so.
	World int `json:"world"`
	// View is the side in units of the square each player sees, centred on its entity (default 0:
	// views off, every client holds the whole world; otherwise MinView..World). With a view the
	// game is a sim.Viewer: a player's client holds only the NPCs and players in the grid cells
	// that square overlaps.
	View int `json:"view"`
	// Cell is the side in units of the view grid's square cells (default View/4, at least
	// MinView; MinView..World). Only with a view.
	Cell int `json:"cell"`
}

// DefaultNPCs is the NPC count when the config gives none.
const DefaultNPCs = 200

// World sizes in units. A tick moves an entity by at most MaxInput/Scale units (at 1 Hz), so a
// world at least that wide needs one reflection per border at most.
const (
	DefaultWorld = WorldSize / Scale // the world's side when the config gives none: 1000
	MinWorld     = MaxInput / Scale  // 200
	MaxWorld     = 100_000           // 10^7 in 1/100 units: 2 × that still fits an int32
)

// Game is the arena game. Make one with New.
type Game struct {
	schema *sim.Schema
	hz     int32
	npcs   int
	world  int32 // the world's side in 1/100 units

	npc, player                 sim.Class
	nx, ny, nvx, nvy, nhp       sim.Field
	px, py, pvx, pvy, php, pown sim.Field
	inVX, inVY                  sim.InputField

	byPlayer map[uint32]sim.Entity // player id → entity; lookups only, never iterated
	latest   map[uint32][2]int32   // scratch: a player's newest move this tick
	order    []uint32              // scratch: players with a move this tick, in input order
}

// New makes an arena game ticking at tickRate Hz from a JSON Config (empty: defaults).
func New(tickRate uint32, config []byte) (sim.Game, error) {
	var cfg Config
	if len(config) > 0 {
		if err := json.Unmarshal(config, &cfg); err != nil {
			return nil, fmt.Errorf("arena: config: %w", err)
		}
	}
	if cfg.NPCs == 0 {
		cfg.NPCs = DefaultNPCs
	}
	if cfg.NPCs < 0 || cfg.NPCs > maxNPCs {
		return nil, fmt.Errorf("arena: npcs %d out of range 0..%d", cfg.NPCs, maxNPCs)
	}
	if cfg.World == 0 {
		cfg.World = DefaultWorld
	}
	if cfg.World < MinWorld || cfg.World > MaxWorld {
		return nil, fmt.Errorf("arena: world %d out of range %d..%d", cfg.World, MinWorld, MaxWorld)
	}
	if err := cfg.views(); err != nil {
		return nil, err
	}
	if tickRate < 1 || tickRate > 1000 {
		return nil, fmt.Errorf("arena: tick rate %d out of range", tickRate)
	}
	g := &Game{hz: int32(tickRate), npcs: cfg.NPCs, world: int32(cfg.World) * Scale, byPlayer: map[uint32]sim.Entity{}, latest: map[uint32][2]int32{}}
	b := sim.NewSchemaBuilder()
	hz := int32(tickRate)
	n := b.Class("npc")
	g.nx = n.Fixed("x", Scale, sim.Interpolate(), sim.PredictFrom("vx", 1, hz), sim.Range(0, g.world))
	g.ny = n.Fixed("y", Scale, sim.Interpolate(), sim.PredictFrom("vy", 1, hz), sim.Range(0, g.world))
	g.nvx = n.Fixed("vx", Scale)
	g.nvy = n.Fixed("vy", Scale)
	g.nhp = n.Int("hp", sim.Range(1, fullHP))
	g.npc = n.Handle()
	p := b.Class("player")
	g.px = p.Fixed("x", Scale, sim.Interpolate(), sim.PredictFrom("vx", 1, hz), sim.Range(0, g.world))
	g.py = p.Fixed("y", Scale, sim.Interpolate(), sim.PredictFrom("vy", 1, hz), sim.Range(0, g.world))
	g.pvx = p.Fixed("vx", Scale, sim.Range(-MaxInput, MaxInput))
	g.pvy = p.Fixed("vy", Scale, sim.Range(-MaxInput, MaxInput))
	g.php = p.Int("hp", sim.Range(1, fullHP))
	g.pown = p.Int("player", sim.Owner())
	g.player = p.Handle()
	g.inVX = b.InputFixed("vx", Scale, sim.Range(-MaxInput, MaxInput))
	g.inVY = b.InputFixed("vy", Scale, sim.Range(-MaxInput, MaxInput))
	s, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("arena: %w", err)
	}
	g.schema = s
	if cfg.View > 0 {
		return newViewGame(g, cfg)
	}
	return g, nil
}

// Schema returns arena's schema.
func (g *Game) Schema() *sim.Schema { return g.schema }

// Init spawns the NPCs in index order: position, heading, speed, hp.
func (g *Game) Init(w *sim.World) error {
	r := w.Rand()
	for range g.npcs {
		e := w.Spawn(g.npc)
		w.Set(e, g.nx, g.place(r))
		w.Set(e, g.ny, g.place(r))
		vx, vy := heading(r)
		w.Set(e, g.nvx, vx)
		w.Set(e, g.nvy, vy)
		w.Set(e, g.nhp, fullHP)
	}
	return nil
}

// place draws a coordinate in [0, world].
func (g *Game) place(r *sim.Rand) int32 { return int32(r.Mod(uint32(g.world) + 1)) }

// heading draws a heading and a speed and returns the velocity.
func heading(r *sim.Rand) (vx, vy int32) {
	a := int(r.Mod(uint32(headings)))
	s := int64(minSpeed + r.Mod(speedSpan))
	return int32(s * int64(sinTable[(a+quarter)%headings]) / sinOne), int32(s * int64(sinTable[a]) / sinOne)
}

// Load rebuilds the player index from a restored world.
func (g *Game) Load(w *sim.World) error {
	clear(g.byPlayer)
	for _, e := range w.Entities(g.player) {
		id := uint32(w.Get(e, g.pown))
		if _, dup := g.byPlayer[id]; dup || id == noPlayer {
			return fmt.Errorf("arena: player %d owns two entities or none", id)
		}
		g.byPlayer[id] = e
	}
	return nil
}

// Step applies this tick's inputs, then moves every NPC and every player.
func (g *Game) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	g.applyInputs(w, inputs)
	r := w.Rand()
	xs, ys, vxs, vys, hps := w.Column(g.nx), w.Column(g.ny), w.Column(g.nvx), w.Column(g.nvy), w.Column(g.nhp)
	for i := range xs {
		if r.Below(turnBelow) {
			vxs[i], vys[i] = heading(r)
		}
		xs[i], vxs[i] = move(xs[i], vxs[i], g.hz, g.world)
		ys[i], vys[i] = move(ys[i], vys[i], g.hz, g.world)
		if r.Below(hurtBelow) {
			if hps[i] <= 1 {
				hps[i] = fullHP
			} else {
				hps[i]--
			}
		}
	}
	xs, ys, vxs, vys = w.Column(g.px), w.Column(g.py), w.Column(g.pvx), w.Column(g.pvy)
	for i := range xs {
		xs[i], vxs[i] = move(xs[i], vxs[i], g.hz, g.world)
		ys[i], vys[i] = move(ys[i], vys[i], g.hz, g.world)
	}
}

// move advances a coordinate by trunc(v/hz), mirroring off the borders 0 and world with the
// velocity's sign flipped. A tick's step is at most MinWorld, so one reflection suffices.
func move(p, v, hz, world int32) (int32, int32) {
	p += v / hz
	switch {
	case p < 0:
		return -p, -v
	case p > world:
		return 2*world - p, -v
	}
	return p, v
}

// applyInputs handles joins and leaves in order and applies each player's newest move.
func (g *Game) applyInputs(w *sim.World, inputs []sim.Input) {
	g.order = g.order[:0]
	for _, in := range inputs {
		switch in.Kind {
		case sim.InputJoin:
			if _, ok := g.byPlayer[in.Player]; ok || in.Player == noPlayer || in.Player > maxPlayer {
				continue
			}
			e := w.Spawn(g.player)
			r := w.Rand()
			w.Set(e, g.px, g.place(r))
			w.Set(e, g.py, g.place(r))
			w.Set(e, g.php, fullHP)
			w.Set(e, g.pown, int32(in.Player))
			g.byPlayer[in.Player] = e
		case sim.InputLeave:
			if e, ok := g.byPlayer[in.Player]; ok {
				w.Despawn(e)
				delete(g.byPlayer, in.Player)
				delete(g.latest, in.Player)
			}
		case sim.InputMove:
			if _, ok := g.byPlayer[in.Player]; !ok || len(in.Values) < 2 {
				continue // not in the match: ignored
			}
			if _, seen := g.latest[in.Player]; !seen {
				g.order = append(g.order, in.Player)
			}
			g.latest[in.Player] = [2]int32{clamp(in.Values[g.inVX.Index()]), clamp(in.Values[g.inVY.Index()])}
		}
	}
	for _, p := range g.order {
		v := g.latest[p]
		delete(g.latest, p)
		e, ok := g.byPlayer[p]
		if !ok {
			continue
		}
		w.Set(e, g.pvx, v[0])
		w.Set(e, g.pvy, v[1])
	}
}

func clamp(v int32) int32 { return min(max(v, -MaxInput), MaxInput) }

// Player returns the entity of player id, if it is in the match.
func (g *Game) Player(id uint32) (sim.Entity, bool) {
	e, ok := g.byPlayer[id]
	return e, ok
}
