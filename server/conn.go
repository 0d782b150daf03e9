package server

import (
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// controlSlots bounds a connection's control FIFO (welcome, pong, kick, stats). A client
// that lets it fill is pinging faster than it reads: 1008.
const controlSlots = 16

// floodWindow is the window over which rate drops count as a flood: more than a second's
// worth of drops (InputRate) within it closes the connection with 1008.
const floodWindow = 10 * time.Second

// closeWriteTimeout bounds writing the kick and close frames.
const closeWriteTimeout = time.Second

// conn is one WebSocket connection: a gws read goroutine (OnMessage: decode, validate, stamp,
// hand off) and a writer goroutine (control FIFO first, then the frame mailbox). The room
// reaches it only through the mailbox, the control FIFO and fail.
type conn struct {
	srv    *Server
	ws     *gws.Conn
	ip     string
	claims *auth.Claims // nil: anonymous without a token

	mb      *mailbox
	ctrl    chan []byte   // bounded control FIFO, drained before frames
	pong    chan []byte   // cap 1: a ping payload to echo
	closing chan struct{} // closed by fail
	once    sync.Once
	err     error         // why we close; set once before closing is closed
	gone    chan struct{} // closed by OnClose

	room      atomic.Pointer[Room]
	seat      atomic.Pointer[engine.Seat] // set with the welcome; the reader pushes inputs into its inbox
	spectator atomic.Bool
	ec        *engine.Client // the connection as the room's engine knows it
	wantStats bool           // room goroutine: the join asked for stats (an admin's)

	// Writer goroutine only (set up in OnOpen before the writer starts).
	sq  *sendQueue // nil: the socket cannot report its unacknowledged bytes (TLS, not Linux)
	lag ackLag     // how far behind the peer's acknowledgements are (acklag.go)
	// slowAcks is set when the acknowledgement check, not the room's outbox lag or a write
	// deadline, found the peer too slow (tests tell the two apart by it).
	slowAcks atomic.Bool

	// Reader goroutine only.
	joinSent  bool
	msg       pb.ClientMessage
	vals      []int32     // an input's values, clamped (the inbox copies them)
	raw       []int32     // fastInput's decoded values
	readSet   time.Time   // when the idle timer was last moved (refreshRead)
	idle      *time.Timer // fires after ping + pong of silence: 1008 "ping timeout"
	rate      bucket
	rateSet   bool // rate scaled to the room's tick rate
	bytes     bucket
	floodAt   time.Time
	floodN    int
	joinTimer *time.Timer
	replay    *replaySession // set by a replay join (replay.go)
}

func newConn(s *Server, ws *gws.Conn, ip string, claims *auth.Claims) *conn {
	now := s.cfg.Now()
	c := &conn{
		srv: s, ws: ws, ip: ip, claims: claims, mb: newMailbox(),
		ctrl: make(chan []byte, controlSlots), pong: make(chan []byte, 1),
		closing: make(chan struct{}), gone: make(chan struct{}),
		rate:  newBucket(s.cfg.InputRate, s.cfg.InputBurst, now),
		bytes: newBucket(s.cfg.InputBytes, s.cfg.InputBytes, now),
	}
	c.ec = engine.NewClient(c)
	return c
}

// fail closes the connection with err's code (close.go) the first time it is called; the
// writer sends a kick and the close frame. It never blocks.
func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.closing)
		c.mb.wake()
	})
}

func (c *conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// kickStuckWriter fails a write blocked on a client that does not read, so the writer can
// move on to closing (the close frame then is best effort).
func (c *conn) kickStuckWriter() { _ = c.ws.NetConn().SetWriteDeadline(c.srv.cfg.Now()) }

// hurry gives a write blocked on a client that does not read at most closeWriteTimeout more,
// so a closing connection (shutdown, ping timeout) ends without waiting out WriteTimeout; a
// client that reads is unaffected and still gets its close frame. Called after fail: the
// writer's deadline setters re-check closing, so none of them pushes the deadline out again.
func (c *conn) hurry() {
	_ = c.ws.NetConn().SetWriteDeadline(c.srv.cfg.Now().Add(closeWriteTimeout))
}

// sendControl queues a control message for the writer; a full queue closes the connection.
func (c *conn) sendControl(b []byte) bool {
	select {
	case c.ctrl <- b:
		c.mb.wake()
		return true
	default:
		c.fail(errControlFull)
		return false
	}
}

// writeLoop is the connection's only writer: control messages first, then pongs, then the
// newest frame, and pings on the interval; every write under a deadline. It sleeps on two
// channels: the ping ticker and the mailbox's notify, which every producer signals after it
// has published (a frame, a control message, a pong, a failure, the socket's end), so a
// signal is never lost and the wait stays a two-case select.
func (c *conn) writeLoop() {
	cfg := &c.srv.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	var hdr []byte
	var bufs [][]byte      // a frame's slices: header, body (one or one per piece), extra
	var writeSet time.Time // when frameDeadline last moved the write deadline
	for {
		select {
		case b := <-c.ctrl:
			if !c.write(b) {
				return
			}
			c.lag.wrote(len(b))
			continue
		default:
		}
		select {
		case p := <-c.pong:
			if !c.deadline(cfg.WriteTimeout) || c.ws.WritePong(p) != nil {
				return
			}
			c.lag.wrote(len(p))
			continue
		default:
		}
		select {
		case <-c.gone: // the socket is closed: nothing more can be written
			return
		default:
		}
		if c.isClosing() {
			c.writeClose()
			return
		}
		if f, ok := c.mb.take(); ok {
			now := cfg.Now()
			// At most once per MaxLag/32: has the peer acknowledged what was written MaxLag ago?
			if c.sq != nil && moveDue(&c.lag.checkSet, now, cfg.MaxLag/32) && c.peerTooSlow(now) {
				f.body.Release()
				c.slowAcks.Store(true)
				c.fail(errTooSlow) // the next turn writes the close
				continue
			}
			n := f.body.Len() + len(f.extra)
			hdr = sim.AppendFrameHeader(hdr[:0], f.tick, f.baseline, f.lastSeq, n)
			bufs = append(f.body.Buffers(append(bufs[:0], hdr)), f.extra)
			ok := c.frameDeadline(&writeSet, now) && c.ws.Writev(gws.OpcodeBinary, bufs...) == nil
			clear(bufs) // it points into bodies the pool reuses
			if ok {
				c.lag.wrote(len(hdr) + n)
				if f.mark != nil {
					f.mark.written(f.tick)
				}
				c.srv.m.framesOut.Inc()
				c.srv.framesWritten.Add(1)
				c.srv.m.bytesOut.Add(float64(len(hdr) + n))
			}
			f.body.Release()
			if !ok {
				c.fail(errTooSlow)
				return
			}
			continue
		}
		select {
		case <-c.mb.notify:
		case <-ping.C:
			if !c.deadline(cfg.WriteTimeout) || c.ws.WritePing(nil) != nil {
				return
			}
			c.lag.wrote(0)
		}
	}
}

// peerTooSlow reports whether what the peer has acknowledged trails what was written by more
// than MaxLag (ackLag): its kernel stopped taking bytes, whatever room is left in ours.
func (c *conn) peerTooSlow(now time.Time) bool {
	u, ok := c.sq.unacked()
	return ok && c.lag.behind(u, now) > c.srv.cfg.MaxLag
}

// frameDeadline arms the write deadline for a frame. Frames go out twenty or more times a
// second and moving a deadline re-arms a runtime timer, so it moves only once 1/32 of
// WriteTimeout has passed since it last did (*set): a frame write gets between 31/32 of
// WriteTimeout and all of it. The writer's other writes (control, ping, pong) set now +
// WriteTimeout, which only moves the deadline further out; writeClose, hurry and
// kickStuckWriter shorten it, and all of them end the connection.
func (c *conn) frameDeadline(set *time.Time, now time.Time) bool {
	d := c.srv.cfg.WriteTimeout
	return !moveDue(set, now, d) || c.setDeadline(now, d)
}

func (c *conn) deadline(d time.Duration) bool { return c.setDeadline(c.srv.cfg.Now(), d) }

// setDeadline moves the write deadline to now + d, or to at most now + closeWriteTimeout once
// the connection is closing: checked after the move, so a concurrent hurry or kickStuckWriter
// (which run after fail) is never undone by a longer deadline.
func (c *conn) setDeadline(now time.Time, d time.Duration) bool {
	if c.ws.SetWriteDeadline(now.Add(d)) != nil {
		return false
	}
	if d > closeWriteTimeout && c.isClosing() {
		return c.ws.SetWriteDeadline(now.Add(closeWriteTimeout)) == nil
	}
	return true
}

func (c *conn) write(b []byte) bool {
	if !c.deadline(c.srv.cfg.WriteTimeout) || c.ws.WriteMessage(gws.OpcodeBinary, b) != nil {
		c.fail(errTooSlow)
		return false
	}
	c.srv.m.bytesOut.Add(float64(len(b)))
	return true
}

// writeClose sends the kick message and the close frame (best effort, briefly), which closes
// the socket; gws then runs OnClose.
func (c *conn) writeClose() {
	code, reason := closeFor(c.err)
	if code != CodeNormal && code != CodeGoingAway {
		c.srv.log.Info("closing connection", "code", code, "reason", reason, "room", roomID(c), "player", playerID(c))
	}
	if errors.Is(c.err, errTooSlow) || errors.Is(c.err, errPingTimeout) {
		c.abortOnClose()
	}
	c.ws.SetWriteDeadline(c.srv.cfg.Now().Add(closeWriteTimeout))
	if b, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Kick{Kick: &pb.Kick{Code: uint32(code), Reason: reason}}}); err == nil {
		_ = c.ws.WriteMessage(gws.OpcodeBinary, b)
	}
	_ = c.ws.WriteClose(code, []byte(reason))
	_ = c.ws.NetConn().Close()
}

// abortOnClose makes the socket's close abortive (SO_LINGER 0: a reset, unsent bytes
// dropped) for a peer that does not read. A graceful close would leave the kernel an orphan
// socket holding the unsent frames and the FIN behind the peer's shut window, retrying for
// minutes, while the peer, whose own writes still land in its send buffer, cannot tell it
// was dropped. The close frame was best effort for such a peer anyway.
func (c *conn) abortOnClose() {
	if tc, _ := tcpConnOf(c.ws.NetConn()); tc != nil {
		_ = tc.SetLinger(0)
	}
}

func roomID(c *conn) string {
	if r := c.room.Load(); r != nil {
		return r.id
	}
	return ""
}

func playerID(c *conn) uint32 {
	if s := c.seat.Load(); s != nil {
		return s.Player()
	}
	return 0
}

// handler is the gws event handler; its callbacks run on each connection's read goroutine.
type handler struct{ srv *Server }

// connOf returns ws's connection (every message looks it up: a field, not gws's default
// map behind a lock).
func connOf(ws *gws.Conn) *conn {
	if s, ok := ws.Session().(*session); ok {
		return s.c.Load()
	}
	return nil
}

// session is a connection's gws session storage: it holds its *conn under the key "c" and
// nothing else (ServerOption.NewSession).
type session struct{ c atomic.Pointer[conn] }

func newSession() gws.SessionStorage { return &session{} }

// Len is 1 once the connection is stored.
func (s *session) Len() int {
	if s.c.Load() == nil {
		return 0
	}
	return 1
}

// Load returns the connection for key "c".
func (s *session) Load(key string) (any, bool) {
	if c := s.c.Load(); key == "c" && c != nil {
		return c, true
	}
	return nil, false
}

// Delete forgets the connection for key "c".
func (s *session) Delete(key string) {
	if key == "c" {
		s.c.Store(nil)
	}
}

// Store keeps value under "c" when it is a *conn; other keys and values are not kept.
func (s *session) Store(key string, value any) {
	if c, ok := value.(*conn); ok && key == "c" {
		s.c.Store(c)
	}
}

// Range calls f with the connection, if stored.
func (s *session) Range(f func(key string, value any) bool) {
	if c := s.c.Load(); c != nil {
		f("c", c)
	}
}

// OnOpen arms the read deadline and the join timer and starts the writer.
func (h handler) OnOpen(ws *gws.Conn) {
	c := connOf(ws)
	cfg := &h.srv.cfg
	now := cfg.Now()
	c.setupSocket(now)
	c.readSet = now
	c.idle = time.AfterFunc(cfg.PingInterval+cfg.PongTimeout, func() {
		c.fail(errPingTimeout)
		c.hurry() // a writer stuck on the silent peer gives up soon
	})
	c.joinTimer = time.AfterFunc(cfg.JoinTimeout, func() {
		if c.room.Load() == nil {
			c.fail(errJoinTimeout)
		}
	})
	go c.writeLoop()
}

// refreshRead moves the idle timer to ping interval + pong timeout from now. Only a pong, or a
// ping of the peer's, moves it, never an input: a pong proves the peer reads (it answers the
// ping it read after every frame before it), so a client that keeps sending inputs but never
// reads is dropped after ping + pong whatever the socket buffers hold. It moves at most once
// per 1/32 of that span (a runtime timer re-arm each): a silent peer is dropped after between
// 31/32 of it and all of it, with 1008 "ping timeout" (a code clients reconnect on). A timer, not a read deadline: gws
// answers a failed read with 1000 and the raw error ("read tcp 10.0.0.1:8080->…: i/o
// timeout") as the reason, which would stop the client reconnecting and leak addresses.
// Reader goroutine only (OnOpen, OnPing and OnPong run there too).
func (c *conn) refreshRead(now time.Time) {
	cfg := &c.srv.cfg
	span := cfg.PingInterval + cfg.PongTimeout
	if moveDue(&c.readSet, now, span) {
		c.idle.Reset(span)
	}
}

// moveDue reports whether a deadline of span last moved at *set should move again at now: at
// most once per span/32, so it ends between 31/32 of span and span after the latest call. It
// records now when it says yes.
func moveDue(set *time.Time, now time.Time, span time.Duration) bool {
	if !set.IsZero() && now.Sub(*set) < span/32 {
		return false
	}
	*set = now
	return true
}

// OnClose counts the close, stops the writer, and tells the room: a client that closed with
// 1000 has left (its seat is freed now); any other end holds the seat for the grace.
func (h handler) OnClose(ws *gws.Conn, err error) {
	c := connOf(ws)
	c.joinTimer.Stop()
	c.idle.Stop()
	gone := cmdGone
	if own, ok := closedByUs(c, err); ok {
		h.srv.m.closed(own)
	} else {
		code, violation := endedBy(err)
		h.srv.m.closed(code)
		if violation {
			h.srv.logViolation(code, c)
		}
		if code == CodeNormal {
			gone = cmdLeave
		}
	}
	c.fail(errLeave) // no-op when already failing; stops the writer
	close(c.gone)
	c.mb.wake()
	c.mb.close()
	if r := c.room.Load(); r != nil {
		r.enqueue(roomCmd{kind: gone, c: c})
	}
	h.srv.dropConn(c)
}

// closedByUs reports whether the connection ended with our own close, and its code: we were
// closing (c.err is set) and either our close frame is what gws sent (err is that status code)
// or the socket failed under our writer (a write error: the close was best effort). When gws
// had already answered the peer (its close, or a protocol violation) our writer's later
// failure does not count: the code on the wire was gws's.
func closedByUs(c *conn, err error) (uint16, bool) {
	if !c.isClosing() {
		return 0, false
	}
	own, _ := closeFor(c.err)
	var ce *gws.CloseError
	var sc interface{ Uint16() uint16 }
	switch {
	case errors.As(err, &ce):
		return 0, false // the peer's close, answered by gws
	case errors.As(err, &sc):
		return own, sc.Uint16() == own
	case errors.Is(err, gws.ErrTextEncoding):
		return 0, false
	}
	return own, true
}

// OnPing hands the payload to the writer to echo (every write goes through it).
func (h handler) OnPing(ws *gws.Conn, payload []byte) {
	c := connOf(ws)
	c.refreshRead(c.srv.cfg.Now())
	select {
	case c.pong <- append([]byte(nil), payload...):
		c.mb.wake()
	default:
	}
}

// OnPong proves the peer alive: the read deadline moves on.
func (h handler) OnPong(ws *gws.Conn, _ []byte) {
	c := connOf(ws)
	c.refreshRead(c.srv.cfg.Now())
}

// OnMessage checks the opcode, then decodes, validates and hands off one message.
func (h handler) OnMessage(ws *gws.Conn, m *gws.Message) {
	defer m.Close()
	c := connOf(ws)
	defer func() { // a bug in handling one message closes this connection only (1011)
		if p := recover(); p != nil {
			h.srv.log.Error("connection handler panicked", "room", roomID(c), "player", playerID(c), "panic", p, "stack", string(debug.Stack()))
			c.fail(errRoomFailed)
		}
	}()
	if c.isClosing() {
		return
	}
	if m.Opcode != gws.OpcodeBinary {
		c.fail(errTextFrame)
		return
	}
	if err := c.handle(m.Bytes()); err != nil {
		c.fail(err)
	}
}

// handle decodes and acts on one client message. It never blocks on the room.
func (c *conn) handle(b []byte) error {
	s := c.srv
	nIn := s.maxInputs
	if r := c.room.Load(); r != nil {
		nIn = r.nInputs
	}
	var when engine.When
	if seq, vals, ok := fastInput(b, c.raw[:0], nIn, &when); ok {
		c.raw = vals
		if !c.joinSent {
			return errJoinFirst
		}
		return c.input(seq, when, vals, len(b), s.cfg.Now())
	}
	if err := decodeClientMessage(b, &c.msg, nIn); err != nil {
		return err
	}
	now := s.cfg.Now()
	switch k := c.msg.GetKind().(type) {
	case *pb.ClientMessage_Join:
		if c.joinSent {
			return errDoubleJoin
		}
		c.joinSent = true
		return s.join(c, k.Join)
	case *pb.ClientMessage_Input:
		if !c.joinSent {
			return errJoinFirst
		}
		return c.input(k.Input.GetSeq(), whenOf(k.Input), k.Input.GetValues(), len(b), now)
	case *pb.ClientMessage_Leave:
		if r := c.room.Load(); r != nil {
			r.enqueue(roomCmd{kind: cmdLeave, c: c})
		}
		return errLeave
	case *pb.ClientMessage_Ping:
		var tick uint32
		if r := c.room.Load(); r != nil {
			tick = r.tickNow.Load()
		}
		pong, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Pong{Pong: &pb.Pong{
			ClientTimeUs: k.Ping.GetClientTimeUs(), ServerTimeUs: now.UnixMicro(), Tick: tick}}})
		if err != nil {
			return err
		}
		c.sendControl(pong)
	case *pb.ClientMessage_ReplayControl: // live rooms ignore it
		return c.replayControl(k.ReplayControl, now)
	}
	return nil
}

// input validates one input and offers it to the seat's inbox: rate and byte buckets, clamp,
// seq window. Drops are counted; a sustained flood closes the connection.
func (c *conn) input(seq uint32, when engine.When, values []int32, size int, now time.Time) error {
	m := c.srv.m
	if c.spectator.Load() {
		m.drop(dropSpectator)
		return nil
	}
	s := c.seat.Load()
	if s == nil {
		m.drop(dropNotSeated)
		return nil
	}
	r := c.room.Load()
	if !c.rateSet {
		// A game with its own tick rate gets inputs at its rate: the input rate scales with it.
		c.rateSet = true
		if hz := r.tickRate; hz > c.srv.cfg.TickRate {
			f := float64(hz) / float64(c.srv.cfg.TickRate)
			c.rate.rate, c.rate.burst, c.rate.tokens = c.rate.rate*f, c.rate.burst*f, c.rate.tokens*f
		}
	}
	if !c.rate.take(1, now) {
		m.drop(dropRate)
		return c.flooding(now)
	}
	if !c.bytes.take(float64(size), now) {
		m.drop(dropBytes)
		return c.flooding(now)
	}
	c.vals = grow(c.vals, r.nInputs)
	clear(c.vals)
	copy(c.vals, values)
	if n := r.schema.ClampInput(c.vals); n > 0 {
		m.clamped.Add(float64(n))
	}
	drop, err := s.Inbox().PushWhen(seq, when, c.vals, now)
	if err != nil {
		return err
	}
	switch drop {
	case engine.DropStale:
		m.drop(dropStale)
	case engine.DropFull:
		m.drop(dropInboxFull)
	}
	return nil
}

// flooding counts a bucket drop and reports errFlood when more than a second's worth of
// inputs were dropped within floodWindow.
func (c *conn) flooding(now time.Time) error {
	if now.Sub(c.floodAt) > floodWindow {
		c.floodAt, c.floodN = now, 0
	}
	c.floodN++
	if c.floodN > c.srv.cfg.InputRate {
		return errFlood
	}
	return nil
}

// remoteIP is the connection's peer address without the port.
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
