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
