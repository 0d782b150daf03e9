package bench

import (
	"context"
	"time"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// session is one client connection: what the load generator needs of client-go (or of the
// raw gws client in this package). SendInput is called from one goroutine; the callbacks in
// dialConfig run on the session's read goroutine.
type session interface {
	// SendInput sends one input with the client's clock and returns its seq.
	SendInput(values ...int32) (uint32, error)
	// Counters returns what the session has received so far (cumulative).
	Counters() counters
	// Close leaves and closes the connection.
	Close()
}

// counters are a session's cumulative receive counters, in WebSocket payload bytes.
type counters struct {
	Messages, Frames, Bytes uint64
	FirstFrameBytes         uint64 // the join's full state
	// Decoded frames and the time their decoding took (decoding sessions only).
	Decoded  uint64
	DecodeNs uint64
	// View hashes checked against the mirror, and those that differed (decoding sessions
	// only; a mismatch ends the session).
	HashChecks, HashMismatches uint64
}

// dialConfig is how to open a session.
type dialConfig struct {
	URL             string // ws://host:port, without a path
	Token           string // "" in anonymous mode
	Room, Game      string
	CreateIfMissing bool
	WantStats       bool
	Follow          uint32 // a spectator sees this player's view (Join.follow; 0: the whole world)
	Decode          bool   // keep a mirror and decode every frame fully (else count only)
	// OnApplied is called once per input seq when a frame first says it was applied, with
	// the time from sending the input to receiving that frame.
	OnApplied func(seq uint32, rtt time.Duration)
	// OnStats is called with each Stats message.
	OnStats func(s *pb.Stats)
	// OnClose is called when the server ends an open session (not after Close).
	OnClose func(err error)
}

// dialFunc opens a session and returns once the welcome has arrived.
type dialFunc func(ctx context.Context, cfg dialConfig) (session, error)
