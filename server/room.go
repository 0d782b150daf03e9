package server

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// maxRoomIDLen bounds room ids and game names.
const maxRoomIDLen = 64

// statsEvery is how many ticks one Stats message covers at most (one second at 20 Hz).
const statsEvery = 20

// maxHoldSamples bounds the input hold samples one Stats message carries.
const maxHoldSamples = 4096

// resumeTTL is a resume token's own lifetime. The reconnect grace is enforced by the seat
// (held ReconnectGrace after its connection drops, then freed), so the token only needs to
// outlive any session.
const resumeTTL = 24 * time.Hour

type cmdKind uint8

const (
	cmdJoin  cmdKind = iota + 1
	cmdLeave         // the player left on purpose: free the seat now
	cmdGone          // the connection ended: hold the seat for the grace
	cmdKick          // admin: close a player's connection with a code
)

// joinReq is a join as the connection's reader resolved it: identity from the token (or none).
type joinReq struct {
	player    uint32 // token's player id (0: anonymous or none)
	spectator bool
	resume    bool
	session   string
	lastTick  uint32
	wantStats bool
	meta      []byte // the player's metadata for the game (token claim or join field)
	quick     bool   // routed here by quick play: the room's promised seat is released when applied
	views     bool   // the client applies frame pieces (Join.views)
	follow    uint32 // a spectator's followed player (Join.follow)
}

type roomCmd struct {
	kind   cmdKind
	c      *conn
	join   joinReq
	player uint32
	err    error
}

// Room drives one match: it owns the match engine (server/internal/engine: the World, the
// Game, seats, baselines, the encoder), runs it at the room's tick rate on one goroutine, and
// carries out what each tick decides: welcomes and closes to connections, frames to their
// mailboxes, the tick to the recorder, stats to subscribers. Connections talk to it through
// commands and seat inboxes; it talks to them through mailboxes and control queues, and never
// waits on either.
type Room struct {
	id       string
	game     string
	config   []byte
	srv      *Server
	cfg      *Config
	log      *slog.Logger
	created  time.Time
	schema   *sim.Schema // immutable: readers clamp inputs with it
	nInputs  int
	welcome  *pb.Welcome // template: schema and constants
	recorder Recorder
	tickRate int               // the game's own rate (sim.TickRater), else Config.TickRate
	labels   map[string]string // set at creation, never changed (quick play matches them)
	seats    int               // players quick play seats here: the game's sim.Seater, else MaxPlayers

	mu      sync.Mutex // guards cmds, stopErr, wake
	cmds    []roomCmd
	stopErr error
	wake    chan struct{} // cap 1: a command or a stop is waiting
	done    chan struct{} // closed when the room has stopped

	// Published for GET /rooms and the server's counters.
	tickNow     atomic.Uint32
	nPlayers    atomic.Int32
	nSpectators atomic.Int32
	// promised counts the quick-play joins routed here and not yet applied (quickplay.go):
	// quick play counts them as taken seats, so two at once cannot both take the last one.
	promised atomic.Int32
	over     atomic.Bool // the game ended the match: quick play sends no one here
	// lastTick is when the room last finished a tick (its creation before the first), in Unix
	// nanoseconds of Config.Now: Server.Stalled reads it.
	lastTick atomic.Int64

	tickMu sync.Mutex // serializes ticks (the loop, or a test calling Tick)
	// Everything below belongs to whoever holds tickMu.
	stopped    bool
	clk        clock
	eng        *engine.Engine
	statSubs   []*conn
	busy       []roomCmd // commands being processed (swapped with cmds)
	laps       [2]time.Time
	nlap       int
	lapFn      func() // r.lap, bound once (a method value per tick would allocate)
	emptySince time.Time
	stats      []*pb.TickWork
	holds      []*pb.InputHold
	memSample  []rtmetrics.Sample
	recordErr  error
	tickData   TickData // reused for every recorder call
	pastFn     func() []*sim.State
	overAt     time.Time    // when the game ended the match (zero while it goes on)
	joinBy     time.Time    // RoomOptions.JoinDeadline: disposed if still unjoined then (zero: none, or someone came)
	quickIn    int32        // quick-play joins handed to the engine this tick (released from promised once counted)
	wk         *waker       // wakes writers off this goroutine; nil with ManualTicks (set before the loop starts)
	marks      [8]writeMark // per tick mod 8, while measuring: when its frames were written

	recording atomic.Pointer[recordingStatus] // GET /rooms (recording.go); set by newRoom and record
}

// seatLimiter charges anonymous seats to their remote address (MaxSeatsPerIP), server-wide.
type seatLimiter struct{ s *Server }

func (l seatLimiter) Acquire(ip string) bool { return l.s.chargeSeat(ip) }
func (l seatLimiter) Release(ip string)      { l.s.releaseSeat(ip) }

// newRoom makes a room and its world (tick 0, Init run). It does not start the loop.
func newRoom(s *Server, id, game string, config []byte, f sim.Factory, now time.Time) (*Room, error) {
	cfg := &s.cfg
	g, err := f(uint32(cfg.TickRate), config)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGameRejected, err)
	}
	tickRate := cfg.TickRate
	if tr, ok := g.(sim.TickRater); ok {
		if hz := int(tr.TickRate()); hz != 0 {
			if hz < minTickRate || hz > maxTickRate {
				return nil, fmt.Errorf("%w: the game's tick rate %d Hz is out of range %d..%d", errGameRejected, hz, minTickRate, maxTickRate)
			}
			tickRate = hz
		}
	}
	schema := g.Schema()
	seed := seedFor(id, now)
	w := sim.NewWorld(schema, seed)
	if err := g.Init(w); err != nil {
		return nil, fmt.Errorf("%w: init: %v", errGameRejected, err)
	}
	ecfg := engine.Config{Ring: cfg.Ring, MaxPlayers: cfg.MaxPlayers, Inbox: cfg.Inbox, InputsPerTick: cfg.InputsPerTick,
		HashEvery: max(cfg.HashEvery, 0), ReconnectGrace: cfg.ReconnectGrace, MaxLag: cfg.maxLagTicks(tickRate)}
	if cfg.Auth == AuthAnonymous && cfg.MaxSeatsPerIP > 0 {
		ecfg.Seats = seatLimiter{s}
	}
	eng, err := engine.New(ecfg, g, w)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGameRejected, err)
	}
	st, in := schema.Proto()
	r := &Room{
		id: id, game: game, config: config, srv: s, cfg: cfg, created: now,
		log:    cfg.Logger.With("room", id, "game", game),
		schema: schema, nInputs: schema.NumInputs(), eng: eng, tickRate: tickRate,
		welcome: &pb.Welcome{Room: id, Game: game, TickRate: uint32(tickRate), State: st, Input: in,
			ReconnectGraceMs: uint32(cfg.ReconnectGrace / time.Millisecond), HashEvery: uint32(max(cfg.HashEvery, 0)),
			Grid: gridOf(g), Config: config},
		wake: make(chan struct{}, 1), done: make(chan struct{}), emptySince: now,
	}
	r.lapFn = r.lap
	r.lastTick.Store(now.UnixNano())
	r.clk = newClock(now, tickRate, cfg.MaxCatchup)
	r.seats = cfg.MaxPlayers
	if st, ok := g.(sim.Seater); ok && st.Seats() > 0 && st.Seats() < r.seats {
		r.seats = st.Seats()
	}
	hist := sim.HistoryDepth(g)
	if hist > 0 {
		r.pastFn = w.PastStates
	}
	if cfg.NewRecorder != nil {
		rec, err := cfg.NewRecorder(RoomInfo{ID: id, Game: game, Config: config, Seed: seed, TickRate: tickRate, Schema: schema,
			InputsPerTick: cfg.InputsPerTick, Ring: cfg.Ring, History: hist})
		r.noteRecording(rec, err)
		if err != nil && cfg.RequireRecording {
			return nil, fmt.Errorf("server: room %s: recorder: %w", id, err)
		}
		if err != nil {
			r.log.Warn("recording off", "err", err)
		}
		r.recorder = rec
	}
	return r, nil
}

// seedFor derives a world seed from the room id and its start time (recorded, so a replay
// uses the same one).
func seedFor(id string, now time.Time) uint32 {
	return uint32(sim.FNV64([]byte(id))) ^ uint32(now.UnixNano()) ^ uint32(now.UnixNano()>>32)
}

// ID returns the room id.
func (r *Room) ID() string { return r.id }

// Game returns the room's game name.
func (r *Room) Game() string { return r.game }

// CurrentTick returns the last tick the room ran.
func (r *Room) CurrentTick() uint32 { return r.tickNow.Load() }

// StateView returns the room's world after its last tick as JSON-ready values (GET
// /rooms/{id}/state). It waits for a running tick to end; it allocates a copy of the world.
func (r *Room) StateView() sim.StateView {
	st := sim.NewState(r.schema)
	r.tickMu.Lock()
	r.eng.World().Snapshot(st)
	r.tickMu.Unlock()
	return st.View()
}

// Done is closed when the room has stopped.
func (r *Room) Done() <-chan struct{} { return r.done }

// Players returns the seats held after the room's last tick: connected players and those
// within the reconnect grace (spectators not counted).
func (r *Room) Players() int { return int(r.nPlayers.Load()) }

// Spectators returns the spectators connected after the room's last tick.
func (r *Room) Spectators() int { return int(r.nSpectators.Load()) }

// TickRate returns the room's tick rate in Hz (the game's own, else Config.TickRate).
func (r *Room) TickRate() int { return r.tickRate }

// LastTick returns when the room last finished a tick (Config.Now's time; its creation before
// the first).
func (r *Room) LastTick() time.Time { return time.Unix(0, r.lastTick.Load()) }

// enqueue hands a command to the room; false when the room has stopped.
func (r *Room) enqueue(c roomCmd) bool {
	r.mu.Lock()
	if r.stopErr != nil {
		r.mu.Unlock()
		return false
	}
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// stop asks the room to end with err (the close code its connections get).
func (r *Room) stop(err error) {
	r.mu.Lock()
	if r.stopErr == nil {
		r.stopErr = err
	}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Room) stopping() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopErr
}

// run is the room's goroutine in production: it runs the ticks its clock says are due, then
// sleeps until the next one (or a command, or a stop). It is the only place a room reads the
// wall clock.
func (r *Room) run() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-r.wake:
		}
		if err := r.stopping(); err != nil {
			r.tickMu.Lock()
			r.finish(err)
			r.tickMu.Unlock()
			return
		}
		now := r.cfg.Now()
		n, skipped := r.clk.due(now)
		if skipped > 0 {
			r.srv.m.skipped.Add(float64(skipped))
		}
		for i := uint64(0); i < n; i++ {
			late := now.Sub(r.clk.at(r.clk.done + r.clk.skipped - n + 1 + i))
			if !r.tickOnce(now, late) {
				return
			}
			now = r.cfg.Now()
		}
		timer.Reset(max(r.clk.next().Sub(r.cfg.Now()), 0))
	}
}

// Tick runs one tick now. With Config.ManualTicks it is how a room advances (tests drive
// thousands of ticks without waiting for them); it returns false once the room has stopped.
func (r *Room) Tick() bool {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	if r.stopped {
		return false
	}
	if err := r.stopping(); err != nil {
		r.finish(err)
		return false
	}
	return r.tick(r.cfg.Now(), 0)
}

// tickOnce runs one tick under tickMu (the loop's path).
func (r *Room) tickOnce(now time.Time, late time.Duration) bool {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	if r.stopped {
		return false
	}
	return r.tick(now, late)
}

// tick is one turn of the corridor: the queued commands become engine events, the engine
// ticks (drain, step, encode), then the room carries out its Ready: welcomes, closes, the
// record, the hand-off of every frame. A panic ends this room only (1011). It reports whether
// the room goes on.
func (r *Room) tick(now time.Time, late time.Duration) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("room panicked", "tick", r.eng.CurrentTick(), "panic", p, "stack", string(debug.Stack()))
			r.srv.m.roomPanics.Inc()
			r.finish(errRoomFailed)
			ok = false
		}
		r.lastTick.Store(now.UnixNano()) // Server.Stalled: this turn has finished
	}()
	if !r.overAt.IsZero() {
		return r.afterMatch(now)
	}
	var allocs0 uint64
	measuring := len(r.statSubs) > 0
	if measuring {
		allocs0 = r.readAllocs()
	}
	t0 := time.Now()
	r.commands()
	r.acknowledge()
	r.eng.Measure(measuring)
	r.nlap = 0
	rd := r.eng.Tick(now, r.lapFn)
	tick := rd.Tick
	if rd.Result != nil {
		r.over.Store(true) // before the frame with the result leaves: quick play sends no one here
	}
	r.record(rd)
	t3 := time.Now()
	r.carryOut(rd, now)
	// Published before any frame leaves: a client that sees its first frame finds itself
	// counted in GET /rooms.
	if n := int32(r.eng.Players()); r.nPlayers.Swap(n) != n && r.cfg.OnPlayersChanged != nil {
		r.cfg.OnPlayersChanged(r)
	}
	r.nSpectators.Store(int32(r.eng.Spectators()))
	r.releasePromised()
	r.handoff(rd, measuring)
	r.eng.Advance()
	t4 := time.Now()
	t1, t2 := r.laps[0], r.laps[1]
	r.tickNow.Store(tick)

	m := r.srv.m
	m.ticks.Inc()
	m.drain.Observe(t1.Sub(t0).Seconds())
	m.step.Observe(t2.Sub(t1).Seconds())
	m.encode.Observe(t3.Sub(t2).Seconds())
	m.handoff.Observe(t4.Sub(t3).Seconds())
	m.total.Observe(t4.Sub(t0).Seconds())
	if late > time.Second/time.Duration(4*r.tickRate) {
		m.lateTicks.Inc()
	}
	if measuring {
		r.sample(rd, t0, t1, t2, t3, t4, late, allocs0)
	}
	if rd.Result != nil {
		r.overAt = now
		r.log.Info("match over", "tick", tick, "result", rd.Result.Summary, "winners", rd.Result.Winners)
		return true
	}
	if r.eng.Empty() {
		if now.Sub(r.emptySince) >= r.cfg.RoomGrace {
			r.log.Info("room empty, disposed", "tick", tick)
			r.finish(nil)
			return false
		}
		if !r.joinBy.IsZero() && !now.Before(r.joinBy) {
			r.log.Info("nobody joined by the deadline, disposed", "tick", tick)
			r.finish(errUnjoined)
			return false
		}
	} else {
		r.emptySince = now
		r.joinBy = time.Time{}
	}
	return true
}

// afterMatch is a tick of a room whose game ended the match: nothing steps; the last frame
// (with the result) reaches the clients' sockets during MatchOverGrace, then every connection
// is closed with 4002 "match over". Joins meanwhile are refused the same way.
func (r *Room) afterMatch(now time.Time) bool {
	r.commands() // joins are refused there; the engine, which no longer ticks, queues the rest
	r.releasePromised()
	if now.Sub(r.overAt) >= r.cfg.MatchOverGrace {
		r.finish(errMatchOver)
		return false
	}
	return true
}

// lap stamps the end of the engine's drain and step phases (Engine.Tick calls it).
func (r *Room) lap() {
	if r.nlap < len(r.laps) {
		r.laps[r.nlap] = time.Now()
		r.nlap++
	}
}

// commands hands the queued joins, leaves, drops and kicks to the engine (it applies them at
// the start of its tick, after freeing expired seats).
func (r *Room) commands() {
	r.mu.Lock()
	r.busy, r.cmds = r.cmds, r.busy[:0]
	r.mu.Unlock()
	for i := range r.busy {
		c := &r.busy[i]
		switch c.kind {
		case cmdJoin:
			if c.join.quick {
				r.quickIn++
			}
			if c.c.isClosing() {
				break
			}
			if !r.overAt.IsZero() {
				c.c.fail(errMatchOver)
				break
			}
			c.c.wantStats = c.join.wantStats
			r.eng.Join(c.c.ec, engine.JoinReq{Player: c.join.player, Spectator: c.join.spectator,
				Resume: c.join.resume, Session: c.join.session, NewSession: auth.NewSession(),
				LastTick: c.join.lastTick, Addr: c.c.ip, Meta: c.join.meta, Views: c.join.views, Follow: c.join.follow})
		case cmdLeave:
			r.unsubscribe(c.c)
			r.eng.Leave(c.c.ec)
		case cmdGone:
			r.unsubscribe(c.c)
			r.eng.Drop(c.c.ec)
		case cmdKick:
			r.eng.Kick(c.player, c.err)
		}
		*c = roomCmd{}
	}
	r.busy = r.busy[:0]
}

// acknowledge tells the engine each client's baseline: the tick of the last frame its writer
// took. Reading it empties the mailbox (a frame the writer did not take is replaced by this
// tick's, computed from what the client really holds).
func (r *Room) acknowledge() {
	for _, ec := range r.eng.ClientList() {
		base, coalesced := ec.Peer.(*conn).mb.baseline()
		if coalesced {
			r.srv.m.coalesced.Inc()
		}
		ec.Ack(base)
	}
}

// carryOut sends the tick's welcomes (before any frame: the control queue drains first) and
// closes, and accounts for the seats taken and freed.
func (r *Room) carryOut(rd *engine.Ready, now time.Time) {
	for i := range rd.Welcomes {
		w := &rd.Welcomes[i]
		c := w.Client.Peer.(*conn)
		if err := r.welcomeTo(c, w, now); err != nil {
			c.fail(err)
		}
	}
	for _, cl := range rd.Closes {
		c := cl.Client.Peer.(*conn)
		c.fail(cl.Err)
		if cl.Err == engine.ErrTooSlow {
			c.kickStuckWriter()
		}
	}
	m := r.srv.m
	for _, p := range rd.Joined {
		m.players.Inc()
		r.log.Info("player joined", "player", p, "tick", rd.Tick)
	}
	for _, p := range rd.Left {
		m.players.Dec()
		r.log.Info("player left", "player", p, "tick", rd.Tick)
	}
}

// welcomeTo queues the welcome of a join the engine accepted, with a resume token for its
// seat, and points the connection at the room and its seat.
func (r *Room) welcomeTo(c *conn, w *engine.Welcome, now time.Time) error {
	role := auth.RoleSpectator
	if w.Seat != nil {
		role = auth.RolePlayer
	}
	tok, err := auth.Mint(r.srv.secret, auth.Claims{Kind: auth.KindResume, Room: r.id, Game: r.game, Player: w.Player,
		Role: role, Expiry: now.Add(resumeTTL).Unix(), Session: w.Session})
	if err != nil {
		return fmt.Errorf("server: mint resume token: %w", err)
	}
	wm := proto.Clone(r.welcome).(*pb.Welcome)
	wm.PlayerId, wm.ResumeToken, wm.Tick, wm.Spectator, wm.Resumed = w.Player, tok, w.Tick, w.Seat == nil, w.Resumed
	b, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: wm}})
	if err != nil {
		return fmt.Errorf("server: encode welcome: %w", err)
	}
	c.room.Store(r)
	if w.Seat != nil {
		c.seat.Store(w.Seat)
	} else {
		c.spectator.Store(true)
	}
	c.mb.setBaseline(w.Baseline)
	if !c.sendControl(b) { // queued before the first frame: a frame cannot overtake it
		return nil
	}
	if c.wantStats {
		r.statSubs = append(r.statSubs, c)
	}
	return nil
}

// unsubscribe drops c from the stats subscribers.
func (r *Room) unsubscribe(c *conn) {
	for i, x := range r.statSubs {
		if x == c {
			r.statSubs = append(r.statSubs[:i], r.statSubs[i+1:]...)
			return
		}
	}
}

// record hands the tick to the recorder; a failure stops recording, not the match (unless
// recording is required).
func (r *Room) record(rd *engine.Ready) {
	if r.recorder == nil {
		return
	}
	r.tickData = TickData{Tick: rd.Tick, Inputs: rd.Inputs, Reconnects: rd.Resumes, State: rd.State,
		Events: rd.Events, Result: rd.Result, Past: r.pastFn, Empty: r.eng.Empty()}
	err := r.recorder.Tick(&r.tickData)
	r.tickData = TickData{}
	if err != nil {
		r.log.Error("recording stopped", "tick", rd.Tick, "err", err)
		_ = r.recorder.Close("error: " + err.Error())
		r.recorder, r.recordErr = nil, err
		r.noteRecording(nil, err)
		if r.cfg.RequireRecording {
			r.stop(errRoomFailed) // the room ends before its next tick: 1011
		}
	}
}

// handoff puts each client's frame in its mailbox (which takes its own reference to the
// body). With a waker (the room's loop runs) the writers are woken by the waker's goroutine,
// not this one (see waker); with ManualTicks the room wakes them itself.
func (r *Room) handoff(rd *engine.Ready, measuring bool) {
	var mark *writeMark
	if measuring {
		mark = &r.marks[rd.Tick%uint32(len(r.marks))]
		mark.tick.Store(0) // no stale writer stamps it while it is reset
		mark.end.Store(0)
		mark.start.Store(mono())
		mark.tick.Store(rd.Tick)
	}
	wk := r.wk
	if wk != nil {
		wk.mu.Lock()
	}
	for i := range rd.Frames {
		f := &rd.Frames[i]
		mb := f.Client.Peer.(*conn).mb
		if mb.store(frame{body: f.Body, extra: f.Extra, tick: f.Tick, baseline: f.Baseline, lastSeq: f.LastSeq, mark: mark}) {
			if wk != nil {
				wk.queue(mb)
			} else {
				mb.wake()
			}
		}
	}
	if wk != nil {
		wk.mu.Unlock()
		wk.kick()
	}
}

// readAllocs reads the process's cumulative heap allocations (only with a stats subscriber).
func (r *Room) readAllocs() uint64 {
	if r.memSample == nil {
		r.memSample = []rtmetrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	}
	rtmetrics.Read(r.memSample)
	if r.memSample[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return r.memSample[0].Value.Uint64()
}

// sample records one tick's work for stats subscribers and sends a Stats message every
// statsEvery ticks.
func (r *Room) sample(rd *engine.Ready, t0, t1, t2, t3, t4 time.Time, late time.Duration, allocs0 uint64) {
	allocs := r.readAllocs() - allocs0 // before this function allocates
	tick := rd.Tick
	ns := func(d time.Duration) uint32 { return uint32(min(max(d, 0), time.Duration(1<<32-1))) }
	// The messages are reused from one Stats to the next (every field is set each time), so
	// measuring does not add the garbage it would then measure.
	var tw *pb.TickWork
	r.stats, tw = reuse(r.stats)
	tw.Tick, tw.DrainNs, tw.StepNs, tw.EncodeNs = tick, ns(t1.Sub(t0)), ns(t2.Sub(t1)), ns(t3.Sub(t2))
	tw.HandoffNs, tw.Allocs, tw.LateUs = ns(t4.Sub(t3)), uint32(allocs), ns(late/time.Microsecond)
	tw.StartUnixUs, tw.Clients = t0.UnixMicro(), uint32(len(rd.Frames))
	tw.PrevWritesNs = 0
	if prev := &r.marks[(tick-1)%uint32(len(r.marks))]; prev.tick.Load() == tick-1 {
		if end := prev.end.Load(); end > 0 {
			tw.PrevWritesNs = ns(time.Duration(end - prev.start.Load()))
		}
	}
	for _, at := range rd.Holds {
		if len(r.holds) < maxHoldSamples {
			var h *pb.InputHold
			r.holds, h = reuse(r.holds)
			h.WaitUs, h.HoldUs = ns(t0.Sub(at)/time.Microsecond), ns(t4.Sub(at)/time.Microsecond)
		}
	}
	if len(r.stats) < statsEvery {
		return
	}
	b, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Stats{Stats: &pb.Stats{Ticks: r.stats, Holds: r.holds}}})
	r.stats, r.holds = r.stats[:0], r.holds[:0]
	if err != nil {
		return
	}
	for _, c := range r.statSubs {
		c.sendControl(b)
	}
}

// finish ends the room: recorder closed first (data before connections), then every
// connection closed with err's code (nil: nobody is left to tell), then the room leaves the
// server. Called with tickMu held.
func (r *Room) finish(err error) {
	if r.stopped {
		return
	}
	r.stopped = true
	r.stop(cmpErr(err, errRoomClosed))
	if r.recorder != nil {
		reason := ReasonEmpty // err nil: disposed after RoomGrace with nobody in it
		if err != nil {
			reason = err.Error()
		}
		if cerr := r.recorder.Close(reason); cerr != nil {
			r.log.Error("recorder close", "err", cerr)
			r.noteRecording(nil, cerr)
		}
		r.recorder = nil
	}
	if err != nil {
		for _, ec := range r.eng.ClientList() {
			ec.Peer.(*conn).fail(err)
		}
	}
	r.srv.m.players.Sub(float64(r.eng.Players()))
	r.eng.ReleaseSeats()
	r.statSubs = nil
	r.srv.removeRoom(r)
	if h := r.cfg.OnRoomClosed; h != nil {
		h(r) // before done: whoever waits for the room (Shutdown) finds the hook run
	}
	close(r.done)
}

// reuse extends s by one element, reusing the message left past its length by an earlier
// round when there is one.
func reuse[T any](s []*T) ([]*T, *T) {
	n := len(s)
	if n < cap(s) {
		s = s[:n+1]
	} else {
		s = append(s, nil)
	}
	if s[n] == nil {
		s[n] = new(T)
	}
	return s, s[n]
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/2+8)
}

// gridOf returns the welcome's view grid of a game with views (nil without).
func gridOf(g sim.Game) *pb.ViewGrid {
	v, ok := g.(sim.Viewer)
	if !ok {
		return nil
	}
	gr := v.ViewGrid()
	return &pb.ViewGrid{Width: gr.Width, Height: gr.Height, Cell: gr.Size, Cols: uint32(gr.Cols()), Rows: uint32(gr.Rows())}
}
