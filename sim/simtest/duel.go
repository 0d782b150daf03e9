package simtest

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ticksync/ticksync/sim"
)

// DuelName is the name tests register Duel under.
const DuelName = "duel"

// Duel is a small game that uses every optional part of the game API, for tests of the server
// and of recordings: its own tick rate, a validated config, a join filter reading the player's
// metadata, a history of past states read through World.Past at the input's render tick, game
// events for everyone and for one player, and a match end.
//
// Every player's marker moves one step right per tick (x = ticks alive). A player shoots with
// input "aim" = the x it saw its target at and "target" = the target's player id: the shot hits
// when the target's x at the shooter's render tick was aim (it has moved since). A hit emits
// EventHit {shooter, victim} to everyone and EventScored {hits} to the shooter only; the first
// to Config.Hits hits wins.
type Duel struct {
	cfg    DuelConfig
	schema *sim.Schema
	p      sim.Class
	x, own sim.Field
	hits   sim.Field
	name   sim.BytesField
	aim    sim.InputField
	target sim.InputField
}

// DuelConfig is Duel's room config (JSON).
type DuelConfig struct {
	Hits    int `json:"hits"`    // hits to win (default 2, 1..10)
	Hz      int `json:"hz"`      // the game's tick rate (default 30)
	History int `json:"history"` // past ticks it reads (default 8)
}

// Duel's event kinds.
const (
	EventHit    = 1 // Values: shooter, victim (to everyone)
	EventScored = 2 // Values: the shooter's hits (to the shooter only)
)

// NewDuel is Duel's sim.Factory.
func NewDuel(_ uint32, config []byte) (sim.Game, error) {
	cfg := DuelConfig{Hits: 2, Hz: 30, History: 8}
	if len(config) > 0 {
		if err := json.Unmarshal(config, &cfg); err != nil {
			return nil, fmt.Errorf("duel: config: %w", err)
		}
	}
	if cfg.Hits < 1 || cfg.Hits > 10 {
		return nil, fmt.Errorf("duel: hits %d out of range 1..10", cfg.Hits)
	}
	b := sim.NewSchemaBuilder()
	c := b.Class("marker")
	g := &Duel{cfg: cfg}
	g.x = c.Int("x")
	g.own = c.Int("player", sim.Owner())
	g.hits = c.Int("hits")
	g.name = c.Bytes("name", 32)
	g.p = c.Handle()
	g.aim = b.InputInt("aim")
	g.target = b.InputInt("target")
	s, err := b.Build()
	if err != nil {
		return nil, err
	}
	g.schema = s
	return g, nil
}

// Schema returns Duel's schema.
func (g *Duel) Schema() *sim.Schema { return g.schema }

// TickRate is the config's.
func (g *Duel) TickRate() uint32 { return uint32(g.cfg.Hz) }

// History is the config's.
func (g *Duel) History() int { return g.cfg.History }

// Init does nothing: markers come with players.
func (g *Duel) Init(*sim.World) error { return nil }

// Load has nothing to rebuild.
func (g *Duel) Load(*sim.World) error { return nil }

// DuelMeta is the player metadata Duel reads.
type DuelMeta struct {
	Name string `json:"name"`
}

// AcceptJoin refuses a player named "mallory", and metadata that is not a DuelMeta.
func (g *Duel) AcceptJoin(_ *sim.World, j sim.JoinRequest) error {
	if len(j.Meta) == 0 {
		return nil
	}
	var m DuelMeta
	if err := json.Unmarshal(j.Meta, &m); err != nil {
		return errors.New("bad player meta")
	}
	if m.Name == "mallory" {
		return errors.New("mallory may not play")
	}
	return nil
}

func (g *Duel) marker(w *sim.World, player uint32) (sim.Entity, bool) {
	for _, e := range w.Entities(g.p) {
		if uint32(w.Get(e, g.own)) == player {
			return e, true
		}
	}
	return 0, false
}

// Step moves every marker, seats and unseats players, and resolves shots against the past.
func (g *Duel) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	for _, e := range w.Entities(g.p) {
		w.Set(e, g.x, w.Get(e, g.x)+1)
	}
	for _, in := range inputs {
		switch in.Kind {
		case sim.InputJoin:
			e := w.Spawn(g.p)
			w.Set(e, g.own, int32(in.Player))
			var m DuelMeta
			_ = json.Unmarshal(in.Meta, &m) // AcceptJoin checked it
			w.SetBytes(e, g.name, []byte(m.Name))
		case sim.InputLeave:
			if e, ok := g.marker(w, in.Player); ok {
				w.Despawn(e)
			}
		case sim.InputMove:
			g.shoot(w, in)
		}
	}
}

// shoot checks a shot against the world at the shooter's render tick.
func (g *Duel) shoot(w *sim.World, in sim.Input) {
	target := uint32(in.Values[g.target.Index()])
	if target == 0 || target == in.Player || w.Result() != nil {
		return
	}
	past := w.Past(in.RenderTick)
	if past == nil {
		return
	}
	seen := int32(-1)
	for id := sim.Entity(1); id < past.MaxID(); id++ {
		if c, ok := past.ClassOf(id); ok && c == g.p && uint32(past.Value(id, g.own)) == target {
			seen = past.Value(id, g.x)
		}
	}
	if seen < 0 || seen != in.Values[g.aim.Index()] {
		return
	}
	me, ok := g.marker(w, in.Player)
	if !ok {
		return
	}
	hits := w.Get(me, g.hits) + 1
	w.Set(me, g.hits, hits)
	w.Emit(sim.Event{Kind: EventHit, Values: []int32{int32(in.Player), int32(target)}})
	w.Emit(sim.Event{Kind: EventScored, Values: []int32{hits}, To: []uint32{in.Player}})
	if int(hits) >= g.cfg.Hits {
		w.End(sim.Result{Winners: []uint32{in.Player}, Summary: fmt.Sprintf("player %d wins", in.Player), Data: []byte(fmt.Sprintf(`{"hits":%d}`, hits))})
	}
}
