package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/internal/rawws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

func mustMarshal(t testing.TB, m *pb.ClientMessage) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func joinMsg(t testing.TB, room string, create bool) []byte {
	return mustMarshal(t, &pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: room, Game: "arena", CreateIfMissing: create}}})
}

func inputMsg(t testing.TB, seq uint32, vals ...int32) []byte {
	return mustMarshal(t, &pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: &pb.Input{Seq: seq, Values: vals}}})
}

func rawDial(t testing.TB, ts *testServer, token string, o rawws.Options) *rawws.Conn {
	t.Helper()
	if o.Subprotocol == "" {
		o.Subprotocol = Subprotocol
	}
	c, resp, err := rawws.Dial(ts.wsURL(token), o)
	require.NoError(t, err)
	require.Nil(t, resp, "handshake refused")
	t.Cleanup(func() { c.Close() })
	return c
}

// rawJoined dials and joins room (creating it), then waits for the welcome.
func rawJoined(t testing.TB, ts *testServer, room string) *rawws.Conn {
	t.Helper()
	c := rawDial(t, ts, "", rawws.Options{})
	require.NoError(t, c.WriteBinary(joinMsg(t, room, true)))
	_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		op, p, err := c.ReadFrame()
		require.NoError(t, err)
		require.Equal(t, byte(rawws.OpBinary), op, "got %x %q", op, p)
		var m pb.ServerMessage
		require.NoError(t, proto.Unmarshal(p, &m))
		if m.GetWelcome() != nil {
			return c
		}
	}
}

// badInputCase is one row of the raw-frame table: what a client sends on an open socket and the
// close code and reason (when not empty) it must get.
type badInputCase struct {
	name   string
	joined bool // join a room first
	send   func(t *testing.T, c *rawws.Conn) error
	code   uint16
	reason string
}

// badInputCases is the raw-frame table, docs/operations.md's bad-input table for what arrives
// on an open socket (TestBadInputTableMatchesDocs holds the two to each other row by row).
func badInputCases() []badInputCase {
	unknownKind := protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1)
	fragments := func(_ *testing.T, c *rawws.Conn) error {
		for i := 0; i < 1000; i++ {
			op := byte(rawws.OpContinuation)
			if i == 0 {
				op = rawws.OpBinary
			}
			if err := c.WriteFrame(rawws.Frame{Op: op, Payload: make([]byte, 8), NotFin: i < 999}); err != nil {
				return nil // the server closed mid-flood: fine
			}
		}
		return nil
	}
	return []badInputCase{
		{"text frame", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpText, Payload: []byte("hello")})
		}, CodeUnsupported, "binary frames only"},
		{"malformed protobuf", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
		}, CodePolicy, "malformed message"},
		{"truncated join", false, func(t *testing.T, c *rawws.Conn) error {
			b := joinMsg(t, "room-with-a-long-name", true)
			return c.WriteBinary(b[:len(b)-3])
		}, CodePolicy, "malformed message"},
		{"oversized frame", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(make([]byte, 4<<10+1))
		}, CodeTooBig, ""},
		{"fragment flood", false, fragments, CodeTooBig, ""},
		{"unknown message kind", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(unknownKind)
		}, CodePolicy, "unknown message kind"},
		{"empty message", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(nil)
		}, CodePolicy, "unknown message kind"},
		{"input before join", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(inputMsg(t, 1, 0, 0))
		}, CodePolicy, "join first"},
		{"second join", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(joinMsg(t, "x", true))
		}, CodePolicy, "already joined"},
		{"seq out of range", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(inputMsg(t, maxSeqAhead+1, 0, 0))
		}, CodePolicy, "seq out of range"},
		{"extra input values", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(inputMsg(t, 1, 1, 2, 3))
		}, CodePolicy, "too many input values"},
		{"input flood", true, func(t *testing.T, c *rawws.Conn) error {
			for i := uint32(1); i <= 200; i++ {
				if err := c.WriteBinary(inputMsg(t, i, 0, 0)); err != nil {
					return nil
				}
			}
			return nil
		}, CodePolicy, "input flood"},
		{"unmasked frame", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpBinary, Payload: []byte{1}, Unmasked: true})
		}, CodeProtocol, ""},
		{"reserved opcode", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: 0x3, Payload: []byte{1}})
		}, CodeProtocol, ""},
		{"126-byte ping", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpPing, Payload: make([]byte, 126)})
		}, CodeProtocol, ""},
		{"reserved bit", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpBinary, Payload: []byte{1}, RSV: 0x40})
		}, CodeProtocol, ""},
		{"reserved control opcode", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: 0xB, Payload: []byte{1}})
		}, CodeProtocol, ""},
		{"text frame not UTF-8", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpText, Payload: []byte{0xff, 0xfe}})
		}, CodeInvalidData, ""},
		{"close reason not UTF-8", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteClose(CodeNormal, []byte{0xff, 0xfe})
		}, CodeInvalidData, ""},
		{"close code a peer may not send", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteClose(1005, nil)
		}, CodeProtocol, ""},
		{"close code below 1000", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteClose(999, nil)
		}, CodeProtocol, ""},
		{"close code 5000", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteClose(5000, nil)
		}, CodeProtocol, ""},
		{"one-byte close payload", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpClose, Payload: []byte{3}})
		}, CodeProtocol, ""},
		{"continuation without a start", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpContinuation, Payload: []byte{1}})
		}, CodeProtocol, ""},
		{"fragmented ping", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteFrame(rawws.Frame{Op: rawws.OpPing, Payload: []byte{1}, NotFin: true})
		}, CodeProtocol, ""},
		{"new message inside a fragmented one", false, func(t *testing.T, c *rawws.Conn) error {
			if err := c.WriteFrame(rawws.Frame{Op: rawws.OpBinary, Payload: []byte{1}, NotFin: true}); err != nil {
				return err
			}
			return c.WriteFrame(rawws.Frame{Op: rawws.OpBinary, Payload: []byte{2}})
		}, CodeProtocol, ""},
		{"input with seq 0", true, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(inputMsg(t, 0, 1, 1))
		}, CodePolicy, "malformed message"},
		{"room id too long", false, func(t *testing.T, c *rawws.Conn) error {
			return c.WriteBinary(joinMsg(t, strings.Repeat("r", maxRoomIDLen+1), true))
		}, CodePolicy, "malformed message"},
	}
}

// TestBadInputAfterUpgrade runs the raw-frame table: each row sends raw frames and asserts the
// close code and reason, and that ticksync_closes_total counted that code.
func TestBadInputAfterUpgrade(t *testing.T) {
	// Every joined row takes a seat held for the grace: no per-address seat cap here.
	ts := startServer(t, Config{TickRate: 100, InputRate: 10, InputBurst: 5, MaxSeatsPerIP: -1}, nil)
	cases := badInputCases()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *rawws.Conn
			if tc.joined {
				c = rawJoined(t, ts, fmt.Sprintf("bad-%d", i))
			} else {
				c = rawDial(t, ts, "", rawws.Options{})
			}
			closes := ts.m.closes.WithLabelValues(strconv.Itoa(int(tc.code)))
			before := counterValue(t, closes)
			require.NoError(t, tc.send(t, c))
			code, reason, err := c.ReadClose(waitTimeout, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.code, code)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, reason)
			}
			assert.LessOrEqual(t, len(reason), maxReasonLen)
			// ticksync_closes_total counts the code the client got, whoever chose it (gws or us).
			require.Eventually(t, func() bool { return counterValue(t, closes) == before+1 }, waitTimeout, time.Millisecond,
				"ticksync_closes_total{code=%q} not counted", strconv.Itoa(int(tc.code)))
		})
	}
	// The server is still serving after all of it.
	c := rawJoined(t, ts, "after")
	require.NotNil(t, c)
}

// TestRoomCloseCodes: unknown room 4004, full room 4009, room limit 4003, token for another
// room 4001.
func TestRoomCloseCodes(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100, MaxPlayers: 1, MaxRooms: 1}, nil)
	closeOf := func(join []byte) (uint16, string) {
		c := rawDial(t, ts, "", rawws.Options{})
		require.NoError(t, c.WriteBinary(join))
		code, reason, err := c.ReadClose(waitTimeout, nil)
		require.NoError(t, err)
		return code, reason
	}
	code, reason := closeOf(joinMsg(t, "nowhere", false))
	assert.Equal(t, uint16(CodeRoomNotFound), code)
	assert.Equal(t, "room not found", reason)

	code, reason = closeOf(mustMarshal(t, &pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: "new", Game: "chess", CreateIfMissing: true}}}))
	assert.Equal(t, uint16(CodeRoomNotFound), code)
	assert.Equal(t, "unknown game", reason, "join-create with a game the server does not run")

	rawJoined(t, ts, "one") // creates the only room and takes its only seat
	code, reason = closeOf(joinMsg(t, "one", false))
	assert.Equal(t, uint16(CodeRoomFull), code)
	assert.Equal(t, "room full", reason)

	code, reason = closeOf(joinMsg(t, "two", true))
	assert.Equal(t, uint16(CodeServerFull), code)
	assert.Equal(t, "server full", reason)

	code, _ = closeOf(mustMarshal(t, &pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: "one", Game: "nope", CreateIfMissing: true}}}))
	assert.Equal(t, uint16(CodeRoomFull), code, "an existing room is joined, not re-created")
}

func mint(t testing.TB, c auth.Claims) string {
	t.Helper()
	if c.Kind == "" {
		c.Kind = auth.KindJoin
	}
	if c.Expiry == 0 {
		c.Expiry = time.Now().Add(time.Minute).Unix()
	}
	tok, err := auth.Mint(testSecret, c)
	require.NoError(t, err)
	return tok
}

// TestHandshakeRefusals: what is refused with an HTTP status before the upgrade.
func TestHandshakeRefusals(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100, Auth: AuthToken, Secret: testSecret, AllowOrigins: []string{"https://game.example"}}, nil)
	good := mint(t, auth.Claims{Room: "r", Player: 7, Role: auth.RolePlayer})
	expired := mint(t, auth.Claims{Room: "r", Player: 7, Role: auth.RolePlayer, Expiry: time.Now().Add(-time.Second).Unix()})
	forged, err := auth.Mint([]byte("another-secret-of-32-bytes......"), auth.Claims{Kind: auth.KindJoin, Room: "r", Player: 7, Role: auth.RolePlayer, Expiry: time.Now().Add(time.Minute).Unix()})
	require.NoError(t, err)
	cases := []struct {
		name   string
		token  string
		opts   rawws.Options
		status int
		body   string
	}{
		{"no subprotocol", good, rawws.Options{Subprotocol: "-"}, 400, "subprotocol ticksync.v1 required"},
		{"wrong subprotocol", good, rawws.Options{Subprotocol: "chat"}, 400, "subprotocol ticksync.v1 required"},
		{"foreign origin", good, rawws.Options{Origin: "https://evil.example"}, 403, "origin not allowed"},
		{"origin with other port", good, rawws.Options{Origin: "http://" + strings.Replace(ts.addr, "127.0.0.1:", "127.0.0.1:1", 1)}, 403, "origin not allowed"},
		{"missing token", "", rawws.Options{}, 401, "token required"},
		{"expired token", expired, rawws.Options{}, 401, "token expired"},
		{"forged token", forged, rawws.Options{}, 401, "bad token"},
		{"garbage token", "abc.def", rawws.Options{}, 401, "bad token"},
		{"websocket version 8", good, rawws.Options{Header: http.Header{"Sec-WebSocket-Version": {"8"}}}, 426, "websocket version 13 required"},
		{"no websocket version", good, rawws.Options{Header: http.Header{"Sec-WebSocket-Version": {""}}}, 426, "websocket version 13 required"},
		{"good token, no origin", good, rawws.Options{}, 101, ""},
		{"good token, same origin", good, rawws.Options{Origin: "http://" + ts.addr}, 101, ""},
		{"good token, allowed origin", good, rawws.Options{Origin: "https://game.example"}, 101, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			switch o.Subprotocol {
			case "":
				o.Subprotocol = Subprotocol
			case "-":
				o.Subprotocol = ""
			}
			c, resp, err := rawws.Dial(ts.wsURL(tc.token), o)
			require.NoError(t, err)
			if tc.status == 101 {
				require.Nil(t, resp)
				c.Close()
				return
			}
			require.NotNil(t, resp)
			assert.Equal(t, tc.status, resp.Status)
			assert.Equal(t, tc.body, strings.TrimSpace(resp.Body))
			if tc.status == http.StatusUpgradeRequired { // RFC 6455 §4.4: name the version we speak
				assert.Equal(t, "13", resp.Header.Get("Sec-WebSocket-Version"))
			}
		})
	}

	t.Run("token for another room", func(t *testing.T) {
		_, err := ts.CreateRoom("other", "arena", nil)
		require.NoError(t, err)
		c := rawDial(t, ts, good, rawws.Options{})
		require.NoError(t, c.WriteBinary(joinMsg(t, "other", false)))
		code, reason, err := c.ReadClose(waitTimeout, nil)
		require.NoError(t, err)
		assert.Equal(t, uint16(CodeUnauthorized), code)
		assert.Equal(t, "token not valid for this room", reason)
	})
	t.Run("player token cannot create", func(t *testing.T) {
		c := rawDial(t, ts, good, rawws.Options{})
		require.NoError(t, c.WriteBinary(joinMsg(t, "r", true)))
		code, _, err := c.ReadClose(waitTimeout, nil)
		require.NoError(t, err)
		assert.Equal(t, uint16(CodeRoomNotFound), code)
	})
}

// TestPerIPCap: beyond -max-conns-per-ip, 429 before the upgrade.
func TestPerIPCap(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100, MaxConnsPerIP: 2}, nil)
	rawDial(t, ts, "", rawws.Options{})
	second := rawDial(t, ts, "", rawws.Options{})
	_, resp, err := rawws.Dial(ts.wsURL(""), rawws.Options{Subprotocol: Subprotocol})
	require.NoError(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusTooManyRequests, resp.Status)
	// Closing one frees its slot.
	second.Close()
	require.Eventually(t, func() bool {
		c, resp, err := rawws.Dial(ts.wsURL(""), rawws.Options{Subprotocol: Subprotocol})
		if err == nil && resp == nil {
			c.Close()
			return true
		}
		return false
	}, waitTimeout, 5*time.Millisecond)
}

// TestSlowloris: a client that sends half a header, or trickles its request a byte at a
// time, gets "400 Bad Request" at -header-timeout and is closed, while others upgrade; a
// connection that sends nothing is closed without a reply; headers beyond -max-header-bytes
// get 431.
func TestSlowloris(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ts := startServer(t, Config{TickRate: 100, HeaderTimeout: timeout}, nil)
	dial := func() net.Conn {
		nc, err := net.Dial("tcp", ts.addr)
		require.NoError(t, err)
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	lastWords := func(nc net.Conn) string {
		_ = nc.SetReadDeadline(time.Now().Add(waitTimeout))
		reply, err := io.ReadAll(nc)
		// EOF, or a reset when one of the trickle's bytes crossed the server's close: either
		// way the server closed it, and what it sent before is still read first.
		if !errors.Is(err, syscall.ECONNRESET) {
			require.NoError(t, err, "closed by the server (EOF)")
		}
		return string(reply)
	}
	const badRequest = "HTTP/1.1 400 Bad Request\r\n"

	half, silent, trickle := dial(), dial(), dial()
	_, err := io.WriteString(half, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgr")
	require.NoError(t, err)
	// The trickle sends its request a byte every 20 ms: 2 s in all, ten header timeouts.
	var finished atomic.Bool
	go func() {
		req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ticksync.v1\r\n\r\n"
		for i := range len(req) {
			if _, err := trickle.Write([]byte{req[i]}); err != nil {
				return // closed by the server
			}
			time.Sleep(20 * time.Millisecond)
		}
		finished.Store(true)
	}()

	c := rawJoined(t, ts, "meanwhile") // others are served meanwhile
	require.NotNil(t, c)

	assert.True(t, strings.HasPrefix(lastWords(half), badRequest), "half a header: 400 at the timeout")
	assert.True(t, strings.HasPrefix(lastWords(trickle), badRequest), "a trickled request: 400 at the timeout")
	assert.Empty(t, lastWords(silent), "nothing sent: closed without a reply")
	assert.False(t, finished.Load(), "cut off at the header timeout, before the trickle could end")

	big, resp, err := rawws.Dial(ts.wsURL(""), rawws.Options{Subprotocol: Subprotocol, Header: http.Header{"X-Big": {strings.Repeat("a", 16<<10)}}})
	require.NoError(t, err)
	require.Nil(t, big)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.Status)
}

// TestHeaderLimit: -max-header-bytes bounds the request head (request line, headers and the
// blank line) at the documented figure, not net/http's figure plus its 4 KiB slack.
func TestHeaderLimit(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100}, nil)
	status := func(size int) int {
		head := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: ticksync.v1\r\nX-Pad: "
		head += strings.Repeat("a", size-len(head)-len("\r\n\r\n")) + "\r\n\r\n"
		require.Len(t, head, size)
		nc, err := net.Dial("tcp", ts.addr)
		require.NoError(t, err)
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(waitTimeout))
		_, err = io.WriteString(nc, head)
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusSwitchingProtocols, status(8<<10), "a head of exactly 8 KiB")
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, status(8<<10+1), "one byte more")
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, status(12<<10), "net/http's own figure")
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOversizedMessageCounted: a message beyond -max-msg-bytes gets 1009 from gws; /metrics
// counts it under code="1009" (not 1006), and the close is logged.
func TestOversizedMessageCounted(t *testing.T) {
	var logs lockedBuffer
	ts := startServer(t, Config{TickRate: 100, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	scrape := func() string { // "" on an error: the waits below retry
		resp, err := http.Get(ts.httpURL("/metrics"))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	c := rawJoined(t, ts, "big")
	require.NoError(t, c.WriteBinary(make([]byte, 4<<10+1)))
	code, reason, err := c.ReadClose(waitTimeout, nil)
	require.NoError(t, err)
	assert.Equal(t, uint16(CodeTooBig), code)
	assert.Equal(t, "message too large", strings.TrimPrefix(reason, "gws: "))
	require.Eventually(t, func() bool { return strings.Contains(scrape(), `ticksync_closes_total{code="1009"} 1`) },
		waitTimeout, 5*time.Millisecond, "closes_total{code=1009}")
	m := scrape()
	assert.NotContains(t, m, `ticksync_closes_total{code="1006"}`)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "code=1009") }, waitTimeout, time.Millisecond)
	assert.Contains(t, logs.String(), `reason="message too large" room=big`)
}

// TestNeverReadingClient: a TCP client that never reads is closed by the write deadline; the
// room and other clients go on.
func TestNeverReadingClient(t *testing.T) {
	cfg := anonCfg()
	cfg.WriteTimeout = 200 * time.Millisecond
	cfg.MaxLag = time.Hour // the write deadline, not the lag check, must end it
	cfg.SendBuffer = 4096  // a client that stops reading blocks the writer within milliseconds
	ts := startServer(t, cfg, nil)
	r, err := ts.CreateRoom("r", "arena", []byte(`{"npcs":500}`))
	require.NoError(t, err)
	// A small receive buffer: with the system's (megabytes on loopback) a slow machine needs
	// thousands of ticks before the socket fills, more than the wait allows.
	nc := rawDial(t, ts, "", rawws.Options{RecvBuffer: 4096})
	require.NoError(t, nc.WriteBinary(joinMsg(t, "r", false)))
	other := ts.dial(t, dialOpts{})
	other.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "both joined", func() bool { return r.clientCount() == 2 && other.tick() != 0 })
	// nc never reads: its frames (full snapshots once its baseline leaves the ring) pile up
	// in the socket until a write misses its deadline.
	tickUntil(t, r, "never-reader dropped", func() bool { return r.clientCount() == 1 })
	r.Tick()
	want := r.CurrentTick()
	other.waitFor("other still served", func(c *tclient) bool { return c.mirror.Tick() == want })
}

// TestTooSlow: a client whose newest frame trails the room by more than -max-lag is closed
// with 1008 "too slow" even while its socket still accepts bytes slowly.
func TestTooSlow(t *testing.T) {
	cfg := anonCfg()
	cfg.MaxLag = 500 * time.Millisecond // 10 ticks at 20 Hz
	cfg.SendBuffer = 4096
	ts := startServer(t, cfg, nil)
	r, err := ts.CreateRoom("r", "arena", []byte(`{"npcs":500}`))
	require.NoError(t, err)
	slow := ts.dial(t, dialOpts{rcvBuf: 4096})
	slow.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "joined", func() bool { return slow.tick() != 0 })
	slow.pause()
	for i := 0; i < 30 && r.clientCount() > 0; i++ {
		r.Tick()
		time.Sleep(time.Millisecond)
	}
	tickUntil(t, r, "dropped", func() bool { return r.clientCount() == 0 })
	assert.GreaterOrEqual(t, counterValue(t, ts.m.closes.WithLabelValues("1008")), 1.0)
	slow.resume()
	code, _ := slow.waitClose()
	assert.Contains(t, []uint16{CodePolicy, 1006, CodeGoingAway}, code, "1008 'too slow' is best effort")
}

// TestInputRules: the server stamps the player (a client moves only its own entity), replays
// and duplicates are dropped and counted, out-of-range values are clamped.
func TestInputRules(t *testing.T) {
	ts := startServer(t, anonCfg(), nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	a, b := ts.dial(t, dialOpts{}), ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r"})
	b.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "joined", func() bool { return a.tick() != 0 && b.tick() != 0 })
	wa, wb := a.welcomed(), b.welcomed()
	stale0 := counterValue(t, ts.m.dropBy[dropStale])
	clamped0 := counterValue(t, ts.m.clamped)

	// Towards the middle, so no wall bounce flips the clamped velocity before it is read back.
	sx, sy := a.inward(wa.GetPlayerId(), 0, 1), a.inward(wa.GetPlayerId(), 1, 1)
	a.input(2, sx*1_000_000, sy*1_000_000) // clamped to ±200 units/s
	a.input(2, 5, 5)                       // duplicate
	a.input(1, 7, 7)                       // older than 2, still queued: applied first
	sa := r.seatsSnapshot(wa.GetPlayerId())
	require.Eventually(t, func() bool { return sa.Inbox().Pending() == 2 }, waitTimeout, time.Millisecond)
	r.Tick()
	a.input(2, 9, 9) // replay of an applied seq
	a.input(1, 9, 9)
	require.Eventually(t, func() bool { return counterValue(t, ts.m.dropBy[dropStale]) == stale0+3 }, waitTimeout, time.Millisecond)
	r.Tick()
	want := r.CurrentTick()
	a.waitFor("frame", func(c *tclient) bool { return c.mirror.Tick() == want })
	a.mu.Lock()
	defer a.mu.Unlock()
	vx, vy, _ := a.playerVel(wa.GetPlayerId())
	assert.Equal(t, sx*20000, vx, "clamped")
	assert.Equal(t, sy*20000, vy)
	assert.Equal(t, uint32(2), a.lastSeq)
	bvx, bvy, ok := a.playerVel(wb.GetPlayerId())
	assert.True(t, ok)
	assert.Zero(t, bvx, "b's entity is b's alone")
	assert.Zero(t, bvy)
	assert.Equal(t, clamped0+2, counterValue(t, ts.m.clamped))
}

// TestHTTPAPI: GET/POST /rooms, the admin close call, /healthz and /metrics.
func TestHTTPAPI(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100}, nil)
	post := func(body string) (*http.Response, string) {
		resp, err := http.Post(ts.httpURL("/rooms"), "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post(`{"game":"arena","config":{"npcs":10},"id":"lobby"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	assert.JSONEq(t, `{"id":"lobby"}`, body)
	resp, _ = post(`{"game":"arena","id":"lobby"}`)
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	resp, _ = post(`{"game":"chess"}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(`{"game":"arena","config":{"npcs":-5}}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(`not json`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "lobby"})
	w := a.welcomed()
	a.waitFor("frame", func(c *tclient) bool { return c.frames > 0 })

	get, err := http.Get(ts.httpURL("/rooms"))
	require.NoError(t, err)
	b, _ := io.ReadAll(get.Body)
	get.Body.Close()
	assert.Contains(t, string(b), `"id":"lobby"`)
	assert.Contains(t, string(b), `"game":"arena"`)
	assert.Contains(t, string(b), `"players":1`)
	assert.Contains(t, string(b), `"max":64`)

	cl, err := http.Post(ts.httpURL(fmt.Sprintf("/admin/close?room=lobby&player=%d&code=4002&reason=match+over", w.GetPlayerId())), "", nil)
	require.NoError(t, err)
	cl.Body.Close()
	assert.Equal(t, http.StatusNoContent, cl.StatusCode)
	code, reason := a.waitClose()
	assert.Equal(t, uint16(4002), code)
	assert.Equal(t, "match over", reason)
	a.mu.Lock()
	require.NotNil(t, a.kick, "a kick message precedes the close")
	assert.Equal(t, uint32(4002), a.kick.GetCode())
	a.mu.Unlock()

	for _, tc := range []struct{ query, why string }{
		{fmt.Sprintf("room=lobby&player=%d&code=4002", w.GetPlayerId()+100), "player not connected"},
		{fmt.Sprintf("room=nope&player=%d&code=4002", w.GetPlayerId()), "room not found"},
	} {
		nf, err := http.Post(ts.httpURL("/admin/close?"+tc.query), "", nil)
		require.NoError(t, err)
		body, _ := io.ReadAll(nf.Body)
		nf.Body.Close()
		assert.Equal(t, http.StatusNotFound, nf.StatusCode, tc.query)
		assert.Equal(t, tc.why, strings.TrimSpace(string(body)))
	}

	bad, err := http.Post(ts.httpURL("/admin/close?room=lobby&player=1&code=1006"), "", nil)
	require.NoError(t, err)
	bad.Body.Close()
	assert.Equal(t, http.StatusBadRequest, bad.StatusCode)

	h, err := http.Get(ts.httpURL("/healthz"))
	require.NoError(t, err)
	h.Body.Close()
	assert.Equal(t, http.StatusOK, h.StatusCode)

	m, err := http.Get(ts.httpURL("/metrics"))
	require.NoError(t, err)
	mb, _ := io.ReadAll(m.Body)
	m.Body.Close()
	for _, name := range []string{"ticksync_rooms 1", "ticksync_tick_seconds_bucket{phase=\"step\",le=\"1e-05\"}",
		"ticksync_closes_total{code=\"4002\"} 1", "ticksync_frames_out_total", "ticksync_bytes_out_total",
		"ticksync_input_drops_total{reason=\"rate\"}", "go_goroutines", "process_cpu_seconds_total"} {
		assert.Contains(t, string(mb), name)
	}

	idx, err := http.Get(ts.httpURL("/"))
	require.NoError(t, err)
	ib, _ := io.ReadAll(idx.Body)
	idx.Body.Close()
	assert.Equal(t, http.StatusNotFound, idx.StatusCode, "no Config.Pages: the server has no pages")
	assert.True(t, bytes.Contains(ib, []byte("/ws")), "the 404 names the endpoints: %s", ib)
}

// TestAdminRoutesInTokenMode: operator routes need an admin token in token mode.
func TestAdminRoutesInTokenMode(t *testing.T) {
	ts := startServer(t, Config{TickRate: 100, Auth: AuthToken, Secret: testSecret}, nil)
	do := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.httpURL("/rooms"), strings.NewReader(`{"game":"arena"}`))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, do(""))
	assert.Equal(t, http.StatusForbidden, do(mint(t, auth.Claims{Room: "r", Player: 1, Role: auth.RolePlayer})))
	assert.Equal(t, http.StatusCreated, do(mint(t, auth.Claims{Room: auth.AnyRoom, Role: auth.RoleAdmin})))
}

// TestPprof: -pprof serves /debug/pprof/ beside pages at / (the patterns must not conflict:
// ServeMux panics on registration when they do); without it the path is not found.
func TestPprof(t *testing.T) {
	get := func(ts *testServer, path string) (int, string) {
		resp, err := http.Get(ts.httpURL(path))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	pages := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ticksync pages") })
	on := startServer(t, Config{TickRate: 20, Pprof: true, Pages: pages}, nil)
	code, body := get(on, "/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine")
	code, body = get(on, "/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "ticksync")
	off := startServer(t, Config{TickRate: 20}, nil)
	code, _ = get(off, "/debug/pprof/")
	assert.Equal(t, http.StatusNotFound, code)
}

// TestMaxConnsBacklog: past -max-conns a connection waits in the listen backlog: its
// handshake is not answered while every slot is taken, and proceeds once one frees.
func TestMaxConnsBacklog(t *testing.T) {
	ts := startServer(t, Config{TickRate: 20, MaxConns: 2, MaxConnsPerIP: -1}, nil)
	a := ts.dial(t, dialOpts{})
	b := ts.dial(t, dialOpts{})
	b.join(&pb.Join{Room: "r", Game: "arena", CreateIfMissing: true})
	b.welcomed()
	type dialed struct {
		c   *tclient
		err error
	}
	third := make(chan dialed, 1)
	go func() {
		c, err := dialClient(t, ts.wsURL(""), dialOpts{})
		third <- dialed{c, err}
	}()
	select {
	case d := <-third:
		t.Fatalf("a third connection was served with -max-conns 2 (err %v)", d.err)
	case <-time.After(500 * time.Millisecond):
	}
	_ = a.ws.NetConn().Close() // the server sees EOF, closes its side, and frees the slot
	select {
	case d := <-third:
		require.NoError(t, d.err)
		d.c.join(&pb.Join{Room: "r"})
		d.c.welcomed()
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting connection was not served after a slot freed")
	}
}

// TestBadInputTableMatchesDocs holds docs/operations.md's bad-input table to the raw-frame
// table row by row: every case of badInputCases has exactly one row, named as the case and
// proved by its subtest, whose "what the server does" gives the same close code and reason;
// every row that names a subtest names one that exists.
func TestBadInputTableMatchesDocs(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	require.NoError(t, err)
	const header = "| case | what the server does | guarantee | which test proves it |"
	lines := strings.Split(string(doc), "\n")
	start := slices.Index(lines, header)
	require.GreaterOrEqual(t, start, 0, "docs/operations.md has no bad-input table")
	type row struct{ name, does string }
	rows := map[string]row{} // subtest name → the row that cites it
	subtest := regexp.MustCompile("`TestBadInputAfterUpgrade/([^`]+)`")
	for _, line := range lines[start+2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		require.Len(t, cells, 4, "row %q", line)
		for _, m := range subtest.FindAllStringSubmatch(cells[3], -1) {
			_, dup := rows[m[1]]
			require.False(t, dup, "%q is cited by two rows", m[1])
			rows[m[1]] = row{name: strings.TrimSpace(cells[0]), does: cells[1]}
		}
	}
	cases := badInputCases()
	names := map[string]bool{}
	for _, tc := range cases {
		names[tc.name] = true
		r, ok := rows[tc.name]
		if !assert.True(t, ok, "raw-frame case %q has no row in docs/operations.md", tc.name) {
			continue
		}
		assert.Equal(t, tc.name, r.name, "the row proved by %q is named after it", tc.name)
		assert.Contains(t, r.does, fmt.Sprintf("close %d", tc.code), "row %q", tc.name)
		if tc.reason != "" {
			assert.Contains(t, r.does, `"`+tc.reason+`"`, "row %q", tc.name)
		}
	}
	for name := range rows {
		assert.True(t, names[name], "docs/operations.md cites TestBadInputAfterUpgrade/%s, which is not a case", name)
	}
}
