package server

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// bomb is arena that panics at tick 3: a bug in one game must close only its room (1011).
type bomb struct{ sim.Game }

func (b bomb) Step(w *sim.World, tick uint32, in []sim.Input) {
	if tick == 3 {
		panic("boom")
	}
	b.Game.Step(w, tick, in)
}

func TestRoomPanicClosesOnlyThatRoom(t *testing.T) {
	games := arenaGames()
	require.NoError(t, games.Register("bomb", func(hz uint32, cfg []byte) (sim.Game, error) {
		g, err := arena.New(hz, cfg)
		return bomb{g}, err
	}))
	ts := startServer(t, Config{TickRate: 20, ManualTicks: true, Games: games}, nil)
	rb, err := ts.CreateRoom("b", "bomb", nil)
	require.NoError(t, err)
	ra, err := ts.CreateRoom("a", "arena", nil)
	require.NoError(t, err)
	cb, ca := ts.dial(t, dialOpts{}), ts.dial(t, dialOpts{})
	cb.join(&pb.Join{Room: "b"})
	ca.join(&pb.Join{Room: "a"})
	tickUntil(t, ra, "a joined", func() bool { return ca.tick() != 0 })
	tickUntil(t, rb, "b joined", func() bool { return cb.tick() != 0 })
	for rb.Tick() {
	}
	code, reason := cb.waitClose()
	assert.Equal(t, uint16(CodeInternal), code)
	assert.Equal(t, "internal error", reason)
	_, ok := ts.Room("b")
	assert.False(t, ok, "the failed room is gone")
	require.True(t, ra.Tick(), "the other room ticks on")
	want := ra.CurrentTick()
	ca.waitFor("a served", func(c *tclient) bool { return c.mirror.Tick() == want })
	assert.Equal(t, 1.0, counterValue(t, ts.m.roomPanics))
}

// TestEmptyRoomDisposed: a room with nobody in it (no connection, no held seat) ends after
// -room-grace.
func TestEmptyRoomDisposed(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, err := New(withArena(Config{ManualTicks: true, RoomGrace: 30 * time.Second, Now: clock}))
	require.NoError(t, err)
	r, err := s.CreateRoom("idle", "arena", nil)
	require.NoError(t, err)
	require.True(t, r.Tick())
	advance(29 * time.Second)
	require.True(t, r.Tick())
	advance(time.Second)
	assert.False(t, r.Tick(), "disposed")
	_, ok := s.Room("idle")
	assert.False(t, ok)
	<-r.Done()
}

// fakeRecorder records what the room hands it.
type fakeRecorder struct {
	mu     sync.Mutex
	ticks  []uint32
	joins  int
	closed string
}

func (f *fakeRecorder) Tick(t *TickData) error {
	tick, inputs, st := t.Tick, t.Inputs, t.State
	f.mu.Lock()
	defer f.mu.Unlock()
	if st.Tick() != tick {
		panic("state is not the tick's")
	}
	f.ticks = append(f.ticks, tick)
	for _, in := range inputs {
		if in.Kind == sim.InputJoin {
			f.joins++
		}
	}
	return nil
}

func (f *fakeRecorder) Close(reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = reason
	return nil
}

func TestRecorderHook(t *testing.T) {
	rec := &fakeRecorder{}
	var info RoomInfo
	cfg := anonCfg()
	cfg.NewRecorder = func(ri RoomInfo) (Recorder, error) { info = ri; return rec, nil }
	ts := startServer(t, cfg, nil)
	r, err := ts.CreateRoom("rec", "arena", []byte(`{"npcs":3}`))
	require.NoError(t, err)
	assert.Equal(t, "rec", info.ID)
	assert.Equal(t, `{"npcs":3}`, string(info.Config))
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "rec"})
	tickUntil(t, r, "joined", func() bool { return a.tick() != 0 })
	ts.CloseRoom("rec")
	code, _ := a.waitClose()
	assert.Equal(t, uint16(CodeRoomClosed), code)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, tk := range rec.ticks {
		require.Equal(t, uint32(i+1), tk, "every tick, in order")
	}
	assert.Equal(t, 1, rec.joins)
	assert.NotEmpty(t, rec.closed)
}

// TestStatsForAdmin: an admin token's connection that sets want_stats gets Stats with every
// tick's phases; a player's want_stats is ignored.
func TestStatsForAdmin(t *testing.T) {
	cfg := Config{TickRate: 100, Auth: AuthToken, Secret: testSecret}
	ts := startServer(t, cfg, nil)
	admin := ts.dial(t, dialOpts{token: mint(t, auth.Claims{Room: auth.AnyRoom, Role: auth.RoleAdmin})})
	admin.join(&pb.Join{Room: "s", Game: "arena", CreateIfMissing: true, WantStats: true})
	w := admin.welcomed()
	assert.True(t, w.GetSpectator(), "an admin without a player id watches")
	player := ts.dial(t, dialOpts{token: mint(t, auth.Claims{Room: "s", Player: 9, Role: auth.RolePlayer})})
	player.join(&pb.Join{Room: "s", WantStats: true})
	assert.Equal(t, uint32(9), player.welcomed().GetPlayerId(), "the token's player id")
	player.input(1, 100, 100)
	admin.waitFor("stats", func(c *tclient) bool { return len(c.stats) >= 3 })
	admin.mu.Lock()
	st := admin.stats[len(admin.stats)-1]
	admin.mu.Unlock()
	require.Len(t, st.GetTicks(), statsEvery)
	tw := st.GetTicks()[0]
	assert.NotZero(t, tw.GetTick())
	assert.NotZero(t, tw.GetStepNs())
	assert.NotZero(t, tw.GetStartUnixUs())
	assert.Equal(t, uint32(2), tw.GetClients())
	player.mu.Lock()
	assert.Empty(t, player.stats)
	player.mu.Unlock()

	spect := ts.dial(t, dialOpts{token: mint(t, auth.Claims{Room: "s", Role: auth.RoleSpectator})})
	spect.join(&pb.Join{Room: "s"})
	assert.True(t, spect.welcomed().GetSpectator(), "a spectator token forces spectator")
	spect.input(1, 5, 5)
	require.Eventually(t, func() bool { return counterValue(t, ts.m.dropBy[dropSpectator]) == 1 }, waitTimeout, time.Millisecond)
}

// TestLeaveFreesSeat: a leave closes with 1000 and frees the seat at once.
func TestLeaveFreesSeat(t *testing.T) {
	ts := startServer(t, anonCfg(), nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "joined", func() bool { return a.tick() != 0 })
	a.send(&pb.ClientMessage{Kind: &pb.ClientMessage_Leave{Leave: &pb.Leave{}}})
	code, _ := a.waitClose()
	assert.Equal(t, uint16(CodeNormal), code)
	tickUntil(t, r, "seat freed", func() bool { return r.nPlayers.Load() == 0 })
}

// TestPing: a ping is answered with a pong carrying the room's tick.
func TestPing(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100}, nil)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "p", Game: "arena", CreateIfMissing: true})
	a.welcomed()
	a.send(&pb.ClientMessage{Kind: &pb.ClientMessage_Ping{Ping: &pb.Ping{ClientTimeUs: 7}}})
	a.waitFor("pong", func(c *tclient) bool { return c.pongs == 1 })
}
