package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lxzan/gws"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// pipeListener hands out in-memory net.Pipe connections, so a whole server runs inside a
// synctest bubble on fake time: a 15 s timeout takes no real time.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.closed) }); return nil }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial() (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "127.0.0.1:1" }

// bubbleServer runs a server on a pipe listener inside the current synctest bubble and
// returns a dial function; the caller shuts it down with the returned stop.
func bubbleServer(t *testing.T, cfg Config) (*Server, func(o dialOpts) *tclient, func()) {
	s, err := New(withArena(cfg))
	require.NoError(t, err)
	ln := newPipeListener()
	served := make(chan struct{})
	go func() { _ = s.Serve(ln); close(served) }()
	dial := func(o dialOpts) *tclient {
		addr := "ws://127.0.0.1:1/ws"
		if o.token != "" {
			addr += "?token=" + o.token
		}
		nc, err := ln.dial()
		require.NoError(t, err)
		c := &tclient{t: t, changed: make(chan struct{}), noPong: o.noPong, timeout: 100 * time.Hour}
		ws, _, err := gws.NewClientFromConn(c, &gws.ClientOption{
			Addr:          addr,
			RequestHeader: http.Header{"Sec-WebSocket-Protocol": {Subprotocol}},
		}, nc)
		require.NoError(t, err)
		c.ws = ws
		go ws.ReadLoop()
		return c
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = s.Shutdown(ctx)
		ln.Close()
		<-served
	}
	return s, dial, stop
}

// TestJoinTimeout: a connection that never joins is closed at exactly -join-timeout with
// 1008 "join timeout".
func TestJoinTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dial, stop := bubbleServer(t, Config{JoinTimeout: 10 * time.Second})
		defer stop()
		start := time.Now()
		c := dial(dialOpts{})
		code, reason := c.waitClose()
		assert.Equal(t, uint16(CodePolicy), code)
		assert.Equal(t, "join timeout", reason)
		assert.Equal(t, 10*time.Second, time.Since(start))
	})
}

// TestHalfOpen: a peer that stops answering pings (and sends nothing) is dropped after
// ping-interval + pong-timeout; its seat is held for the reconnect grace, then freed.
func TestHalfOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, dial, stop := bubbleServer(t, Config{TickRate: 10, PingInterval: 5 * time.Second, PongTimeout: 10 * time.Second, ReconnectGrace: 20 * time.Second})
		defer stop()
		c := dial(dialOpts{noPong: true})
		c.join(&pb.Join{Room: "r", Game: "arena", CreateIfMissing: true})
		c.welcomed()
		opened := time.Now()
		r, ok := s.Room("r")
		require.True(t, ok)
		synctest.Wait()
		code, reason := c.waitClose()
		// A code the client reconnects on, and a fixed reason (never the read error's text).
		assert.Equal(t, uint16(CodePolicy), code)
		assert.Equal(t, "ping timeout", reason)
		// The server's idle timer was set at open (just before the join): ping + pong.
		assert.InDelta(t, (15 * time.Second).Seconds(), time.Since(opened).Seconds(), 0.2)
		assert.Equal(t, int32(1), r.nPlayers.Load(), "seat held")
		assert.Equal(t, 1, r.playerEntities(), "its entity stays in the world")
		time.Sleep(19 * time.Second)
		assert.Equal(t, int32(1), r.nPlayers.Load(), "still held within the grace")
		time.Sleep(2 * time.Second)
		assert.Equal(t, int32(0), r.nPlayers.Load(), "freed after the grace")
		assert.Equal(t, 0, r.playerEntities(), "its leave reached the game")
	})
}

// TestInputsDoNotKeepAlive: a peer that ignores pings is dropped after ping + pong even while
// it keeps sending inputs (a client that never reads cannot pin its seat and socket buffers by
// talking); the drop comes within [31/32, 1] of ping + pong after the upgrade.
func TestInputsDoNotKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dial, stop := bubbleServer(t, Config{TickRate: 10, PingInterval: 5 * time.Second, PongTimeout: 11 * time.Second})
		defer stop()
		start := time.Now()
		c := dial(dialOpts{noPong: true})
		c.join(&pb.Join{Room: "r", Game: "arena", CreateIfMissing: true})
		c.welcomed()
		for seq := uint32(1); ; seq++ { // an input every 100 ms until the server gives up
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if closed {
				break
			}
			require.Less(t, seq, uint32(600), "still connected after 60 s of inputs")
			c.input(seq, 1, 1)
			time.Sleep(100 * time.Millisecond)
		}
		code, reason := c.waitClose()
		assert.Equal(t, uint16(CodePolicy), code)
		assert.Equal(t, "ping timeout", reason)
		silent := time.Since(start)
		assert.GreaterOrEqual(t, silent, 16*time.Second*31/32)
		assert.LessOrEqual(t, silent, 16*time.Second+100*time.Millisecond)
	})
}

// TestPongsKeepAlive: a peer that answers pings stays connected well past ping + pong.
func TestPongsKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, dial, stop := bubbleServer(t, Config{TickRate: 10})
		defer stop()
		c := dial(dialOpts{})
		c.join(&pb.Join{Room: "r", Game: "arena", CreateIfMissing: true})
		c.welcomed()
		time.Sleep(time.Minute)
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		assert.False(t, closed)
	})
}

// TestReconnectAfterGrace: a resume token whose seat has been freed (grace over) closes with
// 4001; an expired token is refused with 401 before the upgrade.
func TestReconnectAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, dial, stop := bubbleServer(t, Config{TickRate: 10, ReconnectGrace: 2 * time.Second})
		defer stop()
		c := dial(dialOpts{})
		c.join(&pb.Join{Room: "r", Game: "arena", CreateIfMissing: true})
		w := c.welcomed()
		_ = c.ws.NetConn().Close()
		time.Sleep(3 * time.Second)
		r, _ := s.Room("r")
		assert.Equal(t, int32(0), r.nPlayers.Load())
		late := dial(dialOpts{token: w.GetResumeToken()})
		late.join(&pb.Join{Room: "r"})
		code, why := late.waitClose()
		assert.Equal(t, uint16(CodeUnauthorized), code)
		assert.Equal(t, "session superseded", why)
		// The resume token itself is still valid (24 h), but the seat is gone.
		tok, reason := s.authenticate(w.GetResumeToken())
		require.Empty(t, reason)
		require.NotNil(t, tok)
		time.Sleep(resumeTTL)
		_, reason = s.authenticate(w.GetResumeToken())
		assert.Equal(t, "token expired", reason)
	})
}

var _ = errors.New
