// Command skirmish serves the skirmish example game and its browser page: `skirmish serve`
// (the page at "/"), `skirmish token`, `skirmish replay`, as any ticksync binary built with
// package cli.
package main

import (
	"github.com/ticksync/ticksync/cli"
	"github.com/ticksync/ticksync/examples/skirmish"
	"github.com/ticksync/ticksync/examples/skirmish/web"
	"github.com/ticksync/ticksync/server"
)

func main() { cli.Main(program()) }

// program is the skirmish binary: its tests run the same commands through Program.Run.
func program() cli.Program {
	games := server.NewRegistry()
	if err := games.Register(skirmish.Name, skirmish.New); err != nil {
		panic(err) // a fresh registry refuses only a duplicate name
	}
	return cli.Program{Name: "skirmish", Games: games, Pages: web.Pages()}
}
