// Package skirmish is ticksync's second example game: a small top-down team shooter, red
// against blue, written only against package sim's public API and using every optional part
// of it (sim.TickRater, sim.JoinFilter, sim.Historian, World.Emit, World.End).
//
// A room starts in the lobby. When min_players are in, a countdown runs (countdown_ticks),
// then the match plays: players steer with a stick (move_x, move_y), aim with a direction
// (aim_x, aim_y) and hold fire to shoot every ReloadTicks. Shots are hitscan with lag
// compensation: a shot is checked against the positions the shooter was seeing, the World's
// past state at the input's RenderTick (interpolated towards the next tick by its Subtick),
// not against where the other players are now. A tracer entity flies to the hit point so
// clients can draw the shot; it decides nothing. Three hits kill; the victim respawns on its
// team's side after respawn_ticks and the killer's team scores. The first team to
// score_to_win ends the match with a sim.Result naming that team's players.
//
// Players name themselves and pick a team with their join metadata, JSON such as
// {"name":"ann","team":"red"}: a bad team is refused with "team must be red or blue";
// missing or unreadable metadata gets the smaller team and the name "player N".
//
// The game ticks at TickRate (30 Hz) whatever the server's default. It follows sim's rules:
// integers only (positions in 1/100 of a unit), no clock, no goroutines, no I/O, no map
// iteration, and all randomness (spawn points, ties in team size) from the World's PRNG.
package skirmish
