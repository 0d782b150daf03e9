package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim"
)

// posOf reads player id's position from st (ok false when st does not hold its entity).
func posOf(st *sim.State, p players, x, y sim.Field, id uint32) (int32, int32, bool) {
	for _, e := range client.Entities(st, p.cls) {
		if uint32(st.Value(e, p.own)) == id {
			return st.Value(e, x), st.Value(e, y), true
		}
	}
	return 0, 0, false
}

// TestViewsOverSockets: an arena room with views, over real sockets with the Go client. Two
// players walk to opposite corners (spawns come from the room's seed, which includes its start
// time, so the test does not rely on where they start): there neither holds the other, and each
// holds only its surroundings. Then one walks to the other until both hold each other; a
// spectator following the first sees what it sees; every view hash the clients checked
// matched, and there were some. Walks wait on positions, with one deadline for the whole test.
func TestViewsOverSockets(t *testing.T) {
	url := serve(t, server.Config{TickRate: 60, HashEvery: 4})
	cfg := []byte(`{"npcs":1000,"world":1000,"view":200}`) // a view sees at most 150 units away
	deadline, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	a, err := client.Dial(deadline, url, client.Options{Room: "big", Game: "arena", CreateIfMissing: true, Config: cfg})
	require.NoError(t, err)
	defer a.Close()
	require.NotNil(t, a.Grid(), "the welcome carries the grid")
	assert.Equal(t, int32(100_000), a.Grid().GetWidth())
	assert.JSONEq(t, string(cfg), string(a.RoomConfig()))
	b, err := client.Dial(deadline, url, client.Options{Room: "big"})
	require.NoError(t, err)
	defer b.Close()
	h := handles(t, a)
	x, _ := a.Field("player", "x")
	y, _ := a.Field("player", "y")
	aid, bid := a.PlayerID(), b.PlayerID() // predicates run under the client's lock: no client calls in them

	// walk steers c by toward(x, y) every few ticks until done holds for c's state.
	walk := func(c *client.Client, toward func(x, y int32) (int32, int32), done func(st *sim.State, x, y int32) bool) {
		t.Helper()
		id := c.PlayerID()
		var px, py int32
		var ok bool
		for !ok {
			vx, vy := toward(px, py)
			_, err := c.SendInput(vx, vy)
			require.NoError(t, err)
			until := c.Tick() + 3
			require.NoError(t, c.WaitFrame(deadline, func(st *sim.State, f client.FrameInfo) bool {
				var held bool
				px, py, held = posOf(st, h, x, y, id)
				ok = held && done(st, px, py)
				return ok || f.Tick >= until
			}))
		}
	}
	const far = 5_000 // within 50 units of a corner
	walk(b, func(_, _ int32) (int32, int32) { return 20_000, 20_000 }, func(_ *sim.State, x, y int32) bool { return x > 100_000-far && y > 100_000-far })
	_, _ = b.SendInput(0, 0)
	walk(a, func(_, _ int32) (int32, int32) { return -20_000, -20_000 }, func(_ *sim.State, x, y int32) bool { return x < far && y < far })
	_, _ = a.SendInput(0, 0)
	require.NoError(t, a.WaitTick(deadline, a.Tick()+3))

	var held int
	a.WithState(func(st *sim.State) {
		_, _, ok := posOf(st, h, x, y, bid)
		assert.False(t, ok, "a does not hold b, a corner away")
		held = st.Len()
	})
	assert.Less(t, held, 500, "a holds its surroundings, not the room's 1,002 entities")
	follower, err := client.Dial(deadline, url, client.Options{Room: "big", Spectator: true, Follow: aid})
	require.NoError(t, err)
	defer follower.Close()

	// b walks to a (a stands still in its corner) until it holds a.
	var ax, ay int32
	a.WithState(func(st *sim.State) { ax, ay, _ = posOf(st, h, x, y, aid) })
	clamp := func(v int32) int32 { return min(max(v, -20_000), 20_000) }
	walk(b, func(bx, by int32) (int32, int32) { return clamp(ax - bx), clamp(ay - by) }, func(st *sim.State, _, _ int32) bool {
		_, _, sees := posOf(st, h, x, y, aid)
		return sees
	})
	_, _ = b.SendInput(0, 0)
	holdsB := func(st *sim.State, _ client.FrameInfo) bool {
		_, _, ok := posOf(st, h, x, y, bid)
		return ok
	}
	require.NoError(t, a.WaitFrame(deadline, holdsB), "a sees b once b is near")
	require.NoError(t, follower.WaitFrame(deadline, holdsB), "the follower sees what a sees")
	require.NoError(t, a.WaitTick(deadline, a.Tick()+8))
	for name, c := range map[string]*client.Client{"a": a, "b": b, "follower": follower} {
		k := c.Counters()
		assert.Positive(t, k.HashChecks, "%s checked view hashes", name)
		assert.Zero(t, k.HashMismatches, name)
		require.NoError(t, c.Err(), name)
	}
}
