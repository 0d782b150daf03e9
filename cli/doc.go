// Package cli is the command line of a ticksync game server: `serve`, `token`,
// `replay info|verify|serve`, `gen ts` (typed TypeScript for a game's page) and `lobby` (the
// room directory of a fleet on Agones, package lobby) over the games and pages a Program
// brings, so that a game's own main is a registry and one call:
//
//	func main() {
//		games := server.NewRegistry()
//		if err := games.Register("duel", duel.New); err != nil {
//			panic(err)
//		}
//		cli.Main(cli.Program{Name: "duel", Games: games, Pages: duel.Pages()})
//	}
//
// The ticksync binary is one such program (arena, the demo pages, and a bench command). cli
// imports the server and the recording format, never a game.
package cli
