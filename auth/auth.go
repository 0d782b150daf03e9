package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Errors Verify returns; callers branch on them with errors.Is to pick the 401 reason.
var (
	// ErrMalformed reports a token that is not two base64url segments, is too long, or whose
	// claims (once the MAC checks out) are not valid.
	ErrMalformed = errors.New("auth: malformed token")
	// ErrBadSignature reports a token whose MAC does not match: tampered, or signed with another
	// secret.
	ErrBadSignature = errors.New("auth: bad token signature")
	// ErrExpired reports a well-signed token whose expiry has passed.
	ErrExpired = errors.New("auth: token expired")
	// ErrWeakSecret reports a secret shorter than MinSecretLen.
	ErrWeakSecret = errors.New("auth: secret too short")
	// ErrNoSecret reports that neither the secret file nor the environment gives a secret.
	ErrNoSecret = errors.New("auth: no secret configured")
)

// MinSecretLen is the shortest secret accepted: 128 bits, so the MAC cannot be guessed.
const MinSecretLen = 16

// EnvSecret is the environment variable LoadSecret reads when no secret file is given.
const EnvSecret = "TICKSYNC_AUTH_SECRET"

// maxTokenLen bounds what Verify decodes. Real tokens are ~200 bytes; a URL of 4 KiB is already
// more than proxies like, and the bound keeps a hostile query from costing a large decode.
const maxTokenLen = 2048

// maxSecretFile bounds the secret file read: a secret is a line, not a file system.
const maxSecretFile = 4 << 10

// Role is what a token lets its holder do.
type Role string

// The roles.
const (
	RolePlayer    Role = "player"    // joins as a player with the token's player id
	RoleSpectator Role = "spectator" // joins read-only
	RoleAdmin     Role = "admin"     // creates rooms, closes connections, may ask for stats
)

// Kind tells a join token from a resume token, so one can never stand in for the other.
type Kind string

// The kinds.
const (
	KindJoin   Kind = "join"   // minted by a game's backend for a first join
	KindResume Kind = "resume" // minted by the server in the welcome, valid for the reconnect grace
)

// AnyRoom is the room of a token valid for more than one room: an admin token (every room),
// or a game-scoped player or spectator token (every room of its Game, and quick play).
const AnyRoom = "*"

// Claims is what a token says. Identity comes from here alone, never from the client's join.
type Claims struct {
	Kind   Kind   `json:"k"`
	Room   string `json:"r"`           // room id; AnyRoom on admin and game-scoped join tokens
	Game   string `json:"g,omitempty"` // game name (for creating the room)
	Player uint32 `json:"p,omitempty"` // player id; required (> 0) for RolePlayer
	Role   Role   `json:"o"`
	Expiry int64  `json:"e"` // Unix seconds; valid while now < Expiry
	// Session identifies one resume session of a seat: the server keeps the newest per seat
	// and refuses older ones (4001). Required on resume tokens.
	Session string `json:"s,omitempty"`
	// Meta is the player's metadata for the game (a name, a team: JSON by convention), signed
	// with the rest; the game gets it with the player's join. Empty: none.
	Meta string `json:"m,omitempty"`
}

// ExpiresAt returns Expiry as a time.
func (c Claims) ExpiresAt() time.Time { return time.Unix(c.Expiry, 0) }

// Valid reports whether the claims are self-consistent (Mint and Verify both check).
func (c Claims) Valid() error {
	switch {
	case c.Kind != KindJoin && c.Kind != KindResume:
		return fmt.Errorf("kind %q unknown", c.Kind)
	case c.Role != RolePlayer && c.Role != RoleSpectator && c.Role != RoleAdmin:
		return fmt.Errorf("role %q unknown", c.Role)
	case c.Room == "":
		return errors.New("room missing")
	case c.Room == AnyRoom && c.Kind != KindJoin:
		return errors.New("room * is for join tokens only")
	case c.Room == AnyRoom && c.Role != RoleAdmin && c.Game == "":
		return errors.New("room * needs a game (a game-scoped token) or the admin role")
	case c.Role == RolePlayer && c.Player == 0:
		return errors.New("player token without player id")
	case c.Expiry <= 0:
		return errors.New("expiry missing")
	case c.Kind == KindResume && c.Session == "":
		return errors.New("resume token without session")
	}
	return nil
}

var b64 = base64.RawURLEncoding.Strict()

// Mint signs c with secret and returns the token.
func Mint(secret []byte, c Claims) (string, error) {
	if len(secret) < MinSecretLen {
		return "", ErrWeakSecret
	}
	if err := c.Valid(); err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	js, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	n := b64.EncodedLen(len(js))
	buf := make([]byte, n, n+1+b64.EncodedLen(sha256.Size))
	b64.Encode(buf, js)
	mac := sign(secret, buf)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, mac)
	if len(buf) > maxTokenLen {
		return "", fmt.Errorf("auth: mint: token of %d bytes exceeds %d", len(buf), maxTokenLen)
	}
	return string(buf), nil
}

func sign(secret, payload []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(payload)
	return h.Sum(nil)
}

// Verify checks token's signature with secret and its expiry against now, and returns its
// claims. The MAC is compared in constant time before the claims are parsed. Errors wrap
// ErrMalformed, ErrBadSignature or ErrExpired (or ErrWeakSecret for a bad secret); on error the
// claims are zero.
func Verify(secret []byte, token string, now time.Time) (Claims, error) {
	if len(secret) < MinSecretLen {
		return Claims{}, ErrWeakSecret
	}
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxTokenLen)
	}
	payload, macText, ok := strings.Cut(token, ".")
	if !ok || payload == "" || macText == "" {
		return Claims{}, fmt.Errorf("%w: not two segments", ErrMalformed)
	}
	mac, err := b64.DecodeString(macText)
	if err != nil || len(mac) != sha256.Size {
		return Claims{}, fmt.Errorf("%w: bad signature encoding", ErrMalformed)
	}
	if !hmac.Equal(mac, sign(secret, []byte(payload))) {
		return Claims{}, ErrBadSignature
	}
	js, err := b64.DecodeString(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: bad claims encoding", ErrMalformed)
	}
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Claims{}, fmt.Errorf("%w: trailing data after claims", ErrMalformed)
	}
	if err := c.Valid(); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if now.Unix() >= c.Expiry {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// LoadSecret returns the shared secret: the contents of file (the -auth-secret-file flag)
// when file is not empty, else env(EnvSecret). Surrounding whitespace is trimmed (a trailing
// newline is not part of the secret); the rest is used as raw bytes. A secret shorter than
// MinSecretLen is refused with ErrWeakSecret; no secret at all gives ErrNoSecret.
func LoadSecret(file string, env func(string) string) ([]byte, error) {
	var raw []byte
	switch {
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("auth: secret file: %w", err)
		}
		defer f.Close()
		raw, err = io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		if err != nil {
			return nil, fmt.Errorf("auth: secret file: %w", err)
		}
		if len(raw) > maxSecretFile {
			return nil, fmt.Errorf("auth: secret file larger than %d bytes", maxSecretFile)
		}
	case env != nil:
		raw = []byte(env(EnvSecret))
	}
	s := bytes.TrimSpace(raw)
	switch {
	case len(s) == 0 && file != "":
		return nil, fmt.Errorf("auth: secret file %s is empty: %w", file, ErrWeakSecret)
	case len(s) == 0:
		return nil, ErrNoSecret
	case len(s) < MinSecretLen:
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrWeakSecret, len(s), MinSecretLen)
	}
	return bytes.Clone(s), nil
}

// RandomSecret returns a fresh 32-byte secret, for a server that signs only its own resume
// tokens (anonymous mode without a configured secret); it lives as long as the process.
func RandomSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

// NewSession returns a fresh random session id for a resume token (128 bits).
func NewSession() string { return rand.Text() }
