package skirmish_test

import (
	"fmt"

	"github.com/ticksync/ticksync/examples/skirmish"
	"github.com/ticksync/ticksync/sim"
)

// Example runs a room by hand, as the server would: the game vets each join, then steps the
// World with the tick's inputs; events and the result come out of the World.
func Example() {
	g, err := skirmish.New(0, []byte(`{"countdown_ticks":0,"score_to_win":1}`))
	if err != nil {
		panic(err)
	}
	w := sim.NewWorld(g.Schema(), 1)
	if err := g.Init(w); err != nil {
		panic(err)
	}
	filter := g.(sim.JoinFilter)
	var joins []sim.Input
	var accepted []sim.JoinRequest // this tick's joins so far: the filter counts them
	for id, meta := range []string{`{"name":"ann","team":"red"}`, `{"name":"bob","team":"blue"}`, `{"team":"green"}`} {
		j := sim.JoinRequest{Player: uint32(id + 1), Meta: []byte(meta), Pending: accepted}
		if err := filter.AcceptJoin(w, j); err != nil {
			fmt.Printf("player %d refused: %v\n", j.Player, err)
			continue
		}
		accepted = append(accepted, sim.JoinRequest{Player: j.Player, Meta: j.Meta})
		joins = append(joins, sim.Input{Player: j.Player, Kind: sim.InputJoin, Meta: j.Meta})
	}
	w.Step(g, joins)
	show := func() {
		for _, ev := range w.Events() {
			fmt.Println("event", ev.Kind, ev.Values, "to", ev.To)
		}
	}
	show()

	// Ann walks right for two seconds (the sides spawn 50 units apart, out of range), stops,
	// then fires three times at bob as fast as she can reload. Her RenderTick is the last
	// tick: she saw bob where he is.
	w.Step(g, []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: 1, Values: []int32{100, 0, 0, 0, 0}}})
	for range 2*skirmish.TickRate - 1 {
		w.Step(g, nil)
	}
	w.Step(g, []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: 2, Values: []int32{0, 0, 0, 0, 0}}})
	red, blue := find(w, g.Schema(), 1), find(w, g.Schema(), 2)
	fmt.Println("ann at", red, "bob at", blue)
	dx, dy := blue[0]-red[0], blue[1]-red[1]
	for shot := range uint32(3) {
		aim := []int32{0, 0, dx / 10, dy / 10, 1} // move_x, move_y, aim_x, aim_y, fire
		w.Step(g, []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: 3 + shot, Values: aim, RenderTick: w.Tick()}})
		show()
		for range skirmish.ReloadTicks - 1 {
			w.Step(g, nil)
		}
	}
	r := w.Result()
	fmt.Println(r.Summary, r.Winners, string(r.Data))
	// Output:
	// player 3 refused: team must be red or blue
	// event 1 [0 0] to []
	// ann at [2120 3417] bob at [5500 1262]
	// event 2 [1 2 34 66] to []
	// event 4 [1 34 2120 3417] to [2]
	// event 2 [1 2 34 32] to []
	// event 4 [1 34 2120 3417] to [2]
	// event 2 [1 2 34 0] to []
	// event 4 [1 34 2120 3417] to [2]
	// event 3 [1 2 1 1 0] to []
	// red wins 1-0 [1] {"red":1,"blue":0}
}

// find returns player id's position, reading the World through the schema by name as a
// client would.
func find(w *sim.World, s *sim.Schema, id int32) [2]int32 {
	c, _ := s.ClassByName("player")
	own, _ := s.FieldByName(c, "player")
	x, _ := s.FieldByName(c, "x")
	y, _ := s.FieldByName(c, "y")
	for _, e := range w.Entities(c) {
		if w.Get(e, own) == id {
			return [2]int32{w.Get(e, x), w.Get(e, y)}
		}
	}
	panic("no such player")
}
