package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ticksync/ticksync/auth"
	"github.com/ticksync/ticksync/internal/rawws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The hostile kinds, in the order reports list them. Each is a loop of connections that
// misbehave one way, from a loopback address of its own (127.0.0.2 and up: Linux routes all
// of 127/8 to lo), so per-address caps fall on it and never on the honest clients (127.0.0.1).
const (
	kindFlood     = "flood"        // inputs at 10× the input rate
	kindGarbage   = "garbage"      // malformed protobuf after the join
	kindOversized = "oversized"    // one message over -max-msg-bytes
	kindNoRead    = "never-reader" // keeps sending inputs, never reads
	kindSlowloris = "slowloris"    // trickles its request headers, one byte at a time
	kindStorm     = "storm"        // join, then close (three ways in turn), again and again
)

// noReadRcvBuf is the never-readers' socket receive buffer (the kernel doubles it).
const noReadRcvBuf = 2 << 10

var hostileKinds = []string{kindFlood, kindGarbage, kindOversized, kindNoRead, kindSlowloris, kindStorm}

// Outcomes a hostile connection can end with besides a close code ("1008", …).
const (
	outNoCloseFrame = "no close frame"       // EOF or reset without a close frame
	outOpenAtEnd    = "open at end"          // still connected when its loop's time ran out
	outDialError    = "dial error"           // no TCP connection
	outUpgraded     = "upgraded"             // slowloris: the server answered 101 (it must not)
	outNoReply      = "closed without reply" // slowloris: the server closed the socket silently
	outStillWaiting = "no reply in 2m"       // slowloris: the server neither answered nor closed
	outLeft1000     = "left: close 1000"     // storm: it closed with 1000 after the welcome
	outLeftMsg      = "left: leave message"  // storm: it sent leave, then closed with 1000
	outLeftTCP      = "left: TCP close"      // storm: it dropped the socket after the welcome
)

// hostileKindResult is one kind's tally (JSON).
type hostileKindResult struct {
	Kind        string         `json:"kind"`
	Clients     int            `json:"clients"`     // concurrent loops
	Connections int            `json:"connections"` // connections opened
	Joins       int            `json:"joins"`       // welcomes received
	Sent        int64          `json:"messages_sent"`
	Codes       map[string]int `json:"codes"` // close code (or outcome, see outNoCloseFrame …) → connections
	// LongestS is the longest a connection lasted, dial to end, among those that ended before
	// the run did (a never-reader: how long the server took to drop it).
	LongestS float64 `json:"longest_s"`
}

// hostileConfig configures a hostile mix.
type hostileConfig struct {
	WS          string // ws://host:port
	Secret      []byte // token secret (nil: anonymous)
	Rooms       []string
	PerKind     int
	InputHz     float64 // the honest input rate; the flood sends 10× it
	MaxMsgBytes int     // the server's -max-msg-bytes
	Duration    time.Duration
	FirstPlayer uint32 // hostile player ids start here (clear of the honest ones)
}

// hostileMix runs the loops; stop ends them and returns the tallies.
type hostileMix struct {
	cfg    hostileConfig
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	kinds  map[string]*hostileKindResult
	sent   map[string]*atomic.Int64
	open   atomic.Int64 // hostile connections open now
}

// hostileCount is how many loops of each kind pct percent of honest clients make (at least one).
func hostileCount(honest int, pct float64) int {
	if pct <= 0 {
		return 0
	}
	total := math.Ceil(float64(honest) * pct / 100)
	return max(1, int(math.Ceil(total/float64(len(hostileKinds)))))
}

// hostileSeats is how many room seats a mix of perKind loops per kind holds: every kind but
// slowloris joins, each loop with one player id.
func hostileSeats(perKind int) int { return perKind * (len(hostileKinds) - 1) }

// startHostile starts perKind loops of each kind; each stops by itself after cfg.Duration.
func startHostile(ctx context.Context, cfg hostileConfig) *hostileMix {
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	h := &hostileMix{cfg: cfg, cancel: cancel, kinds: map[string]*hostileKindResult{}, sent: map[string]*atomic.Int64{}}
	idx := 0
	for _, k := range hostileKinds {
		h.kinds[k] = &hostileKindResult{Kind: k, Clients: cfg.PerKind, Codes: map[string]int{}}
		h.sent[k] = &atomic.Int64{}
	}
	seat := 0
	for _, k := range hostileKinds {
		for range cfg.PerKind {
			hc := &hostileClient{mix: h, kind: k, local: net.IPv4(127, 0, 0, byte(2+idx%253))}
			if k != kindSlowloris {
				hc.room = cfg.Rooms[seat%len(cfg.Rooms)]
				hc.player = cfg.FirstPlayer + uint32(seat)
				seat++
			}
			idx++
			h.wg.Add(1)
			go func() { defer h.wg.Done(); hc.loop(ctx) }()
		}
	}
	return h
}

// stop ends every loop and returns the tallies in hostileKinds' order.
func (h *hostileMix) stop() []hostileKindResult {
	h.cancel()
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]hostileKindResult, 0, len(hostileKinds))
	for _, k := range hostileKinds {
		r := *h.kinds[k]
		r.Sent = h.sent[k].Load()
		out = append(out, r)
	}
	return out
}

func (h *hostileMix) book(kind, outcome string, joined bool, lasted time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := h.kinds[kind]
	if outcome != outOpenAtEnd {
		k.LongestS = max(k.LongestS, round1(lasted.Seconds()))
	}
	k.Connections++
	if joined {
		k.Joins++
	}
	k.Codes[outcome]++
}

// hostileClient is one loop.
type hostileClient struct {
	mix    *hostileMix
	kind   string
	local  net.IP
	room   string
	player uint32
	seq    uint32
	cycle  int
}

// loop opens one misbehaving connection after another until ctx ends, at most one per pause
// and at most maxAttempts in all.
func (hc *hostileClient) loop(ctx context.Context) {
	pause := 250 * time.Millisecond
	if hc.kind == kindStorm {
		pause = 100 * time.Millisecond
	}
	maxAttempts := int(hc.mix.cfg.Duration/pause) + 1
	for range maxAttempts {
		if ctx.Err() != nil {
			return
		}
		t0 := time.Now()
		outcome, joined := hc.attempt(ctx)
		hc.mix.book(hc.kind, outcome, joined, time.Since(t0))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// attempt runs one connection of the client's kind and returns how it ended.
func (hc *hostileClient) attempt(ctx context.Context) (outcome string, joined bool) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: hc.local}, Timeout: 10 * time.Second}
	if hc.kind == kindNoRead {
		// A small receive buffer: the client's kernel stops acknowledging frames within
		// seconds, so what is measured is how soon the server gives up on a peer that does
		// not take its bytes, not how long this machine's buffers take to fill.
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, noReadRcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	u, err := url.Parse(hc.mix.cfg.WS)
	if err != nil {
		return outDialError, false
	}
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		if ctx.Err() != nil {
			return outOpenAtEnd, false
		}
		return outDialError, false
	}
	hc.mix.open.Add(1)
	defer hc.mix.open.Add(-1)
	stop := context.AfterFunc(ctx, func() { _ = nc.Close() }) // unblocks reads and writes
	defer stop()
	defer nc.Close()
	if hc.kind == kindSlowloris {
		return hc.slowloris(ctx, nc, u.Host), false
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	wsURL := hc.mix.cfg.WS + "/ws"
	if tok := hc.token(); tok != "" {
		wsURL += "?token=" + url.QueryEscape(tok)
	}
	c, resp, err := rawws.Handshake(nc, wsURL, rawws.Options{Subprotocol: subprotocol})
	if err != nil {
		return ended(ctx, err), false
	}
	if resp != nil {
		return "http " + strconv.Itoa(resp.Status), false
	}
	join, _ := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: hc.room, Game: game, Views: true}}})
	if err := c.WriteBinary(join); err != nil {
		return ended(ctx, err), false
	}
	if code, err := awaitWelcome(c); err != nil || code != "" {
		if code != "" {
			return code, false
		}
		return ended(ctx, err), false
	}
	_ = nc.SetDeadline(time.Time{})
	switch hc.kind {
	case kindFlood:
		return hc.send(ctx, c, 10*hc.mix.cfg.InputHz, true), true
	case kindNoRead:
		return hc.send(ctx, c, hc.mix.cfg.InputHz, false), true
	case kindGarbage:
		return hc.garbage(ctx, c), true
	case kindOversized:
		b := make([]byte, 2*hc.mix.cfg.MaxMsgBytes+1)
		if err := c.WriteBinary(b); err != nil {
			return closeAfterWriteError(ctx, c), true
		}
		hc.mix.sent[hc.kind].Add(1)
		return readUntilClose(ctx, c, time.Now().Add(30*time.Second)), true
	case kindStorm:
		return hc.leave(c), true
	}
	return outNoCloseFrame, true
}

// token mints the loop's join token ("" in anonymous mode).
func (hc *hostileClient) token() string {
	if hc.mix.cfg.Secret == nil {
		return ""
	}
	t, _ := auth.Mint(hc.mix.cfg.Secret, auth.Claims{Kind: auth.KindJoin, Room: hc.room, Game: game,
		Player: hc.player, Role: auth.RolePlayer, Expiry: time.Now().Add(24 * time.Hour).Unix()})
	return t
}

// send sends inputs at hz until the server closes the connection. A reader (read true) reads
// the frames meanwhile and returns the close code; a never-reader sends until a write fails,
// then reads what the server left in its socket for the close frame.
func (hc *hostileClient) send(ctx context.Context, c *rawws.Conn, hz float64, read bool) string {
	got := make(chan string, 1)
	if read {
		go func() { got <- readUntilClose(ctx, c, time.Time{}) }()
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / hz))
	defer t.Stop()
	for {
		select {
		case code := <-got:
			return code
		case <-ctx.Done():
			_ = c.Close()
			if read {
				<-got
			}
			return outOpenAtEnd
		case <-t.C:
		}
		hc.seq++
		_ = c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if err := c.WriteBinary(appendInput(nil, hc.seq, 100, -100)); err != nil {
			if read {
				return <-got
			}
			return closeAfterWriteError(ctx, c)
		}
		hc.mix.sent[hc.kind].Add(1)
	}
}

// garbage sends malformed protobuf (a field tag of number 0, then random bytes) every 100 ms
// until the server closes the connection.
func (hc *hostileClient) garbage(ctx context.Context, c *rawws.Conn) string {
	got := make(chan string, 1)
	go func() { got <- readUntilClose(ctx, c, time.Time{}) }()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		b := make([]byte, 16+hc.cycle%48)
		_, _ = rand.Read(b)
		b[0] = 0 // field number 0 is never valid
		hc.cycle++
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteBinary(b); err != nil {
			return <-got
		}
		hc.mix.sent[hc.kind].Add(1)
		select {
		case code := <-got:
			return code
		case <-ctx.Done():
			_ = c.Close()
			<-got
			return outOpenAtEnd
		case <-t.C:
		}
	}
}

// leave ends a storm cycle after the welcome: close 1000, leave then 1000, or a dropped
// socket, in turn.
func (hc *hostileClient) leave(c *rawws.Conn) string {
	hc.cycle++
	hc.mix.sent[hc.kind].Add(1)
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	switch hc.cycle % 3 {
	case 0:
		_ = c.WriteClose(1000, nil)
		return outLeft1000
	case 1:
		leave, _ := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Leave{Leave: &pb.Leave{}}})
		_ = c.WriteBinary(leave)
		_ = c.WriteClose(1000, nil)
		return outLeftMsg
	default:
		return outLeftTCP
	}
}

// slowloris writes a request line and then one header byte every 500 ms, never ending the
// headers, and returns what the server did: an HTTP status ("http 400"), a silent close, or
// nothing before the attempt's bound (open at end).
func (hc *hostileClient) slowloris(ctx context.Context, nc net.Conn, host string) string {
	reply := make(chan string, 1)
	go func() {
		br := bufio.NewReader(nc)
		line, err := br.ReadString('\n')
		switch {
		case strings.HasPrefix(line, "HTTP/1.1 101") || strings.HasPrefix(line, "HTTP/1.0 101"):
			reply <- outUpgraded
		case len(line) >= 12 && strings.HasPrefix(line, "HTTP/"):
			reply <- "http " + line[9:12]
		case err != nil && ctx.Err() != nil:
			reply <- outOpenAtEnd
		default:
			reply <- outNoReply
		}
	}()
	req := "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: "
	_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		return <-reply
	}
	hc.mix.sent[hc.kind].Add(1)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	bound := time.NewTimer(2 * time.Minute) // far past any header timeout
	defer bound.Stop()
	for {
		select {
		case r := <-reply:
			return r
		case <-bound.C:
			_ = nc.Close()
			<-reply
			return outStillWaiting
		case <-t.C:
			if _, err := nc.Write([]byte{'a'}); err != nil {
				return <-reply
			}
		}
	}
}

// ended names how a connection ended on an error before its close frame: the loop's end,
// or the server's doing.
func ended(ctx context.Context, _ error) string {
	if ctx.Err() != nil {
		return outOpenAtEnd
	}
	return outNoCloseFrame
}

// WebSocket opcodes the hostile client uses.
// awaitWelcome reads until the welcome (""), a close frame (its code) or an error.
func awaitWelcome(c *rawws.Conn) (string, error) {
	for {
		op, p, err := c.ReadFrame()
		if err != nil {
			return "", err
		}
		switch op {
		case rawws.OpClose:
			return closeOutcome(p), nil
		case rawws.OpPing:
			_ = c.WriteFrame(rawws.Frame{Op: rawws.OpPong, Payload: p})
		case rawws.OpBinary:
			if num, typ, n := protowire.ConsumeTag(p); n > 0 && typ == protowire.BytesType && num == fieldWelcome {
				return "", nil
			}
		}
	}
}

// readUntilClose reads (answering pings) until a close frame, whose code it returns, or an
// error (no close frame), or the deadline (zero: none).
func readUntilClose(ctx context.Context, c *rawws.Conn, deadline time.Time) string {
	_ = c.SetReadDeadline(deadline)
	for {
		op, p, err := c.ReadFrame()
		if err != nil {
			if ctx.Err() != nil {
				return outOpenAtEnd
			}
			return outNoCloseFrame
		}
		switch op {
		case rawws.OpClose:
			return closeOutcome(p)
		case rawws.OpPing:
			_ = c.WriteFrame(rawws.Frame{Op: rawws.OpPong, Payload: p})
		}
	}
}

// closeAfterWriteError looks for the close frame a write failed after: whatever the server
// sent before closing is still in the socket's receive buffer.
func closeAfterWriteError(ctx context.Context, c *rawws.Conn) string {
	if ctx.Err() != nil {
		return outOpenAtEnd
	}
	return readUntilClose(ctx, c, time.Now().Add(10*time.Second))
}

// closeOutcome is a close frame's code as an outcome ("1005" when it has none).
func closeOutcome(p []byte) string {
	if len(p) < 2 {
		return "1005"
	}
	return strconv.Itoa(int(binary.BigEndian.Uint16(p)))
}

// maxMsgBytes is the server's -max-msg-bytes as the bench passes it in -server-flags, or the
// server's default (4 KiB).
func maxMsgBytes(serverArgs string) int {
	f := strings.Fields(serverArgs)
	for i, a := range f {
		name, val, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "max-msg-bytes" {
			continue
		}
		if !ok && i+1 < len(f) {
			val = f[i+1]
		}
		if n, err := strconv.Atoi(val); err == nil && n > 0 {
			return n
		}
	}
	return 4 << 10
}

// parsePct reads "5%" or "5" as 5.
func parsePct(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || v < 0 || v > 100 {
		return 0, fmt.Errorf("bench: -hostile %q: want a percentage such as 5%%", s)
	}
	return v, nil
}

// sortedCodes lists a tally's outcomes, most frequent first, as "1008 ×12, open at end ×1".
func sortedCodes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// hostileRow is a kind's table cell.
func hostileRow(h hostileKindResult) string {
	return fmt.Sprintf("%d conns, %d joined, %d sent, longest %.1fs: %s", h.Connections, h.Joins, h.Sent, h.LongestS, sortedCodes(h.Codes))
}
