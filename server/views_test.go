package server_test

import (
	"testing"

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
// players start out of each other's view (each holds only its surroundings, far fewer
// entities than the room), then one walks to the other until both hold each other; a
// spectator following the first sees what it sees; every view hash the clients checked
// matched, and there were some.
func TestViewsOverSockets(t *testing.T) {
	url := serve(t, server.Config{TickRate: 60, HashEvery: 4})
	cfg := []byte(`{"npcs":2000,"world":4000,"view":400}`)
	a, err := client.Dial(ctx(t), url, client.Options{Room: "big", Game: "arena", CreateIfMissing: true, Config: cfg})
	require.NoError(t, err)
	defer a.Close()
	require.NotNil(t, a.Grid(), "the welcome carries the grid")
	assert.Equal(t, int32(400_000), a.Grid().GetWidth())
	assert.JSONEq(t, string(cfg), string(a.RoomConfig()))
	h := handles(t, a)
	x, _ := a.Field("player", "x")
	y, _ := a.Field("player", "y")

	// Join b until it spawns out of a's view (spawns come from the room's seed, which
	// includes its start time: retry rather than rely on one).
	var b *client.Client
	var ax, ay, bx, by int32
	for range 20 {
		c, err := client.Dial(ctx(t), url, client.Options{Room: "big"})
		require.NoError(t, err)
		var seen, near bool
		aid, cid := a.PlayerID(), c.PlayerID() // predicates run under the client's lock: no client calls in them
		require.NoError(t, a.WaitFrame(ctx(t), func(st *sim.State, _ client.FrameInfo) bool {
			ax, ay, _ = posOf(st, h, x, y, aid)
			return true
		}))
		require.NoError(t, c.WaitFrame(ctx(t), func(st *sim.State, _ client.FrameInfo) bool {
			bx, by, seen = posOf(st, h, x, y, cid)
			_, _, near = posOf(st, h, x, y, aid)
			return seen
		}))
		if !near && abs(ax-bx) > 60_000 && abs(ay-by) > 60_000 {
			b = c
			break
		}
		require.NoError(t, c.Leave())
		c.Close()
	}
	require.NotNil(t, b, "no spawn far enough from a in 20 joins")
	defer b.Close()
	follower, err := client.Dial(ctx(t), url, client.Options{Room: "big", Spectator: true, Follow: a.PlayerID()})
	require.NoError(t, err)
	defer follower.Close()

	aid, bid := a.PlayerID(), b.PlayerID()
	var held int
	a.WithState(func(st *sim.State) {
		_, _, ok := posOf(st, h, x, y, bid)
		assert.False(t, ok, "a does not hold b, far away")
		held = st.Len()
	})
	assert.Less(t, held, 500, "a holds its surroundings, not the room's 2,002 entities")

	// b walks to a, steering again every few ticks, until it holds a (a stands still).
	var sees bool
	for i := 0; !sees; i++ {
		require.Less(t, i, 200, "b never came to see a")
		steer(b, ax-bx, ay-by)
		until := b.Tick() + 3
		require.NoError(t, b.WaitFrame(ctx(t), func(st *sim.State, f client.FrameInfo) bool {
			bx, by, _ = posOf(st, h, x, y, bid)
			_, _, sees = posOf(st, h, x, y, aid)
			return sees || f.Tick >= until
		}))
	}
	_, _ = b.SendInput(0, 0)
	holdsB := func(st *sim.State, _ client.FrameInfo) bool {
		_, _, ok := posOf(st, h, x, y, bid)
		return ok
	}
	require.NoError(t, a.WaitFrame(ctx(t), holdsB), "a sees b once b is near")
	require.NoError(t, follower.WaitFrame(ctx(t), holdsB), "the follower sees what a sees")
	require.NoError(t, a.WaitTick(ctx(t), a.Tick()+8))
	for name, c := range map[string]*client.Client{"a": a, "b": b, "follower": follower} {
		k := c.Counters()
		assert.Positive(t, k.HashChecks, "%s checked view hashes", name)
		assert.Zero(t, k.HashMismatches, name)
		require.NoError(t, c.Err(), name)
	}
}

// steer sends a velocity toward (dx, dy), at most arena's input bound per axis.
func steer(c *client.Client, dx, dy int32) {
	clamp := func(v int32) int32 { return min(max(v, -20_000), 20_000) }
	_, _ = c.SendInput(clamp(dx), clamp(dy))
}

func abs(v int32) int32 { return max(v, -v) }
