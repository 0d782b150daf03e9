// Package server is everything in ticksync with a clock or a socket: HTTP and WebSocket
// (net/http + gws), the room registry, each room's tick loop, per-connection outboxes and
// writers, token and Origin checks, limits, metrics and the recorder hook.
//
// It imports sim, proto and auth; nothing imports server but cmd and bench. A room is one
// goroutine and the only writer of its world; it never waits on a socket. Each connection has
// a read goroutine (gws ReadLoop: decode, validate, stamp the player, hand to the seat's inbox,
// never blocking) and a writer goroutine that drains a bounded FIFO of control messages, then
// a one-slot latest-wins frame mailbox, with a write deadline on every write. Close codes are
// chosen in one function, closeFor in close.go.
package server
