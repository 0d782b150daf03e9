package agonesmode_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/agones"
	"github.com/ticksync/ticksync/agones/agonestest"
	"github.com/ticksync/ticksync/agonesmode"
	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// waitTimeout bounds every wait.
const waitTimeout = 10 * time.Second

// gate blocks the Step of every room of the test's game while closed (a wedged room).
type gate struct {
	mu sync.Mutex
	ch chan struct{} // nil: open
}

func (g *gate) close() { g.mu.Lock(); g.ch = make(chan struct{}); g.mu.Unlock() }
func (g *gate) open()  { g.mu.Lock(); close(g.ch); g.ch = nil; g.mu.Unlock() }
func (g *gate) pass() {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// gated is arena whose Step waits at the gate.
type gated struct {
	sim.Game
	g *gate
}

func (g gated) Step(w *sim.World, tick uint32, in []sim.Input) {
	g.g.pass()
	g.Game.Step(w, tick, in)
}

// fleetEnv is a server in Agones mode against a fake sidecar: arena (gated) is its only game,
// recordings go to dir.
type fleetEnv struct {
	t     *testing.T
	sc    *agonestest.Sidecar
	srv   *server.Server
	addr  string
	gate  *gate
	games *server.Registry
	dir   string
	stop  context.CancelFunc // SIGTERM
	done  chan error         // Run's result
}

// startFleet starts the server and its Agones mode; mod adjusts both configs.
func startFleet(t *testing.T, mod func(*agonesmode.Config, *server.Config)) *fleetEnv {
	t.Helper()
	e := &fleetEnv{t: t, gate: &gate{}, dir: t.TempDir(), done: make(chan error, 1)}
	e.sc = agonestest.NewSidecar(t, agones.GameServer{
		ObjectMeta: agones.ObjectMeta{Name: "gs-1", Namespace: "default"},
		Status: agones.Status{
			Lists:    map[string]agones.ListStatus{"rooms": {Capacity: 10}},
			Counters: map[string]agones.CounterStatus{"players": {Capacity: 1000}},
		},
	})
	games := server.NewRegistry()
	require.NoError(t, games.Register(arena.Name, func(hz uint32, cfg []byte) (sim.Game, error) {
		g, err := arena.New(hz, cfg)
		return gated{g, e.gate}, err
	}))
	e.games = games
	rec, err := server.NewFileRecorder(server.FileRecorderOptions{Dir: e.dir, NoSync: true})
	require.NoError(t, err)
	scfg := server.Config{Games: games, MaxRooms: 16, NewRecorder: rec}
	fcfg := agonesmode.Config{
		Client: agones.New(e.sc.URL(), agones.WithBackoff(time.Millisecond, 20*time.Millisecond)),
		List:   "rooms", Counter: "players", Game: arena.Name, Capacity: 16,
		Health: 20 * time.Millisecond, Stall: 200 * time.Millisecond, Idle: time.Hour, DrainGrace: time.Hour,
	}
	if mod != nil {
		mod(&fcfg, &scfg)
	}
	fl, err := agonesmode.New(fcfg)
	require.NoError(t, err)
	fl.Hook(&scfg)
	e.srv, err = server.New(scfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.addr = ln.Addr().String()
	go func() { _ = e.srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	go func() { e.done <- fl.Run(ctx, e.srv) }()
	t.Cleanup(func() {
		cancel()
		e.gate.mu.Lock()
		if e.gate.ch != nil {
			close(e.gate.ch)
			e.gate.ch = nil
		}
		e.gate.mu.Unlock()
		_ = e.srv.Shutdown(context.Background()) // ends the drain of a test that did not wait for it
		select {
		case <-e.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return")
		}
	})
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitGS waits until cond holds for the sidecar's GameServer.
func (e *fleetEnv) waitGS(what string, cond func(gs agones.GameServer) bool) {
	e.t.Helper()
	require.NoError(e.t, e.sc.WaitFor(ctxT(e.t), cond), "%s; GameServer: %+v", what, e.sc.GameServer().Status)
}

func (e *fleetEnv) rooms() []string { return e.sc.GameServer().Status.Lists["rooms"].Values }

func (e *fleetEnv) listHas(id string) func(agones.GameServer) bool {
	return func(gs agones.GameServer) bool { return slices.Contains(gs.Status.Lists["rooms"].Values, id) }
}

func (e *fleetEnv) listLacks(id string) func(agones.GameServer) bool {
	return func(gs agones.GameServer) bool { return !slices.Contains(gs.Status.Lists["rooms"].Values, id) }
}

func (e *fleetEnv) state(s string) func(agones.GameServer) bool {
	return func(gs agones.GameServer) bool { return gs.Status.State == s }
}

// allocate is an allocation adding room id (with its config annotation, when config is set),
// as the lobby's GameServerAllocation does: Allocated or Ready servers alike.
func (e *fleetEnv) allocate(id, config string) {
	e.t.Helper()
	ann := map[string]string{}
	if config != "" {
		ann[agonesmode.ConfigAnnotation+id] = config
	}
	ok := false
	for _, st := range []string{agones.StateAllocated, agones.StateReady} {
		if !ok {
			ok = e.sc.TryAllocate(agonestest.Selector{GameServerState: st}, map[string][]string{"rooms": {id}}, ann)
		}
	}
	require.True(e.t, ok, "allocation of %s", id)
}

// dial joins room on the server.
func (e *fleetEnv) dial(o client.Options) (*client.Client, error) {
	return client.Dial(ctxT(e.t), "ws://"+e.addr+"/ws", o)
}

func (e *fleetEnv) join(room string, create bool) *client.Client {
	e.t.Helper()
	c, err := e.dial(client.Options{Room: room, CreateIfMissing: create})
	require.NoError(e.t, err)
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// count returns how many logged requests have method and path.
func count(reqs []agonestest.Request, method, path string) int {
	n := 0
	for _, r := range reqs {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// TestReadyAndHealth: the server reads its GameServer, sets the List's capacity to its room
// limit, calls Ready, and pings Health with no room at all.
func TestReadyAndHealth(t *testing.T) {
	e := startFleet(t, nil)
	e.waitGS("Ready", e.state(agones.StateReady))
	require.NoError(t, e.sc.WaitRequests(ctxT(t), func(r []agonestest.Request) bool { return count(r, "POST", "/health") >= 3 }))
	var paths []string
	for _, r := range e.sc.Requests() {
		if r.Path != "/health" && r.Path != "/watch/gameserver" {
			paths = append(paths, r.Method+" "+r.Path)
		}
	}
	require.GreaterOrEqual(t, len(paths), 3)
	assert.Equal(t, []string{"GET /gameserver", "PATCH /v1beta1/lists/rooms", "POST /ready"}, paths[:3])
	assert.Equal(t, int64(16), e.sc.GameServer().Status.Lists["rooms"].Capacity, "the List's capacity is -max-rooms")
}

// TestStalledRoomStopsHealth: a room stuck in its game's Step stops the health pings (the
// fleet would mark the server Unhealthy); once it ticks again, they resume.
func TestStalledRoomStopsHealth(t *testing.T) {
	e := startFleet(t, nil)
	e.waitGS("Ready", e.state(agones.StateReady))
	_, err := e.srv.CreateRoom("w", arena.Name, nil)
	require.NoError(t, err)
	require.NoError(t, e.sc.WaitRequests(ctxT(t), func(r []agonestest.Request) bool { return count(r, "POST", "/health") >= 3 }))
	require.True(t, e.sc.Healthy(time.Second), "pings while the room ticks")

	e.gate.close()
	require.Eventually(t, func() bool { return !e.sc.Healthy(400 * time.Millisecond) }, waitTimeout, 5*time.Millisecond,
		"health pings go on while the room is stuck")
	assert.NotEmpty(t, e.srv.Stalled(time.Now(), 200*time.Millisecond))
	stopped := e.sc.HealthPings()
	e.gate.open()
	require.NoError(t, e.sc.WaitRequests(ctxT(t), func(r []agonestest.Request) bool { return count(r, "POST", "/health") > stopped }),
		"pings resume once the room ticks")
}

// TestAllocationCreatesRoom: a room id an allocation adds to the List becomes a room of the
// game with the config of its annotation; one whose config the game refuses leaves the List.
func TestAllocationCreatesRoom(t *testing.T) {
	e := startFleet(t, nil)
	e.waitGS("Ready", e.state(agones.StateReady))
	e.allocate("r1", `{"npcs":3}`)
	require.Eventually(t, func() bool { _, ok := e.srv.Room("r1"); return ok }, waitTimeout, time.Millisecond)
	r, _ := e.srv.Room("r1")
	assert.Equal(t, arena.Name, r.Game())
	assert.Len(t, r.StateView().Classes["npc"], 3, "the annotation's config")

	e.allocate("bad", `{"npcs": "many"}`)
	e.waitGS("the bad room leaves the list", e.listLacks("bad"))
	_, ok := e.srv.Room("bad")
	assert.False(t, ok)
	e.allocate("r2", "")
	require.Eventually(t, func() bool { _, ok := e.srv.Room("r2"); return ok }, waitTimeout, time.Millisecond)
	r2, _ := e.srv.Room("r2")
	assert.Len(t, r2.StateView().Classes["npc"], arena.DefaultNPCs, "no annotation: the game's defaults")
	assert.ElementsMatch(t, []string{"r1", "r2"}, e.rooms())
}

// TestUnjoinedRoomLeavesList: a room allocated for players who never come is disposed at the
// join deadline and leaves the List; its recording is deleted. A room someone joined stays.
// TestJoinBeforeTheWatch: a player the lobby sends at once may join before the watch brings
// the allocation; the join waits (AwaitRoom) and gets the room instead of 4004. A room no
// allocation brings is still 4004, after the wait.
func TestJoinBeforeTheWatch(t *testing.T) {
	e := startFleet(t, func(fc *agonesmode.Config, _ *server.Config) { fc.AwaitRoom = waitTimeout })
	e.waitGS("Ready", e.state(agones.StateReady))
	reads := count(e.sc.Requests(), "GET", "/gameserver")
	joined := make(chan error, 1)
	go func() {
		c, err := e.dial(client.Options{Room: "early"})
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		joined <- err
	}()
	// The join is waiting once it has read the GameServer; only then does the allocation land.
	require.NoError(t, e.sc.WaitRequests(ctxT(t), func(reqs []agonestest.Request) bool {
		return count(reqs, "GET", "/gameserver") > reads
	}))
	_, ok := e.srv.Room("early")
	require.False(t, ok, "no room before the allocation")
	e.allocate("early", "")
	require.NoError(t, <-joined)

	e2 := startFleet(t, func(fc *agonesmode.Config, _ *server.Config) { fc.AwaitRoom = 50 * time.Millisecond })
	e2.waitGS("Ready", e2.state(agones.StateReady))
	_, err := e2.dial(client.Options{Room: "never"})
	var ce *client.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, uint16(4004), ce.Code)
}

func TestUnjoinedRoomLeavesList(t *testing.T) {
	e := startFleet(t, func(c *agonesmode.Config, _ *server.Config) { c.JoinDeadline = 1500 * time.Millisecond })
	e.waitGS("Ready", e.state(agones.StateReady))
	e.allocate("kept", "")
	e.allocate("lonely", "")
	require.Eventually(t, func() bool { _, ok := e.srv.Room("kept"); return ok }, waitTimeout, time.Millisecond)
	e.join("kept", false)
	e.waitGS("the unjoined room leaves the list", e.listLacks("lonely"))
	_, ok := e.srv.Room("lonely")
	assert.False(t, ok)
	assert.Equal(t, []string{"kept"}, e.rooms())
	files, err := filepath.Glob(filepath.Join(e.dir, "lonely-*"))
	require.NoError(t, err)
	assert.Empty(t, files, "no recording of the unjoined room")
	_, ok = e.srv.Room("kept")
	assert.True(t, ok)
}

// TestJoinCreatedRoomAndPlayers: a room a join creates goes into the List (and the Ready
// server becomes Allocated, out of the scale-down's reach); the players Counter follows the
// players, batched; when they leave, the room is disposed and leaves the List.
func TestJoinCreatedRoomAndPlayers(t *testing.T) {
	const every = 300 * time.Millisecond
	e := startFleet(t, func(c *agonesmode.Config, s *server.Config) {
		c.CounterEvery = every
		s.RoomGrace = 50 * time.Millisecond
	})
	e.waitGS("Ready", e.state(agones.StateReady))
	t0 := time.Now()
	var cs []*client.Client
	for range 5 {
		cs = append(cs, e.join("j1", true))
	}
	joined := time.Since(t0)
	e.waitGS("the join-created room in the list", e.listHas("j1"))
	e.waitGS("Allocated", e.state(agones.StateAllocated))
	e.waitGS("5 players counted", func(gs agones.GameServer) bool { return gs.Status.Counters["players"].Count == 5 })
	patches := count(e.sc.Requests(), "PATCH", "/v1beta1/counters/players")
	// One update per CounterEvery at most: the start's 0, then one per started period.
	assert.LessOrEqual(t, patches, 2+int(joined/every), "counter updates batched (%d in %v)", patches, joined)

	for _, c := range cs {
		require.NoError(t, c.Leave())
	}
	e.waitGS("the empty room leaves the list", e.listLacks("j1"))
	e.waitGS("0 players counted", func(gs agones.GameServer) bool { return gs.Status.Counters["players"].Count == 0 })
}

// TestIdleBackToReady: an Allocated server that has held no room for -agones-idle goes back
// to Ready; with the shutdown action it shuts down instead.
func TestIdleBackToReady(t *testing.T) {
	for _, action := range []string{agonesmode.IdleReady, agonesmode.IdleShutdown} {
		t.Run(action, func(t *testing.T) {
			e := startFleet(t, func(c *agonesmode.Config, _ *server.Config) {
				c.JoinDeadline, c.Idle, c.IdleAction = 100*time.Millisecond, 200*time.Millisecond, action
			})
			e.waitGS("Ready", e.state(agones.StateReady))
			e.allocate("r", "")
			e.waitGS("Allocated", e.state(agones.StateAllocated))
			e.waitGS("the unjoined room leaves", e.listLacks("r"))
			want := agones.StateReady
			if action == agonesmode.IdleShutdown {
				want = agones.StateShutdown
			}
			e.waitGS("idle action", e.state(want))
		})
	}
}

// TestDrain: SIGTERM drains. New joins get 1001 "server draining", /healthz 503, an allocated
// room id is refused and leaves the List; the player in plays on and resumes its seat; after
// the grace the rest get 1001 "server shutting down", the rooms leave the List, the counter
// goes to 0, the recordings verify, and the SDK's Shutdown is called.
func TestDrain(t *testing.T) {
	e := startFleet(t, func(c *agonesmode.Config, _ *server.Config) { c.DrainGrace = 3 * time.Second })
	e.waitGS("Ready", e.state(agones.StateReady))
	e.allocate("d", "")
	require.Eventually(t, func() bool { _, ok := e.srv.Room("d"); return ok }, waitTimeout, time.Millisecond)
	a := e.join("d", false)
	e.waitGS("1 player counted", func(gs agones.GameServer) bool { return gs.Status.Counters["players"].Count == 1 })

	e.stop() // SIGTERM
	require.Eventually(t, e.srv.Draining, waitTimeout, time.Millisecond)
	resp, err := http.Get("http://" + e.addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "draining\n", string(body))
	e.waitGS("labelled draining, so the lobby allocates no new room here", func(gs agones.GameServer) bool {
		return gs.ObjectMeta.Labels["agones.dev/sdk-"+agonesmode.DrainingLabel] == "true"
	})

	_, err = e.dial(client.Options{Room: "d"})
	var ce *client.CloseError
	require.ErrorAs(t, err, &ce, "a new join is refused")
	assert.Equal(t, uint16(1001), ce.Code)
	assert.Equal(t, "server draining", ce.Reason)
	e.allocate("late", "")
	e.waitGS("an allocation during the drain leaves the list", e.listLacks("late"))

	_, err = a.SendInput(100, 0)
	require.NoError(t, err)
	require.NoError(t, a.WaitFrame(ctxT(t), func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq == 1 }))
	b, err := a.Reconnect(ctxT(t)) // a resume of the seat: welcome, same player
	require.NoError(t, err)
	assert.True(t, b.Welcome().GetResumed())
	assert.Equal(t, a.PlayerID(), b.PlayerID())

	select {
	case <-b.Done():
	case <-time.After(waitTimeout):
		t.Fatal("the player was not closed after the drain grace")
	}
	assert.Equal(t, uint16(1001), b.CloseInfo().Code)
	assert.Equal(t, "server shutting down", b.CloseInfo().Reason)
	select {
	case err := <-e.done:
		require.NoError(t, err, "Run's drain and shutdown")
		e.done <- err // for the cleanup
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after the drain")
	}
	gs := e.sc.GameServer()
	assert.Equal(t, agones.StateShutdown, gs.Status.State, "SDK Shutdown called")
	assert.Empty(t, gs.Status.Lists["rooms"].Values, "the rooms left the list")
	assert.Zero(t, gs.Status.Counters["players"].Count)
	reqs := e.sc.Requests()
	assert.Equal(t, "/shutdown", reqs[len(reqs)-1].Path, "Shutdown is the last call")

	files, err := filepath.Glob(filepath.Join(e.dir, "d-*.tsrec"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	f, err := os.Open(files[0])
	require.NoError(t, err)
	defer f.Close()
	fi, err := f.Stat()
	require.NoError(t, err)
	rd, err := replay.Open(f, fi.Size())
	require.NoError(t, err)
	require.True(t, rd.Complete(), "recording closed: %v", rd.Err())
	assert.Equal(t, "server: shutting down", rd.End().GetReason())
	require.NoError(t, replay.Verify(rd, e.games.Lookup, nil))
}

// TestDrainEndsWhenPlayersLeave: the drain does not wait out its grace once nobody is left.
func TestDrainEndsWhenPlayersLeave(t *testing.T) {
	e := startFleet(t, nil) // DrainGrace: an hour
	e.waitGS("Ready", e.state(agones.StateReady))
	a := e.join("x", true)
	e.waitGS("in the list", e.listHas("x"))
	e.stop()
	require.Eventually(t, e.srv.Draining, waitTimeout, time.Millisecond)
	require.NoError(t, a.Leave())
	select {
	case err := <-e.done:
		require.NoError(t, err)
		e.done <- err
	case <-time.After(waitTimeout):
		t.Fatal("the drain waits for its grace with no player left")
	}
	e.waitGS("Shutdown", e.state(agones.StateShutdown))
}

// TestNoListRefusesToStart: a GameServer without the List stops Run before Ready, and the
// server is shut down.
func TestNoListRefusesToStart(t *testing.T) {
	sc := agonestest.NewSidecar(t, agones.GameServer{ObjectMeta: agones.ObjectMeta{Name: "gs-1"}})
	games := server.NewRegistry()
	require.NoError(t, games.Register(arena.Name, arena.New))
	fl, err := agonesmode.New(agonesmode.Config{Client: agones.New(sc.URL()), Game: arena.Name})
	require.NoError(t, err)
	scfg := server.Config{Games: games}
	fl.Hook(&scfg)
	srv, err := server.New(scfg)
	require.NoError(t, err)
	err = fl.Run(ctxT(t), srv)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `declares no list "rooms"`)
	_, err = srv.CreateRoom("x", arena.Name, nil)
	assert.True(t, errors.Is(err, server.ErrShutdown), "the server is shut down: %v", err)
	assert.False(t, strings.Contains(strings.Join(pathsOf(sc.Requests()), " "), "/ready"), "never Ready")
}

func pathsOf(reqs []agonestest.Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Path)
	}
	return out
}

// TestCounterCappedAtCapacity: more players than the Counter's capacity set it to the
// capacity, never to a count Agones refuses.
func TestCounterCappedAtCapacity(t *testing.T) {
	e := startFleet(t, func(c *agonesmode.Config, _ *server.Config) { c.CounterEvery = time.Millisecond })
	e.sc.Update(func(gs *agones.GameServer) { gs.Status.Counters["players"] = agones.CounterStatus{Capacity: 2} })
	e.waitGS("Ready", e.state(agones.StateReady))
	for range 3 {
		e.join("full", true)
	}
	require.Eventually(t, func() bool { return e.srv.Players() == 3 }, waitTimeout, time.Millisecond)
	e.waitGS("the counter at its capacity", func(gs agones.GameServer) bool { return gs.Status.Counters["players"].Count == 2 })
	pings := e.sc.HealthPings() // the third player's update, if any, is long sent 5 pings (100 ms) later
	require.NoError(t, e.sc.WaitRequests(ctxT(t), func(r []agonestest.Request) bool { return count(r, "POST", "/health") >= pings+5 }))
	for _, r := range e.sc.Requests() {
		if r.Path == "/v1beta1/counters/players" {
			assert.NotContains(t, r.Body, `"3"`, "a count above the capacity was sent")
		}
	}
}
