package main

import (
	"github.com/ticksync/ticksync/cli"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/web"
)

func main() { cli.Main(program()) }

// program is ticksync: the demo game arena, the demo and viewer pages, and the benchmark.
func program() cli.Program {
	games := server.NewRegistry()
	if err := games.Register(arena.Name, arena.New); err != nil {
		panic(err) // a fresh registry refuses only a duplicate name
	}
	return cli.Program{Name: "ticksync", Games: games, Pages: web.Pages(), Commands: []cli.Command{benchCommand}}
}
