package server_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// counter is a tiny game: one entity whose "n" field counts ticks.
type counter struct {
	schema *sim.Schema
	cls    sim.Class
	n      sim.Field
}

func newCounter(tickRate uint32, config []byte) (sim.Game, error) {
	b := sim.NewSchemaBuilder()
	c := b.Class("counter")
	g := &counter{n: c.Int("n"), cls: c.Handle()}
	b.InputInt("bump", sim.Range(0, 1))
	s, err := b.Build()
	if err != nil {
		return nil, err
	}
	g.schema = s
	return g, nil
}

func (g *counter) Schema() *sim.Schema { return g.schema }

func (g *counter) Init(w *sim.World) error { w.Spawn(g.cls); return nil }

func (g *counter) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	for _, e := range w.Entities(g.cls) {
		w.Set(e, g.n, w.Get(e, g.n)+1)
	}
}

func (g *counter) Load(w *sim.World) error { return nil }

// Example registers the games the server runs (it knows none of its own: here the demo game
// arena and one of one's own), creates a room through the same API POST /rooms uses, and
// serves until shut down.
func Example() {
	games := server.NewRegistry()
	if err := games.Register(arena.Name, arena.New); err != nil {
		panic(err)
	}
	if err := games.Register("counter", newCounter); err != nil {
		panic(err)
	}
	srv, err := server.New(server.Config{Games: games, TickRate: 20})
	if err != nil {
		panic(err)
	}
	room, err := srv.CreateRoom("lobby", "counter", nil)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln) // clients now join "lobby" at ws://<addr>/ws
	fmt.Println(games.Names(), room.ID(), room.Game())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output: [arena counter] lobby counter
}
