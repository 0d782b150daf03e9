package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// quick dials and sends a quick-play join.
func (ts *testServer) quick(t *testing.T, token string, j *pb.Join) *tclient {
	t.Helper()
	c := ts.dial(t, dialOpts{token: token})
	j.QuickPlay = true
	c.join(j)
	return c
}

// listRooms answers GET /rooms.
func (ts *testServer) listRooms(t *testing.T) []roomJSON {
	t.Helper()
	res, err := http.Get(ts.httpURL("/rooms"))
	require.NoError(t, err)
	defer res.Body.Close()
	var out []roomJSON
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return out
}

// TestQuickPlayFillsThenCreates: quick plays land in the same room until it is full, then a new
// room is made; labels split rooms: a join asking for labels only lands where they are.
func TestQuickPlayFillsThenCreates(t *testing.T) {
	ts := startServer(t, Config{TickRate: 20, MaxPlayers: 2}, nil)
	a := ts.quick(t, "", &pb.Join{}).welcomed()
	require.NotEmpty(t, a.GetRoom())
	assert.Equal(t, arena.Name, a.GetGame(), "the server's only game")
	b := ts.quick(t, "", &pb.Join{Game: arena.Name}).welcomed()
	assert.Equal(t, a.GetRoom(), b.GetRoom(), "the second quick play joins the first's room")
	c := ts.quick(t, "", &pb.Join{}).welcomed()
	assert.NotEqual(t, a.GetRoom(), c.GetRoom(), "a full room is skipped")

	ffa := map[string]string{"mode": "ffa"}
	d := ts.quick(t, "", &pb.Join{Labels: ffa, Config: []byte(`{"npcs":3}`)}).welcomed()
	assert.NotEqual(t, c.GetRoom(), d.GetRoom(), "the room with a free seat lacks the label")
	e := ts.quick(t, "", &pb.Join{Labels: ffa}).welcomed()
	assert.Equal(t, d.GetRoom(), e.GetRoom())

	rooms := map[string]roomJSON{}
	for _, r := range ts.listRooms(t) {
		rooms[r.ID] = r
	}
	require.Len(t, rooms, 3)
	assert.Equal(t, ffa, rooms[d.GetRoom()].Labels)
	assert.Nil(t, rooms[a.GetRoom()].Labels)
	assert.Equal(t, 2, rooms[a.GetRoom()].Seats)
	r, ok := ts.Room(d.GetRoom())
	require.True(t, ok)
	assert.Equal(t, `{"npcs":3}`, string(r.config), "the room quick play made has the join's config")

	// A room made by POST /rooms with labels is found by them.
	res, err := http.Post(ts.httpURL("/rooms"), "application/json", strings.NewReader(`{"id":"duo","labels":{"mode":"duo","map":"x"}}`))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	f := ts.quick(t, "", &pb.Join{Labels: map[string]string{"mode": "duo"}}).welcomed()
	assert.Equal(t, "duo", f.GetRoom())
}

// TestQuickPlayConcurrentJoinsNeverOverfill: many quick plays at once all get a seat and no
// room gets more than its size: a seat is promised when the room is picked, before its tick.
func TestQuickPlayConcurrentJoinsNeverOverfill(t *testing.T) {
	ts := startServer(t, Config{TickRate: 20, MaxPlayers: 3, MaxSeatsPerIP: 100}, nil)
	const n = 10
	var wg sync.WaitGroup
	clients := make([]*tclient, n)
	for i := range n {
		clients[i] = ts.dial(t, dialOpts{})
	}
	for i := range n {
		wg.Go(func() { clients[i].join(&pb.Join{QuickPlay: true}) })
	}
	wg.Wait()
	count := map[string]int{}
	for i, c := range clients {
		c.waitFor("welcome or close", func(c *tclient) bool { return c.welcome != nil || c.closed })
		c.mu.Lock()
		w, closed, code, reason := c.welcome, c.closed && c.welcome == nil, c.code, c.reason
		c.mu.Unlock()
		require.False(t, closed, "client %d closed with %d %q", i, code, reason)
		count[w.GetRoom()]++
	}
	for room, k := range count {
		assert.LessOrEqual(t, k, 3, "room %s", room)
	}
	assert.Len(t, count, 4, "10 players in rooms of 3: four rooms")
}

// seated is arena with a room size (sim.Seater) and a match that ends at tick endAt (0: never).
type seated struct {
	sim.Game
	seats int
	endAt uint32
}

func (g seated) Seats() int { return g.seats }

func (g seated) Step(w *sim.World, tick uint32, in []sim.Input) {
	g.Game.Step(w, tick, in)
	if tick == g.endAt {
		w.End(sim.Result{Summary: "time"})
	}
}

// TestQuickPlayGameSeatsAndMatchOver: a game's room size (sim.Seater) bounds quick play below
// -max-players, and a room whose match is over takes no one.
func TestQuickPlayGameSeatsAndMatchOver(t *testing.T) {
	games := NewRegistry()
	require.NoError(t, games.Register("pair", func(hz uint32, cfg []byte) (sim.Game, error) {
		g, err := arena.New(hz, cfg)
		return seated{Game: g, seats: 2}, err
	}))
	require.NoError(t, games.Register("short", func(hz uint32, cfg []byte) (sim.Game, error) {
		g, err := arena.New(hz, cfg)
		return seated{Game: g, endAt: 2}, err
	}))
	ts := startServer(t, Config{TickRate: 20, Games: games, MatchOverGrace: 60e9}, nil)
	p1 := ts.quick(t, "", &pb.Join{Game: "pair"}).welcomed()
	p2 := ts.quick(t, "", &pb.Join{Game: "pair"}).welcomed()
	p3 := ts.quick(t, "", &pb.Join{Game: "pair"}).welcomed()
	assert.Equal(t, p1.GetRoom(), p2.GetRoom())
	assert.NotEqual(t, p1.GetRoom(), p3.GetRoom(), "the game seats two")

	s1 := ts.quick(t, "", &pb.Join{Game: "short"})
	first := s1.welcomed().GetRoom()
	r, ok := ts.Room(first)
	require.True(t, ok)
	s1.waitFor("the match end", func(c *tclient) bool { return c.result != nil })
	require.True(t, r.over.Load())
	s2 := ts.quick(t, "", &pb.Join{Game: "short"}).welcomed()
	assert.NotEqual(t, first, s2.GetRoom(), "a room whose match is over is skipped")
}

// TestQuickPlayTokens: what each kind of token may do with quick play and room ids.
func TestQuickPlayTokens(t *testing.T) {
	games := arenaGames()
	require.NoError(t, games.Register("other", arena.New))
	ts := startServer(t, Config{TickRate: 20, Auth: AuthToken, Secret: testSecret, Games: games}, nil)
	_, err := ts.CreateRoom("other-room", "other", nil)
	require.NoError(t, err)
	scoped := func(p uint32) string {
		return mint(t, auth.Claims{Room: auth.AnyRoom, Game: arena.Name, Player: p, Role: auth.RolePlayer})
	}

	// A game-scoped token quick-plays in its game; a second one lands beside the first.
	a := ts.quick(t, scoped(1), &pb.Join{}).welcomed()
	assert.Equal(t, arena.Name, a.GetGame())
	assert.Equal(t, uint32(1), a.GetPlayerId())
	b := ts.quick(t, scoped(2), &pb.Join{}).welcomed()
	assert.Equal(t, a.GetRoom(), b.GetRoom())
	// ...and joins a room of its game by id (the one quick play made)...
	c := ts.dial(t, dialOpts{token: scoped(3)})
	c.join(&pb.Join{Room: a.GetRoom()})
	assert.Equal(t, a.GetRoom(), c.welcomed().GetRoom())

	refused := []struct {
		name   string
		token  string
		join   *pb.Join
		reason string
	}{
		{"room-scoped token", mint(t, auth.Claims{Room: a.GetRoom(), Player: 4, Role: auth.RolePlayer}), &pb.Join{QuickPlay: true}, "quick play needs a game-scoped or admin token"},
		{"another game by id", scoped(5), &pb.Join{Room: "other-room"}, "token not valid for this game"},
		{"another game by quick play", scoped(6), &pb.Join{QuickPlay: true, Game: "other"}, "token not valid for this game"},
		{"a recording", scoped(7), &pb.Join{Room: ReplayRoomPrefix + "x"}, "token not valid for this room"},
		{"create by id", scoped(8), &pb.Join{Room: "mine", CreateIfMissing: true}, "room not found"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t, dialOpts{token: tc.token})
			c.join(tc.join)
			code, reason := c.waitClose()
			assert.Contains(t, []uint16{CodeUnauthorized, CodeRoomNotFound}, code)
			assert.Equal(t, tc.reason, reason)
		})
	}

	// An admin token quick-plays too (it watches, as admins do without a player id).
	adm := ts.quick(t, mint(t, auth.Claims{Room: auth.AnyRoom, Role: auth.RoleAdmin}), &pb.Join{Game: arena.Name}).welcomed()
	assert.Equal(t, a.GetRoom(), adm.GetRoom())
	assert.True(t, adm.GetSpectator())
}

// TestQuickPlayBadJoins: labels past the limits and a quick play naming a room close with 1008.
func TestQuickPlayBadJoins(t *testing.T) {
	ts := startServer(t, Config{TickRate: 20}, nil)
	many := map[string]string{}
	for i := range maxLabels + 1 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	cases := map[string]*pb.Join{
		"room named":      {QuickPlay: true, Room: "r"},
		"bad key":         {QuickPlay: true, Labels: map[string]string{"a b": "v"}},
		"long value":      {QuickPlay: true, Labels: map[string]string{"k": strings.Repeat("v", maxLabelValue+1)}},
		"too many":        {QuickPlay: true, Labels: many},
		"create, bad key": {Room: "r", CreateIfMissing: true, Labels: map[string]string{"": "v"}},
	}
	for name, j := range cases {
		t.Run(name, func(t *testing.T) {
			c := ts.dial(t, dialOpts{})
			c.join(j)
			code, _ := c.waitClose()
			assert.Equal(t, uint16(CodePolicy), code)
		})
	}
	assert.Empty(t, ts.Rooms(), "no refused join made a room")
	res, err := http.Post(ts.httpURL("/rooms"), "application/json", strings.NewReader(`{"labels":{"a b":"c"}}`))
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
}
