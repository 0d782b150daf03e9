package server_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	client "github.com/ticksync/ticksync/client-go"
	"github.com/ticksync/ticksync/server"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// These tests drive the server with the project's Go client, as bots and the benchmark do.

// serve starts a server playing arena (unless cfg names its games).
func serve(t *testing.T, cfg server.Config) string {
	t.Helper()
	if cfg.Games == nil {
		cfg.Games = server.NewRegistry()
		require.NoError(t, cfg.Games.Register(arena.Name, arena.New))
	}
	s, err := server.New(cfg)
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

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// players holds the arena player class's handles, resolved before any wait (WaitFrame's
// predicate runs under the client's lock, so it must not call the client).
type players struct {
	cls         sim.Class
	own, vx, vy sim.Field
}

func handles(t *testing.T, c *client.Client) players {
	cls, err := c.Class("player")
	require.NoError(t, err)
	own, _ := c.Field("player", "player")
	vx, _ := c.Field("player", "vx")
	vy, _ := c.Field("player", "vy")
	return players{cls, own, vx, vy}
}

// vel reads the velocity of player id's entity.
func (p players) vel(st *sim.State, id uint32) (int32, int32, bool) {
	for _, e := range client.Entities(st, p.cls) {
		if uint32(st.Value(e, p.own)) == id {
			return st.Value(e, p.vx), st.Value(e, p.vy), true
		}
	}
	return 0, 0, false
}

func TestGoClientTwoPlayers(t *testing.T) {
	url := serve(t, server.Config{TickRate: 60, HashEvery: 3})
	a, err := client.Dial(ctx(t), url, client.Options{Room: "duel", Game: "arena", CreateIfMissing: true})
	require.NoError(t, err)
	defer a.Close()
	b, err := client.Dial(ctx(t), url, client.Options{Room: "duel"})
	require.NoError(t, err)
	defer b.Close()
	_, err = b.SendInput(-3000, 1200)
	require.NoError(t, err)
	h, bid := handles(t, a), b.PlayerID()
	err = a.WaitFrame(ctx(t), func(st *sim.State, f client.FrameInfo) bool {
		vx, vy, ok := h.vel(st, bid)
		return ok && vx == -3000 && vy == 1200
	})
	require.NoError(t, err, "a sees b move")
	require.NoError(t, b.WaitFrame(ctx(t), func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq == 1 }))
	require.NoError(t, a.Err())
	require.NoError(t, b.Err())
}

func TestGoClientReconnect(t *testing.T) {
	url := serve(t, server.Config{TickRate: 60})
	var mu sync.Mutex
	var raw net.Conn
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		mu.Lock()
		raw = c
		mu.Unlock()
		return c, err
	}
	a, err := client.Dial(ctx(t), url, client.Options{Room: "r", Game: "arena", CreateIfMissing: true, NetDial: dialer})
	require.NoError(t, err)
	_, err = a.SendInput(700, 700)
	require.NoError(t, err)
	require.NoError(t, a.WaitFrame(ctx(t), func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq == 1 }))
	mu.Lock()
	_ = raw.Close() // the network drops
	mu.Unlock()
	<-a.Done()
	b, err := a.Reconnect(ctx(t))
	require.NoError(t, err)
	defer b.Close()
	assert.True(t, b.Welcome().GetResumed())
	assert.Equal(t, a.PlayerID(), b.PlayerID())
	require.NoError(t, b.WaitTick(ctx(t), b.Welcome().GetTick()+2))
	require.NoError(t, b.Err())
	var ok bool
	h, aid := handles(t, b), a.PlayerID()
	b.WithState(func(st *sim.State) { _, _, ok = h.vel(st, aid) })
	assert.True(t, ok, "the entity stayed")

	// The resumed seat remembers seq 1: the new connection's inputs go on from there, and
	// the server applies them (a restart at 1 would be dropped as stale).
	seq, err := b.SendInput(-700, 700)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), seq)
	require.NoError(t, b.WaitFrame(ctx(t), func(_ *sim.State, f client.FrameInfo) bool { return f.LastInputSeq == 2 }))
}

func TestGoClientCloseCodes(t *testing.T) {
	url := serve(t, server.Config{TickRate: 60, MaxPlayers: 1})
	_, err := client.Dial(ctx(t), url, client.Options{Room: "nowhere"})
	var ce *client.CloseError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, uint16(4004), ce.Code)

	a, err := client.Dial(ctx(t), url, client.Options{Room: "one", Game: "arena", CreateIfMissing: true})
	require.NoError(t, err)
	defer a.Close()
	_, err = client.Dial(ctx(t), url, client.Options{Room: "one"})
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, uint16(4009), ce.Code)

	_, err = client.Dial(ctx(t), url, client.Options{Room: "one", Origin: "https://evil.example"})
	var he *client.HandshakeError
	require.True(t, errors.As(err, &he), "%v", err)
	assert.Equal(t, 403, he.StatusCode)
	assert.Equal(t, "origin not allowed", he.Body)
}
