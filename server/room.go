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

// seat is a player's place in a room: its inbox, its connection (nil while dropped) and its
// resume session. Room goroutine only, except in (shared with the connection's reader).
type seat struct {
	player      uint32
	in          *inbox
	conn        *conn
	session     string
	droppedAt   time.Time
	lastApplied uint32
	chargedTo   string // the remote IP whose MaxSeatsPerIP this seat counts against ("": none)
}

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
}

type roomCmd struct {
	kind   cmdKind
	c      *conn
	join   joinReq
	player uint32
	err    error
}

// Room is one match: a game's World stepped at the room's tick rate by one goroutine, the only
// writer of its state. Connections talk to it through commands and seat inboxes; it talks to
// them through mailboxes and control queues, and never waits on either.
type Room struct {
	id       string
	game     string
	config   []byte
	srv      *Server
	cfg      *Config
	log      *slog.Logger
	created  time.Time
	g        sim.Game
	w        *sim.World
	schema   *sim.Schema
	nInputs  int
	welcome  *pb.Welcome // template: schema and constants
	recorder Recorder

	mu      sync.Mutex // guards cmds, stopErr, wake
	cmds    []roomCmd
	stopErr error
	wake    chan struct{} // cap 1: a command or a stop is waiting
	done    chan struct{} // closed when the room has stopped

	// Published for GET /rooms and the server's counters.
	tickNow     atomic.Uint32
	nPlayers    atomic.Int32
	nSpectators atomic.Int32

	tickMu sync.Mutex // serializes ticks (the loop, or a test calling Tick)
	// Everything below belongs to whoever holds tickMu.
	stopped    bool
	clk        clock
	ring       []*sim.State
	enc        sim.Encoder
	pool       bufPool
	seats      map[uint32]*seat
	seatOrder  []*seat
	clients    []*conn
	statSubs   []*conn
	nextPlayer uint32
	busy       []roomCmd // commands being processed (swapped with cmds)
	inputs     []sim.Input
	resumes    []uint32 // players that resumed a held seat in this tick (the recording's marks)
	vals       []int32
	holdAt     []time.Time
	bases      []uint32
	bodyOf     []*frameBuf
	bodyBase   []uint32
	bodies     []*frameBuf
	bodyKeys   []uint32
	emptySince time.Time
	stats      []*pb.TickWork
	holds      []*pb.InputHold
	memSample  []rtmetrics.Sample
	recordErr  error
	wk         *waker       // wakes writers off this goroutine; nil with ManualTicks (set before the loop starts)
	marks      [8]writeMark // per tick mod 8, while measuring: when its frames were written

	recording atomic.Pointer[recordingStatus] // GET /rooms (recording.go); set by newRoom and record
}

// newRoom makes a room and its world (tick 0, Init run). It does not start the loop.
func newRoom(s *Server, id, game string, config []byte, f sim.Factory, now time.Time) (*Room, error) {
	cfg := &s.cfg
	g, err := f(uint32(cfg.TickRate), config)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errGameRejected, err)
	}
	schema := g.Schema()
	seed := seedFor(id, now)
	w := sim.NewWorld(schema, seed)
	if err := g.Init(w); err != nil {
		return nil, fmt.Errorf("%w: init: %v", errGameRejected, err)
	}
	st, in := schema.Proto()
	r := &Room{
		id: id, game: game, config: config, srv: s, cfg: cfg, created: now,
		log: cfg.Logger.With("room", id, "game", game),
		g:   g, w: w, schema: schema, nInputs: schema.NumInputs(),
		welcome: &pb.Welcome{Room: id, Game: game, TickRate: uint32(cfg.TickRate), State: st, Input: in,
			ReconnectGraceMs: uint32(cfg.ReconnectGrace / time.Millisecond), HashEvery: uint32(max(cfg.HashEvery, 0))},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
		seats: map[uint32]*seat{}, nextPlayer: 1, emptySince: now,
	}
	r.ring = make([]*sim.State, cfg.Ring)
	for i := range r.ring {
		r.ring[i] = sim.NewState(schema)
	}
	w.Snapshot(r.ring[0])
	r.clk = newClock(now, cfg.TickRate, cfg.MaxCatchup)
	if cfg.NewRecorder != nil {
		rec, err := cfg.NewRecorder(RoomInfo{ID: id, Game: game, Config: config, Seed: seed, TickRate: cfg.TickRate, Schema: schema, InputsPerTick: cfg.InputsPerTick, Ring: cfg.Ring})
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

// Done is closed when the room has stopped.
func (r *Room) Done() <-chan struct{} { return r.done }

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

// tick is one turn of the corridor: commands, drain, step, record, encode, hand off. A panic
// ends this room only (1011). It reports whether the room goes on.
func (r *Room) tick(now time.Time, late time.Duration) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("room panicked", "tick", r.w.Tick(), "panic", p, "stack", string(debug.Stack()))
			r.srv.m.roomPanics.Inc()
			r.finish(errRoomFailed)
			ok = false
		}
	}()
	var allocs0 uint64
	measuring := len(r.statSubs) > 0
	if measuring {
		allocs0 = r.readAllocs()
	}
	t0 := time.Now()
	r.inputs, r.vals, r.holdAt, r.resumes = r.inputs[:0], r.vals[:0], r.holdAt[:0], r.resumes[:0]
	r.expire(now) // before anything else appends: a freed seat's leave is this tick's input
	r.commands(now)
	r.drain(measuring)
	t1 := time.Now()
	tick := r.w.Step(r.g, r.inputs)
	t2 := time.Now()
	cur := r.ring[int(tick)%len(r.ring)]
	r.w.Snapshot(cur)
	r.record(tick, cur)
	r.encode(tick, cur)
	t3 := time.Now()
	r.handoff(tick, measuring)
	t4 := time.Now()
	r.tickNow.Store(tick)

	m := r.srv.m
	m.ticks.Inc()
	m.drain.Observe(t1.Sub(t0).Seconds())
	m.step.Observe(t2.Sub(t1).Seconds())
	m.encode.Observe(t3.Sub(t2).Seconds())
	m.handoff.Observe(t4.Sub(t3).Seconds())
	m.total.Observe(t4.Sub(t0).Seconds())
	if late > time.Second/time.Duration(4*r.cfg.TickRate) {
		m.lateTicks.Inc()
	}
	if measuring {
		r.sample(tick, t0, t1, t2, t3, t4, late, allocs0)
	}
	if len(r.clients) == 0 && len(r.seats) == 0 {
		if now.Sub(r.emptySince) >= r.cfg.RoomGrace {
			r.log.Info("room empty, disposed", "tick", tick)
			r.finish(nil)
			return false
		}
	} else {
		r.emptySince = now
	}
	return true
}

// commands applies queued joins, leaves, drops and kicks.
func (r *Room) commands(now time.Time) {
	r.mu.Lock()
	r.busy, r.cmds = r.cmds, r.busy[:0]
	r.mu.Unlock()
	for i := range r.busy {
		c := &r.busy[i]
		switch c.kind {
		case cmdJoin:
			if err := r.join(c.c, &c.join, now); err != nil {
				c.c.fail(err)
			}
		case cmdLeave:
			if s := c.c.seat.Load(); s != nil && r.seats[s.player] == s && s.conn == c.c {
				r.free(s)
			}
			r.detach(c.c, now)
		case cmdGone:
			r.detach(c.c, now)
		case cmdKick:
			if s := r.seats[c.player]; s != nil && s.conn != nil {
				s.conn.fail(c.err)
			}
		}
		*c = roomCmd{}
	}
	r.busy = r.busy[:0]
}

// join seats (or re-seats) a connection, queues its welcome, and adds it to this tick's frames.
func (r *Room) join(c *conn, j *joinReq, now time.Time) error {
	if c.isClosing() {
		return nil
	}
	var s *seat
	resumed := false
	switch {
	case j.resume && !j.spectator:
		s = r.seats[j.player]
		if s == nil || s.session != j.session {
			return errSuperseded
		}
		resumed = true
	case j.player != 0 && !j.spectator:
		if s = r.seats[j.player]; s != nil {
			resumed = true
		}
	}
	if s == nil && len(r.seats)+int(r.nSpectators.Load()) >= r.cfg.MaxPlayers {
		return ErrRoomFull
	}
	if s == nil && !j.spectator {
		var charged string
		if r.cfg.Auth == AuthAnonymous && r.cfg.MaxSeatsPerIP > 0 {
			if !r.srv.chargeSeat(c.ip) {
				return ErrTooManySeats
			}
			charged = c.ip
		}
		id := j.player
		if id == 0 {
			for r.seats[r.nextPlayer] != nil || r.nextPlayer == 0 {
				r.nextPlayer++
			}
			id = r.nextPlayer
			r.nextPlayer++
		}
		s = &seat{player: id, in: newInbox(r.cfg.Inbox, r.nInputs), chargedTo: charged}
		r.seats[id] = s
		r.seatOrder = append(r.seatOrder, s)
		r.inputs = append(r.inputs, sim.Input{Player: id, Kind: sim.InputJoin})
		r.nPlayers.Store(int32(len(r.seats)))
		r.srv.m.players.Inc()
		r.log.Info("player joined", "player", id, "tick", r.w.Tick()+1)
	}
	if s != nil && s.conn != nil && s.conn != c {
		old := s.conn
		old.fail(errReplaced)
		r.removeClient(old)
	}
	role := auth.RoleSpectator
	var player uint32
	if s != nil {
		s.conn = c
		s.session = auth.NewSession()
		s.droppedAt = time.Time{}
		player, role = s.player, auth.RolePlayer
	} else {
		r.nSpectators.Add(1)
	}
	tok, err := auth.Mint(r.srv.secret, auth.Claims{Kind: auth.KindResume, Room: r.id, Game: r.game, Player: player,
		Role: role, Expiry: now.Add(resumeTTL).Unix(), Session: sessionOf(s)})
	if err != nil {
		return fmt.Errorf("server: mint resume token: %w", err)
	}
	wm := proto.Clone(r.welcome).(*pb.Welcome)
	wm.PlayerId, wm.ResumeToken, wm.Tick, wm.Spectator, wm.Resumed = player, tok, r.w.Tick(), s == nil, resumed
	b, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: wm}})
	if err != nil {
		return fmt.Errorf("server: encode welcome: %w", err)
	}
	c.room.Store(r)
	if s != nil {
		c.seat.Store(s)
	} else {
		c.spectator.Store(true)
	}
	if !c.sendControl(b) { // queued before the first frame: a frame cannot overtake it
		return nil
	}
	base := uint32(0)
	if resumed && j.lastTick != 0 && r.inRing(j.lastTick, r.w.Tick()+1) {
		base = j.lastTick
	}
	c.mb.setBaseline(base)
	c.firstTick = r.w.Tick() + 1
	r.clients = append(r.clients, c)
	if j.wantStats {
		r.statSubs = append(r.statSubs, c)
	}
	if resumed {
		r.resumes = append(r.resumes, s.player)
	}
	return nil
}

func sessionOf(s *seat) string {
	if s == nil {
		return auth.NewSession()
	}
	return s.session
}

// inRing reports whether the ring still holds tick base for a frame to tick.
func (r *Room) inRing(base, tick uint32) bool {
	return base != 0 && base < tick && tick-base < uint32(len(r.ring)) && r.ring[int(base)%len(r.ring)].Tick() == base
}

// detach removes an ended connection; its seat (if still its own) is held for the grace.
func (r *Room) detach(c *conn, now time.Time) {
	if !r.removeClient(c) {
		return
	}
	if s := c.seat.Load(); s != nil {
		if s.conn == c {
			s.conn = nil
			s.droppedAt = now
		}
	} else if c.spectator.Load() {
		r.nSpectators.Add(-1)
	}
}

// removeClient drops c from the frame and stats lists; false if it was not there.
func (r *Room) removeClient(c *conn) bool {
	found := false
	for i, x := range r.clients {
		if x == c {
			last := len(r.clients) - 1
			r.clients[i], r.clients[last] = r.clients[last], nil
			r.clients = r.clients[:last]
			found = true
			break
		}
	}
	for i, x := range r.statSubs {
		if x == c {
			r.statSubs = append(r.statSubs[:i], r.statSubs[i+1:]...)
			break
		}
	}
	return found
}

// free removes a seat and its entity (a leave input this tick).
func (r *Room) free(s *seat) {
	delete(r.seats, s.player)
	r.uncharge(s)
	for i, x := range r.seatOrder {
		if x == s {
			r.seatOrder = append(r.seatOrder[:i], r.seatOrder[i+1:]...)
			break
		}
	}
	r.inputs = append(r.inputs, sim.Input{Player: s.player, Kind: sim.InputLeave})
	r.nPlayers.Store(int32(len(r.seats)))
	r.srv.m.players.Dec()
	r.log.Info("player left", "player", s.player, "tick", r.w.Tick()+1)
}

// uncharge gives a seat back to its address's MaxSeatsPerIP count.
func (r *Room) uncharge(s *seat) {
	if s.chargedTo != "" {
		r.srv.releaseSeat(s.chargedTo)
		s.chargedTo = ""
	}
}

// expire frees seats whose connection has been gone longer than the reconnect grace.
func (r *Room) expire(now time.Time) {
	for i := 0; i < len(r.seatOrder); i++ {
		s := r.seatOrder[i]
		if s.conn == nil && !s.droppedAt.IsZero() && now.Sub(s.droppedAt) >= r.cfg.ReconnectGrace {
			r.free(s)
			i--
		}
	}
}

// drain moves up to k inputs per seat, in seq order, into this tick's inputs. Values are
// copied into the room's arena so the inbox slots can be reused at once.
func (r *Room) drain(measuring bool) {
	k := r.cfg.InputsPerTick
	for _, s := range r.seatOrder {
		player := s.player
		s.in.take(k, func(p *pendingInput) {
			r.vals = append(r.vals, p.vals...)
			r.inputs = append(r.inputs, sim.Input{Player: player, Kind: sim.InputMove, Seq: p.seq})
			s.lastApplied = p.seq
			if measuring && len(r.holdAt) < maxHoldSamples {
				r.holdAt = append(r.holdAt, p.at)
			}
		})
	}
	// Point the moves' Values into the arena only now: appends above may have moved it.
	off := 0
	for i := range r.inputs {
		if r.inputs[i].Kind == sim.InputMove {
			r.inputs[i].Values = r.vals[off : off+r.nInputs : off+r.nInputs]
			off += r.nInputs
		}
	}
}

// record hands the tick to the recorder; a failure stops recording, not the match (unless
// recording is required).
func (r *Room) record(tick uint32, cur *sim.State) {
	if r.recorder == nil {
		return
	}
	if err := r.recorder.Tick(tick, r.inputs, r.resumes, cur); err != nil {
		r.log.Error("recording stopped", "tick", tick, "err", err)
		_ = r.recorder.Close("error: " + err.Error())
		r.recorder, r.recordErr = nil, err
		r.noteRecording(nil, err)
		if r.cfg.RequireRecording {
			r.stop(errRoomFailed) // the room ends before its next tick: 1011
		}
	}
}

// encode picks each client's frame: clients in step share the tick's delta from tick-1,
// encoded once; a client that fell behind gets a delta from its own baseline when the ring
// still holds it, else a full snapshot. Bodies are encoded once per distinct baseline.
func (r *Room) encode(tick uint32, cur *sim.State) {
	withHash := r.cfg.HashEvery > 0 && tick%uint32(r.cfg.HashEvery) == 0
	n := len(r.clients)
	r.bases, r.bodyOf, r.bodyBase = grow(r.bases, n), growp(r.bodyOf, n), grow(r.bodyBase, n)
	maxLag := r.cfg.maxLagTicks()
	for i, c := range r.clients {
		base, coalesced := c.mb.baseline()
		if coalesced {
			r.srv.m.coalesced.Inc()
		}
		if held := max(base, c.firstTick-1); tick-held > maxLag {
			c.fail(errTooSlow)
			c.kickStuckWriter()
		}
		key := uint32(0)
		if r.inRing(base, tick) {
			key = base
		}
		r.bodyOf[i], r.bodyBase[i] = r.body(key, tick, cur, withHash), key
	}
}

// body returns this tick's body from baseline key (0: snapshot), encoding it on first use.
func (r *Room) body(key, tick uint32, cur *sim.State, withHash bool) *frameBuf {
	for i, k := range r.bodyKeys {
		if k == key {
			return r.bodies[i]
		}
	}
	var base *sim.State
	if key != 0 {
		base = r.ring[int(key)%len(r.ring)]
	}
	f := r.pool.get()
	f.b = r.enc.AppendBody(f.b, base, cur, withHash)
	r.bodies = append(r.bodies, f)
	r.bodyKeys = append(r.bodyKeys, key)
	return f
}

// handoff puts each client's frame in its mailbox, then drops the room's own references.
// With a waker (the room's loop runs) the writers are woken by the waker's goroutine, not
// this one (see waker); with ManualTicks the room wakes them itself.
func (r *Room) handoff(tick uint32, measuring bool) {
	var mark *writeMark
	if measuring {
		mark = &r.marks[tick%uint32(len(r.marks))]
		mark.tick.Store(0) // no stale writer stamps it while it is reset
		mark.end.Store(0)
		mark.start.Store(mono())
		mark.tick.Store(tick)
	}
	wk := r.wk
	if wk != nil {
		wk.mu.Lock()
	}
	for i, c := range r.clients {
		var seq uint32
		if s := c.seat.Load(); s != nil {
			seq = s.lastApplied
		}
		if c.mb.store(frame{body: r.bodyOf[i], tick: tick, baseline: r.bodyBase[i], lastSeq: seq, mark: mark}) {
			if wk != nil {
				wk.queue(c.mb)
			} else {
				c.mb.wake()
			}
		}
		r.bodyOf[i] = nil
	}
	if wk != nil {
		wk.mu.Unlock()
		wk.kick()
	}
	for i, f := range r.bodies {
		f.release()
		r.bodies[i] = nil
	}
	r.bodies, r.bodyKeys = r.bodies[:0], r.bodyKeys[:0]
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
func (r *Room) sample(tick uint32, t0, t1, t2, t3, t4 time.Time, late time.Duration, allocs0 uint64) {
	allocs := r.readAllocs() - allocs0 // before this function allocates
	ns := func(d time.Duration) uint32 { return uint32(min(max(d, 0), time.Duration(1<<32-1))) }
	// The messages are reused from one Stats to the next (every field is set each time), so
	// measuring does not add the garbage it would then measure.
	var tw *pb.TickWork
	r.stats, tw = reuse(r.stats)
	tw.Tick, tw.DrainNs, tw.StepNs, tw.EncodeNs = tick, ns(t1.Sub(t0)), ns(t2.Sub(t1)), ns(t3.Sub(t2))
	tw.HandoffNs, tw.Allocs, tw.LateUs = ns(t4.Sub(t3)), uint32(allocs), ns(late/time.Microsecond)
	tw.StartUnixUs, tw.Clients = t0.UnixMicro(), uint32(len(r.clients))
	tw.PrevWritesNs = 0
	if prev := &r.marks[(tick-1)%uint32(len(r.marks))]; prev.tick.Load() == tick-1 {
		if end := prev.end.Load(); end > 0 {
			tw.PrevWritesNs = ns(time.Duration(end - prev.start.Load()))
		}
	}
	for _, at := range r.holdAt {
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
		reason := "closed"
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
		for _, c := range r.clients {
			c.fail(err)
		}
	}
	r.srv.m.players.Sub(float64(len(r.seats)))
	for _, s := range r.seatOrder {
		r.uncharge(s)
	}
	r.clients, r.statSubs = nil, nil
	r.srv.removeRoom(r)
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

func growp[T any](s []*T, n int) []*T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]*T, n, n+n/2+8)
}

// Test hooks (cheap, safe from any goroutine).

// seatsSnapshot returns the seat of player id (tests; takes the tick lock).
func (r *Room) seatsSnapshot(id uint32) *seat {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	return r.seats[id]
}

func (r *Room) clientCount() int {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	return len(r.clients)
}

func (r *Room) stateHash() uint64 {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	return r.w.Hash()
}
