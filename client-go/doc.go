// Package client is ticksync's Go client: it dials a server's /ws endpoint, joins a room,
// sends inputs and keeps a mirror of the room's state by applying frames exactly as the
// contract says (docs/protocol.md, "Applying a frame"), checking the view hash when the server sends
// one. Every join asks for views (Join.views): in a room whose game has views the mirror holds
// what the player (or the player a spectator follows, Options.Follow) sees, and the view hash
// is that view's. Tests, the benchmark's load generator, bots and Go games use it.
//
// A Client runs one read goroutine (gws's read loop); everything it learns (the welcome, the
// mirrored state, the last tick and input seq, RTT, the game's events and match result, how
// the connection ended) is behind thread-safe accessors, and the Wait methods block until a
// frame satisfies a condition. Writes are serialized by a mutex, each under a write deadline.
//
// The client imports proto and sim (for the schema and the Mirror), never server (only its
// tests do, to play a real server). It
// reconnects only when asked (Reconnect): retry policy is the caller's.
package client
