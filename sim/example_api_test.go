package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ticksync/ticksync/sim"
)

// pong is the smallest game that uses every optional part of the game API: a ball at x moves
// one step a tick; a player hits it by naming the x it saw.
type pong struct {
	schema *sim.Schema
	ball   sim.Class
	x      sim.Field
	hits   sim.Field // state lives in the World, never in the Game
	aim    sim.InputField
}

func newPong() *pong {
	b := sim.NewSchemaBuilder()
	c := b.Class("ball")
	g := &pong{x: c.Int("x"), hits: c.Int("hits"), ball: c.Handle(), aim: b.InputInt("aim")}
	g.schema, _ = b.Build()
	return g
}

func (g *pong) Schema() *sim.Schema { return g.schema }
func (g *pong) Init(w *sim.World) error {
	w.Spawn(g.ball)
	return nil
}
func (g *pong) Load(*sim.World) error { return nil }

// TickRate: a room of pong ticks at 60 Hz whatever the server's -tick-rate.
func (g *pong) TickRate() uint32 { return 60 }

// History: Step reads up to 10 ticks back (World.Past).
func (g *pong) History() int { return 10 }

// AcceptJoin refuses players without a name; the client is closed with 4005 and this reason.
func (g *pong) AcceptJoin(_ *sim.World, j sim.JoinRequest) error {
	var meta struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(j.Meta, &meta) != nil || meta.Name == "" {
		return errors.New("pick a name first")
	}
	return nil
}

func (g *pong) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	ball := w.Entities(g.ball)[0]
	w.Set(ball, g.x, w.Get(ball, g.x)+1)
	for _, in := range inputs {
		if in.Kind != sim.InputMove {
			continue
		}
		// Lag compensation: where was the ball on the tick this player was looking at?
		seen := w.Past(in.RenderTick)
		if seen == nil || seen.Value(ball, g.x) != in.Values[g.aim.Index()] {
			continue
		}
		hits := w.Get(ball, g.hits) + 1
		w.Set(ball, g.hits, hits)
		w.Emit(sim.Event{Kind: 1, Values: []int32{int32(in.Player)}})             // to everyone
		w.Emit(sim.Event{Kind: 2, To: []uint32{in.Player}, Data: []byte("nice")}) // to the hitter only
		if hits == 2 {
			w.End(sim.Result{Winners: []uint32{in.Player}, Summary: fmt.Sprintf("player %d wins", in.Player)})
		}
	}
}

// A game with its own tick rate: the server runs its rooms at that rate, and recordings keep it.
func ExampleTickRater() {
	var g sim.Game = newPong()
	if tr, ok := g.(sim.TickRater); ok {
		fmt.Println(tr.TickRate(), "Hz")
	}
	// Output: 60 Hz
}

// A join filter refuses a player with a reason; the server closes its connection with 4005.
func ExampleJoinFilter() {
	g := newPong()
	w := sim.NewWorld(g.Schema(), 1)
	fmt.Println(g.AcceptJoin(w, sim.JoinRequest{Player: 1, Meta: []byte(`{}`)}))
	fmt.Println(g.AcceptJoin(w, sim.JoinRequest{Player: 1, Meta: []byte(`{"name":"ann"}`)}))
	// Output:
	// pick a name first
	// <nil>
}

// A Historian reads past states: a hit is checked against the tick the player was seeing
// (Input.RenderTick), though the ball has moved since.
func ExampleHistorian() {
	g := newPong()
	w := sim.NewWorld(g.Schema(), 1)
	_ = g.Init(w)
	for range 5 {
		w.Step(g, nil)
	}
	// The player saw tick 3, where the ball was at x 3; the world is at tick 5 by now.
	w.Step(g, []sim.Input{{Player: 7, Kind: sim.InputMove, Values: []int32{3}, RenderTick: 3}})
	fmt.Println("hits:", w.Get(w.Entities(g.ball)[0], g.hits), "events:", len(w.Events()))
	// Output: hits: 1 events: 2
}

// Events go to everyone or to some players, in order, and are recorded.
func ExampleWorld_Emit() {
	g := newPong()
	w := sim.NewWorld(g.Schema(), 1)
	_ = g.Init(w)
	w.Step(g, nil)
	w.Step(g, []sim.Input{{Player: 7, Kind: sim.InputMove, Values: []int32{1}, RenderTick: 1}})
	for _, ev := range w.Events() {
		fmt.Printf("kind %d values %v to %v\n", ev.Kind, ev.Values, ev.To)
	}
	// Output:
	// kind 1 values [7] to []
	// kind 2 values [] to [7]
}

// End ends the match with a result: clients get it in the tick's frame, the room closes with
// 4002 "match over" after a grace, and `replay info` shows it.
func ExampleWorld_End() {
	g := newPong()
	w := sim.NewWorld(g.Schema(), 1)
	_ = g.Init(w)
	for tick := uint32(1); w.Result() == nil; tick++ {
		var ins []sim.Input
		if tick > 1 {
			ins = []sim.Input{{Player: 4, Kind: sim.InputMove, Values: []int32{int32(tick - 1)}, RenderTick: tick - 1}}
		}
		w.Step(g, ins)
	}
	r := w.Result()
	fmt.Println(r.Summary, "at tick", r.Tick, "winners", r.Winners)
	// Output: player 4 wins at tick 3 winners [4]
}
