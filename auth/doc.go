// Package auth mints and verifies ticksync's HMAC-SHA256 tokens: the join tokens a game's
// backend (or `ticksync token`) hands to players, and the resume tokens the server puts in the
// welcome so a client can take its seat back after a dropped connection.
//
// A token is two base64url segments (RFC 4648 §5, no padding) joined by a dot:
//
//	base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first segment as ASCII))
//
// The claims are a JSON object with the keys of Claims' json tags: k (kind: "join" or
// "resume"), r (room, "*" for any room on admin tokens), g (game), p (player id), o (role:
// "player", "spectator" or "admin"), e (expiry, Unix seconds; the token is valid while now <
// e) and s (session id, required on resume tokens). Unknown keys are refused. The token travels
// as /ws?token=…; it is URL-safe as is.
//
// Verify checks the MAC in constant time before it looks at the claims, and takes the time as
// an argument: auth reads no clock. Its errors tell malformed, badly signed and expired tokens
// apart (ErrMalformed, ErrBadSignature, ErrExpired) so the server can answer 401 with a reason.
//
// auth imports nothing of the project and does no I/O except LoadSecret reading the secret
// file. It never logs: tokens and secrets are not for logs.
package auth
