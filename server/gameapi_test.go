package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/replay"
	"github.com/ticksync/ticksync/sim/simtest"
)

// duelGames is a registry holding simtest.Duel, the test game that uses every optional part of
// the game API.
func duelGames() *Registry {
	r := NewRegistry()
	if err := r.Register(simtest.DuelName, simtest.NewDuel); err != nil {
		panic(err)
	}
	return r
}

// fakeNow is an injected clock for a manually ticked server.
type fakeNow struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeNow) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeNow) add(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// markerX returns the x of player's marker in c's mirror, and the mirror's tick.
func (c *tclient) markerX(player uint32) (x int32, tick uint32, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.mirror.State()
	cls, _ := s.Schema().ClassByName("marker")
	fx, _ := s.Schema().FieldByName(cls, "x")
	fp, _ := s.Schema().FieldByName(cls, "player")
	for id := sim.Entity(1); id < s.MaxID(); id++ {
		if k, live := s.ClassOf(id); live && k == cls && uint32(s.Value(id, fp)) == player {
			return s.Value(id, fx), s.Tick(), true
		}
	}
	return 0, 0, false
}

// TestGameAPIMatch plays a Duel through real sockets: the game's own tick rate, a join the
// game refuses (4005 with its reason), player metadata, two hits checked against what the
// shooter saw (its render tick, though the target has moved since), events to everyone and to
// the shooter only, the result in a frame, 4002 "match over" after the grace, and a recording
// that verifies with its events and result.
func TestGameAPIMatch(t *testing.T) {
	clk := &fakeNow{now: time.Now()} // near the real time: write deadlines are set from it
	dir := t.TempDir()
	newRec, err := NewFileRecorder(FileRecorderOptions{Dir: dir, NoSync: true, KeyframeEvery: 4})
	require.NoError(t, err)
	ts := startServer(t, Config{TickRate: 20, ManualTicks: true, Games: duelGames(), Now: clk.Now, NewRecorder: newRec,
		MatchOverGrace: 2 * time.Second}, nil)

	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "duel-1", Game: simtest.DuelName, CreateIfMissing: true, Config: []byte(`{"hits":2}`), Meta: `{"name":"ann"}`})
	var r *Room
	require.Eventually(t, func() bool { var ok bool; r, ok = ts.Room("duel-1"); return ok }, waitTimeout, time.Millisecond)
	tickUntil(t, r, "ann welcomed", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		require.False(t, a.closed, "closed %d %s %v", a.code, a.reason, a.err)
		return a.welcome != nil
	})
	m := ts.dial(t, dialOpts{})
	m.join(&pb.Join{Room: "duel-1", Meta: `{"name":"mallory"}`})
	b := ts.dial(t, dialOpts{})
	b.join(&pb.Join{Room: "duel-1", Meta: `{"name":"bob"}`})
	tickUntil(t, r, "bob welcomed, mallory refused", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		m.mu.Lock()
		defer m.mu.Unlock()
		return b.welcome != nil && m.closed
	})
	code, reason := m.waitClose()
	assert.Equal(t, uint16(CodeJoinRefused), code)
	assert.Equal(t, "mallory may not play", reason)
	assert.Equal(t, uint32(30), a.welcomed().GetTickRate(), "the game's own rate, not -tick-rate")
	pa, pb2 := a.welcomed().GetPlayerId(), b.welcomed().GetPlayerId()

	for seq := uint32(1); seq <= 2; seq++ {
		// A sees B at x on the tick it renders; the shot lands a few ticks later, when B has
		// moved on: only the render tick makes it a hit.
		tickUntil(t, r, "a sees b", func() bool { _, _, ok := a.markerX(pb2); return ok })
		x, seen, _ := a.markerX(pb2)
		for range 3 {
			r.Tick()
		}
		a.send(&pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: &pb.Input{Seq: seq, Values: []int32{x, int32(pb2)}, RenderTick: seen, Subtick: 100}}})
		want := int(seq) * 2
		tickUntil(t, r, "the hit's events", func() bool {
			a.mu.Lock()
			defer a.mu.Unlock()
			return len(a.events) >= want
		})
	}
	tickUntil(t, r, "both see the result", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		return a.result != nil && b.result != nil
	})
	a.mu.Lock()
	require.Len(t, a.events, 4, "two hits: each an event to everyone and one to the shooter")
	for i, ev := range a.events {
		if i%2 == 0 {
			assert.Equal(t, uint32(simtest.EventHit), ev.GetKind())
			assert.Equal(t, []int32{int32(pa), int32(pb2)}, ev.GetValues())
		} else {
			assert.Equal(t, uint32(simtest.EventScored), ev.GetKind())
			assert.Equal(t, []int32{int32(i/2 + 1)}, ev.GetValues())
		}
		assert.Empty(t, ev.GetTo(), "frames do not carry recipients")
	}
	assert.Equal(t, []uint32{pa}, a.result.GetWinners())
	a.mu.Unlock()
	b.mu.Lock()
	require.Len(t, b.events, 2, "the victim gets the hits, not the shooter's own events")
	assert.Equal(t, uint32(simtest.EventHit), b.events[1].GetKind())
	assert.Equal(t, "player 1 wins", b.result.GetSummary())
	b.mu.Unlock()

	// Nothing steps after the end; the room closes after the grace.
	over := r.CurrentTick()
	require.True(t, r.Tick())
	assert.Equal(t, over, r.CurrentTick(), "no tick after the match ended")
	late := ts.dial(t, dialOpts{})
	late.join(&pb.Join{Room: "duel-1"})
	tickUntil(t, r, "a join after the end refused", func() bool { late.mu.Lock(); defer late.mu.Unlock(); return late.closed })
	code, reason = late.waitClose()
	assert.Equal(t, uint16(CodeRoomClosed), code)
	assert.Equal(t, "match over", reason)
	a.mu.Lock()
	assert.False(t, a.closed, "the players stay for the grace")
	a.mu.Unlock()
	clk.add(2 * time.Second)
	require.False(t, r.Tick(), "closed after the grace")
	for _, c := range []*tclient{a, b} {
		code, reason := c.waitClose()
		assert.Equal(t, uint16(CodeRoomClosed), code)
		assert.Equal(t, "match over", reason)
	}
	<-r.Done()

	files, err := filepath.Glob(filepath.Join(dir, "*.tsrec"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	f, err := os.Open(files[0])
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	rd, err := replay.Open(f, st.Size())
	require.NoError(t, err)
	require.NoError(t, replay.Verify(rd, duelGames().Lookup, nil))
	info, err := rd.Info()
	require.NoError(t, err)
	assert.Equal(t, uint32(30), info.TickRate)
	assert.Equal(t, 4, info.Events)
	require.NotNil(t, info.Result)
	assert.Equal(t, over, info.Result.GetTick())
	assert.Equal(t, "match over", info.EndReason)
	assert.Equal(t, uint32(8), rd.Header().GetHistory())
	for _, kf := range rd.Keyframes() { // every seek re-simulates the hits: the keyframes carry the history
		w, _, err := replay.Seek(rd, duelGames().Lookup, kf.Tick)
		require.NoError(t, err)
		assert.Equal(t, kf.Tick, w.Tick())
	}

	// The replay server lists the events and the result for the viewer, and its frames carry
	// every event (whoever it was for) and the result as the recording plays.
	addr := replayServer(t, Config{Games: duelGames()}, dir)
	v, err := dialClient(t, "ws://"+addr+"/ws", dialOpts{})
	require.NoError(t, err)
	v.join(&pb.Join{Room: ReplayRoomPrefix + strings.TrimSuffix(filepath.Base(files[0]), ".tsrec")})
	v.waitFor("the recording played to its end", func(c *tclient) bool { return c.result != nil })
	v.mu.Lock()
	defer v.mu.Unlock()
	require.NotNil(t, v.status)
	require.Len(t, v.status.GetEvents(), 4)
	assert.Equal(t, []uint32{pa}, v.status.GetEvents()[1].GetTo(), "the list names who an event was for")
	assert.Equal(t, "player 1 wins", v.status.GetResult().GetSummary())
	require.Len(t, v.events, 4, "played: every event once")
	for i, ev := range v.events {
		assert.Equal(t, v.status.GetEvents()[i].GetTick(), ev.GetTick())
		assert.Equal(t, v.status.GetEvents()[i].GetValues(), ev.GetValues())
	}
	assert.Equal(t, over, v.result.GetTick())
}

// TestJoinConfigAndMetaLimits: a join-create whose config the game refuses closes with 4004
// and the game's reason; metadata over -max-join-meta closes with 1008; in token mode the
// metadata comes from the token (the join's own field is ignored) and the game may refuse it.
func TestJoinConfigAndMetaLimits(t *testing.T) {
	ts := startServer(t, Config{TickRate: 20, Games: duelGames(), MaxJoinMeta: 16}, nil)
	c := ts.dial(t, dialOpts{})
	c.join(&pb.Join{Room: "bad", Game: simtest.DuelName, CreateIfMissing: true, Config: []byte(`{"hits":99}`)})
	code, reason := c.waitClose()
	assert.Equal(t, uint16(CodeRoomNotFound), code)
	assert.Contains(t, reason, "hits 99 out of range 1..10")

	c = ts.dial(t, dialOpts{})
	c.join(&pb.Join{Room: "meta", Game: simtest.DuelName, CreateIfMissing: true, Meta: `{"name":"a-very-long-name"}`})
	code, reason = c.waitClose()
	assert.Equal(t, uint16(CodePolicy), code)
	assert.Equal(t, "join meta too long", reason)

	tk := startServer(t, Config{TickRate: 20, Auth: AuthToken, Secret: testSecret, Games: duelGames()}, nil)
	_, err := tk.CreateRoom("t", simtest.DuelName, nil)
	require.NoError(t, err)
	tok := mint(t, auth.Claims{Room: "t", Player: 5, Role: auth.RolePlayer, Meta: `{"name":"mallory"}`})
	c = tk.dial(t, dialOpts{token: tok})
	c.join(&pb.Join{Room: "t", Meta: `{"name":"ann"}`}) // ignored: the token says who
	code, reason = c.waitClose()
	assert.Equal(t, uint16(CodeJoinRefused), code)
	assert.Equal(t, "mallory may not play", reason)
}

// TestReadNotesPastTheMarkCap: a recording with more joins than the first status lists still
// lists its events and its result (the marks stop at the cap, the scan does not).
func TestReadNotesPastTheMarkCap(t *testing.T) {
	g, err := simtest.NewDuel(30, nil)
	require.NoError(t, err)
	st, in := g.Schema().Proto()
	var buf bytes.Buffer
	w, err := replay.NewWriter(&buf, &pb.RecordingHeader{FormatVersion: replay.FormatVersion, Game: simtest.DuelName, State: st, Input: in, TickRate: 30, KeyframeEvery: 1000})
	require.NoError(t, err)
	var joins []sim.Input
	for p := uint32(1); p <= maxReplayMarks+10; p++ {
		joins = append(joins, sim.Input{Player: p, Kind: sim.InputJoin})
	}
	require.NoError(t, w.WriteTick(1, joins, 1, nil))
	ev := []sim.Event{{Kind: simtest.EventHit, Values: []int32{1, 2}}}
	require.NoError(t, w.WriteTickEvents(2, nil, 1, nil, ev, &sim.Result{Tick: 2, Summary: "over"}))
	require.NoError(t, w.Close("match over", 0))
	rd, err := replay.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	n := readNotes(rd)
	assert.Len(t, n.marks, maxReplayMarks)
	require.Len(t, n.events, 1)
	assert.Equal(t, []int32{1, 2}, n.events[0].GetValues())
	assert.Equal(t, "over", n.result.GetSummary())
}
