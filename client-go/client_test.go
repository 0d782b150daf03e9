package client

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialTest(t *testing.T, s *testServer, opts Options) *Client {
	t.Helper()
	if opts.Room == "" {
		opts.Room = "r1"
	}
	c, err := Dial(testCtx(t), s.url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestJoinWelcomeSnapshot(t *testing.T) {
	s := newTestServer(t)
	c := dialTest(t, s, Options{})
	w := c.Welcome()
	require.NotNil(t, w)
	assert.Equal(t, uint32(1), c.PlayerID())
	assert.Equal(t, "resume-token", c.ResumeToken())
	assert.Equal(t, "balls", w.GetGame())

	require.NoError(t, c.WaitTick(testCtx(t), 1))
	fi := c.LastFrame()
	assert.Equal(t, uint32(1), fi.Tick)
	assert.Zero(t, fi.BaselineTick, "first frame is a snapshot")
	assert.True(t, fi.HasHash)
	st := c.State()
	require.NotNil(t, st)
	assert.Equal(t, s.hash(1), st.Hash())
	assert.Equal(t, 3, st.Len())

	x, err := c.Field("ball", "x")
	require.NoError(t, err)
	hp, err := c.Field("ball", "hp")
	require.NoError(t, err)
	ball, err := c.Class("ball")
	require.NoError(t, err)
	assert.Equal(t, []sim.Entity{1, 2, 3}, Entities(st, ball))
	assert.Equal(t, int32(1000+4), st.Value(2, x), "x0 + trunc(vx/hz)")
	assert.Equal(t, int32(100), st.Value(2, hp))
	nb, ok := c.Schema().BytesFieldByName(ball, "name")
	require.True(t, ok)
	assert.Equal(t, []byte("b1"), st.BytesValue(2, nb))

	_, err = c.Field("ball", "name")
	assert.Error(t, err, "bytes fields have no int handle")
	_, err = c.Field("nope", "x")
	assert.Error(t, err)

	c2 := Counters{}
	assert.NotEqual(t, c2, c.Counters())
	assert.Equal(t, uint64(2), c.Counters().Messages)
	assert.Equal(t, uint64(1), c.Counters().Frames)
	assert.Positive(t, c.Counters().FirstFrameBytes)
	assert.Positive(t, c.Counters().BytesOut)
	assert.Positive(t, c.Counters().DecodeNs)
}

func TestInputsAdvanceMirror(t *testing.T) {
	s := newTestServer(t)
	applied := make(chan uint32, 16)
	frames := make(chan uint32, 16)
	c := dialTest(t, s, Options{
		OnInputApplied: func(seq uint32, rtt time.Duration) {
			assert.Positive(t, rtt)
			applied <- seq
		},
		OnFrame: func(f *pb.Frame) { frames <- f.GetTick() },
	})
	for i := range 8 {
		seq, err := c.SendInput(int32(100*i - 300))
		require.NoError(t, err)
		assert.Equal(t, uint32(i+1), seq)
	}
	ctx := testCtx(t)
	require.NoError(t, c.WaitFrame(ctx, func(_ *sim.State, f FrameInfo) bool { return f.LastInputSeq == 8 }))
	fi := c.LastFrame()
	assert.Equal(t, uint32(9), fi.Tick, "join tick 1 + 8 inputs")
	assert.Equal(t, uint32(8), fi.BaselineTick, "deltas follow each other")
	c.WithState(func(st *sim.State) {
		assert.Equal(t, s.hash(9), st.Hash(), "mirror equals the server's world")
		assert.Equal(t, 3, st.Len(), "one spawned, one despawned")
		vx, _ := st.Schema().FieldByName(sim.Class{}, "vx")
		assert.Equal(t, int32(400), st.Value(1, vx), "the last input steers ball 1")
	})
	assert.Equal(t, uint32(8), c.LastInputSeq())
	assert.Equal(t, uint64(8), c.Counters().Inputs)
	// Callbacks run on the read goroutine, possibly just after the waiter woke.
	for want := uint32(1); want <= 9; want++ {
		if want <= 8 {
			assert.Equal(t, want, recv(t, applied))
		}
		assert.Equal(t, want, recv(t, frames))
	}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
		var zero T
		return zero
	}
}

func TestPing(t *testing.T) {
	s := newTestServer(t)
	c := dialTest(t, s, Options{})
	assert.Zero(t, c.RTT())
	for range 3 {
		rtt, err := c.Ping(testCtx(t))
		require.NoError(t, err)
		assert.Positive(t, rtt)
		assert.Less(t, rtt, 5*time.Second)
		assert.Equal(t, rtt, c.RTT())
	}
}

func TestHandshakeRefused(t *testing.T) {
	s := newTestServer(t)
	cases := []struct {
		name string
		opts Options
		code int
		want string
	}{
		{"foreign origin", Options{Origin: "http://evil.example"}, 403, "403 origin not allowed"},
		{"expired token", Options{Token: "expired"}, 401, "401 token expired"},
		{"rate limited", Options{Token: "busy"}, 429, "429 too many connections"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Room = "r1"
			c, err := Dial(testCtx(t), s.url, tc.opts)
			require.Error(t, err)
			assert.Nil(t, c)
			var he *HandshakeError
			require.ErrorAs(t, err, &he)
			assert.Equal(t, tc.code, he.StatusCode)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// The allowed origin and a token pass.
	c := dialTest(t, s, Options{Origin: "http://good.example", Token: "anything"})
	assert.NotNil(t, c.Welcome())
}

func TestCloseCodes(t *testing.T) {
	s := newTestServer(t)
	t.Run("unknown room before welcome", func(t *testing.T) {
		c, err := Dial(testCtx(t), s.url, Options{Room: "nope"})
		require.Error(t, err)
		assert.Nil(t, c)
		var ce *CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, uint16(4004), ce.Code)
		assert.Equal(t, "room not found", ce.Reason)
		assert.False(t, ce.Local)
		assert.Contains(t, err.Error(), "4004 room not found")
		s.closeCode(t)
	})
	t.Run("kicked after welcome", func(t *testing.T) {
		c := dialTest(t, s, Options{Room: "kick"})
		<-c.Done()
		ci := c.CloseInfo()
		require.NotNil(t, ci)
		assert.Equal(t, &CloseError{Code: 4009, Reason: "room full"}, ci)
		assert.Equal(t, "room full", c.Kick().GetReason())
		err := c.WaitTick(testCtx(t), 100)
		assert.ErrorAs(t, err, &ci)
		s.closeCode(t)
	})
	t.Run("dropped", func(t *testing.T) {
		c := dialTest(t, s, Options{Room: "drop"})
		<-c.Done()
		assert.Equal(t, uint16(1006), c.CloseInfo().Code)
		s.closeCode(t)
	})
	t.Run("leave", func(t *testing.T) {
		c := dialTest(t, s, Options{})
		require.NoError(t, c.Leave())
		<-c.Done()
		assert.Equal(t, &CloseError{Code: 1000, Reason: "left"}, c.CloseInfo())
		_, err := c.SendInput(1)
		assert.Error(t, err, "writes after the close fail")
		s.closeCode(t)
	})
	t.Run("client close", func(t *testing.T) {
		c := dialTest(t, s, Options{})
		assert.Nil(t, c.CloseInfo())
		require.NoError(t, c.Close())
		assert.Equal(t, &CloseError{Code: 1000, Local: true}, c.CloseInfo())
		assert.Equal(t, uint16(1000), s.closeCode(t))
		require.NoError(t, c.Close(), "Close is idempotent")
	})
}

func TestProtocolErrors(t *testing.T) {
	s := newTestServer(t)
	cases := map[string]error{"badframe": sim.ErrBadFrame, "desync": ErrDesync}
	for room, want := range cases {
		t.Run(room, func(t *testing.T) {
			c := dialTest(t, s, Options{Room: room})
			<-c.Done()
			assert.ErrorIs(t, c.Err(), want)
			assert.Equal(t, &CloseError{Code: 1002, Reason: "protocol error", Local: true}, c.CloseInfo())
			assert.Equal(t, uint16(1002), s.closeCode(t))
			assert.ErrorIs(t, c.WaitTick(testCtx(t), 100), want)
		})
	}
}

func TestCountOnly(t *testing.T) {
	s := newTestServer(t)
	applied := make(chan uint32, 16)
	c := dialTest(t, s, Options{CountOnly: true, OnFrame: func(*pb.Frame) { t.Error("OnFrame in CountOnly mode") },
		OnInputApplied: func(seq uint32, _ time.Duration) { applied <- seq }})
	for range 5 {
		_, err := c.SendInput(50)
		require.NoError(t, err)
	}
	require.NoError(t, c.WaitFrame(testCtx(t), func(st *sim.State, f FrameInfo) bool {
		assert.Nil(t, st)
		return f.LastInputSeq == 5
	}))
	assert.Nil(t, c.State())
	fi := c.LastFrame()
	assert.Equal(t, FrameInfo{Tick: 6, BaselineTick: 5, LastInputSeq: 5, HasHash: true, Bytes: fi.Bytes}, fi)
	n := c.Counters()
	assert.Equal(t, uint64(6), n.Frames)
	assert.Equal(t, uint64(7), n.Messages)
	assert.Positive(t, n.FirstFrameBytes)
	assert.Greater(t, n.BytesIn, n.FirstFrameBytes)
	for want := uint32(1); want <= 5; want++ {
		assert.Equal(t, want, recv(t, applied))
	}
}

func TestReconnect(t *testing.T) {
	for _, countOnly := range []bool{false, true} {
		s := newTestServer(t)
		c := dialTest(t, s, Options{CountOnly: countOnly})
		for range 3 {
			_, err := c.SendInput(10)
			require.NoError(t, err)
		}
		require.NoError(t, c.WaitTick(testCtx(t), 4))
		c2, err := c.Reconnect(testCtx(t))
		require.NoError(t, err)
		t.Cleanup(func() { c2.Close() })
		assert.True(t, c2.Welcome().GetResumed())
		require.NoError(t, c2.WaitTick(testCtx(t), 5))
		fi := c2.LastFrame()
		assert.Equal(t, uint32(4), fi.BaselineTick, "the resumed session's first frame is a delta")
		if !countOnly {
			assert.Equal(t, s.hash(5), c2.State().Hash())
		}
	}
}

func TestDialTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() { // accept and never answer
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, "ws://"+ln.Addr().String()+"/ws", Options{Room: "r"})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 3*time.Second)

	_, err = Dial(context.Background(), "http://127.0.0.1:1/ws", Options{})
	assert.ErrorContains(t, err, "scheme")
}

func TestSkipJoinAndSend(t *testing.T) {
	s := newTestServer(t)
	c := dialTest(t, s, Options{SkipJoin: true})
	assert.Nil(t, c.Welcome())
	require.NoError(t, c.SendRaw([]byte{0xff, 0xff}))
	<-c.Done()
	assert.Equal(t, &CloseError{Code: 1008, Reason: "malformed message"}, c.CloseInfo())
	s.closeCode(t)
}

func TestAppendInputMatchesProto(t *testing.T) {
	cases := []struct {
		seq     uint32
		timeUs  int64
		values  []int32
		render  uint32
		subtick uint16
	}{
		{1, 0, nil, 0, 0},
		{1, 123456, []int32{0}, 0, 0},
		{300, -5, []int32{-1, 1, -2147483648, 2147483647, 0}, 299, 0},
		{1<<32 - 1, 1 << 50, []int32{10000, -10000}, 1<<32 - 1, 65535},
		{2, 7, nil, 0, 1},
		{3, 0, []int32{5}, 128, 32768},
	}
	for _, tc := range cases {
		want, err := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: &pb.Input{
			Seq: tc.seq, ClientTimeUs: tc.timeUs, Values: tc.values, RenderTick: tc.render, Subtick: uint32(tc.subtick),
		}}})
		require.NoError(t, err)
		assert.Equal(t, want, appendInput(nil, tc.seq, tc.timeUs, tc.values, tc.render, tc.subtick))
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		var buf [64]byte
		_ = appendInput(buf[:0], 7, 99, []int32{1, 2}, 1234, 9)
	}))
}

func TestCloseErrorText(t *testing.T) {
	assert.Equal(t, "client: closed by server: 4004 room not found", (&CloseError{Code: 4004, Reason: "room not found"}).Error())
	assert.Equal(t, "client: closed by client: 1000", (&CloseError{Code: 1000, Local: true}).Error())
	assert.Equal(t, "client: handshake refused: 403 origin not allowed", (&HandshakeError{403, "origin not allowed"}).Error())
	assert.True(t, errors.Is(ErrProtocol, ErrProtocol))
}

// TestCloseErrorReconnect: the reconnect rules are the JS client's (client-js/src/close.ts).
func TestCloseErrorReconnect(t *testing.T) {
	for _, tc := range []struct {
		code   uint16
		reason string
		local  bool
		want   bool
	}{
		{1006, "", false, true},
		{1001, "server shutting down", false, true},
		{1011, "internal error", false, true},
		{4003, "server full", false, true},
		{4009, "room full", false, true},
		{4029, "too many seats from your address", false, true},
		{1008, "too slow", false, true},
		{1008, "join timeout", false, true},
		{1008, "ping timeout", false, true},
		{1008, "malformed message", false, false},
		{1008, "input flood", false, false},
		{1000, "bye", false, false},
		{1002, "", false, false},
		{4001, "session superseded", false, false},
		{4002, "room closed", false, false},
		{4004, "room not found", false, false},
		{4002, "match over", false, false},
		{4005, "mallory may not play", false, false}, // the game refused the player: the same again
		{4010, "replaced by a newer session", false, false},
		{1006, "", true, false}, // the client closed it itself
	} {
		assert.Equal(t, tc.want, (&CloseError{Code: tc.code, Reason: tc.reason, Local: tc.local}).Reconnect(), "%d %q local=%v", tc.code, tc.reason, tc.local)
	}
	assert.False(t, (*CloseError)(nil).Reconnect(), "still open")
}

// The refusal's body may arrive after its headers; gws would have closed the socket by then,
// so the client holds it open to read the reason. net.Pipe delivers each write separately.
func TestHandshakeBodyAfterHeaders(t *testing.T) {
	srv, cli := net.Pipe()
	go func() {
		defer srv.Close()
		if _, err := http.ReadRequest(bufio.NewReader(srv)); err != nil {
			return
		}
		_, _ = srv.Write([]byte("HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 19\r\n\r\n"))
		_, _ = srv.Write([]byte("origin not allowed\n"))
	}()
	_, err := Dial(testCtx(t), "ws://pipe.test/ws", Options{Room: "r", NetDial: func(context.Context, string, string) (net.Conn, error) {
		return cli, nil
	}})
	assert.EqualError(t, err, "client: handshake refused: 403 origin not allowed")
}
