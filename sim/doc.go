// Package sim is ticksync's deterministic core: a game's declared schema, the World that holds
// its entities as integers, the Game interface that steps it, and the diff, encoding and mirror
// that carry it to clients.
//
// # The game API
//
// A game implements Game (Schema, Init, Step, Load) and is registered under a name with a
// Factory, which validates the room's config (JSON from the create or the join-create) and
// refuses a bad one with an error the client sees. Beside Game, optional interfaces add what a
// real game needs; a game that does not implement one pays nothing for it:
//
//   - TickRater: the game's own tick rate, overriding the server's -tick-rate.
//   - JoinFilter: refuse a join with a reason (close 4005), reading the player's metadata
//     (Input.Meta on the join: the token's meta claim, or the join's meta field in anonymous
//     mode; recorded, so a replay reproduces it).
//   - Historian: Step reads past states with World.Past (lag compensation: check a hit against
//     the world at the input's RenderTick, plus its Subtick); keyframes keep that history.
//   - Seater: the room's size, which quick play counts.
//   - Viewer: per-player views in a big world. The game cuts the world into a Grid's cells, says
//     each entity's cell and each player's cells; each client then holds exactly the entities
//     of its cells, and each cell's changes are encoded once per tick and baseline (a frame's
//     pieces, views.go), whatever the number of clients that see it.
//
// and World methods that Step calls:
//
//   - World.Emit: a one-off event to everyone or to some players (a hit, a goal), delivered in
//     order and never lost to coalescing, recorded and replayed.
//   - World.End: end the match with a Result; clients receive it, the room closes with 4002
//     "match over" after a grace, and `replay info` shows it.
//
// Each has an Example. docs/games.md walks through writing a game from an empty directory.
//
// sim does no I/O, reads no clock, starts no goroutines and keeps no package-level state; time is
// the tick number and randomness is a PRNG owned by the World. It imports nothing of the project
// but proto. The same seed and the same inputs give the same state hash on every machine, which
// is what recordings and replays stand on.
package sim
