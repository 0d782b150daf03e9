package main

import (
	"fmt"

	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim/arena"
)

// newGames returns the registry of the games this binary runs: the demo game arena. `serve`
// hosts rooms of these games, `replay verify` re-simulates recordings with them and `replay
// serve` plays recordings of them; the server itself knows no game. A binary that embeds the
// server for other games builds its own registry the same way.
func newGames() *server.Registry {
	games := server.NewRegistry()
	if err := games.Register(arena.Name, arena.New); err != nil {
		panic(fmt.Sprintf("ticksync: %v", err)) // a fresh registry refuses only a duplicate name
	}
	return games
}
