package server

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// TestTwoClientsSeeEachOtherMove runs a real room loop at 100 Hz: two clients join one arena
// room, each steers, and each sees the other's velocity in its mirror; every view hash checks.
func TestTwoClientsSeeEachOtherMove(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100, HashEvery: 5}, nil)
	a, b := ts.dial(t, dialOpts{}), ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "duel", Game: "arena", CreateIfMissing: true})
	wa := a.welcomed()
	b.join(&pb.Join{Room: "duel"})
	wb := b.welcomed()
	require.NotEqual(t, wa.GetPlayerId(), wb.GetPlayerId())
	assert.Equal(t, "arena", wb.GetGame())
	assert.Equal(t, uint32(100), wb.GetTickRate())

	for _, c := range []*tclient{a, b} {
		c.waitFor("both players spawned", func(c *tclient) bool {
			if c.mirror == nil {
				return false
			}
			_, _, ok1 := c.playerVel(wa.GetPlayerId())
			_, _, ok2 := c.playerVel(wb.GetPlayerId())
			return ok1 && ok2
		})
	}
	// Steer both towards the middle so no wall bounce flips a velocity before it is read back.
	avx, avy := a.inward(wa.GetPlayerId(), 0, 1500), a.inward(wa.GetPlayerId(), 1, 700)
	bvx, bvy := b.inward(wb.GetPlayerId(), 0, 2500), b.inward(wb.GetPlayerId(), 1, 900)
	a.input(1, avx, avy)
	b.input(1, bvx, bvy)
	for _, c := range []*tclient{a, b} {
		c.waitFor("both players moving", func(c *tclient) bool {
			ax, ay, ok1 := c.playerVel(wa.GetPlayerId())
			bx, by, ok2 := c.playerVel(wb.GetPlayerId())
			return ok1 && ok2 && ax == avx && ay == avy && bx == bvx && by == bvy
		})
	}
	a.waitFor("a hash checked", func(c *tclient) bool { return c.hashes > 2 })
	b.waitFor("b hash checked", func(c *tclient) bool { return c.hashes > 2 })
}

// TestInputInNextFrame drives the room by hand: an input read before tick T is applied by T,
// and T's frame carries it (velocity and last_input_seq).
func TestInputInNextFrame(t *testing.T) {
	ts := startServer(t, anonCfg(), nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "welcome and first frame", func() bool { return a.tick() != 0 })
	w := a.welcomed()
	s := r.seatsSnapshot(w.GetPlayerId())
	require.NotNil(t, s)

	// Towards the middle: a spawn near a wall would bounce the player and flip the velocity.
	wantVX, wantVY := a.inward(w.GetPlayerId(), 0, 1234), a.inward(w.GetPlayerId(), 1, 4321)
	a.input(1, wantVX, wantVY)
	deadline := time.Now().Add(waitTimeout)
	for s.Inbox().Pending() == 0 { // the input is in the inbox (read goroutine done)
		require.True(t, time.Now().Before(deadline))
		time.Sleep(time.Millisecond)
	}
	before := r.CurrentTick()
	r.Tick()
	applied := r.CurrentTick()
	require.Equal(t, before+1, applied)
	a.waitFor("frame of the applying tick", func(c *tclient) bool { return c.mirror.Tick() >= applied })
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Equal(t, applied, a.mirror.Tick())
	assert.Equal(t, uint32(1), a.lastSeq)
	vx, vy, ok := a.playerVel(w.GetPlayerId())
	require.True(t, ok)
	assert.Equal(t, wantVX, vx)
	assert.Equal(t, wantVY, vy)
}

// TestSlowReaderDoesNotStallOthers: one client stops reading (its socket buffers are tiny, so
// its writer blocks within a few frames). The room keeps ticking; the other client gets every
// frame; the stalled one's mailbox coalesces. When it reads again it converges to exactly the
// server's state (hashes compared).
func TestSlowReaderDoesNotStallOthers(t *testing.T) {
	cfg := anonCfg()
	cfg.HashEvery = 1
	cfg.MaxLag = time.Hour
	cfg.SendBuffer = 4096 // the writer blocks within a few frames
	ts := startServer(t, cfg, nil)
	r, err := ts.CreateRoom("r", "arena", []byte(`{"npcs":300}`))
	require.NoError(t, err)
	fast, slow := ts.dial(t, dialOpts{}), ts.dial(t, dialOpts{rcvBuf: 4096})
	fast.join(&pb.Join{Room: "r"})
	slow.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "both joined", func() bool { return fast.tick() != 0 && slow.tick() != 0 })

	slow.pause()
	coalesced0 := counterValue(t, ts.m.coalesced)
	sc := r.clientOf(slow)
	require.NotNil(t, sc)
	// Tick until the slow client's writer is stuck 30 ticks back (its socket is full), while
	// the fast client receives each tick's frame before the next tick.
	for i := 0; r.CurrentTick()-sc.mb.lastTaken() < 30; i++ {
		require.Less(t, i, 5000, "the slow client's socket never filled")
		r.Tick()
		want := r.CurrentTick()
		fast.waitFor("fast client in step", func(c *tclient) bool { return c.mirror.Tick() == want })
	}
	for range 10 { // still within the ring: it will get a delta from its own baseline
		r.Tick()
	}
	assert.Greater(t, counterValue(t, ts.m.coalesced), coalesced0+10, "its frames coalesce")

	slow.resume()
	tickUntil(t, r, "slow client caught up", func() bool { return slow.tick() == r.CurrentTick() })
	r.Tick()
	want := r.CurrentTick()
	fast.waitFor("fast at tick", func(c *tclient) bool { return c.mirror.Tick() == want })
	slow.waitFor("slow at tick", func(c *tclient) bool { return c.mirror.Tick() == want })
	fast.mu.Lock()
	slow.mu.Lock()
	defer fast.mu.Unlock()
	defer slow.mu.Unlock()
	assert.Equal(t, r.stateHash(), slow.mirror.State().Hash(), "slow client holds the server's exact state")
	assert.Equal(t, fast.mirror.State().Hash(), slow.mirror.State().Hash())
	assert.Greater(t, slow.hashes, 1)
}

// TestReconnectResumes: a dropped player reconnects with the welcome's resume token within
// the grace and gets the same player id, a delta from its last tick, and its entity kept.
func TestReconnectResumes(t *testing.T) {
	ts := startServer(t, anonCfg(), nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "joined", func() bool { return a.tick() != 0 })
	w := a.welcomed()
	a.input(1, 500, 500)
	tickUntil(t, r, "input applied", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.lastSeq == 1
	})
	held := a.tick()
	_ = a.ws.NetConn().Close() // the network drops
	tickUntil(t, r, "seat dropped", func() bool { return r.clientCount() == 0 })
	require.Equal(t, int32(1), r.nPlayers.Load(), "seat held")

	b := ts.dial(t, dialOpts{token: w.GetResumeToken()})
	a.mu.Lock()
	b.mirror = a.mirror // the client keeps its state across the reconnect
	a.mu.Unlock()
	b.join(&pb.Join{Room: "r", LastTick: held})
	tickUntil(t, r, "resumed", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.frames > 0 })
	wb := b.welcomed()
	b.mu.Lock()
	require.NoError(t, b.err)
	assert.Equal(t, held, b.firstBase, "first frame is a delta from the held tick")
	b.mu.Unlock()
	assert.True(t, wb.GetResumed())
	assert.Equal(t, w.GetPlayerId(), wb.GetPlayerId())
	b.mu.Lock()
	vx, _, ok := b.playerVel(w.GetPlayerId())
	b.mu.Unlock()
	assert.True(t, ok)
	assert.Equal(t, int32(500), vx, "the entity stayed in the world")

	// The old resume token is superseded by the one in the new welcome: 4001.
	c := ts.dial(t, dialOpts{token: w.GetResumeToken()})
	c.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "superseded", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.closed })
	code, reason := c.waitClose()
	assert.Equal(t, uint16(CodeUnauthorized), code)
	assert.Equal(t, "session superseded", reason)

	// The current token while b lives: the new connection wins, b gets 4010.
	d := ts.dial(t, dialOpts{token: wb.GetResumeToken()})
	d.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "replaced", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.closed })
	code, _ = b.waitClose()
	assert.Equal(t, uint16(CodeReplaced), code)
	assert.Equal(t, w.GetPlayerId(), d.welcomed().GetPlayerId())
}

// TestReconnectDeltaFromLastTick: the first frame after a resume is a delta from the tick
// the client says it holds when the ring still has it.
func TestReconnectDeltaFromLastTick(t *testing.T) {
	ts := startServer(t, anonCfg(), nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "joined", func() bool { return a.tick() > 3 })
	w := a.welcomed()
	held := a.tick()
	_ = a.ws.NetConn().Close()
	tickUntil(t, r, "dropped", func() bool { return r.clientCount() == 0 })
	b := ts.dial(t, dialOpts{token: w.GetResumeToken()})
	// The test client keeps the mirror across a resumed welcome: reuse a's mirror.
	a.mu.Lock()
	b.mirror = a.mirror
	a.mu.Unlock()
	b.join(&pb.Join{Room: "r", LastTick: held})
	tickUntil(t, r, "resumed", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.frames > 0 })
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NoError(t, b.err)
	assert.Equal(t, held, b.baselineOfFirst(), "delta from the held tick")
}

// TestGracefulShutdown: Shutdown closes every connection with 1001 and stops the rooms.
func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t, Config{TickRate: 50}, nil)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r", CreateIfMissing: true, Game: "arena"})
	a.waitFor("frames", func(c *tclient) bool { return c.frames > 2 })
	r, ok := ts.Room("r")
	require.True(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, ts.Shutdown(ctx))
	code, reason := a.waitClose()
	assert.Equal(t, uint16(CodeGoingAway), code)
	assert.Equal(t, "server shutting down", reason)
	select {
	case <-r.Done():
	default:
		t.Fatal("room still running")
	}
	assert.Empty(t, ts.Rooms())
}
