// Package engine is ticksync's match engine: one room's World and Game, its ring of past
// states, its seats, every client's baseline and the frame encoder, behind a small event API,
// in the manner of etcd raft's RawNode.
//
// The caller feeds it events (Join, Leave, Drop, Kick; inputs arrive through each seat's
// Inbox; writers' acknowledgements through Client.Ack), then calls Tick with the time, and
// carries out the Ready it gets back: welcomes to send, one frame per client (a shared,
// reference-counted body and a few per-client header fields), connections to close, the
// tick's record. Advance then drops the engine's own references to the tick's bodies. In a
// game with views (sim.Viewer) a client's body is its own part plus slices of the pieces of
// the cells it sees, each piece encoded once per tick and baseline (views.go).
//
// The engine reads no clock (time is an argument), touches no socket, starts no goroutine
// and keeps no package state, so every seat, resume and baseline rule is tested without a
// network. Server's Room is its driver (the clock, the goroutine, connections, outboxes);
// replay sessions use its Frames, the same ring, encoder and body pool. It imports only sim
// of the project.
package engine
