package server

import "github.com/ticksync/ticksync/sim"

// Recorder receives every tick of a room, in order, on the room's goroutine. Tick must not
// block for long: a recorder queues and writes elsewhere. An error stops recording (the match
// goes on; with RequireRecording the room ends with 1011). Close's reason is the room's close
// error as text ("room closed", "server: shutting down", "match over", …), ReasonEmpty, or
// "error: …" after a Tick that failed.
type Recorder interface {
	Tick(t *TickData) error
	Close(reason string) error
}

// ReasonEmpty is the reason a room gives Recorder.Close when it is disposed because nobody has
// been in it for RoomGrace. On a close for this reason the file recorder trims the idle grace:
// the recording ends at the tick the room became empty (see TickData.Empty).
const ReasonEmpty = "room empty"

// ReasonUnjoined is the reason a room gives Recorder.Close when it is disposed because nobody
// joined it within its join deadline (RoomOptions.JoinDeadline): the file recorder deletes
// the recording, which holds nothing but idle ticks.
const ReasonUnjoined = "nobody joined"

// TickData is one tick as a recorder sees it. Its slices are the room's: none may be kept past
// the call. State is the ring's immutable copy of the tick and stays valid until the ring wraps
// (RoomInfo.Ring ticks later); a recorder that hashes or encodes it off the tick path must copy
// what it needs within that window. Events and Result are immutable and may be kept.
type TickData struct {
	Tick       uint32
	Inputs     []sim.Input // what Step applied, joins and leaves included, in delivery order
	Reconnects []uint32    // players that resumed their held seat on a new connection (marks, not inputs)
	State      *sim.State  // the world after the tick
	Events     []sim.Event // the game events Step emitted
	Result     *sim.Result // set at the tick the game ended the match
	// Empty says nobody is in the room after the tick: no connection, player or spectator,
	// and no seat held for a reconnect. The ticks after the one at which the last one left are
	// the idle grace of a room disposed for emptiness (ReasonEmpty): the file recorder trims
	// them (docs/operations.md, "Recordings on disk").
	Empty bool
	// Past returns the past states the game's next Step may read (a Historian game's history,
	// oldest first; nil for other games). Valid only during Tick: a keyframe saves them.
	Past func() []*sim.State
}

// RoomInfo describes a room to a recorder factory.
type RoomInfo struct {
	ID       string
	Game     string
	Config   []byte
	Seed     uint32
	TickRate int // the room's: the game's own rate when it has one
	Schema   *sim.Schema
	// InputsPerTick is k, informational.
	InputsPerTick int
	// Ring is the room's ring size: how many ticks a State passed to Tick stays valid.
	Ring int
	// History is how many past states the game reads (sim.Historian; 0: none).
	History int
}
