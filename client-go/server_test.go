package client

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxzan/gws"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// ballGame is a tiny game for the in-test server: balls with a position predicted from their
// velocity, hp, a bytes name; ball 1 takes the input's vx; one ball spawns at tick 3 and ball 2
// despawns at tick 5. It exercises every part of a frame.
type ballGame struct {
	s                *sim.Schema
	ball             sim.Class
	x, vx, hp, owner sim.Field
	name             sim.BytesField
}

const ballHz = 10

func newBallGame(t testing.TB) *ballGame {
	b := sim.NewSchemaBuilder()
	c := b.Class("ball")
	g := &ballGame{ball: c.Handle()}
	g.x = c.Fixed("x", 100, sim.Interpolate(), sim.PredictFrom("vx", 1, ballHz))
	g.vx = c.Fixed("vx", 100)
	g.hp = c.Int("hp", sim.Range(0, 100))
	g.name = c.Bytes("name", 16)
	g.owner = c.Int("owner", sim.Owner())
	b.Class("wall").Int("len")
	b.InputFixed("vx", 100, sim.Range(-500, 500))
	s, err := b.Build()
	require.NoError(t, err)
	g.s = s
	return g
}

func (g *ballGame) Schema() *sim.Schema { return g.s }

func (g *ballGame) Init(w *sim.World) error {
	for i := range 3 {
		e := w.Spawn(g.ball)
		w.Set(e, g.x, int32(1000*i))
		w.Set(e, g.vx, int32(-130+170*i))
		w.Set(e, g.hp, 100)
		w.SetBytes(e, g.name, []byte{'b', byte('0' + i)})
	}
	return nil
}

func (g *ballGame) Step(w *sim.World, tick uint32, inputs []sim.Input) {
	for _, in := range inputs {
		if in.Kind == sim.InputMove && len(in.Values) > 0 && w.Alive(1) {
			w.Set(1, g.vx, in.Values[0])
			w.Set(1, g.owner, int32(in.Player))
		}
	}
	switch tick {
	case 3:
		e := w.Spawn(g.ball)
		w.Set(e, g.vx, 77)
		w.SetBytes(e, g.name, []byte("late"))
	case 5:
		w.Despawn(2)
	}
	for _, e := range w.Entities(g.ball) {
		w.Set(e, g.x, w.Get(e, g.x)+int32(int64(w.Get(e, g.vx))/ballHz))
		if tick%3 == 0 {
			w.Set(e, g.hp, w.Get(e, g.hp)-1)
		}
	}
}

func (g *ballGame) Load(*sim.World) error { return nil }

// welcomeMsg is the welcome the test server sends.
func (g *ballGame) welcomeMsg(player uint32, tick uint32, resumed bool) *pb.ServerMessage {
	st, in := g.s.Proto()
	return &pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: &pb.Welcome{
		PlayerId: player, Room: "r1", Game: "balls", TickRate: ballHz, State: st, Input: in,
		ResumeToken: "resume-token", ReconnectGraceMs: 20_000, HashEvery: 1, Tick: tick, Resumed: resumed,
	}}}
}

// encodeFrame encodes a frame message from base (nil: snapshot) to cur, the way the server does.
func encodeFrame(enc *sim.Encoder, base, cur *sim.State, lastSeq uint32, withHash bool) []byte {
	body := enc.AppendBody(nil, base, cur, withHash)
	var bt uint32
	if base != nil {
		bt = base.Tick()
	}
	return append(sim.AppendFrameHeader(nil, cur.Tick(), bt, lastSeq, len(body)), body...)
}

// testServer speaks just enough of the protocol over real sockets: a join gets a welcome and a
// frame (the world steps once first), each input steps the world and sends a delta, a ping gets
// a pong, a leave closes with 1000. Rooms with special names misbehave on purpose.
type testServer struct {
	t    *testing.T
	http *httptest.Server
	url  string

	mu     sync.Mutex
	game   *ballGame
	world  *sim.World
	enc    sim.Encoder
	ring   map[uint32]*sim.State // every tick's state
	closes chan uint16           // close codes the server received from clients
	inputs []*pb.Input           // every input received
	joins  []*pb.Join            // every join received
}

type conn struct {
	sent    uint32 // last tick handed to this connection
	lastSeq uint32
	player  uint32
}

func newTestServer(t *testing.T) *testServer {
	s := &testServer{t: t, game: newBallGame(t), ring: map[uint32]*sim.State{}, closes: make(chan uint16, 16)}
	s.world = sim.NewWorld(s.game.s, 1)
	require.NoError(t, s.game.Init(s.world))
	up := gws.NewUpgrader(s, &gws.ServerOption{
		SubProtocols: []string{Subprotocol}, Recovery: gws.Recovery, ReadMaxPayloadSize: 4 << 10,
	})
	players := uint32(0)
	s.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "http://good.example" {
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if !strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), Subprotocol) {
			http.Error(w, "subprotocol ticksync.v1 required", http.StatusBadRequest)
			return
		}
		switch r.URL.Query().Get("token") {
		case "expired":
			http.Error(w, "token expired", http.StatusUnauthorized)
			return
		case "busy":
			http.Error(w, "too many connections", http.StatusTooManyRequests)
			return
		}
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		s.mu.Lock()
		players++
		c.Session().Store("conn", &conn{player: players})
		s.mu.Unlock()
		go c.ReadLoop()
	}))
	s.url = "ws" + strings.TrimPrefix(s.http.URL, "http") + "/ws"
	t.Cleanup(s.http.Close)
	return s
}

func (s *testServer) step(inputs []sim.Input) *sim.State {
	s.world.Step(s.game, inputs)
	st := sim.NewState(s.game.s)
	s.world.Snapshot(st)
	s.ring[st.Tick()] = st
	return st
}

// hash returns the world's hash at tick.
func (s *testServer) hash(tick uint32) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ring[tick].Hash()
}

func send(c *gws.Conn, m *pb.ServerMessage) {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	_ = c.WriteMessage(gws.OpcodeBinary, b)
}

func (s *testServer) OnOpen(*gws.Conn)                   {}
func (s *testServer) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }
func (s *testServer) OnPong(*gws.Conn, []byte)           {}
func (s *testServer) OnClose(_ *gws.Conn, err error) {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		s.closes <- ce.Code
	} else {
		s.closes <- 1006
	}
}

func (s *testServer) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	var msg pb.ClientMessage
	if err := proto.Unmarshal(m.Bytes(), &msg); err != nil {
		_ = c.WriteClose(1008, []byte("malformed message"))
		return
	}
	v, _ := c.Session().Load("conn")
	cs := v.(*conn)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch k := msg.Kind.(type) {
	case *pb.ClientMessage_Join:
		s.join(c, cs, k.Join)
	case *pb.ClientMessage_Input:
		cs.lastSeq = k.Input.GetSeq()
		s.inputs = append(s.inputs, k.Input)
		cur := s.step([]sim.Input{{Player: cs.player, Kind: sim.InputMove, Seq: cs.lastSeq, Values: k.Input.GetValues()}})
		_ = c.WriteMessage(gws.OpcodeBinary, encodeFrame(&s.enc, s.ring[cs.sent], cur, cs.lastSeq, true))
		cs.sent = cur.Tick()
	case *pb.ClientMessage_Ping:
		send(c, &pb.ServerMessage{Kind: &pb.ServerMessage_Pong{Pong: &pb.Pong{
			ClientTimeUs: k.Ping.GetClientTimeUs(), ServerTimeUs: time.Now().UnixMicro(), Tick: s.world.Tick(),
		}}})
	case *pb.ClientMessage_Leave:
		_ = c.WriteClose(1000, []byte("left"))
	default:
		_ = c.WriteClose(1008, []byte("unknown message kind"))
	}
}

func (s *testServer) join(c *gws.Conn, cs *conn, j *pb.Join) {
	if j.GetRoom() == "nope" {
		_ = c.WriteClose(4004, []byte("room not found"))
		return
	}
	s.joins = append(s.joins, j)
	base := s.ring[j.GetLastTick()] // nil: snapshot
	cur := s.step(nil)
	w := s.game.welcomeMsg(cs.player, cur.Tick(), base != nil)
	if j.GetRoom() == "views" { // a room whose game has views: the welcome says how it cuts its world
		w.GetWelcome().Grid = &pb.ViewGrid{Width: 100000, Height: 100000, Cell: 10000, Cols: 10, Rows: 10}
		w.GetWelcome().Config = []byte(`{"view":400}`)
	}
	send(c, w)
	switch j.GetRoom() {
	case "kick":
		send(c, &pb.ServerMessage{Kind: &pb.ServerMessage_Kick{Kick: &pb.Kick{Code: 4009, Reason: "room full"}}})
		_ = c.WriteClose(4009, []byte("room full"))
		return
	case "drop":
		_ = c.NetConn().Close()
		return
	case "badframe": // a delta from a tick the client does not hold
		next := s.step(nil)
		_ = c.WriteMessage(gws.OpcodeBinary, encodeFrame(&s.enc, cur, next, 0, false))
		return
	case "desync":
		b := encodeFrame(&s.enc, nil, cur, 0, true)
		b[len(b)-1] ^= 1 // the view hash is the last field
		_ = c.WriteMessage(gws.OpcodeBinary, b)
		return
	}
	_ = c.WriteMessage(gws.OpcodeBinary, encodeFrame(&s.enc, base, cur, cs.lastSeq, true))
	cs.sent = cur.Tick()
}

// lastJoin returns the last join the server received.
func (s *testServer) lastJoin(t *testing.T) *pb.Join {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(t, s.joins)
	return s.joins[len(s.joins)-1]
}

// closeCode waits for the server to see a client's close.
func (s *testServer) closeCode(t *testing.T) uint16 {
	t.Helper()
	select {
	case code := <-s.closes:
		return code
	case <-time.After(5 * time.Second):
		t.Fatal("server saw no close")
		return 0
	}
}
