package server

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// offsetClock is the wall clock plus an offset tests move forward: real sockets keep deadlines
// in the future while the room's grace timers are stepped.
type offsetClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *offsetClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *offsetClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// connCount is how many WebSocket connections the server still tracks; OnClose has queued
// the connection's end to its room before the count drops.
func (ts *testServer) connCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.conns)
}

func (ts *testServer) waitNoConns(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool { return ts.connCount() == 0 }, waitTimeout, time.Millisecond, "the server still holds a connection")
}

// answered reports whether a join got its welcome or a close.
func (c *tclient) answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome != nil || c.closed
}

// TestSeatFreedOnLeaveHeldOnDrop: a player that sends leave or closes with 1000 has left,
// and its seat (and entity) go on the next tick, recorded as a leave; any other end (1001
// when a browser navigates away, 4000 when the JS client resyncs, a close reason that is not
// UTF-8, a lost TCP connection) holds the seat for the reconnect grace.
func TestSeatFreedOnLeaveHeldOnDrop(t *testing.T) {
	const grace = 20 * time.Second
	cases := []struct {
		name  string
		end   func(c *tclient)
		freed bool
	}{
		{"leave message", func(c *tclient) { c.send(&pb.ClientMessage{Kind: &pb.ClientMessage_Leave{Leave: &pb.Leave{}}}) }, true},
		{"close 1000", func(c *tclient) { _ = c.ws.WriteClose(1000, []byte("bye")) }, true},
		{"close 1000 without a reason", func(c *tclient) { _ = c.ws.WriteClose(1000, nil) }, true},
		{"close 1001 (page navigates away)", func(c *tclient) { _ = c.ws.WriteClose(1001, nil) }, false},
		{"close 4000 (JS client resync)", func(c *tclient) { _ = c.ws.WriteClose(4000, []byte("resync")) }, false},
		{"close 1000 with a reason that is not UTF-8", func(c *tclient) { _ = c.ws.WriteClose(1000, []byte{0xff, 0xfe}) }, false},
		{"TCP connection lost", func(c *tclient) { _ = c.ws.NetConn().Close() }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &offsetClock{}
			cfg := anonCfg()
			cfg.Now, cfg.ReconnectGrace = clk.now, grace
			ts := startServer(t, cfg, nil)
			r, err := ts.CreateRoom("r", "arena", nil)
			require.NoError(t, err)
			c := ts.dial(t, dialOpts{})
			c.join(&pb.Join{Room: "r"})
			tickUntil(t, r, "joined", func() bool { return c.tick() != 0 })
			require.Equal(t, int32(1), r.nPlayers.Load())
			require.Equal(t, 1, r.playerEntities())
			require.Equal(t, 1, ts.seatsOf("127.0.0.1"))

			tc.end(c)
			ts.waitNoConns(t)
			r.Tick() // the next tick applies the connection's end
			if tc.freed {
				assert.Equal(t, int32(0), r.nPlayers.Load(), "seat freed on the next tick")
				assert.Equal(t, 0, r.playerEntities(), "the leave reached the game")
				assert.Equal(t, 0, ts.seatsOf("127.0.0.1"))
				return
			}
			assert.Equal(t, int32(1), r.nPlayers.Load(), "seat held")
			assert.Equal(t, 1, r.playerEntities())
			clk.advance(grace - time.Second)
			r.Tick()
			assert.Equal(t, int32(1), r.nPlayers.Load(), "held within the grace")
			assert.Equal(t, 1, ts.seatsOf("127.0.0.1"))
			clk.advance(time.Second)
			r.Tick()
			assert.Equal(t, int32(0), r.nPlayers.Load(), "freed at the grace")
			assert.Equal(t, 0, r.playerEntities())
			assert.Equal(t, 0, ts.seatsOf("127.0.0.1"))
		})
	}
}

// TestSeatStormFromAnotherAddress: an address that joins and drops in a loop holds at most
// -max-seats-per-ip seats (live and held), gets 4029 beyond it, and never fills the room: a
// client from another address joins. Linux accepts all of 127/8, so the storm dials from
// 127.0.0.2.
func TestSeatStormFromAnotherAddress(t *testing.T) {
	clk := &offsetClock{}
	cfg := anonCfg()
	cfg.Now, cfg.MaxPlayers, cfg.MaxSeatsPerIP = clk.now, 6, 2
	ts := startServer(t, cfg, nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)

	joinFrom := func(ip string) *tclient {
		c := ts.dial(t, dialOpts{localIP: ip})
		c.join(&pb.Join{Room: "r"})
		tickUntil(t, r, "join answered", c.answered)
		return c
	}
	// The storm: join, drop without a close frame (the seat is held for the grace), again.
	var welcomed, capped int
	for i := range 10 {
		c := joinFrom("127.0.0.2")
		c.mu.Lock()
		w, code, reason := c.welcome, c.code, c.reason
		c.mu.Unlock()
		if w != nil {
			welcomed++
			_ = c.ws.NetConn().Close()
			ts.waitNoConns(t)
			continue
		}
		require.Equal(t, uint16(CodeTooManySeats), code, "storm join %d", i)
		require.Equal(t, "too many seats from your address", reason)
		capped++
	}
	r.Tick()
	assert.Equal(t, 2, welcomed)
	assert.Equal(t, 8, capped)
	assert.Equal(t, int32(2), r.nPlayers.Load(), "the storm holds two seats")
	assert.Equal(t, 2, ts.seatsOf("127.0.0.2"))

	// A well-behaved client from another address joins, and so does a second one.
	for i := range 2 {
		c := joinFrom("127.0.0.1")
		require.NotNil(t, c.welcomed(), "client %d from 127.0.0.1", i)
	}
	assert.Equal(t, int32(4), r.nPlayers.Load())
	assert.Equal(t, 2, ts.seatsOf("127.0.0.1"))

	// Live seats count too: 127.0.0.1 holds two connected seats, a third is refused (the room
	// has room for it).
	c := joinFrom("127.0.0.1")
	code, _ := c.waitClose()
	assert.Equal(t, uint16(CodeTooManySeats), code)

	// Once the storm's seats expire, its address may join again.
	clk.advance(ts.cfg.ReconnectGrace)
	r.Tick()
	assert.Equal(t, 0, ts.seatsOf("127.0.0.2"))
	require.NotNil(t, joinFrom("127.0.0.2").welcomed())

	// A room that ends gives its seats back.
	require.True(t, ts.CloseRoom("r"))
	<-r.Done()
	assert.Equal(t, 0, ts.seatsOf("127.0.0.1"))
	assert.Equal(t, 0, ts.seatsOf("127.0.0.2"))
}
