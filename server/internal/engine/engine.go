package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/ticksync/ticksync/sim"
)

// Close reasons the engine decides. The driver maps them to close codes.
var (
	ErrRoomFull   = errors.New("room full")
	ErrSuperseded = errors.New("session superseded")          // a resume for a seat that is gone or was resumed since
	ErrReplaced   = errors.New("replaced by a newer session") // the seat's connection, when another takes it
	ErrTooSlow    = errors.New("too slow")                    // the client's baseline trails by more than MaxLag
	ErrNoViews    = errors.New("client cannot apply views")   // a join without JoinReq.Views to a game with views
	// ErrTooManySeats refuses a seat its address cannot take (Config.Seats said no).
	ErrTooManySeats = errors.New("too many seats from your address")
)

// RefusedError is a join the game refused (sim.JoinFilter): Reason is the game's.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return e.Reason }

// Config is an engine's rules. Zero fields take the defaults noted.
type Config struct {
	Ring           int           // past states kept for deltas (default 64)
	MaxPlayers     int           // seats plus spectators (default 64)
	Inbox          int           // inputs waiting per seat (default 32)
	InputsPerTick  int           // inputs of one seat applied per tick (default 2)
	HashEvery      int           // frames carry the view hash every n ticks (0: never)
	ReconnectGrace time.Duration // how long a dropped seat is held (default 20 s)
	MaxLag         uint32        // ticks a client's baseline may trail before ErrTooSlow (default 100)
	// Seats, when set, caps the seats one address may hold across the driver's rooms.
	Seats SeatLimiter
}

// SeatLimiter charges seats to addresses (anonymous mode's per-address cap). Acquire reports
// whether addr may take one more; Release gives one back.
type SeatLimiter interface {
	Acquire(addr string) bool
	Release(addr string)
}

func (c *Config) setDefaults() {
	if c.Ring <= 0 {
		c.Ring = 64
	}
	if c.MaxPlayers <= 0 {
		c.MaxPlayers = 64
	}
	if c.Inbox <= 0 {
		c.Inbox = 32
	}
	if c.InputsPerTick <= 0 {
		c.InputsPerTick = 2
	}
	if c.ReconnectGrace <= 0 {
		c.ReconnectGrace = 20 * time.Second
	}
	if c.MaxLag == 0 {
		c.MaxLag = 100
	}
}

// Seat is a player's place in the match: its inbox (the connection's reader pushes into it),
// its client (nil while dropped) and its resume session.
type Seat struct {
	player      uint32
	in          *Inbox
	client      *Client
	session     string
	addr        string
	droppedAt   time.Time
	lastApplied uint32
}

// Player returns the seat's player id.
func (s *Seat) Player() uint32 { return s.player }

// Session returns the seat's current resume session.
func (s *Seat) Session() string { return s.session }

// Inbox returns the seat's input inbox.
func (s *Seat) Inbox() *Inbox { return s.in }

// Client is one connection as the engine sees it. The driver makes one per connection with
// NewClient and keeps its own connection in Peer.
type Client struct {
	Peer any

	seat      *Seat
	spectator bool
	live      bool   // among the engine's clients (joined, not dropped)
	acked     uint32 // its baseline: the tick of the last frame its writer took (Ack)
	firstTick uint32 // the tick of its first frame
	follow    uint32 // a spectator's followed player (0: the whole world)
	view      *View  // in a game with views: what it was sent (nil: it sees the whole world)
}

// NewClient makes a client for the driver's peer.
func NewClient(peer any) *Client { return &Client{Peer: peer} }

// Ack records the tick of the last frame the client's writer actually handed to its socket:
// the baseline of its next frame. The driver acknowledges every client before each Tick.
func (c *Client) Ack(tick uint32) { c.acked = tick }

// JoinReq is a join as the driver resolved it: identity from the token (or none).
type JoinReq struct {
	Player     uint32 // the token's player id (0: assign one)
	Spectator  bool
	Resume     bool   // a resume token: Session must match the seat's
	Session    string // the resume token's session
	NewSession string // the session the seat gets if the join succeeds (the driver draws it)
	LastTick   uint32 // the tick the client holds (a resume's first frame is a delta from it)
	Addr       string // the remote address (for Config.Seats)
	Meta       []byte // the player's metadata (the game's join input carries it)
	Views      bool   // the client applies frame pieces (Join.views)
	Follow     uint32 // a spectator sees what this player sees (0: the whole world)
}

// Welcome is a join the engine accepted: the driver sends the welcome message, then the frames.
type Welcome struct {
	Client   *Client
	Seat     *Seat // nil for a spectator
	Player   uint32
	Session  string
	Tick     uint32 // the world's tick at the join
	Resumed  bool
	Baseline uint32 // the client's baseline before its first frame (0: a snapshot)
}

// Frame is one client's frame of a tick: the shared body and its header fields. The body is
// the engine's until Advance; an outbox that keeps it must Retain it.
type Frame struct {
	Client   *Client
	Body     *Body
	Tick     uint32
	Baseline uint32
	LastSeq  uint32
	// Extra holds this client's Frame fields after the body: its game events since its
	// baseline and the match result (encoded; nil on most ticks). It is the driver's to keep.
	Extra []byte
}

// Close is a connection the driver must close, and why.
type Close struct {
	Client *Client
	Err    error
}

// Ready is what a Tick (and the events before it) decided. Its slices are the engine's and
// valid until the next Tick.
type Ready struct {
	Tick     uint32
	Welcomes []Welcome
	Frames   []Frame
	Closes   []Close
	Joined   []uint32    // players seated this tick
	Left     []uint32    // players whose seat was freed this tick
	Inputs   []sim.Input // what Step applied (joins and leaves included): the record
	Resumes  []uint32    // players that resumed a held seat this tick (recording marks)
	State    *sim.State  // the world after the tick (the ring's copy)
	Holds    []time.Time // when each applied input was read (only while measuring)
	Events   []sim.Event // the game events Step emitted
	Result   *sim.Result // set at the tick the game ended the match (nothing steps after it)
}

// Engine runs one match. It is not safe for concurrent use: one goroutine (the room's) calls
// every method, except that readers push into seat inboxes and nothing else.
type Engine struct {
	cfg     Config
	g       sim.Game
	w       *sim.World
	nInputs int
	frames  *Frames

	seats      map[uint32]*Seat // lookups only, never iterated
	order      []*Seat          // seats in join order: the order inputs are drained
	clients    []*Client
	nextPlayer uint32
	spectators int
	events     []event
	measure    bool

	ready Ready
	vals  []int32 // this tick's input values, which ready.Inputs point into
	hist  uint32  // the game's History (render ticks are clamped to it)

	filter  sim.JoinFilter    // nil unless the game refuses joins
	pending []sim.JoinRequest // joins accepted this tick (JoinRequest.Pending)
	evlog   EventLog          // recent ticks' events (clients get those since their baseline)
	result  []byte            // the encoded result, once the match ended
}

type eventKind uint8

const (
	evJoin  eventKind = iota + 1
	evLeave           // left on purpose: the seat is freed now
	evDrop            // the connection ended: the seat is held for the grace
	evKick            // close a player's connection with err
)

type event struct {
	kind   eventKind
	c      *Client
	join   JoinReq
	player uint32
	err    error
}

// New makes an engine for game g over world w (already Init'ed, at its current tick).
func New(cfg Config, g sim.Game, w *sim.World) (*Engine, error) {
	cfg.setDefaults()
	if w.Schema() != g.Schema() {
		return nil, fmt.Errorf("engine: the world's schema is not the game's")
	}
	e := &Engine{
		cfg: cfg, g: g, w: w, nInputs: g.Schema().NumInputs(), frames: NewFrames(cfg.Ring),
		seats: map[uint32]*Seat{}, nextPlayer: 1, hist: uint32(sim.HistoryDepth(g)),
	}
	e.filter, _ = g.(sim.JoinFilter)
	if v, ok := g.(sim.Viewer); ok {
		e.frames.SetViewer(v)
	}
	return e, nil
}

// World returns the engine's world (read it only between ticks, on the engine's goroutine).
func (e *Engine) World() *sim.World { return e.w }

// CurrentTick returns the world's current tick (the last one run).
func (e *Engine) CurrentTick() uint32 { return e.w.Tick() }

// Players returns how many seats are taken (held ones included).
func (e *Engine) Players() int { return len(e.order) }

// Spectators returns how many spectators are connected.
func (e *Engine) Spectators() int { return e.spectators }

// Clients returns how many connections get frames.
func (e *Engine) Clients() int { return len(e.clients) }

// ClientList returns the connections that get frames (the engine's own slice: read it, do not
// keep or change it).
func (e *Engine) ClientList() []*Client { return e.clients }

// Empty reports whether nobody is connected and no seat is held.
func (e *Engine) Empty() bool { return len(e.clients) == 0 && len(e.order) == 0 }

// SeatOf returns the seat of player (nil if none).
func (e *Engine) SeatOf(player uint32) *Seat { return e.seats[player] }

// Connected reports whether player's seat has a connection.
func (e *Engine) Connected(player uint32) bool {
	s := e.seats[player]
	return s != nil && s.client != nil
}

// Measure turns hold samples (Ready.Holds) on or off.
func (e *Engine) Measure(on bool) { e.measure = on }

// Join asks for c to be seated (or to watch). It takes effect at the next Tick.
func (e *Engine) Join(c *Client, j JoinReq) {
	e.events = append(e.events, event{kind: evJoin, c: c, join: j})
}

// Leave says c left on purpose: its seat is freed at the next Tick.
func (e *Engine) Leave(c *Client) { e.events = append(e.events, event{kind: evLeave, c: c}) }

// Drop says c's connection ended: its seat is held for the reconnect grace.
func (e *Engine) Drop(c *Client) { e.events = append(e.events, event{kind: evDrop, c: c}) }

// Kick closes player's connection with err at the next Tick (nothing if it has none).
func (e *Engine) Kick(player uint32, err error) {
	e.events = append(e.events, event{kind: evKick, player: player, err: err})
}

// Tick runs one turn at now: seats whose grace ran out are freed, then the events queued since
// the last tick apply in order, then up to InputsPerTick inputs per seat, then Step, then one
// frame per client. lap, if not nil, is called after the inputs are drained, after Step and
// after encoding (the driver's phase timer). The Ready is valid until the next Tick; call
// Advance once its frames are in their outboxes.
func (e *Engine) Tick(now time.Time, lap func()) *Ready {
	r := &e.ready
	r.Welcomes, r.Frames, r.Closes = r.Welcomes[:0], r.Frames[:0], r.Closes[:0]
	r.Joined, r.Left, r.Inputs, r.Resumes, r.Holds = r.Joined[:0], r.Left[:0], r.Inputs[:0], r.Resumes[:0], r.Holds[:0]
	r.Events = nil
	e.vals = e.vals[:0]
	clear(e.pending)
	e.pending = e.pending[:0]

	e.expire(now) // before anything else appends: a freed seat's leave is this tick's input
	for i := range e.events {
		ev := &e.events[i]
		switch ev.kind {
		case evJoin:
			if err := e.join(ev.c, &ev.join); err != nil {
				r.Closes = append(r.Closes, Close{Client: ev.c, Err: err})
			}
		case evLeave:
			if s := ev.c.seat; s != nil && e.seats[s.player] == s && s.client == ev.c {
				e.free(s)
			}
			e.detach(ev.c, now)
		case evDrop:
			e.detach(ev.c, now)
		case evKick:
			if s := e.seats[ev.player]; s != nil && s.client != nil {
				r.Closes = append(r.Closes, Close{Client: s.client, Err: ev.err})
			}
		}
		*ev = event{}
	}
	e.events = e.events[:0]
	e.drain()
	if lap != nil {
		lap()
	}

	tick := e.w.Step(e.g, r.Inputs)
	if lap != nil {
		lap()
	}
	cur := e.frames.Snapshot(e.w)
	r.Tick, r.State = tick, cur
	e.logEvents(tick)
	if res := e.w.Result(); res != nil && r.Result == nil {
		r.Result = res
		e.result = sim.AppendResult(nil, res)
	}
	e.encode(tick, cur)
	if lap != nil {
		lap()
	}
	return r
}

// Last returns the last Tick's Ready (its Frames are gone after Advance; the rest stays valid
// until the next Tick).
func (e *Engine) Last() *Ready { return &e.ready }

// Advance drops the engine's references to the last Tick's bodies: call it once every frame
// of the Ready is in its outbox (each outbox holding its own reference).
func (e *Engine) Advance() {
	for i := range e.ready.Frames {
		e.ready.Frames[i] = Frame{}
	}
	e.frames.Release()
}

// join seats (or re-seats) c, or refuses it.
func (e *Engine) join(c *Client, j *JoinReq) error {
	var s *Seat
	resumed := false
	viewed := e.frames.Viewer() != nil && (!j.Spectator || j.Follow != 0)
	if viewed && !j.Views {
		return ErrNoViews
	}
	switch {
	case j.Resume && !j.Spectator:
		s = e.seats[j.Player]
		if s == nil || s.session != j.Session {
			return ErrSuperseded
		}
		resumed = true
	case j.Player != 0 && !j.Spectator:
		if s = e.seats[j.Player]; s != nil {
			resumed = true
		}
	}
	if s == nil && len(e.order)+e.spectators >= e.cfg.MaxPlayers {
		return ErrRoomFull
	}
	r := &e.ready
	if s == nil && !j.Spectator {
		id := j.Player
		if id == 0 {
			for e.seats[e.nextPlayer] != nil || e.nextPlayer == 0 {
				e.nextPlayer++
			}
			id = e.nextPlayer
		}
		if e.filter != nil {
			if err := e.filter.AcceptJoin(e.w, sim.JoinRequest{Player: id, Meta: j.Meta, Pending: e.pending}); err != nil {
				return &RefusedError{Reason: err.Error()}
			}
		}
		if e.cfg.Seats != nil && j.Addr != "" && !e.cfg.Seats.Acquire(j.Addr) {
			return ErrTooManySeats
		}
		if j.Player == 0 {
			e.nextPlayer++
		}
		s = &Seat{player: id, in: NewInbox(e.cfg.Inbox, e.nInputs)}
		if e.cfg.Seats != nil {
			s.addr = j.Addr // charged above
		}
		e.seats[id] = s
		e.order = append(e.order, s)
		var meta []byte
		if len(j.Meta) > 0 {
			meta = append([]byte(nil), j.Meta...) // the recording keeps it: not the driver's bytes
		}
		r.Inputs = append(r.Inputs, sim.Input{Player: id, Kind: sim.InputJoin, Meta: meta})
		if e.filter != nil {
			e.pending = append(e.pending, sim.JoinRequest{Player: id, Meta: meta})
		}
		r.Joined = append(r.Joined, id)
	}
	if s != nil && s.client != nil && s.client != c {
		old := s.client
		r.Closes = append(r.Closes, Close{Client: old, Err: ErrReplaced})
		e.remove(old)
	}
	w := Welcome{Client: c, Seat: s, Tick: e.w.Tick(), Resumed: resumed}
	if s != nil {
		s.client, s.session, s.droppedAt = c, j.NewSession, time.Time{}
		w.Player, w.Session = s.player, s.session
		c.seat = s
	} else {
		e.spectators++
		c.spectator = true
		w.Session = j.NewSession
	}
	if resumed && j.LastTick != 0 && e.frames.Has(j.LastTick, e.w.Tick()+1) {
		w.Baseline = j.LastTick
	}
	c.acked, c.firstTick, c.live = w.Baseline, e.w.Tick()+1, true
	if viewed {
		c.view = e.frames.NewView()
		if j.Spectator {
			c.follow = j.Follow
		}
	}
	e.clients = append(e.clients, c)
	r.Welcomes = append(r.Welcomes, w)
	if resumed {
		r.Resumes = append(r.Resumes, s.player)
	}
	return nil
}

// detach removes an ended connection; its seat (if still its own) is held for the grace.
func (e *Engine) detach(c *Client, now time.Time) {
	if !e.remove(c) {
		return
	}
	if s := c.seat; s != nil {
		if s.client == c {
			s.client, s.droppedAt = nil, now
		}
	} else if c.spectator {
		e.spectators--
	}
}

// remove drops c from the clients that get frames; false if it was not there.
func (e *Engine) remove(c *Client) bool {
	if !c.live {
		return false
	}
	c.live = false
	for i, x := range e.clients {
		if x == c {
			last := len(e.clients) - 1
			e.clients[i], e.clients[last] = e.clients[last], nil
			e.clients = e.clients[:last]
			return true
		}
	}
	return true
}

// ReleaseSeats gives every seat's address charge back (Config.Seats): the match is over.
func (e *Engine) ReleaseSeats() {
	for _, s := range e.order {
		e.uncharge(s)
	}
}

func (e *Engine) uncharge(s *Seat) {
	if e.cfg.Seats != nil && s.addr != "" {
		e.cfg.Seats.Release(s.addr)
		s.addr = ""
	}
}

// free removes a seat and its entity (a leave input this tick).
func (e *Engine) free(s *Seat) {
	delete(e.seats, s.player)
	for i, x := range e.order {
		if x == s {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
	e.uncharge(s)
	r := &e.ready
	r.Inputs = append(r.Inputs, sim.Input{Player: s.player, Kind: sim.InputLeave})
	r.Left = append(r.Left, s.player)
}

// expire frees seats whose connection has been gone longer than the reconnect grace.
func (e *Engine) expire(now time.Time) {
	for i := 0; i < len(e.order); i++ {
		s := e.order[i]
		if s.client == nil && !s.droppedAt.IsZero() && now.Sub(s.droppedAt) >= e.cfg.ReconnectGrace {
			e.free(s)
			i--
		}
	}
}

// drain moves up to k inputs per seat, in seq order, into this tick's inputs. Values are
// copied into the engine's arena so the inbox slots can be reused at once.
func (e *Engine) drain() {
	r := &e.ready
	k := e.cfg.InputsPerTick
	// Render ticks name a tick whose state the game can read: at most the last one run, at
	// least the oldest one the World keeps (the last one run when it keeps none).
	newest := e.w.Tick()
	oldest := newest - min(newest, e.hist) + 1
	if e.hist == 0 {
		oldest = newest
	}
	for _, s := range e.order {
		player := s.player
		s.in.take(k, func(p *pending) {
			e.vals = append(e.vals, p.vals...)
			rt := p.when.RenderTick
			if rt != 0 {
				rt = min(max(rt, oldest), newest)
			}
			r.Inputs = append(r.Inputs, sim.Input{Player: player, Kind: sim.InputMove, Seq: p.seq, RenderTick: rt, Subtick: p.when.Subtick})
			s.lastApplied = p.seq
			if e.measure {
				r.Holds = append(r.Holds, p.at)
			}
		})
	}
	// Point the moves' Values into the arena only now: appends above may have moved it.
	off := 0
	for i := range r.Inputs {
		if r.Inputs[i].Kind == sim.InputMove {
			r.Inputs[i].Values = e.vals[off : off+e.nInputs : off+e.nInputs]
			off += e.nInputs
		}
	}
}

// encode gives every client its frame: clients in step share the tick's delta from tick-1,
// encoded once; a client that fell behind gets a delta from its own baseline while the ring
// holds it, else a snapshot. Bodies are encoded once per distinct baseline. A client whose
// baseline trails by more than MaxLag is closed instead.
func (e *Engine) encode(tick uint32, cur *sim.State) {
	r := &e.ready
	withHash := e.cfg.HashEvery > 0 && tick%uint32(e.cfg.HashEvery) == 0
	for _, c := range e.clients {
		if held := max(c.acked, c.firstTick-1); tick-held > e.cfg.MaxLag {
			r.Closes = append(r.Closes, Close{Client: c, Err: ErrTooSlow})
			// It still gets this tick's frame: the driver closes it, and a frame in a
			// closing outbox is dropped there.
		}
		var seq uint32
		if s := c.seat; s != nil {
			seq = s.lastApplied
		}
		var b *Body
		var base uint32
		if c.view != nil {
			b, base = e.viewBody(c, tick, cur)
		} else {
			b, base = e.frames.Body(c.acked, cur, withHash)
		}
		var extra []byte
		if !e.evlog.Empty() || e.result != nil {
			extra = e.extra(c, tick)
		}
		r.Frames = append(r.Frames, Frame{Client: c, Body: b, Tick: tick, Baseline: base, LastSeq: seq, Extra: extra})
	}
	e.frames.Seal()
}

// viewBody is the frame body of a client that sees through a player's eyes: its player's, or
// the one it follows. Each client's view hash comes every HashEvery ticks at its own phase
// (its player id), so the hashing of a tick is spread over the clients.
func (e *Engine) viewBody(c *Client, tick uint32, cur *sim.State) (*Body, uint32) {
	p := c.follow
	if c.seat != nil {
		p = c.seat.player
	}
	cells := e.frames.Cells(c.view, e.w, p)
	withHash := e.cfg.HashEvery > 0 && (tick+p)%uint32(e.cfg.HashEvery) == 0
	return e.frames.ViewBody(c.view, c.acked, cur, cells, withHash)
}

// logEvents keeps this tick's events (encoded once) and forgets those no client can still
// need: a client's baseline trails by at most MaxLag ticks before it is closed.
func (e *Engine) logEvents(tick uint32) {
	if tick > e.cfg.MaxLag+1 {
		e.evlog.Forget(tick - e.cfg.MaxLag - 2)
	}
	e.ready.Events = e.evlog.Add(tick, e.w.Events())
}

// extra encodes what c gets beside the shared body: the events of the ticks after its
// baseline (or since it joined) that are addressed to it, then the result. nil when none.
func (e *Engine) extra(c *Client, tick uint32) []byte {
	var player uint32
	if c.seat != nil {
		player = c.seat.player
	}
	b := e.evlog.Append(nil, max(c.acked, c.firstTick-1), tick, player, false)
	if e.result != nil {
		b = append(b, e.result...)
	}
	return b
}
