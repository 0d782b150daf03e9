package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// Subprotocol is the WebSocket subprotocol the client offers.
const Subprotocol = "ticksync.v1"

// Defaults for zero Options fields.
const (
	// DefaultWriteTimeout bounds every write, as the server's -write-timeout does its own.
	DefaultWriteTimeout = 5 * time.Second
	// DefaultReadMaxBytes bounds a server message. Snapshots of big worlds are large (5,000
	// entities ≈ 100 KiB); 64 MiB leaves room for far more without trusting the server blindly.
	DefaultReadMaxBytes = 64 << 20
	// DefaultHandshakeTimeout bounds the HTTP upgrade when ctx has no earlier deadline.
	DefaultHandshakeTimeout = 5 * time.Second
)

// sendRing is how many inputs' send times are kept for OnInputApplied: the server closes a
// connection whose seq runs more than 1024 ahead of the last applied one, so no more can be
// in flight.
const sendRing = 1024

// closeTimeout bounds writing our close frame.
const closeTimeout = time.Second

// Options says what to join and how. The zero value joins nothing useful: set Room, or
// QuickPlay.
type Options struct {
	Room string // room id to join (empty with QuickPlay)
	Game string // game to create the room with (CreateIfMissing), or to quick-play
	// QuickPlay lets the server pick the room: the fullest room of Game with a free seat, a
	// match not over and every pair of Labels, else a new one (with Config and Labels).
	// Welcome().GetRoom() names it; Reconnect goes back to it. Anonymous mode, admin tokens
	// and game-scoped tokens only (4001 with a token for one room).
	QuickPlay bool
	// Labels are room labels: with QuickPlay, the pairs the room must carry; on a join that
	// creates the room, the labels it gets.
	Labels          map[string]string
	CreateIfMissing bool // create the room if it does not exist (anonymous mode or admin token)
	Spectator       bool // join read-only
	// Follow is, for a spectator in a room whose game has views, the player whose view it sees
	// (Join.follow); 0 sees the whole world.
	Follow    uint32
	WantStats bool // ask for Stats messages (admin tokens; the benchmark)
	// Config is the room's game config (JSON; nil: the game's defaults), sent as Join.config
	// and used only when this join creates the room. A config the game refuses closes with
	// 4004 and the game's reason.
	Config []byte
	// Meta is the player's metadata for the game (a name, a team: JSON by convention), sent as
	// Join.meta. Anonymous mode only: with a join token the token's meta claim counts and this
	// is ignored. Past the server's -max-join-meta bytes the join closes with 1008; a game
	// that refuses the player closes it with 4005 and its reason.
	Meta string
	// LastTick is the tick the client holds when resuming. Reconnect sets it along with the
	// state it holds; set by hand, a delta from a tick this client lacks fails with
	// sim.ErrBadFrame (only useful for testing the server's snapshot fallback).
	LastTick uint32

	Token  string // sent as ?token=… (join, admin or resume token)
	Origin string // sent as the Origin header when set (browsers always send one; bots need not)

	// SkipJoin connects without sending the join: Dial returns right after the upgrade (tests of
	// the join timeout, raw messages with Send/SendRaw).
	SkipJoin bool
	// CountOnly skips decoding frames: they are counted (messages, bytes) and their tick,
	// baseline and last input seq read, but no mirror is kept (State is nil, no hash check,
	// OnFrame is not called). Other messages are decoded as usual. For the load generator.
	CountOnly bool

	// Callbacks run on the read goroutine; they must not call Close. They run after the frame
	// is visible to the accessors, so a Wait may return before they have run for that frame.

	// OnFrame is called after each frame is applied; f is valid only during the call.
	OnFrame func(f *pb.Frame)
	// OnStats is called with each Stats message.
	OnStats func(s *pb.Stats)
	// OnInputApplied is called once per input seq when a frame first says it was applied, with the time since SendInput sent it (docs/benchmark.md's rtt_ms).
	OnInputApplied func(seq uint32, rtt time.Duration)

	WriteTimeout time.Duration // per write (0: DefaultWriteTimeout)
	ReadMaxBytes int           // largest server message (0: DefaultReadMaxBytes)
	TLSConfig    *tls.Config   // for wss:// URLs (nil: defaults)
	// NetDial opens the TCP connection (nil: net.Dialer). Tests may return one end of a
	// net.Pipe.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Counters are what a client has sent and received, in WebSocket payload bytes.
type Counters struct {
	Messages        uint64 // server messages received, all kinds
	Frames          uint64 // frames received
	BytesIn         uint64 // payload bytes received, all kinds
	BytesOut        uint64 // payload bytes sent
	Inputs          uint64 // inputs sent
	FirstFrameBytes uint64 // size of the first frame after the welcome (the join's full state)
	// DecodeNs is the time spent decoding and applying frames, view hash checks included
	// (CountOnly: reading their headers), from the message's arrival until the frame counts
	// as applied (callbacks excluded). A frame's time is added before waiters can see it.
	DecodeNs uint64
	// HashChecks counts the view hashes checked against the mirror (frames that carried one;
	// none in CountOnly mode), HashMismatches those that differed. A mismatch stops the
	// client (ErrDesync), so HashMismatches is 0 or 1.
	HashChecks     uint64
	HashMismatches uint64
}

// FrameInfo is what the last frame said about itself.
type FrameInfo struct {
	Tick         uint32 // the tick the frame brought the client to
	BaselineTick uint32 // 0 for a full snapshot
	LastInputSeq uint32 // highest input seq of this player applied at or before Tick
	HasHash      bool   // the frame carried a view hash (it matched, or the client stopped)
	Bytes        int    // the message's size
}

// Client is one connection to a ticksync server. Make one with Dial; its methods are safe for
// concurrent use.
type Client struct {
	url   string // without the token
	opts  Options
	conn  *gws.Conn // set before the read loop starts, then never changed
	start time.Time // monotonic base for client_time_us
	seed  *seed     // state to resume from; read goroutine only

	wmu      sync.Mutex // serializes writes, their deadlines and the fields below
	seq      uint32     // last input seq sent
	lastPing int64      // last ping's client_time_us
	wbuf     []byte

	mu       sync.Mutex // guards the fields below
	welcome  *pb.Welcome
	schema   *sim.Schema
	mirror   *sim.Mirror // nil in CountOnly mode
	frame    FrameInfo
	sentAt   [sendRing]sent
	rtt      time.Duration
	pongEcho int64
	replay   *pb.ReplayStatus
	kick     *pb.Kick
	err      error       // protocol error that made the client close
	local    *CloseError // close the client started, before it completes
	closeErr *CloseError // how the connection ended; nil while open
	changed  chan struct{}
	welcomed chan struct{}
	done     chan struct{}

	// Game events and the result, also guarded by mu.
	events        []*pb.GameEvent // every game event received, in order; append-only
	eventsThrough uint32          // the tick through which events were kept (frames repeat them)
	result        *pb.MatchResult // the match result, once a frame carried it

	msgs, frames, bytesIn, bytesOut, inputs, firstFrame, decodeNs atomic.Uint64
	hashChecks, hashMismatches                                    atomic.Uint64
}

type sent struct {
	seq uint32
	at  time.Time
}

// seed is what Reconnect carries over: the old welcome (to check the schema is the same), the
// mirrored state the resumed session's first frame is a delta from, and the last input seq
// sent (the resumed seat remembers the seqs it applied, so numbering goes on from there).
type seed struct {
	welcome *pb.Welcome
	state   *sim.State // nil in CountOnly mode
	tick    uint32
	seq     uint32
	// events, eventsThrough and result go on in the new session, so Events lists the match's
	// events once across reconnects.
	events        []*pb.GameEvent
	eventsThrough uint32
	result        *pb.MatchResult
}

func newClient(url string, opts Options, sd *seed) *Client {
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.ReadMaxBytes <= 0 {
		opts.ReadMaxBytes = DefaultReadMaxBytes
	}
	c := &Client{
		url: url, opts: opts, start: time.Now(), seed: sd,
		welcomed: make(chan struct{}), done: make(chan struct{}),
	}
	if sd != nil {
		c.seq = sd.seq
		c.events, c.eventsThrough, c.result = sd.events, sd.eventsThrough, sd.result
	}
	return c
}

// Welcome returns the server's welcome (nil before it arrives). Don't modify it.
func (c *Client) Welcome() *pb.Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// PlayerID returns the player id the server assigned (0 for spectators or before the welcome).
func (c *Client) PlayerID() uint32 { return c.Welcome().GetPlayerId() }

// ResumeToken returns the welcome's resume token ("" before the welcome).
func (c *Client) ResumeToken() string { return c.Welcome().GetResumeToken() }

// Grid returns how the room's game cuts its world into view cells (nil before the welcome and
// when the game has no views). Don't modify it.
func (c *Client) Grid() *pb.ViewGrid { return c.Welcome().GetGrid() }

// RoomConfig returns the room's game config JSON from the welcome (empty: the game's
// defaults, or no welcome yet). Don't modify it.
func (c *Client) RoomConfig() []byte { return c.Welcome().GetConfig() }

// Schema returns the room's schema, built from the welcome (nil before it).
func (c *Client) Schema() *sim.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.schema
}

// Class returns the handle of the state class called name.
func (c *Client) Class(name string) (sim.Class, error) {
	s := c.Schema()
	if s == nil {
		return sim.Class{}, errors.New("client: no welcome yet")
	}
	cls, ok := s.ClassByName(name)
	if !ok {
		return sim.Class{}, fmt.Errorf("client: no class %q", name)
	}
	return cls, nil
}

// Field returns the handle of field name of class cls, for State.Value. Resolve handles once,
// not per frame.
func (c *Client) Field(cls, name string) (sim.Field, error) {
	h, err := c.Class(cls)
	if err != nil {
		return sim.Field{}, err
	}
	f, ok := c.Schema().FieldByName(h, name)
	if !ok {
		return sim.Field{}, fmt.Errorf("client: class %q has no int, fixed or bool field %q", cls, name)
	}
	return f, nil
}

// Tick returns the tick of the last frame (0 before the first).
func (c *Client) Tick() uint32 { return c.LastFrame().Tick }

// LastInputSeq returns the highest input seq the last frame says was applied.
func (c *Client) LastInputSeq() uint32 { return c.LastFrame().LastInputSeq }

// LastFrame returns what the last frame said about itself.
func (c *Client) LastFrame() FrameInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frame
}

// State returns a copy of the mirrored state (nil before the welcome and in CountOnly mode).
// It allocates; WithState reads in place.
func (c *Client) State() *sim.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mirror == nil {
		return nil
	}
	st := sim.NewState(c.schema)
	st.CopyFrom(c.mirror.State())
	return st
}

// WithState calls fn with the mirrored state (nil before the welcome and in CountOnly mode)
// while frames are held back. fn must not keep st or call the client's methods.
func (c *Client) WithState(fn func(st *sim.State)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mirror == nil {
		fn(nil)
		return
	}
	fn(c.mirror.State())
}

// RTT returns the round-trip time measured by the last pong (0 before one).
func (c *Client) RTT() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rtt
}

// ReplayStatus returns the last replay status (nil outside replay sessions). Don't modify it.
func (c *Client) ReplayStatus() *pb.ReplayStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replay
}

// Kick returns the kick message the server sent before closing, if any. Don't modify it.
func (c *Client) Kick() *pb.Kick {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kick
}

// Events returns a copy of the list of game events received so far, in order, each once (a
// frame repeats the events its predecessors carried until the server sees it took them; the
// client keeps only the new ones). They are the events the game addressed to everyone or to
// this player (a spectator gets only those to everyone), from the ticks since it joined; a
// Reconnect's client goes on with the old one's list. Empty in CountOnly mode. Don't modify
// the events.
func (c *Client) Events() []*pb.GameEvent { return c.EventsSince(0) }

// EventsSince returns a copy of the events after the first n (nil when there are none): a bot
// polls with evs := c.EventsSince(seen); seen += len(evs).
func (c *Client) EventsSince(n int) []*pb.GameEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < 0 {
		n = 0
	}
	if n >= len(c.events) {
		return nil
	}
	return append([]*pb.GameEvent(nil), c.events[n:]...)
}

// WaitEvents blocks until at least n game events have been received. Like WaitTick it returns
// the client's Err if the connection ends first, or ctx's error.
func (c *Client) WaitEvents(ctx context.Context, n int) error {
	return c.wait(ctx, func() bool { return len(c.events) >= n })
}

// Result returns how the game ended the match (nil until a frame carries it; always nil in
// CountOnly mode). The room closes with 4002 "match over" shortly after: a client whose Err is
// that CloseError and whose Result is set saw the match end normally. Don't modify it.
func (c *Client) Result() *pb.MatchResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.result
}

// WaitResult blocks until a frame carries the match result and returns it. A result that
// arrived before the connection ended is returned even after it; otherwise it returns the
// client's Err (a close without a result), or ctx's error.
func (c *Client) WaitResult(ctx context.Context) (*pb.MatchResult, error) {
	var r *pb.MatchResult
	err := c.wait(ctx, func() bool { r = c.result; return r != nil })
	return r, err
}

// Counters returns what the client has sent and received so far.
func (c *Client) Counters() Counters {
	return Counters{
		Messages: c.msgs.Load(), Frames: c.frames.Load(), BytesIn: c.bytesIn.Load(),
		BytesOut: c.bytesOut.Load(), Inputs: c.inputs.Load(), FirstFrameBytes: c.firstFrame.Load(),
		DecodeNs: c.decodeNs.Load(), HashChecks: c.hashChecks.Load(), HashMismatches: c.hashMismatches.Load(),
	}
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// CloseInfo returns how the connection ended (nil while it is open).
func (c *Client) CloseInfo() *CloseError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Err returns why the client stopped: the protocol error it detected (wrapping ErrProtocol,
// ErrDesync or sim.ErrBadFrame), else how the connection ended (*CloseError), else nil.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopErrLocked()
}

func (c *Client) stopErrLocked() error {
	if c.err != nil {
		return c.err
	}
	if c.closeErr != nil {
		return c.closeErr
	}
	return nil
}

// WaitTick blocks until a frame brings the client to tick or later. It returns the client's
// Err if the connection ends first, or ctx's error.
func (c *Client) WaitTick(ctx context.Context, tick uint32) error {
	return c.wait(ctx, func() bool { return c.frame.Tick >= tick })
}

// WaitFrame blocks until pred holds, checking it now and after every frame. pred runs with the
// client's lock held: st is the mirrored state (nil in CountOnly mode), f the last frame; pred
// must not keep st or call the client's methods.
func (c *Client) WaitFrame(ctx context.Context, pred func(st *sim.State, f FrameInfo) bool) error {
	return c.wait(ctx, func() bool {
		var st *sim.State
		if c.mirror != nil {
			st = c.mirror.State()
		}
		return pred(st, c.frame)
	})
}

// wait blocks until cond (run under c.mu) holds, the client stops, or ctx ends.
func (c *Client) wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		if cond() {
			c.mu.Unlock()
			return nil
		}
		if err := c.stopErrLocked(); err != nil {
			c.mu.Unlock()
			return err
		}
		if c.changed == nil {
			c.changed = make(chan struct{})
		}
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes the waiters. Only a waiter makes the channel, so a client nobody waits on
// allocates nothing per frame.
func (c *Client) notifyLocked() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

func (c *Client) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked()
}

// micros is the client's clock for client_time_us: monotonic, from the client's start.
func (c *Client) micros() int64 { return time.Since(c.start).Microseconds() }

// SendInput sends one input with the next seq (1, 2, …) and returns that seq. values are in
// the order and fixed-point scale of the welcome's input schema. Its render tick is the
// client's current tick (Tick): the Go client has no interpolation, so the newest frame is
// what it shows; the sub-tick is 0.
func (c *Client) SendInput(values ...int32) (uint32, error) {
	return c.sendInput(0, 0, false, values)
}

// SendInputAt is SendInput for an input made while the client showed renderTick, subtick
// 1/65536 of a tick later (lag compensation: a game that keeps past states checks the input
// against that tick's world, e.g. a shot against where its target was then). The server
// clamps renderTick to the ticks the game keeps; 0 means unknown (the latest).
func (c *Client) SendInputAt(renderTick uint32, subtick uint16, values ...int32) (uint32, error) {
	return c.sendInput(renderTick, subtick, true, values)
}

func (c *Client) sendInput(renderTick uint32, subtick uint16, at bool, values []int32) (uint32, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.seq++
	seq := c.seq
	now := time.Now()
	c.mu.Lock()
	c.sentAt[seq%sendRing] = sent{seq: seq, at: now}
	if !at {
		renderTick = c.frame.Tick
	}
	c.mu.Unlock()
	c.wbuf = appendInput(c.wbuf[:0], seq, now.Sub(c.start).Microseconds(), values, renderTick, subtick)
	if err := c.writeLocked(c.wbuf); err != nil {
		return seq, err
	}
	c.inputs.Add(1)
	return seq, nil
}

// Ping sends a ping and waits for its pong; it returns the round-trip time (also kept for RTT).
func (c *Client) Ping(ctx context.Context) (time.Duration, error) {
	c.wmu.Lock()
	t := max(c.micros(), c.lastPing+1) // strictly increasing, so each pong matches one ping
	c.lastPing = t
	b, _ := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Ping{Ping: &pb.Ping{ClientTimeUs: t}}})
	err := c.writeLocked(b)
	c.wmu.Unlock()
	if err != nil {
		return 0, err
	}
	var rtt time.Duration
	err = c.wait(ctx, func() bool { rtt = c.rtt; return c.pongEcho >= t })
	return rtt, err
}

// Leave sends a leave: the server frees the seat at once and closes with 1000. Wait on Done.
func (c *Client) Leave() error {
	return c.Send(&pb.ClientMessage{Kind: &pb.ClientMessage_Leave{Leave: &pb.Leave{}}})
}

// Send sends any client message (replay controls, or tests of the server's checks).
func (c *Client) Send(m *pb.ClientMessage) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("client: encode: %w", err)
	}
	return c.SendRaw(b)
}

// SendRaw sends b as one binary message, unchecked (tests of malformed input).
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

// writeLocked writes one binary message under the write deadline; c.wmu is held.
func (c *Client) writeLocked(b []byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout)); err != nil {
		return fmt.Errorf("client: write: %w", err)
	}
	if err := c.conn.WriteMessage(gws.OpcodeBinary, b); err != nil {
		return fmt.Errorf("client: write: %w", err)
	}
	c.bytesOut.Add(uint64(len(b)))
	return nil
}

// Close closes the connection with 1000 and waits for the read goroutine to finish. Don't call
// it from a callback (OnFrame, OnStats, OnInputApplied).
func (c *Client) Close() error {
	c.closeWith(1000, "")
	<-c.done
	return nil
}

// closeWith starts closing the connection with code and reason, unless it is already closing.
func (c *Client) closeWith(code uint16, reason string) {
	c.mu.Lock()
	if c.local != nil || c.closeErr != nil {
		c.mu.Unlock()
		return
	}
	c.local = &CloseError{Code: code, Reason: reason, Local: true}
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(closeTimeout))
	_ = c.conn.WriteClose(code, []byte(reason)) // closes the socket whatever happens
}

// Reconnect dials the same server again with the welcome's resume token, saying which tick the
// client holds, and carries the mirrored state over so the first frame can be a delta, with
// the game events and result received so far (Events goes on from the old list). The old
// client may still be open (the server then closes it with 4010).
func (c *Client) Reconnect(ctx context.Context) (*Client, error) {
	c.mu.Lock()
	w := c.welcome
	sd := &seed{welcome: w, tick: c.frame.Tick, events: c.events[:len(c.events):len(c.events)],
		eventsThrough: c.eventsThrough, result: c.result}
	if c.mirror != nil && w != nil {
		sd.state = sim.NewState(c.schema)
		sd.state.CopyFrom(c.mirror.State())
	}
	c.mu.Unlock()
	c.wmu.Lock()
	sd.seq = c.seq
	c.wmu.Unlock()
	if w.GetResumeToken() == "" {
		return nil, errors.New("client: reconnect: no resume token (no welcome yet)")
	}
	opts := c.opts
	opts.Token, opts.LastTick, opts.Room = w.GetResumeToken(), sd.tick, w.GetRoom()
	opts.CreateIfMissing, opts.SkipJoin, opts.QuickPlay = false, false, false
	return dial(ctx, c.url, opts, sd)
}

// Entities returns the live entities of class cls in st in ascending id order (setup and tests;
// it allocates).
func Entities(st *sim.State, cls sim.Class) []sim.Entity {
	var out []sim.Entity
	for e := sim.Entity(1); e < st.MaxID(); e++ {
		if c, ok := st.ClassOf(e); ok && c == cls {
			out = append(out, e)
		}
	}
	return out
}
