package server

import "github.com/ticksync/ticksync/sim"

// Recorder receives every tick of a room, in order, on the room's goroutine: the inputs
// Step applied (joins and leaves included), the players that resumed their held seat on a new
// connection in that tick (marks for viewers, not inputs), and the state after it. Neither
// slice may be kept past the call. st is the ring's immutable
// copy of that tick and stays valid until the ring wraps (Ring ticks later); a recorder that
// hashes or encodes it off the tick path must copy what it needs within that window. Tick
// must not block for long: a recorder queues and writes elsewhere. An error stops recording
// (the match goes on; with RequireRecording the room ends with 1011).
type Recorder interface {
	Tick(tick uint32, inputs []sim.Input, reconnects []uint32, st *sim.State) error
	Close(reason string) error
}

// RoomInfo describes a room to a recorder factory.
type RoomInfo struct {
	ID       string
	Game     string
	Config   []byte
	Seed     uint32
	TickRate int
	Schema   *sim.Schema
	// InputsPerTick is k, informational.
	InputsPerTick int
	// Ring is the room's ring size: how many ticks a State passed to Tick stays valid.
	Ring int
}
