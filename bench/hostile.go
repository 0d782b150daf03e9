package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ticksync/ticksync/auth"
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
	c := &rawWS{nc: nc, br: bufio.NewReaderSize(nc, 64<<10)}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	status, err := c.handshake(u.Host, hc.token())
	if err != nil {
		return ended(ctx, err), false
	}
	if status != http.StatusSwitchingProtocols {
		return "http " + strconv.Itoa(status), false
	}
	join, _ := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: hc.room, Game: game}}})
	if err := c.writeFrame(opBinary, join); err != nil {
		return ended(ctx, err), false
	}
	if code, err := c.awaitWelcome(); err != nil || code != "" {
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
		if err := c.writeFrame(opBinary, b); err != nil {
			return c.closeAfterWriteError(ctx), true
		}
		hc.mix.sent[hc.kind].Add(1)
		return c.readUntilClose(ctx, time.Now().Add(30*time.Second)), true
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
func (hc *hostileClient) send(ctx context.Context, c *rawWS, hz float64, read bool) string {
	got := make(chan string, 1)
	if read {
		go func() { got <- c.readUntilClose(ctx, time.Time{}) }()
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / hz))
	defer t.Stop()
	for {
		select {
		case code := <-got:
			return code
		case <-ctx.Done():
			_ = c.nc.Close()
			if read {
				<-got
			}
			return outOpenAtEnd
		case <-t.C:
		}
		hc.seq++
		_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if err := c.writeFrame(opBinary, appendInput(nil, hc.seq, 100, -100)); err != nil {
			if read {
				return <-got
			}
			return c.closeAfterWriteError(ctx)
		}
		hc.mix.sent[hc.kind].Add(1)
	}
}

// garbage sends malformed protobuf (a field tag of number 0, then random bytes) every 100 ms
// until the server closes the connection.
func (hc *hostileClient) garbage(ctx context.Context, c *rawWS) string {
	got := make(chan string, 1)
	go func() { got <- c.readUntilClose(ctx, time.Time{}) }()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		b := make([]byte, 16+hc.cycle%48)
		_, _ = rand.Read(b)
		b[0] = 0 // field number 0 is never valid
		hc.cycle++
		_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := c.writeFrame(opBinary, b); err != nil {
			return <-got
		}
		hc.mix.sent[hc.kind].Add(1)
		select {
		case code := <-got:
			return code
		case <-ctx.Done():
			_ = c.nc.Close()
			<-got
			return outOpenAtEnd
		case <-t.C:
		}
	}
}

// leave ends a storm cycle after the welcome: close 1000, leave then 1000, or a dropped
// socket, in turn.
func (hc *hostileClient) leave(c *rawWS) string {
	hc.cycle++
	hc.mix.sent[hc.kind].Add(1)
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	switch hc.cycle % 3 {
	case 0:
		_ = c.writeFrame(opClose, []byte{0x03, 0xe8})
		return outLeft1000
	case 1:
		leave, _ := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Leave{Leave: &pb.Leave{}}})
		_ = c.writeFrame(opBinary, leave)
		_ = c.writeFrame(opClose, []byte{0x03, 0xe8})
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
const (
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// rawWS is a minimal WebSocket client on a net.Conn: enough to misbehave in ways a real
// client library will not (no reads at all, oversized or garbage frames) and to see the
// close code whatever happens.
type rawWS struct {
	nc net.Conn
	br *bufio.Reader
}

// handshake sends the upgrade request and returns the response's status.
func (c *rawWS) handshake(host, token string) (int, error) {
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	path := "/ws"
	if token != "" {
		path += "?token=" + url.QueryEscape(token)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + subprotocol + "\r\n\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		_ = resp.Body.Close()
	}
	return resp.StatusCode, nil
}

// writeFrame writes one masked, unfragmented frame.
func (c *rawWS) writeFrame(op byte, payload []byte) error {
	hdr := make([]byte, 0, 14+len(payload))
	hdr = append(hdr, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n <= math.MaxUint16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	for i, b := range payload {
		hdr = append(hdr, b^mask[i%4])
	}
	_, err := c.nc.Write(hdr)
	return err
}

// readFrame reads one frame (server frames are unmasked); payloads over 16 MiB are an error.
func (c *rawWS) readFrame() (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return 0, nil, fmt.Errorf("bench: frame of %d bytes", n)
	}
	var mask [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(c.br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return op, payload, nil
}

// awaitWelcome reads until the welcome (""), a close frame (its code) or an error.
func (c *rawWS) awaitWelcome() (string, error) {
	for {
		op, p, err := c.readFrame()
		if err != nil {
			return "", err
		}
		switch op {
		case opClose:
			return closeOutcome(p), nil
		case opPing:
			_ = c.writeFrame(opPong, p)
		case opBinary:
			if num, typ, n := protowire.ConsumeTag(p); n > 0 && typ == protowire.BytesType && num == fieldWelcome {
				return "", nil
			}
		}
	}
}

// readUntilClose reads (answering pings) until a close frame, whose code it returns, or an
// error (no close frame), or the deadline (zero: none).
func (c *rawWS) readUntilClose(ctx context.Context, deadline time.Time) string {
	_ = c.nc.SetReadDeadline(deadline)
	for {
		op, p, err := c.readFrame()
		if err != nil {
			if ctx.Err() != nil {
				return outOpenAtEnd
			}
			return outNoCloseFrame
		}
		switch op {
		case opClose:
			return closeOutcome(p)
		case opPing:
			_ = c.writeFrame(opPong, p)
		}
	}
}

// closeAfterWriteError looks for the close frame a write failed after: whatever the server
// sent before closing is still in the socket's receive buffer.
func (c *rawWS) closeAfterWriteError(ctx context.Context) string {
	if ctx.Err() != nil {
		return outOpenAtEnd
	}
	return c.readUntilClose(ctx, time.Now().Add(10*time.Second))
}

// closeOutcome is a close frame's code as an outcome ("1005" when it has none).
func closeOutcome(p []byte) string {
	if len(p) < 2 {
		return "1005"
	}
	return strconv.Itoa(int(binary.BigEndian.Uint16(p)))
}

// appendInput appends a ClientMessage{input: {seq, client time, values}} to b.
func appendInput(b []byte, seq uint32, values ...int32) []byte {
	in := make([]byte, 0, 28)
	in = protowire.AppendTag(in, 1, protowire.VarintType)
	in = protowire.AppendVarint(in, uint64(seq))
	in = protowire.AppendTag(in, 2, protowire.VarintType)
	in = protowire.AppendVarint(in, uint64(time.Now().UnixMicro()))
	var packed []byte
	for _, v := range values {
		packed = protowire.AppendVarint(packed, protowire.EncodeZigZag(int64(v)))
	}
	if len(packed) > 0 {
		in = protowire.AppendTag(in, 3, protowire.BytesType)
		in = protowire.AppendBytes(in, packed)
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, in)
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
