package client_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

// These tests play simtest.Duel (the test game that uses every optional part of the game API)
// on a real server, its rooms on their own clock at the game's 30 Hz, through the Go client.

// serveDuel starts a server whose registry holds Duel and returns its /ws URL.
func serveDuel(t *testing.T) string {
	t.Helper()
	games := server.NewRegistry()
	require.NoError(t, games.Register(simtest.DuelName, simtest.NewDuel))
	// A short grace: the 4002 after the result comes soon, and is still after the result.
	s, err := server.New(server.Config{Games: games, MatchOverGrace: 50 * time.Millisecond})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return "ws://" + ln.Addr().String() + "/ws"
}

func duelCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialDuel(t *testing.T, url string, opts client.Options) *client.Client {
	t.Helper()
	c, err := client.Dial(duelCtx(t), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// markers holds Duel's marker handles, resolved before any wait (WaitFrame's predicate runs
// under the client's lock and must not call the client).
type markers struct {
	cls       sim.Class
	x, player sim.Field
	name      sim.BytesField
}

func duelMarkers(t *testing.T, c *client.Client) markers {
	t.Helper()
	cls, err := c.Class("marker")
	require.NoError(t, err)
	x, err := c.Field("marker", "x")
	require.NoError(t, err)
	p, err := c.Field("marker", "player")
	require.NoError(t, err)
	name, ok := c.Schema().BytesFieldByName(cls, "name")
	require.True(t, ok)
	return markers{cls, x, p, name}
}

// find returns player's marker in st.
func (m markers) find(st *sim.State, player uint32) (sim.Entity, bool) {
	for id := sim.Entity(1); id < st.MaxID(); id++ {
		if k, live := st.ClassOf(id); live && k == m.cls && uint32(st.Value(id, m.player)) == player {
			return id, true
		}
	}
	return 0, false
}

func closeErr(t *testing.T, err error) *client.CloseError {
	t.Helper()
	var ce *client.CloseError
	require.True(t, errors.As(err, &ce), "want a CloseError, got %v", err)
	return ce
}

// TestDuelJoinConfigAndMeta: the join's meta reaches the game (the marker carries the name; a
// player the game refuses gets 4005 with the game's reason, which Reconnect would not retry),
// and a join-create's config the game refuses gets 4004 with the game's reason.
func TestDuelJoinConfigAndMeta(t *testing.T) {
	url := serveDuel(t)

	_, err := client.Dial(duelCtx(t), url, client.Options{Room: "bad", Game: simtest.DuelName, CreateIfMissing: true,
		Config: []byte(`{"hits":99}`)})
	ce := closeErr(t, err)
	assert.Equal(t, uint16(4004), ce.Code)
	assert.Contains(t, ce.Reason, "hits 99 out of range 1..10")

	a := dialDuel(t, url, client.Options{Room: "d", Game: simtest.DuelName, CreateIfMissing: true,
		Config: []byte(`{"hits":3}`), Meta: `{"name":"ann"}`})
	assert.Equal(t, uint32(30), a.Welcome().GetTickRate(), "the game's own rate")
	m := duelMarkers(t, a)
	pa := a.PlayerID()
	var name string
	require.NoError(t, a.WaitFrame(duelCtx(t), func(st *sim.State, _ client.FrameInfo) bool {
		e, ok := m.find(st, pa)
		if ok {
			name = string(st.BytesValue(e, m.name))
		}
		return ok
	}))
	assert.Equal(t, "ann", name, "the join's meta reached the game")

	_, err = client.Dial(duelCtx(t), url, client.Options{Room: "d", Meta: `{"name":"mallory"}`})
	ce = closeErr(t, err)
	assert.Equal(t, &client.CloseError{Code: 4005, Reason: "mallory may not play"}, ce)
	assert.False(t, ce.Reconnect(), "a refused join is not retried")
}

// TestDuelMatch plays a match: a shot sent with the client's current tick as its render tick
// misses (the target has moved since the client saw it), the same shot with SendInputAt's
// render tick hits; the events arrive in order, each once (to everyone, and the shooter's own
// to the shooter only), then the result, then 4002 "match over" with the result still there.
func TestDuelMatch(t *testing.T) {
	url := serveDuel(t)
	// History 192 (the most a game may keep, 6.4 s at 30 Hz): the shots' render ticks stay in
	// the kept past however slow the machine.
	a := dialDuel(t, url, client.Options{Room: "m", Game: simtest.DuelName, CreateIfMissing: true,
		Config: []byte(`{"hits":2,"history":192}`), Meta: `{"name":"ann"}`})
	b := dialDuel(t, url, client.Options{Room: "m", Meta: `{"name":"bob"}`})
	pa, pb2 := a.PlayerID(), b.PlayerID()
	require.NotEqual(t, pa, pb2)
	m := duelMarkers(t, a)

	// sight waits until a sees b and returns b's x and the tick it was seen at.
	sight := func() (x int32, seen uint32) {
		require.NoError(t, a.WaitFrame(duelCtx(t), func(st *sim.State, f client.FrameInfo) bool {
			e, ok := m.find(st, pb2)
			if ok {
				x, seen = st.Value(e, m.x), f.Tick
			}
			return ok
		}))
		return x, seen
	}

	// A shot at what a saw, sent three ticks later with the current tick as render tick: b
	// has moved on, so it misses. The frame saying the input was applied carries the events
	// of its tick, so there are none.
	x, seen := sight()
	require.NoError(t, a.WaitTick(duelCtx(t), seen+3))
	seq, err := a.SendInput(x, int32(pb2))
	require.NoError(t, err)
	require.NoError(t, a.WaitFrame(duelCtx(t), func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq >= seq }))
	assert.Empty(t, a.Events(), "SendInput's render tick is the current tick: a miss")
	assert.Nil(t, a.Result())

	for hit := 1; hit <= 2; hit++ {
		x, seen := sight()
		require.NoError(t, a.WaitTick(duelCtx(t), seen+3))
		_, err := a.SendInputAt(seen, uint16(hit)<<14, x, int32(pb2))
		require.NoError(t, err)
		require.NoError(t, a.WaitEvents(duelCtx(t), 2*hit), "hit %d", hit)
	}

	res, err := a.WaitResult(duelCtx(t))
	require.NoError(t, err)
	assert.Equal(t, []uint32{pa}, res.GetWinners())
	assert.Equal(t, fmt.Sprintf("player %d wins", pa), res.GetSummary())
	assert.JSONEq(t, `{"hits":2}`, string(res.GetData()))

	evs := a.Events()
	require.Len(t, evs, 4, "two hits: each an event to everyone and one to the shooter")
	for i, ev := range evs {
		switch {
		case i%2 == 1:
			assert.Equal(t, uint32(simtest.EventScored), ev.GetKind())
			assert.Equal(t, []int32{int32(i/2 + 1)}, ev.GetValues())
			assert.Equal(t, evs[i-1].GetTick(), ev.GetTick(), "a hit's two events come from one tick")
			continue
		case i > 0:
			assert.Greater(t, ev.GetTick(), evs[i-1].GetTick(), "in tick order")
		}
		assert.Equal(t, uint32(simtest.EventHit), ev.GetKind())
		assert.Equal(t, []int32{int32(pa), int32(pb2)}, ev.GetValues())
	}
	assert.Equal(t, evs[3].GetTick(), res.GetTick(), "the second hit ended the match")
	assert.Equal(t, evs[2:], a.EventsSince(2))
	assert.Nil(t, a.EventsSince(4))

	rb, err := b.WaitResult(duelCtx(t))
	require.NoError(t, err)
	assert.Equal(t, res.GetTick(), rb.GetTick())
	bevs := b.Events()
	require.Len(t, bevs, 2, "the victim gets the hits, not the shooter's own events")
	for i, ev := range bevs {
		assert.Equal(t, uint32(simtest.EventHit), ev.GetKind())
		assert.Equal(t, evs[2*i].GetTick(), ev.GetTick())
	}

	for _, c := range []*client.Client{a, b} {
		<-c.Done()
		assert.Equal(t, &client.CloseError{Code: 4002, Reason: "match over"}, c.Err())
		assert.NotNil(t, c.Result(), "the result outlives the close")
		_, err := c.WaitResult(duelCtx(t))
		assert.NoError(t, err)
		assert.NoError(t, c.WaitEvents(duelCtx(t), len(c.Events())))
		assert.ErrorIs(t, c.WaitEvents(duelCtx(t), 5), c.Err(), "more events than came: the close")
	}
}

// TestQuickPlay: two quick plays land in the same room, with the labels asked for, and a
// reconnect of a quick-play client resumes in the room it was given (not a new quick play).
func TestQuickPlay(t *testing.T) {
	url := serveDuel(t)
	opts := client.Options{QuickPlay: true, Game: simtest.DuelName, Labels: map[string]string{"mode": "ranked"}}
	a := dialDuel(t, url, opts)
	b := dialDuel(t, url, opts)
	room := a.Welcome().GetRoom()
	require.NotEmpty(t, room)
	assert.Equal(t, room, b.Welcome().GetRoom())
	c := dialDuel(t, url, client.Options{QuickPlay: true, Game: simtest.DuelName})
	assert.Equal(t, room, c.Welcome().GetRoom(), "no labels asked: any room of the game")
	d := dialDuel(t, url, client.Options{QuickPlay: true, Game: simtest.DuelName, Labels: map[string]string{"mode": "casual"}})
	assert.NotEqual(t, room, d.Welcome().GetRoom())

	require.NoError(t, a.WaitTick(duelCtx(t), a.Welcome().GetTick()+1))
	a2, err := a.Reconnect(duelCtx(t))
	require.NoError(t, err)
	t.Cleanup(func() { a2.Close() })
	assert.True(t, a2.Welcome().GetResumed())
	assert.Equal(t, room, a2.Welcome().GetRoom())
	assert.Equal(t, a.PlayerID(), a2.PlayerID())
}
