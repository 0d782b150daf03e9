package server

import (
	"errors"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lxzan/gws"
	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/server/internal/engine"
)

// WebSocket close codes (docs/protocol.md, "Close codes").
const (
	CodeNormal       = 1000 // normal leave
	CodeGoingAway    = 1001 // server shutting down or draining
	CodeProtocol     = 1002 // protocol error (gws)
	CodeUnsupported  = 1003 // text frame
	CodeInvalidData  = 1007 // a text frame or close reason that is not UTF-8 (gws)
	CodePolicy       = 1008 // malformed or invalid input, flood, too slow, join or ping timeout
	CodeTooBig       = 1009 // message too big (gws, from ReadMaxPayloadSize)
	CodeInternal     = 1011 // recovered panic, failed room
	CodeUnauthorized = 4001 // stale session or room not covered by the token
	CodeRoomClosed   = 4002 // room closed
	CodeServerFull   = 4003 // room limit reached
	CodeRoomNotFound = 4004 // unknown room, or join-create with an unknown game or a config the game refuses
	CodeJoinRefused  = 4005 // the game refused the join (its reason); do not reconnect
	CodeRoomFull     = 4009 // room full
	CodeReplaced     = 4010 // replaced by a newer session
	CodeTooManySeats = 4029 // the address holds -max-seats-per-ip seats already (anonymous mode)
)

// maxReasonLen is the longest close reason a close frame can carry (125 − 2 code bytes).
const maxReasonLen = 123

// ErrNotConnected is Kick's answer for a player without a connection in the room.
var ErrNotConnected = errors.New("server: player not connected")

// Errors that end a connection. Each maps to a close code in closeFor.
var (
	ErrRoomNotFound = errors.New("server: room not found")
	ErrRoomFull     = engine.ErrRoomFull
	ErrTooManySeats = engine.ErrTooManySeats
	ErrServerFull   = errors.New("server: room limit reached")
	ErrUnknownGame  = errors.New("server: unknown game")
	ErrRoomExists   = errors.New("server: room exists")
	ErrBadRoomID    = errors.New("server: bad room id (1-64 of A-Z a-z 0-9 - _ .)")
	ErrShutdown     = errors.New("server: shutting down")
	// ErrDraining refuses new rooms and new joins while the server drains (Server.Drain): 1001
	// "server draining" on a connection, 503 on POST /rooms.
	ErrDraining = errors.New("server: draining")

	errMalformed    = errors.New("malformed message")
	errTextFrame    = errors.New("binary frames only")
	errUnknownKind  = errors.New("unknown message kind")
	errSeqRange     = engine.ErrSeqRange
	errExtraValues  = errors.New("too many input values")
	errFlood        = errors.New("input flood")
	errTooSlow      = engine.ErrTooSlow
	errJoinTimeout  = errors.New("join timeout")
	errPingTimeout  = errors.New("ping timeout")
	errJoinFirst    = errors.New("join first")
	errDoubleJoin   = errors.New("already joined")
	errControlFull  = errors.New("control queue full")
	errWrongRoom    = errors.New("token not valid for this room")
	errSuperseded   = engine.ErrSuperseded
	errReplaced     = engine.ErrReplaced
	errLeave        = errors.New("bye")
	errRoomClosed   = errors.New("room closed")
	errUnjoined     = errors.New(ReasonUnjoined) // RoomOptions.JoinDeadline passed with nobody in
	errRoomFailed   = errors.New("internal error")
	errGameRejected = errors.New("room cannot start")
	errMatchOver    = errors.New("match over")
	errMetaTooLong  = errors.New("join meta too long")
	errNoViews      = engine.ErrNoViews
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
	var refused *engine.RefusedError
	switch {
	case errors.As(err, &ce):
		code, reason = ce.Code, ce.Reason
	case errors.As(err, &refused): // the game's own words
		code, reason = CodeJoinRefused, refused.Reason
		if reason == "" {
			reason = "join refused"
		}
	case errors.Is(err, errMatchOver):
		code, reason = CodeRoomClosed, "match over"
	case errors.Is(err, errGameRejected): // the game's own words on its config
		code, reason = CodeRoomNotFound, err.Error()
	case errors.Is(err, errLeave):
		code, reason = CodeNormal, "bye"
	case errors.Is(err, ErrShutdown):
		code, reason = CodeGoingAway, "server shutting down"
	case errors.Is(err, ErrDraining):
		code, reason = CodeGoingAway, "server draining"
	case errors.Is(err, errTextFrame):
		code, reason = CodeUnsupported, "binary frames only"
	case errors.Is(err, errMalformed), errors.Is(err, errUnknownKind), errors.Is(err, errSeqRange),
		errors.Is(err, errExtraValues), errors.Is(err, errFlood), errors.Is(err, errTooSlow),
		errors.Is(err, errJoinTimeout), errors.Is(err, errPingTimeout), errors.Is(err, errJoinFirst),
		errors.Is(err, errDoubleJoin), errors.Is(err, errControlFull), errors.Is(err, errMetaTooLong),
		errors.Is(err, errBadLabels), errors.Is(err, errNoViews):
		code, reason = CodePolicy, unwrapText(err)
	case errors.Is(err, errWrongRoom), errors.Is(err, errSuperseded), errors.Is(err, errQuickPlayScope), errors.Is(err, errWrongGame),
		errors.Is(err, auth.ErrExpired), errors.Is(err, auth.ErrBadSignature), errors.Is(err, auth.ErrMalformed):
		code, reason = CodeUnauthorized, unwrapText(err)
	case errors.Is(err, errRoomClosed), errors.Is(err, errUnjoined):
		code, reason = CodeRoomClosed, "room closed"
	case errors.Is(err, ErrServerFull):
		code, reason = CodeServerFull, "server full"
	case errors.Is(err, ErrUnknownGame): // join-create naming a game the server does not run
		code, reason = CodeRoomNotFound, "unknown game"
	case errors.Is(err, ErrRoomNotFound), errors.Is(err, ErrBadRoomID):
		code, reason = CodeRoomNotFound, "room not found"
	case errors.Is(err, ErrRoomFull):
		code, reason = CodeRoomFull, "room full"
	case errors.Is(err, ErrTooManySeats):
		code, reason = CodeTooManySeats, "too many seats from your address"
	case errors.Is(err, errReplaced):
		code, reason = CodeReplaced, "replaced by a newer session"
	default:
		code, reason = CodeInternal, "internal error"
	}
	if len(reason) > maxReasonLen {
		// A game's reason may be any UTF-8: cut at a rune boundary (a close reason must stay
		// valid UTF-8, or the peer answers 1007).
		n := maxReasonLen
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n--
		}
		reason = reason[:n]
	}
	return code, reason
}

// unwrapText returns the innermost sentinel's text, so a wrapped error closes with the
// documented reason ("seq out of range"), not the wrapping context. Every reason is a fixed
// string: none carries an error's text (addresses, paths).
func unwrapText(err error) string {
	for _, s := range []error{errMalformed, errUnknownKind, errSeqRange, errExtraValues, errFlood,
		errTooSlow, errJoinTimeout, errPingTimeout, errJoinFirst, errDoubleJoin, errControlFull, errWrongRoom, errMetaTooLong,
		errSuperseded, errBadLabels, errQuickPlayScope, errWrongGame} {
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
	return "policy violation" // never the error's own text: a reason must not carry internals
}

// endedBy returns the close code of a connection that the peer or gws ended, as the server's
// close frame carried it: the peer's own code when it sent a valid close frame (1005: it sent
// none); the code gws answered a protocol violation with (1002, 1007 for a close reason or text
// that is not UTF-8, 1009 for an oversized message), reported as a violation; else 1006, lost
// without a close frame.
func endedBy(err error) (code uint16, violation bool) {
	var ce *gws.CloseError
	var sc interface{ Uint16() uint16 } // gws's internal.StatusCode: the code gws sent
	switch {
	case errors.As(err, &ce):
		switch c := ce.Code; {
		case c == 0:
			return 1005, false
		case !utf8.Valid(ce.Reason):
			return CodeInvalidData, true
		case c < 1000 || c >= 5000 || c >= 1016 && c < 3000 || c == 1004 || c == 1005 || c == 1006 || c == 1014 || c == 1015:
			return CodeProtocol, true // not a code a peer may send: gws answers 1002
		default:
			return c, false
		}
	case errors.As(err, &sc):
		return sc.Uint16(), true
	case errors.Is(err, gws.ErrTextEncoding):
		return CodeInvalidData, true
	case err != nil && strings.HasPrefix(err.Error(), "gws: unexpected opcode"):
		return CodeProtocol, true // a reserved control opcode (gws v1.10.2 answers 1002)
	}
	return 1006, false
}

// violationLogsPerSecond bounds the log lines for protocol violations: a hostile client can
// make them as fast as it can connect.
const violationLogsPerSecond = 10

// logLimiter lets through at most violationLogsPerSecond lines per second and counts the rest.
type logLimiter struct {
	mu         sync.Mutex
	window     time.Time // start of the current second
	n          int       // lines let through in it
	suppressed int       // lines dropped since the last one let through
}

// allow reports whether a line may be logged at now, and how many were suppressed before it.
func (l *logLimiter) allow(now time.Time) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.window) >= time.Second {
		l.window, l.n = now, 0
	}
	if l.n >= violationLogsPerSecond {
		l.suppressed++
		return false, 0
	}
	l.n++
	suppressed, l.suppressed = l.suppressed, 0
	return true, suppressed
}

// logViolation logs a connection gws closed for breaking the protocol (rate-limited).
func (s *Server) logViolation(code uint16, c *conn) {
	ok, suppressed := s.violations.allow(time.Now())
	if !ok {
		return
	}
	s.log.Info("closing connection", "code", code, "reason", violationReason(code), "room", roomID(c),
		"player", playerID(c), "suppressed", suppressed)
}

// violationReason is a fixed text per code: gws's error text can carry client bytes.
func violationReason(code uint16) string {
	switch code {
	case CodeTooBig:
		return "message too large"
	case CodeInvalidData:
		return "invalid UTF-8"
	}
	return "protocol error"
}
