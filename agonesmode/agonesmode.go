// Package agonesmode runs a ticksync server as an Agones game server (`serve -agones`): it
// tells the SDK sidecar (package agones) the server is Ready once it listens, pings Health
// while every room ticks, keeps the GameServer's List of room ids and its Counter of players in
// step with the server's rooms, creates the rooms an allocation adds to the List, returns an
// Allocated server that has held no room for a while to Ready, and turns SIGTERM into a drain
// (docs/operations.md, "Run under Agones").
//
// Every sidecar call is made from one goroutine (Run's), which reconciles the server's rooms
// with the List whenever something changes: a room created or closed (the server's hooks), a
// player count changed, the GameServer changed (the watch), or a timer is due. Health pings
// have their own goroutine so that a slow List call never delays them.
package agonesmode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/server"
)

// ConfigAnnotation prefixes the GameServer annotation holding a room's config: the allocation
// that adds room X to the List sets config.ticksync.dev/X to the room's config (JSON).
const ConfigAnnotation = "config.ticksync.dev/"

// Idle actions (Config.IdleAction).
const (
	IdleReady    = "ready"
	IdleShutdown = "shutdown"
)

// tombTTL is how long a room id this server disposed of (or refused) is not created again from
// the List: a watch line written before its removal may still be on its way.
const tombTTL = 10 * time.Second

// DrainingLabel is the SDK label a draining server sets; on the GameServer it reads
// "agones.dev/sdk-draining": "true" (Agones prefixes SDK labels). New-room allocations exclude
// it (matchExpressions DoesNotExist), so a draining server gets no new room.
const DrainingLabel = "draining"

// callTimeout bounds one sidecar call of the reconcile loop (the client retries within it).
const callTimeout = 5 * time.Second

// Config configures the Agones mode. Zero durations take the defaults in brackets.
type Config struct {
	// Client talks to the SDK sidecar (required).
	Client *agones.Client
	// List is the GameServer List of room ids (default "rooms").
	List string
	// Counter is the GameServer Counter of players ("": none).
	Counter string
	// Game is the game of the rooms an allocation creates (required).
	Game string
	// Capacity, when positive, is set as the List's capacity at start (at most 1000, Agones'
	// limit): the server's room limit.
	Capacity int64
	// JoinDeadline disposes of a room an allocation created when nobody has joined it that long
	// after (30s).
	JoinDeadline time.Duration
	// Idle is how long an Allocated server may hold no room before IdleAction (60s).
	Idle time.Duration
	// IdleAction is IdleReady (back to Ready, the default) or IdleShutdown.
	IdleAction string
	// Health is the interval of health pings (2s).
	Health time.Duration
	// Stall: health pings stop while a room has not finished a tick for this long plus its
	// tick interval (1s).
	Stall time.Duration
	// CounterEvery is the least time between two Counter updates (1s): joins and leaves are
	// batched, not sent one by one.
	CounterEvery time.Duration
	// AwaitRoom is how long a join naming a room this server does not hold waits for an
	// allocation to bring it (2s): the lobby answers a player as soon as Agones has added the
	// room to the List, which reaches this server a moment later.
	AwaitRoom time.Duration
	// DrainGrace is how long a drain waits for the players to leave before the shutdown (20s).
	DrainGrace time.Duration
	// ShutdownTimeout bounds the server's shutdown after the drain (10s).
	ShutdownTimeout time.Duration
	// Logger receives the logs (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now); the server's own clock should be the same.
	Now func() time.Time
}

func (c *Config) setDefaults() error {
	if c.Client == nil {
		return errors.New("agonesmode: no sidecar client")
	}
	if c.Game == "" {
		return errors.New("agonesmode: no game for allocated rooms")
	}
	if c.List == "" {
		c.List = "rooms"
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.JoinDeadline, 30*time.Second)
	def(&c.Idle, 60*time.Second)
	def(&c.Health, 2*time.Second)
	def(&c.Stall, time.Second)
	def(&c.CounterEvery, time.Second)
	def(&c.AwaitRoom, 2*time.Second)
	def(&c.DrainGrace, 20*time.Second)
	def(&c.ShutdownTimeout, 10*time.Second)
	switch c.IdleAction {
	case "":
		c.IdleAction = IdleReady
	case IdleReady, IdleShutdown:
	default:
		return fmt.Errorf("agonesmode: idle action %q: want %s or %s", c.IdleAction, IdleReady, IdleShutdown)
	}
	c.Capacity = min(c.Capacity, 1000)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Fleet is one server's Agones mode. Make it with New, install its hooks in the server's
// config with Hook before server.New, then Run it once the server listens.
type Fleet struct {
	cfg Config
	log *slog.Logger
	sdk *agones.Client

	mu     sync.Mutex
	wake   chan struct{}       // cap 1: something changed
	gs     *agones.GameServer  // the latest watched GameServer (nil before the first line)
	closed map[string]struct{} // rooms closed since the last reconcile (OnRoomClosed)
	live   map[string]bool     // rooms created and not closed (the hooks), for AwaitRoom
	born   chan struct{}       // closed and replaced whenever a room is created

	// Run's goroutine only.
	srv       *server.Server
	tomb      map[string]time.Time // room ids disposed or refused: not created from the List until then
	added     map[string]bool      // room ids added to the List, not yet seen there
	sentCount int64                // the Counter's last value sent (-1: none)
	sentAt    time.Time
	idleSince time.Time // Allocated with no room since (zero: not idle)
	idleDone  bool      // the idle action ran for this idle stretch
	allocated bool      // Allocate was asked while Ready (until the state changes)
}

// New checks cfg and returns the Agones mode.
func New(cfg Config) (*Fleet, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Fleet{cfg: cfg, log: cfg.Logger.With("agones", true), sdk: cfg.Client, wake: make(chan struct{}, 1),
		closed: map[string]struct{}{}, live: map[string]bool{}, born: make(chan struct{}),
		tomb: map[string]time.Time{}, added: map[string]bool{}, sentCount: -1}, nil
}

// Hook sets the room hooks of sc (keeping any already there) so the fleet hears of every room
// created or closed and every player count change.
func (f *Fleet) Hook(sc *server.Config) {
	chain := func(prev func(*server.Room), fn func(*server.Room)) func(*server.Room) {
		return func(r *server.Room) {
			if prev != nil {
				prev(r)
			}
			fn(r)
		}
	}
	sc.OnRoomCreated = chain(sc.OnRoomCreated, func(r *server.Room) {
		f.mu.Lock()
		f.live[r.ID()] = true
		close(f.born)
		f.born = make(chan struct{})
		f.mu.Unlock()
		f.nudge()
	})
	sc.OnPlayersChanged = chain(sc.OnPlayersChanged, func(*server.Room) { f.nudge() })
	sc.OnRoomClosed = chain(sc.OnRoomClosed, func(r *server.Room) {
		f.mu.Lock()
		f.closed[r.ID()] = struct{}{}
		delete(f.live, r.ID())
		f.mu.Unlock()
		f.nudge()
	})
	sc.AwaitRoom = f.awaitRoom
}

// awaitRoom waits, at most AwaitRoom, for room id to be created here (server.Config.AwaitRoom):
// a player the lobby sent as soon as the allocation added id to the List may arrive before the
// watch brings the change. It also reads the GameServer once, in case the watch lags behind
// the sidecar.
func (f *Fleet) awaitRoom(id string) bool {
	deadline := time.NewTimer(f.cfg.AwaitRoom)
	defer deadline.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), f.cfg.AwaitRoom)
	defer cancel()
	if gs, err := f.sdk.GameServer(ctx); err == nil && slices.Contains(gs.Status.Lists[f.cfg.List].Values, id) {
		f.setGS(gs)
	}
	for {
		f.mu.Lock()
		ok, born := f.live[id], f.born
		f.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-born:
		case <-deadline.C:
			return false
		}
	}
}

// nudge wakes Run's loop; it never blocks.
func (f *Fleet) nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run marks the GameServer Ready and keeps it in step with srv until ctx ends (SIGTERM), then
// drains: srv.Drain, a wait until no player is left or DrainGrace has passed, srv.Shutdown
// (bounded by ShutdownTimeout), the rooms out of the List, the Counter to 0, and the SDK's
// Shutdown. Call it once srv listens (Serve runs). When it returns srv is shut down: after the
// drain, or at once when the server cannot become Ready (no sidecar before ctx ends, no List
// or Counter declared); it returns that error or the shutdown's.
func (f *Fleet) Run(ctx context.Context, srv *server.Server) error {
	f.srv = srv
	gs, err := f.start(ctx)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(err, srv.Shutdown(sctx))
	}
	cfg := &f.cfg
	f.log.Info("agones: ready", "gameserver", gs.ObjectMeta.Name, "list", cfg.List, "counter", cfg.Counter)

	// The watch and the pings outlive ctx: they go on through the drain.
	live, stop := context.WithCancel(context.WithoutCancel(ctx))
	// Stopping the pings lets one in flight finish (its request may otherwise reach the sidecar
	// after Shutdown, which must be the last call).
	noPings := make(chan struct{})
	stopPings := func() { close(noPings) }
	var wg, pings sync.WaitGroup
	wg.Add(1)
	pings.Add(1)
	go func() { defer wg.Done(); _ = f.sdk.Watch(live, f.setGS) }()
	go func() { defer pings.Done(); f.healthLoop(live, noPings) }()
	defer func() { stop(); wg.Wait(); pings.Wait() }()

	f.loop(ctx, time.Time{})
	// The pings stop before the SDK's Shutdown, which must be the last call.
	return f.drain(live, func() { stopPings(); pings.Wait() })
}

// start reads the GameServer, checks its List and Counter, sets the List's capacity and calls
// Ready.
func (f *Fleet) start(ctx context.Context) (*agones.GameServer, error) {
	cfg := &f.cfg
	gs, err := f.sdk.GameServer(ctx) // retries until the sidecar answers
	if err != nil {
		return nil, fmt.Errorf("agonesmode: read the GameServer: %w", err)
	}
	if _, ok := gs.Status.Lists[cfg.List]; !ok {
		return nil, fmt.Errorf("agonesmode: GameServer %s declares no list %q (spec.lists)", gs.ObjectMeta.Name, cfg.List)
	}
	if _, ok := gs.Status.Counters[cfg.Counter]; cfg.Counter != "" && !ok {
		return nil, fmt.Errorf("agonesmode: GameServer %s declares no counter %q (spec.counters)", gs.ObjectMeta.Name, cfg.Counter)
	}
	if cfg.Capacity > 0 && gs.Status.Lists[cfg.List].Capacity != cfg.Capacity {
		if err := f.sdk.SetListCapacity(ctx, cfg.List, cfg.Capacity); err != nil {
			return nil, fmt.Errorf("agonesmode: set the capacity of list %q: %w", cfg.List, err)
		}
	}
	f.setGS(gs)
	if err := f.sdk.Ready(ctx); err != nil {
		return nil, fmt.Errorf("agonesmode: ready: %w", err)
	}
	return gs, nil
}

// setGS keeps the watched GameServer and wakes the loop.
func (f *Fleet) setGS(gs *agones.GameServer) {
	f.mu.Lock()
	f.gs = gs
	f.mu.Unlock()
	f.nudge()
}

// loop reconciles on every change and timer until ctx ends, or, in a drain (until non-zero),
// until no player is left or until passes.
func (f *Fleet) loop(ctx context.Context, until time.Time) {
	for {
		now := f.cfg.Now()
		next := f.reconcile(now)
		if !until.IsZero() {
			if f.srv.Players() == 0 || !now.Before(until) {
				return
			}
			next = earliest(next, until)
		}
		if !f.wait(ctx, next, now) {
			return
		}
	}
}

// wait waits for a change, for next (zero: no timer) or for ctx's end (false).
func (f *Fleet) wait(ctx context.Context, next, now time.Time) bool {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := time.NewTimer(max(next.Sub(now), 0))
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-f.wake:
	case <-timer:
	}
	return true
}

// drain is SIGTERM's path (docs/operations.md, "Drain"); stopPings ends the health pings before
// the SDK's Shutdown, which is the last call.
func (f *Fleet) drain(ctx context.Context, stopPings func()) error {
	cfg := &f.cfg
	f.srv.Drain()
	// Label the GameServer (agones.dev/sdk-draining): the lobby's allocations of new rooms
	// skip servers that carry it, so a draining server is not handed a room it would refuse.
	f.call("label the GameServer draining", func(ctx context.Context) error { return f.sdk.SetLabel(ctx, DrainingLabel, "true") })
	f.log.Info("agones: draining", "players", f.srv.Players(), "grace", cfg.DrainGrace)
	f.loop(ctx, cfg.Now().Add(cfg.DrainGrace))
	f.log.Info("agones: drained; shutting down", "players_left", f.srv.Players())
	sctx, cancel := context.WithTimeout(ctx, cfg.ShutdownTimeout)
	err := f.srv.Shutdown(sctx)
	cancel()
	f.sentAt = time.Time{} // the Counter's 0 goes out now
	f.reconcile(cfg.Now())
	stopPings()
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if serr := f.sdk.Shutdown(cctx); serr != nil {
		f.log.Error("agones: shutdown", "err", serr)
		err = errors.Join(err, serr)
	}
	return err
}

// healthLoop pings Health every interval while no room is stalled, until ctx ends or stop is
// closed (a ping in flight then finishes first).
func (f *Fleet) healthLoop(ctx context.Context, stop <-chan struct{}) {
	t := time.NewTicker(f.cfg.Health)
	defer t.Stop()
	var stalled []string
	for {
		now := f.cfg.Now()
		st := f.srv.Stalled(now, f.cfg.Stall)
		switch {
		case len(st) > 0 && !slices.Equal(st, stalled):
			f.log.Error("agones: rooms stalled, health pings stopped", "rooms", st)
		case len(st) == 0 && len(stalled) > 0:
			f.log.Info("agones: rooms tick again, health pings resume")
		}
		stalled = st
		if len(st) == 0 {
			hctx, cancel := context.WithTimeout(ctx, f.cfg.Health)
			if err := f.sdk.Health(hctx); err != nil && ctx.Err() == nil {
				f.log.Warn("agones: health ping", "err", err)
			}
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// reconcile brings the List, the Counter and the GameServer's state in line with the server's
// rooms, and creates the rooms allocations added; it returns when it next has something to do
// (zero: nothing until a change).
func (f *Fleet) reconcile(now time.Time) (next time.Time) {
	cfg := &f.cfg
	f.mu.Lock()
	gs := f.gs
	closed := f.closed
	f.closed = map[string]struct{}{}
	f.mu.Unlock()

	held := map[string]bool{}
	for _, r := range f.srv.Rooms() {
		held[r.ID()] = true
	}
	listed := map[string]bool{}
	for _, id := range gs.Status.Lists[cfg.List].Values {
		listed[id] = true
	}
	for id := range closed {
		if held[id] {
			continue // closed and made again (a join-create of the same id)
		}
		f.tomb[id] = now.Add(tombTTL)
		delete(f.added, id)
		f.removeValue(id)
	}
	for id, until := range f.tomb {
		if !now.Before(until) {
			delete(f.tomb, id)
		}
	}
	for _, id := range gs.Status.Lists[cfg.List].Values {
		switch {
		case held[id]:
			delete(f.added, id) // seen there
		case !f.tomb[id].IsZero():
			next = earliest(next, f.tomb[id]) // a stale line, or else created then
		default:
			if f.createAllocated(gs, id) {
				held[id] = true
			}
		}
	}
	for id := range held {
		if !listed[id] && !f.added[id] {
			f.addValue(id)
		}
	}
	next = earliest(next, f.syncCounter(now, gs))
	next = earliest(next, f.syncState(gs, now, len(held)))
	return next
}

// createAllocated creates room id, which an allocation added to the List, with the config of
// its annotation; a room that cannot be created leaves the List.
func (f *Fleet) createAllocated(gs *agones.GameServer, id string) bool {
	var config []byte
	if a, ok := gs.ObjectMeta.Annotations[ConfigAnnotation+id]; ok {
		config = []byte(a)
	}
	_, err := f.srv.CreateRoomWith(id, f.cfg.Game, config, server.RoomOptions{JoinDeadline: f.cfg.JoinDeadline})
	switch {
	case err == nil:
		f.log.Info("agones: room created for an allocation", "room", id, "game", f.cfg.Game, "join_deadline", f.cfg.JoinDeadline)
		return true
	case errors.Is(err, server.ErrRoomExists):
		return true // a join made it meanwhile
	}
	f.log.Error("agones: room of an allocation not created; removed from the list", "room", id, "err", err)
	f.tomb[id] = f.cfg.Now().Add(tombTTL)
	f.removeValue(id)
	return false
}

func (f *Fleet) addValue(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := f.sdk.AddListValue(ctx, f.cfg.List, id)
	switch {
	case err == nil, errors.Is(err, agones.ErrValueExists):
		f.added[id] = true
		delete(f.tomb, id)
	default:
		f.log.Error("agones: add a room to the list", "room", id, "list", f.cfg.List, "err", err)
	}
}

func (f *Fleet) removeValue(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := f.sdk.RemoveListValue(ctx, f.cfg.List, id); err != nil && !errors.Is(err, agones.ErrValueMissing) {
		f.log.Error("agones: remove a room from the list", "room", id, "list", f.cfg.List, "err", err)
	}
}

// syncCounter sends the player count (capped at the Counter's capacity, which Agones
// enforces) when it changed, at most once per CounterEvery; it returns when a change not sent
// yet is due.
func (f *Fleet) syncCounter(now time.Time, gs *agones.GameServer) time.Time {
	if f.cfg.Counter == "" {
		return time.Time{}
	}
	n := int64(f.srv.Players())
	if c, ok := gs.Status.Counters[f.cfg.Counter]; ok {
		n = min(n, c.Capacity)
	}
	if n == f.sentCount {
		return time.Time{}
	}
	if due := f.sentAt.Add(f.cfg.CounterEvery); now.Before(due) {
		return due
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	f.sentAt = now
	if err := f.sdk.SetCounter(ctx, f.cfg.Counter, n); err != nil {
		f.log.Error("agones: set the player counter", "counter", f.cfg.Counter, "count", n, "err", err)
		return now.Add(f.cfg.CounterEvery) // try again then
	}
	f.sentCount = n
	return time.Time{}
}

// syncState keeps the GameServer Allocated while it holds rooms (a room a join made on a Ready
// server must not be scaled down) and applies the idle rule: Allocated with no room for Idle
// means IdleAction. It returns when the idle rule is due.
func (f *Fleet) syncState(gs *agones.GameServer, now time.Time, rooms int) time.Time {
	state := gs.Status.State
	if state != agones.StateReady {
		f.allocated = false
	} else if rooms > 0 && !f.allocated && !f.srv.Draining() {
		f.allocated = true
		f.call("allocate", f.sdk.Allocate)
	}
	if rooms > 0 || state != agones.StateAllocated {
		f.idleSince, f.idleDone = time.Time{}, false
		return time.Time{}
	}
	if f.idleSince.IsZero() {
		f.idleSince = now
	}
	if f.idleDone || f.srv.Draining() {
		return time.Time{}
	}
	if due := f.idleSince.Add(f.cfg.Idle); now.Before(due) {
		return due
	}
	f.idleDone = true
	f.log.Info("agones: no room for the idle time", "idle", f.cfg.Idle, "action", f.cfg.IdleAction)
	if f.cfg.IdleAction == IdleShutdown {
		f.call("shutdown", f.sdk.Shutdown)
	} else {
		f.call("ready", f.sdk.Ready)
	}
	return time.Time{}
}

// call makes one lifecycle call, logging a failure.
func (f *Fleet) call(what string, fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		f.log.Error("agones: "+what, "err", err)
	}
}

// earliest returns the earlier of two times, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
