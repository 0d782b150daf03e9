package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// AuthMode says how connections prove who they are.
type AuthMode string

// The auth modes (docs/protocol.md, "Connecting").
const (
	// AuthAnonymous needs no token: the server assigns player ids. The default on loopback.
	AuthAnonymous AuthMode = "anonymous"
	// AuthToken requires an HMAC token (?token=) minted with the shared secret.
	AuthToken AuthMode = "token"
)

// Config is a server's configuration. The zero value of every field means its default, which
// is safe on the open internet (docs/operations.md, "Limits"); package cli maps each field to a flag.
type Config struct {
	// Auth is the auth mode (default anonymous; cmd/ticksync refuses anonymous on a
	// non-loopback address unless it is asked for explicitly).
	Auth AuthMode
	// Secret signs and checks tokens. Required in token mode; in anonymous mode a random
	// per-process secret signs resume tokens when none is given.
	Secret []byte
	// AllowOrigins lists extra exact scheme://host[:port] origins allowed to open /ws besides
	// the request's own host. A missing Origin (a non-browser client) is always allowed.
	AllowOrigins []string

	// TickRate is the rooms' tick rate in Hz, 1..128 (default 20).
	TickRate int
	// MaxCatchup is how many late ticks a room runs back to back before it skips (default 5).
	MaxCatchup int
	// Ring is how many past states a room keeps for deltas from clients' baselines (default 64).
	Ring int
	// HashEvery is how often frames carry the view hash, in ticks (default 20; -1: never).
	HashEvery int

	// MaxRooms bounds rooms on the server (default 256): POST /rooms answers 503 beyond it,
	// a join that would create one closes with 4003.
	MaxRooms int
	// MaxPlayers bounds players per room, spectators included (default 64; 4009 beyond).
	MaxPlayers int
	// MaxConns bounds open TCP connections; more wait in the listen backlog (default 4096).
	MaxConns int
	// MaxConnsPerIP bounds WebSocket connections per remote IP (default 64; 429 beyond; -1:
	// off, for deployments behind a proxy).
	MaxConnsPerIP int
	// MaxSeatsPerIP bounds the seats one remote IP holds in anonymous mode, over all rooms,
	// connected or held for the reconnect grace (default 8; 4029 beyond; -1: off, for
	// deployments behind a proxy). Without it, one address that joins and drops in a loop
	// fills every room for the grace. Token mode has no cap: the backend decides who plays.
	MaxSeatsPerIP int
	// MaxMsgBytes bounds a client message (default 4 KiB; 1009 beyond).
	MaxMsgBytes int
	// HeaderTimeout bounds reading request headers (default 5 s: slowloris). A request head
	// cut off by it gets net/http's "400 Bad Request" and the connection closes; a connection
	// that sent nothing is closed without a reply.
	HeaderTimeout time.Duration
	// MaxHeaderBytes bounds the request head, request line and headers up to the blank line
	// (default 8 KiB; 431 beyond). It must exceed 4 KiB: net/http reads 4 KiB beyond its own
	// http.Server.MaxHeaderBytes, so the server sets that to this minus 4 KiB.
	MaxHeaderBytes int

	// Inbox bounds inputs waiting per player (default 32); more are dropped and counted.
	Inbox int
	// InputsPerTick is how many of a player's inputs one tick applies (default 2).
	InputsPerTick int
	// InputRate is the token bucket's refill in inputs per second (default 3 × tick rate).
	InputRate int
	// InputBurst is the bucket's size in inputs (default 2 × tick rate).
	InputBurst int
	// InputBytes bounds input bytes per second per connection (default 64 KiB).
	InputBytes int

	// WriteTimeout is every write's deadline (default 5 s); a write past it closes the conn.
	// Frame writes re-arm it at most once per WriteTimeout/32, so a frame write gets between
	// 31/32 of it and all of it.
	WriteTimeout time.Duration
	// MaxLag is how far a client's newest frame may trail the room before 1008 "too slow"
	// (default 5 s). On Linux the lag is also measured from what the peer has acknowledged
	// (SIOCOUTQ, at most once per MaxLag/32 per connection), not only from what the writer
	// handed the socket: a client that stops reading is closed within MaxLag (+ MaxLag/16) of
	// its TCP receive window closing, however large the server's send buffer. What the
	// client's own receive buffer takes before its window closes (up to its SO_RCVBUF, 128 KiB
	// by default: a minute or more of small deltas) TCP does not reveal.
	MaxLag time.Duration
	// SendBuffer caps each WebSocket connection's kernel send buffer (SO_SNDBUF, set right
	// after the upgrade), in bytes (default 64 KiB; -1: off, the kernel autotunes it, to about
	// 4 MB on loopback). Linux doubles the value for its bookkeeping (getsockopt reads 128
	// KiB), so a client that stops reading pins at most about that much kernel memory on the
	// server. 64 KiB still carries 1.3 MB/s at 100 ms RTT, far above a game's stream.
	SendBuffer int
	// PingInterval is how often the server pings (default 5 s).
	PingInterval time.Duration
	// PongTimeout is how long after a ping interval a silent connection lives (default 10 s:
	// a connection silent for ping + pong is dropped, its seat held). The read deadline moves
	// at most once per 1/32 of ping + pong, so the drop comes within [31/32, 1] of it.
	PongTimeout time.Duration
	// MaxJoinMeta bounds a join's player metadata in anonymous mode, in bytes (default 256).
	MaxJoinMeta int
	// MatchOverGrace is how long a room whose game ended the match stays open, so its last
	// frame (with the result) reaches every client, before it closes with 4002 (default 2 s).
	MatchOverGrace time.Duration
	// JoinTimeout is how long a connection may wait before joining (default 10 s).
	JoinTimeout time.Duration
	// ReconnectGrace is how long a dropped player's seat is held (default 20 s).
	ReconnectGrace time.Duration
	// RoomGrace is how long a room with nobody in it lives (default 30 s).
	RoomGrace time.Duration
	// ShutdownTimeout bounds a graceful shutdown (default 10 s).
	ShutdownTimeout time.Duration

	// Games are the games rooms may run (default: an empty registry, so no room can be
	// created). The server knows no game of its own: cmd/ticksync registers arena.
	Games *Registry
	// Pages answers the GET requests no other route takes ("/" and below): cmd/ticksync
	// mounts the demo and replay viewer of package web. Nil: those answer 404 with a line
	// naming the endpoints.
	Pages http.Handler
	// Logger receives structured logs (default: discard).
	Logger *slog.Logger
	// NewRecorder, when set, starts a recorder for each new room; nil records nothing.
	NewRecorder func(RoomInfo) (Recorder, error)
	// RequireRecording refuses rooms whose recorder cannot start.
	RequireRecording bool
	// Replays are the recordings GET /replays lists and "replay:<name>" joins play (replay.go;
	// default nil: none).
	Replays *Replays

	// OnRoomCreated, when set, is called with each new room once joins can find it (a join,
	// quick play, POST /rooms or CreateRoom made it), on the creator's goroutine, outside the
	// server's lock. OnRoomClosed is called when a room has stopped and left the server
	// (disposed, closed, failed or shut down), on the room's goroutine with its tick lock held.
	// OnPlayersChanged is called from a room's tick when its player count (Room.Players) has
	// changed. None of them may block or call into the room (StateView, Tick): a fleet manager
	// (package agonesmode) uses them to nudge its own goroutine. Hooks can arrive out of order
	// across goroutines (a room closed at once may be reported closed before created): read
	// Server.Rooms for the truth.
	OnRoomCreated    func(*Room)
	OnRoomClosed     func(*Room)
	OnPlayersChanged func(*Room)
	// AwaitRoom, when set, is asked when a join names a room this server does not hold (and
	// does not create it): it may wait, a bounded while, for the room to appear, and reports
	// whether to look again. Agones mode uses it for a room an allocation has just added to the
	// GameServer's list, which the server's watch has not delivered yet: the player the lobby
	// sent at once then joins instead of getting 4004. It runs on the joining connection's read
	// goroutine.
	AwaitRoom func(id string) bool

	// Pprof serves net/http/pprof under /debug/pprof/ (off by default: it exposes internals).
	Pprof bool

	// ManualTicks makes rooms tick only when Room.Tick is called (tests drive thousands of
	// ticks without waiting for them). Off: each room runs its own drift-free loop.
	ManualTicks bool
	// Now is the wall clock (default time.Now). Tests inject one.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Auth == "" {
		c.Auth = AuthAnonymous
	}
	def(&c.TickRate, 20)
	def(&c.MaxCatchup, 5)
	def(&c.Ring, 64)
	def(&c.HashEvery, 20)
	def(&c.MaxRooms, 256)
	def(&c.MaxPlayers, 64)
	def(&c.MaxConns, 4096)
	def(&c.MaxConnsPerIP, 64)
	def(&c.SendBuffer, 64<<10)
	def(&c.MaxSeatsPerIP, 8)
	def(&c.MaxMsgBytes, 4<<10)
	def(&c.MaxHeaderBytes, 8<<10)
	def(&c.Inbox, 32)
	def(&c.InputsPerTick, 2)
	def(&c.InputRate, 3*c.TickRate)
	def(&c.InputBurst, 2*c.TickRate)
	def(&c.InputBytes, 64<<10)
	def(&c.MaxJoinMeta, 256)
	defd(&c.MatchOverGrace, 2*time.Second)
	defd(&c.HeaderTimeout, 5*time.Second)
	defd(&c.WriteTimeout, 5*time.Second)
	defd(&c.MaxLag, 5*time.Second)
	defd(&c.PingInterval, 5*time.Second)
	defd(&c.PongTimeout, 10*time.Second)
	defd(&c.JoinTimeout, 10*time.Second)
	defd(&c.ReconnectGrace, 20*time.Second)
	defd(&c.RoomGrace, 30*time.Second)
	defd(&c.ShutdownTimeout, 10*time.Second)
	if c.Games == nil {
		c.Games = NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Auth {
	case AuthAnonymous:
	case AuthToken:
		if len(c.Secret) == 0 {
			bad("token mode needs a secret")
		}
	default:
		bad("auth mode %q unknown (anonymous or token)", c.Auth)
	}
	if c.TickRate < minTickRate || c.TickRate > maxTickRate {
		bad("tick rate %d out of range %d..%d", c.TickRate, minTickRate, maxTickRate)
	}
	for name, v := range map[string]int{
		"max catch-up": c.MaxCatchup, "ring": c.Ring, "max rooms": c.MaxRooms, "max players": c.MaxPlayers,
		"max conns": c.MaxConns, "max message bytes": c.MaxMsgBytes, "max header bytes": c.MaxHeaderBytes,
		"inbox": c.Inbox, "inputs per tick": c.InputsPerTick, "input rate": c.InputRate,
		"input burst": c.InputBurst, "input bytes": c.InputBytes, "max join meta": c.MaxJoinMeta,
	} {
		if v < 1 {
			bad("%s must be at least 1, got %d", name, v)
		}
	}
	if c.SendBuffer < -1 {
		bad("send buffer must be -1 (off) or positive, got %d", c.SendBuffer)
	}
	if c.Ring < 2 {
		bad("ring must hold at least 2 states")
	}
	if c.MaxHeaderBytes <= netHTTPHeaderSlack {
		bad("max header bytes %d: must exceed %d (net/http reads that much beyond its own limit)", c.MaxHeaderBytes, netHTTPHeaderSlack)
	}
	if c.MaxMsgBytes > 1<<20 {
		bad("max message bytes %d above 1 MiB", c.MaxMsgBytes)
	}
	for name, d := range map[string]time.Duration{
		"header timeout": c.HeaderTimeout, "write timeout": c.WriteTimeout, "max lag": c.MaxLag,
		"ping interval": c.PingInterval, "pong timeout": c.PongTimeout, "join timeout": c.JoinTimeout,
		"reconnect grace": c.ReconnectGrace, "room grace": c.RoomGrace, "shutdown timeout": c.ShutdownTimeout,
	} {
		if d <= 0 {
			bad("%s must be positive", name)
		}
	}
	return errors.Join(errs...)
}

// netHTTPHeaderSlack is what net/http reads of a request head beyond http.Server's
// MaxHeaderBytes (its bufio slop): the effective limit is MaxHeaderBytes + 4 KiB.
const netHTTPHeaderSlack = 4 << 10

// maxLagTicks is MaxLag in ticks (at least 2).
func (c *Config) maxLagTicks(tickRate int) uint32 {
	return uint32(max(int64(c.MaxLag)*int64(tickRate)/int64(time.Second), 2))
}
