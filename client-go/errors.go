package client

import (
	"errors"
	"fmt"
)

// Errors the client reports when the server breaks the protocol; the client then closes the
// connection with 1002.
var (
	// ErrProtocol reports a message the client cannot accept: undecodable, of an unknown kind,
	// or out of order (a frame before the welcome, a second welcome).
	ErrProtocol = errors.New("client: protocol error")
	// ErrDesync reports a frame whose view hash differs from the mirror's state hash.
	ErrDesync = errors.New("client: state hash mismatch")
)

// HandshakeError is a refused WebSocket upgrade: the server answered with an HTTP status other
// than 101 (403 for a foreign Origin, 401 for a bad token, 400, 429, 503…).
type HandshakeError struct {
	StatusCode int    // HTTP status code
	Body       string // the response body, trimmed (the server's one-line reason)
}

// Error returns e.g. "client: handshake refused: 403 origin not allowed".
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("client: handshake refused: %d %s", e.StatusCode, e.Body)
}

// CloseError is how a connection ended: the close code and reason (docs/protocol.md, "Close codes"). A
// connection lost without a close frame reads as 1006.
type CloseError struct {
	Code   uint16 // WebSocket close code
	Reason string // the close frame's reason (or the server's Kick reason, or the I/O error)
	Local  bool   // the client closed the connection (Close, or a protocol error it detected)
}

// Error returns e.g. "client: closed by server: 4004 room not found".
func (e *CloseError) Error() string {
	by := "server"
	if e.Local {
		by = "client"
	}
	if e.Reason == "" {
		return fmt.Sprintf("client: closed by %s: %d", by, e.Code)
	}
	return fmt.Sprintf("client: closed by %s: %d %s", by, e.Code, e.Reason)
}

// Reconnect reports whether the connection is worth resuming (Client.Reconnect) after this
// close: the rules the JS client follows (docs/protocol.md, "Close codes"). Yes for a lost
// connection (1006), a shutdown (1001), a server error (1011), a full server or room (4003,
// 4009, 4029: wait longer before these) and the 1008 closes a client recovers from by
// reconnecting ("too slow", "join timeout", "ping timeout"); no for the client's own close,
// a normal close (1000) and every rejection of what the client sent or holds: among them 4002
// (the room closed; "match over" when the game ended the match, after the frame carrying
// Client.Result) and 4005 "join refused" (the game refused the player, with its own reason;
// asking again gets the same answer).
func (e *CloseError) Reconnect() bool {
	if e == nil || e.Local {
		return false
	}
	switch e.Code {
	case 1001, 1006, 1011, 4003, 4009, 4029:
		return true
	case 1008:
		return e.Reason == "too slow" || e.Reason == "join timeout" || e.Reason == "ping timeout"
	}
	return false
}
