package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"google.golang.org/protobuf/proto"
)

// testSecret is the shared secret of token-mode tests.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// waitTimeout bounds every wait on a real socket.
const waitTimeout = 10 * time.Second

// testServer is a server listening on 127.0.0.1:0.
type testServer struct {
	*Server
	addr string // host:port
}

// startServer starts a server with cfg (tests tweak it) on a real loopback socket; wrap, when
// set, wraps the listener (e.g. to shrink socket buffers). Shutdown runs at cleanup.
func startServer(t testing.TB, cfg Config, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	s, err := New(withArena(cfg))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if wrap != nil {
		ln = wrap(ln)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		<-done
	})
	return &testServer{Server: s, addr: ln.Addr().String()}
}

func (ts *testServer) wsURL(token string) string {
	u := "ws://" + ts.addr + "/ws"
	if token != "" {
		u += "?token=" + token
	}
	return u
}

func (ts *testServer) httpURL(path string) string { return "http://" + ts.addr + path }

// tclient is a test client: it mirrors frames into a sim.Mirror, checks every view hash, and
// records welcome, kicks, pongs, stats and the close.
type tclient struct {
	gws.BuiltinEventHandler
	t  testing.TB
	ws *gws.Conn

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every event
	welcome   *pb.Welcome
	mirror    *sim.Mirror
	frames    int
	lastSeq   uint32
	baseline  uint32 // of the last frame
	firstBase uint32 // of the first frame
	hashes    int    // frames whose view hash was checked
	err       error  // first protocol error (frame before welcome, bad hash, bad frame)
	kick      *pb.Kick
	events    []*pb.GameEvent  // every game event received, in order
	result    *pb.MatchResult  // the match result, once a frame carried it
	status    *pb.ReplayStatus // the first replay status (it carries the marks, events, result)
	stats     []*pb.Stats
	pongs     int
	closed    bool
	code      uint16
	reason    string
	gate      chan struct{} // non-nil: OnMessage waits for it (the client stops reading)
	noPong    bool          // do not answer pings (half-open peer)
	timeout   time.Duration // waits (default waitTimeout; synctest bubbles use hours)
}

type dialOpts struct {
	token   string
	rcvBuf  int // SO_RCVBUF for the client socket (0: default)
	noPong  bool
	localIP string // dial from this address (127.0.0.2: another client address on Linux)
}

func (ts *testServer) dial(t testing.TB, o dialOpts) *tclient {
	t.Helper()
	c, err := dialClient(t, ts.wsURL(o.token), o)
	require.NoError(t, err)
	return c
}

func dialClient(t testing.TB, url string, o dialOpts) (*tclient, error) {
	c := &tclient{t: t, changed: make(chan struct{}), noPong: o.noPong}
	opt := &gws.ClientOption{
		Addr:               url,
		RequestHeader:      http.Header{"Sec-WebSocket-Protocol": {Subprotocol}},
		ReadMaxPayloadSize: 64 << 20,
	}
	if o.rcvBuf > 0 || o.localIP != "" {
		opt.NewDialer = func() (gws.Dialer, error) {
			d := &net.Dialer{Timeout: 5 * time.Second}
			if o.localIP != "" {
				d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(o.localIP)}
			}
			if o.rcvBuf > 0 {
				d.Control = func(_, _ string, rc syscall.RawConn) error {
					var serr error
					err := rc.Control(func(fd uintptr) {
						serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvBuf)
					})
					return errors.Join(err, serr)
				}
			}
			return d, nil
		}
	}
	ws, _, err := gws.NewClient(c, opt)
	if err != nil {
		return nil, err
	}
	c.ws = ws
	go ws.ReadLoop()
	t.Cleanup(func() { _ = ws.NetConn().Close() })
	return c, nil
}

func (c *tclient) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *tclient) OnPing(ws *gws.Conn, p []byte) {
	if !c.noPong {
		_ = ws.WritePong(p)
	}
}

func (c *tclient) OnClose(_ *gws.Conn, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.code = 1006
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		c.code, c.reason = ce.Code, string(ce.Reason)
	}
	c.notify()
}

func (c *tclient) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		<-gate
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.notify()
	var msg pb.ServerMessage
	if err := proto.Unmarshal(m.Bytes(), &msg); err != nil {
		c.fail(fmt.Errorf("decode: %w", err))
		return
	}
	switch k := msg.GetKind().(type) {
	case *pb.ServerMessage_Welcome:
		c.welcome = k.Welcome
		s, err := sim.SchemaFromProto(k.Welcome.GetState(), k.Welcome.GetInput())
		if err != nil {
			c.fail(err)
			return
		}
		if c.mirror == nil || !k.Welcome.GetResumed() {
			c.mirror = sim.NewMirror(s)
		}
	case *pb.ServerMessage_Frame:
		if c.welcome == nil {
			c.fail(errors.New("frame before welcome"))
			return
		}
		f := k.Frame
		if err := c.mirror.Apply(f); err != nil {
			c.fail(err)
			return
		}
		if c.frames == 0 {
			c.firstBase = f.GetBaselineTick()
		}
		c.frames++
		c.lastSeq, c.baseline = f.GetLastInputSeq(), f.GetBaselineTick()
		c.events = append(c.events, f.GetEvents()...)
		if f.GetResult() != nil {
			c.result = f.GetResult()
		}
		if f.ViewHash != nil {
			if got := c.mirror.State().Hash(); got != f.GetViewHash() {
				c.fail(fmt.Errorf("tick %d: mirror hash %x, server %x", f.GetTick(), got, f.GetViewHash()))
			}
			c.hashes++
		}
	case *pb.ServerMessage_Kick:
		c.kick = k.Kick
	case *pb.ServerMessage_ReplayStatus:
		if c.status == nil {
			c.status = k.ReplayStatus
		}
	case *pb.ServerMessage_Pong:
		c.pongs++
	case *pb.ServerMessage_Stats:
		c.stats = append(c.stats, k.Stats)
	}
}

func (c *tclient) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// pause stops the client reading its socket (OnMessage blocks); resume lets it go on.
func (c *tclient) pause() {
	c.mu.Lock()
	c.gate = make(chan struct{})
	c.mu.Unlock()
}

func (c *tclient) resume() {
	c.mu.Lock()
	g := c.gate
	c.gate = nil
	c.mu.Unlock()
	if g != nil {
		close(g)
	}
}

// waitFor waits until cond (called under the client's lock) holds.
func (c *tclient) waitFor(what string, cond func(c *tclient) bool) {
	c.t.Helper()
	d := waitTimeout
	if c.timeout > 0 {
		d = c.timeout
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, ch, err := cond(c), c.changed, c.err
		c.mu.Unlock()
		if err != nil {
			c.t.Fatalf("waiting for %s: client error: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			c.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (c *tclient) tick() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mirror == nil {
		return 0
	}
	return c.mirror.Tick()
}

// waitClose waits for the close and returns its code and reason.
func (c *tclient) waitClose() (uint16, string) {
	c.t.Helper()
	c.waitFor("close", func(c *tclient) bool { return c.closed })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code, c.reason
}

func (c *tclient) send(m *pb.ClientMessage) {
	c.t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(c.t, err)
	_ = c.ws.WriteMessage(gws.OpcodeBinary, b)
}

func (c *tclient) join(j *pb.Join) { c.send(&pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: j}}) }

func (c *tclient) input(seq uint32, vals ...int32) {
	c.send(&pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: &pb.Input{Seq: seq, Values: vals}}})
}

func (c *tclient) welcomed() *pb.Welcome {
	c.t.Helper()
	c.waitFor("welcome", func(c *tclient) bool { return c.welcome != nil })
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// playerVel returns the (vx, vy) of the arena player entity owned by id in the mirror.
func (c *tclient) playerVel(id uint32) (vx, vy int32, ok bool) {
	_, _, vx, vy, ok = c.player(id)
	return vx, vy, ok
}

// player returns the position and velocity of the arena player entity owned by id in the mirror.
func (c *tclient) player(id uint32) (x, y, vx, vy int32, ok bool) {
	st := c.mirror.State()
	s := st.Schema()
	cls, _ := s.ClassByName("player")
	fo, _ := s.FieldByName(cls, "player")
	fx, _ := s.FieldByName(cls, "x")
	fy, _ := s.FieldByName(cls, "y")
	fvx, _ := s.FieldByName(cls, "vx")
	fvy, _ := s.FieldByName(cls, "vy")
	for e := sim.Entity(1); e < st.MaxID(); e++ {
		if c2, live := st.ClassOf(e); live && c2 == cls && uint32(st.Value(e, fo)) == id {
			return st.Value(e, fx), st.Value(e, fy), st.Value(e, fvx), st.Value(e, fvy), true
		}
	}
	return 0, 0, 0, 0, false
}

// inward returns speed with the sign that moves the player owned by id away from the nearer
// wall on one axis (axis 0: x, 1: y). Arena spawns players at a random position and bounces
// them off the walls, flipping the velocity's sign: a test that expects to read back the
// velocity it sent must steer towards the middle, or a spawn near a wall fails it.
func (c *tclient) inward(id uint32, axis int, speed int32) int32 {
	c.t.Helper()
	c.mu.Lock()
	x, y, _, _, ok := c.player(id)
	c.mu.Unlock()
	require.True(c.t, ok, "player %d not in the mirror", id)
	pos := [2]int32{x, y}[axis]
	if pos > arena.WorldSize/2 {
		return -speed
	}
	return speed
}

// tickUntil ticks a manually driven room until cond holds (each tick lets sockets work).
func tickUntil(t testing.TB, r *Room, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out ticking until %s", what)
		}
		r.Tick()
		time.Sleep(time.Millisecond) // real sockets: let the writers and readers run
	}
}

func anonCfg() Config { return Config{TickRate: 20, ManualTicks: true} }

func errorsContain(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

func (c *tclient) baselineOfFirst() uint32 { return c.firstBase }

// clientOf finds the server side of a test client (by its socket address).
func (r *Room) clientOf(tc *tclient) *conn {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	for _, ec := range r.eng.ClientList() {
		if c := ec.Peer.(*conn); c.ws.RemoteAddr().String() == tc.ws.LocalAddr().String() {
			return c
		}
	}
	return nil
}

// counterValue reads a counter or gauge.
func counterValue(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
