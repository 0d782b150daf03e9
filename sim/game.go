package sim

// InputKind says what an Input is. A join, a leave and a move are all inputs: one path in.
type InputKind uint8

// The input kinds.
const (
	InputMove  InputKind = 1 // a player's input: Values holds the input schema's fields
	InputJoin  InputKind = 2 // a player enters the match
	InputLeave InputKind = 3 // a player leaves the match
)

// Input is one input delivered to Game.Step. The server stamps Player from the connection;
// Values are already clamped to the input schema's ranges. Values is only valid during Step.
type Input struct {
	Player uint32
	Kind   InputKind
	Seq    uint32
	Values []int32
	// Meta is a join's player metadata (a name, a team: JSON by convention), from the token's
	// meta claim in token mode, from the join message in anonymous mode; recorded. Valid only
	// during Step.
	Meta []byte
	// RenderTick is the tick the client was showing when it made a move (lag compensation:
	// read World.Past(RenderTick)); the server clamps it to the ticks the World keeps, and
	// without a history to the tick before this one. 0: the client did not say.
	RenderTick uint32
	// Subtick is when within that tick the move was made, in 1/65536 of a tick after
	// RenderTick (sub-tick inputs).
	Subtick uint16
}

// Game is a game's rules. A Game keeps nothing that is not derivable from the World: Load
// rebuilds its caches after the World is restored from a keyframe, so replays can seek.
//
// Implementations must be deterministic: no clock, no goroutines, no I/O, no global random
// source (use World.Rand), no floats in state, no map iteration where order matters.
type Game interface {
	// Schema returns the game's state and input schema; the same value every call.
	Schema() *Schema
	// Init populates a new, empty World (tick 0).
	Init(w *World) error
	// Step advances the World by one tick. inputs are in delivery order: joins, leaves and
	// moves of this tick; a player's moves in seq order.
	Step(w *World, tick uint32, inputs []Input)
	// Load rebuilds the game's derived state from a World restored from a keyframe.
	Load(w *World) error
}

// Factory makes a Game for a room from its config (JSON; empty means defaults), validating it:
// an error refuses the room, and the client that asked sees the error's text. tickRate is the
// rate the room would tick at: the server's -tick-rate live, the recorded rate on replay. A game
// with its own rate (TickRater) ignores it and must build its schema (prediction ratios) for
// its own rate. Games are registered under a name with a Factory; recordings keep the tick rate
// and the config, so a replay makes the same Game again.
type Factory func(tickRate uint32, config []byte) (Game, error)
