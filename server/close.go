package server

import (
	"errors"

	"github.com/ticksync/ticksync/auth"
)

// WebSocket close codes (docs/protocol.md, "Close codes").
const (
	CodeNormal       = 1000 // normal leave
	CodeGoingAway    = 1001 // server shutting down
	CodeProtocol     = 1002 // protocol error (gws)
	CodeUnsupported  = 1003 // text frame
	CodePolicy       = 1008 // malformed or invalid input, flood, too slow, join timeout
	CodeTooBig       = 1009 // message too big (gws, from ReadMaxPayloadSize)
	CodeInternal     = 1011 // recovered panic, failed room
	CodeUnauthorized = 4001 // stale session or room not covered by the token
	CodeRoomClosed   = 4002 // room closed
	CodeServerFull   = 4003 // room limit reached
	CodeRoomNotFound = 4004 // unknown room
	CodeRoomFull     = 4009 // room full
	CodeReplaced     = 4010 // replaced by a newer session
)

// maxReasonLen is the longest close reason a close frame can carry (125 − 2 code bytes).
const maxReasonLen = 123

// ErrNotConnected is Kick's answer for a player without a connection in the room.
var ErrNotConnected = errors.New("server: player not connected")

// Errors that end a connection. Each maps to a close code in closeFor.
var (
	ErrRoomNotFound = errors.New("server: room not found")
	ErrRoomFull     = errors.New("server: room full")
	ErrServerFull   = errors.New("server: room limit reached")
	ErrUnknownGame  = errors.New("server: unknown game")
	ErrRoomExists   = errors.New("server: room exists")
	ErrBadRoomID    = errors.New("server: bad room id (1-64 of A-Z a-z 0-9 - _ .)")
	ErrShutdown     = errors.New("server: shutting down")

	errMalformed    = errors.New("malformed message")
	errTextFrame    = errors.New("binary frames only")
	errUnknownKind  = errors.New("unknown message kind")
	errSeqRange     = errors.New("seq out of range")
	errExtraValues  = errors.New("too many input values")
	errFlood        = errors.New("input flood")
	errTooSlow      = errors.New("too slow")
	errJoinTimeout  = errors.New("join timeout")
	errJoinFirst    = errors.New("join first")
	errDoubleJoin   = errors.New("already joined")
	errControlFull  = errors.New("control queue full")
	errWrongRoom    = errors.New("token not valid for this room")
	errSuperseded   = errors.New("session superseded")
	errNoStats      = errors.New("stats need an admin token")
	errReplaced     = errors.New("replaced by a newer session")
	errLeave        = errors.New("bye")
	errRoomClosed   = errors.New("room closed")
	errRoomFailed   = errors.New("internal error")
	errGameRejected = errors.New("room cannot start")
)

// CloseError is a close with an explicit code and reason (the admin close call).
type CloseError struct {
	Code   uint16
	Reason string
}

// Error returns the reason.
func (e *CloseError) Error() string { return e.Reason }

// closeFor maps why a connection ends to its WebSocket close code and reason: the one place
// codes are chosen. Reasons are cut to 123 bytes.
func closeFor(err error) (code uint16, reason string) {
	var ce *CloseError
	switch {
	case errors.As(err, &ce):
		code, reason = ce.Code, ce.Reason
	case errors.Is(err, errLeave):
		code, reason = CodeNormal, "bye"
	case errors.Is(err, ErrShutdown):
		code, reason = CodeGoingAway, "server shutting down"
	case errors.Is(err, errTextFrame):
		code, reason = CodeUnsupported, "binary frames only"
	case errors.Is(err, errMalformed), errors.Is(err, errUnknownKind), errors.Is(err, errSeqRange),
		errors.Is(err, errExtraValues), errors.Is(err, errFlood), errors.Is(err, errTooSlow),
		errors.Is(err, errJoinTimeout), errors.Is(err, errJoinFirst), errors.Is(err, errDoubleJoin),
		errors.Is(err, errControlFull):
		code, reason = CodePolicy, unwrapText(err)
	case errors.Is(err, errWrongRoom), errors.Is(err, errSuperseded), errors.Is(err, errNoStats),
		errors.Is(err, auth.ErrExpired), errors.Is(err, auth.ErrBadSignature), errors.Is(err, auth.ErrMalformed):
		code, reason = CodeUnauthorized, unwrapText(err)
	case errors.Is(err, errRoomClosed):
		code, reason = CodeRoomClosed, "room closed"
	case errors.Is(err, ErrServerFull):
		code, reason = CodeServerFull, "server full"
	case errors.Is(err, ErrRoomNotFound), errors.Is(err, ErrUnknownGame), errors.Is(err, ErrBadRoomID):
		code, reason = CodeRoomNotFound, "room not found"
	case errors.Is(err, ErrRoomFull):
		code, reason = CodeRoomFull, "room full"
	case errors.Is(err, errReplaced):
		code, reason = CodeReplaced, "replaced by a newer session"
	default:
		code, reason = CodeInternal, "internal error"
	}
	if len(reason) > maxReasonLen {
		reason = reason[:maxReasonLen]
	}
	return code, reason
}

// unwrapText returns the innermost sentinel's text, so a wrapped error closes with the
// documented reason ("seq out of range"), not the wrapping context.
func unwrapText(err error) string {
	for _, s := range []error{errMalformed, errUnknownKind, errSeqRange, errExtraValues, errFlood,
		errTooSlow, errJoinTimeout, errJoinFirst, errDoubleJoin, errControlFull, errWrongRoom,
		errSuperseded, errNoStats} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	switch {
	case errors.Is(err, auth.ErrExpired):
		return "token expired"
	case errors.Is(err, auth.ErrBadSignature), errors.Is(err, auth.ErrMalformed):
		return "bad token"
	}
	return err.Error()
}
