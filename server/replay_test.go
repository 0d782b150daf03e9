package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	client "github.com/ticksync/ticksync/client-go"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// recMatch is a scripted arena match written as a recording: players join, move, leave and
// (as marks only) reconnect at random, from a seeded PRNG.
type recMatch struct {
	hz, ticks, keyEvery, players uint32
	npcs                         int
	seed                         uint32
	moveAll                      bool   // every present player moves every tick (scenario B)
	game                         string // the header's game (default arena)
}

// recorded is what writing a match produced.
type recorded struct {
	path    string
	hashes  []uint64 // by tick; [0] is the initial world's
	tickOff []int64  // each tick record's offset, by tick
	marks   []*pb.ReplayMark
}

func (m recMatch) write(tb testing.TB, path string) recorded {
	tb.Helper()
	cfg := []byte(`{"npcs":` + strconv.Itoa(m.npcs) + `}`)
	g, err := arena.New(m.hz, cfg)
	require.NoError(tb, err)
	w := sim.NewWorld(g.Schema(), m.seed)
	require.NoError(tb, g.Init(w))
	st, in := g.Schema().Proto()
	f, err := os.Create(path)
	require.NoError(tb, err)
	defer f.Close()
	game := m.game
	if game == "" {
		game = arena.Name
	}
	rw, err := replay.NewWriter(f, &pb.RecordingHeader{FormatVersion: replay.FormatVersion, Game: game, State: st, Input: in,
		Config: cfg, Seed: m.seed, TickRate: m.hz, Room: "match", KeyframeEvery: m.keyEvery, InputsPerTick: 2})
	require.NoError(tb, err)
	rec := recorded{path: path, hashes: []uint64{w.Hash()}, tickOff: make([]int64, m.ticks+1)}
	r := sim.NewRand(m.seed + 1)
	present := make([]bool, m.players+1)
	seq := make([]uint32, m.players+1)
	var ins []sim.Input
	var reconnects []uint32
	for t := uint32(1); t <= m.ticks; t++ {
		ins, reconnects = ins[:0], reconnects[:0]
		for p := uint32(1); p <= m.players; p++ {
			switch {
			case !present[p] && (t == 1 || r.Below(1<<27)):
				present[p] = true
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputJoin})
				rec.marks = append(rec.marks, &pb.ReplayMark{Tick: t, Kind: pb.ReplayMarkKind_REPLAY_MARK_KIND_JOIN, Player: p})
			case present[p] && r.Below(1<<24):
				present[p] = false
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputLeave})
				rec.marks = append(rec.marks, &pb.ReplayMark{Tick: t, Kind: pb.ReplayMarkKind_REPLAY_MARK_KIND_LEAVE, Player: p})
			case present[p] && (m.moveAll || r.Below(1<<30)):
				seq[p]++
				v := []int32{int32(r.Mod(2*arena.MaxInput+1)) - arena.MaxInput, int32(r.Mod(2*arena.MaxInput+1)) - arena.MaxInput}
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputMove, Seq: seq[p], Values: v})
			}
			if present[p] && r.Below(1<<24) {
				reconnects = append(reconnects, p)
			}
		}
		for _, p := range reconnects { // marks list a tick's joins and leaves, then its reconnects
			rec.marks = append(rec.marks, &pb.ReplayMark{Tick: t, Kind: pb.ReplayMarkKind_REPLAY_MARK_KIND_RECONNECT, Player: p})
		}
		w.Step(g, ins)
		rec.hashes = append(rec.hashes, w.Hash())
		rec.tickOff[t] = rw.Offset()
		require.NoError(tb, rw.WriteTick(t, ins, w.Hash(), reconnects))
		if t%m.keyEvery == 0 {
			require.NoError(tb, rw.WriteKeyframe(t, w.Save()))
		}
	}
	require.NoError(tb, rw.Close("room closed", 0))
	return rec
}

// smallMatch is 100 s of a 20 Hz arena match with a keyframe every 10 s.
func smallMatch() recMatch {
	return recMatch{hz: 20, ticks: 2000, keyEvery: 200, players: 6, npcs: 20, seed: 9}
}

// replayServer serves cfg (with the recordings of dir, when dir is not empty) on a real
// socket and returns its address (host:port).
func replayServer(t *testing.T, cfg Config, dir string) string {
	t.Helper()
	if dir != "" {
		cfg.Replays = ReplayDir(dir)
	}
	s, err := New(withArena(cfg))
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func control(t *testing.T, c *client.Client, rc *pb.ReplayControl) {
	t.Helper()
	require.NoError(t, c.Send(&pb.ClientMessage{Kind: &pb.ClientMessage_ReplayControl{ReplayControl: rc}}))
}

// waitStatus waits for a replay status that satisfies pred.
func waitStatus(t *testing.T, c *client.Client, pred func(st *pb.ReplayStatus) bool) *pb.ReplayStatus {
	t.Helper()
	// The client wakes frame waiters on a status too, but their predicate runs under the lock
	// ReplayStatus takes: poll.
	poll := time.NewTicker(2 * time.Millisecond)
	defer poll.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if st := c.ReplayStatus(); st != nil && pred(st) {
			return st
		}
		require.NoError(t, c.Err())
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatalf("no matching replay status; last %v", c.ReplayStatus())
		}
	}
}

// seekTo seeks to tick and waits for the snapshot of it.
func seekTo(t *testing.T, c *client.Client, tick uint32) {
	t.Helper()
	control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SEEK, SeekTick: tick})
	require.NoError(t, c.WaitFrame(testCtx(t), func(_ *sim.State, f client.FrameInfo) bool {
		return f.Tick == tick && f.BaselineTick == 0
	}), "snapshot of tick %d", tick)
}

func TestReplaySession(t *testing.T) {
	dir := t.TempDir()
	rec := smallMatch().write(t, filepath.Join(dir, "m1.tsrec"))
	addr := replayServer(t, Config{HashEvery: 5}, dir)
	c, err := client.Dial(testCtx(t), "ws://"+addr+"/ws", client.Options{Room: "replay:m1"})
	require.NoError(t, err)
	defer c.Close()

	w := c.Welcome()
	assert.True(t, w.GetReplay())
	assert.True(t, w.GetSpectator())
	assert.Equal(t, "replay:m1", w.GetRoom())
	assert.Equal(t, arena.Name, w.GetGame())
	assert.Equal(t, uint32(20), w.GetTickRate())
	assert.Zero(t, w.GetPlayerId())
	assert.Empty(t, w.GetResumeToken())

	st := waitStatus(t, c, func(st *pb.ReplayStatus) bool { return len(st.GetMarks()) > 0 })
	assert.Equal(t, "m1", st.GetName())
	assert.Equal(t, uint32(1), st.GetFirstTick())
	assert.Equal(t, uint32(2000), st.GetLastTick())
	assert.True(t, st.GetPlaying(), "starts playing")
	require.Len(t, st.GetMarks(), len(rec.marks))
	for i, m := range rec.marks {
		assert.Equal(t, m.GetTick(), st.GetMarks()[i].GetTick(), "mark %d", i)
		assert.Equal(t, m.GetKind(), st.GetMarks()[i].GetKind(), "mark %d", i)
		assert.Equal(t, m.GetPlayer(), st.GetMarks()[i].GetPlayer(), "mark %d", i)
	}

	// Frames flow and carry view hashes the client checks.
	require.NoError(t, c.WaitTick(testCtx(t), 12))

	t.Run("seek", func(t *testing.T) {
		control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PAUSE})
		waitStatus(t, c, func(st *pb.ReplayStatus) bool { return !st.GetPlaying() })
		for _, tick := range []uint32{1500, 199, 200, 201, 1999, 2000, 7, 1} {
			seekTo(t, c, tick)
			var h uint64
			c.WithState(func(st *sim.State) { h = st.Hash() })
			assert.Equal(t, rec.hashes[tick], h, "mirror hash at tick %d", tick)
			assert.True(t, c.LastFrame().HasHash, "a seek snapshot carries the view hash")
			st := waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetTick() == tick })
			assert.False(t, st.GetPlaying())
		}
		// Clamped to the recording's range.
		seekTo(t, c, 2000)
		control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SEEK, SeekTick: 99999})
		waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetTick() == 2000 })
	})

	t.Run("pause stops frames", func(t *testing.T) {
		seekTo(t, c, 300)
		frames := c.Counters().Frames
		time.Sleep(300 * time.Millisecond) // 6 ticks at 100 %
		// A control's status is a fence: everything sent before it has arrived.
		control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SPEED, SpeedPct: 100})
		st := waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetSpeedPct() == 100 && st.GetTick() == 300 })
		assert.False(t, st.GetPlaying())
		assert.Equal(t, frames, c.Counters().Frames, "no frames while paused")
		assert.Equal(t, uint32(300), c.Tick())
	})

	t.Run("play resumes with deltas", func(t *testing.T) {
		control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PLAY})
		require.NoError(t, c.WaitFrame(testCtx(t), func(_ *sim.State, f client.FrameInfo) bool {
			return f.Tick > 310 && f.BaselineTick != 0
		}))
		var h uint64
		var tick uint32
		control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PAUSE})
		waitStatus(t, c, func(st *pb.ReplayStatus) bool { return !st.GetPlaying() })
		c.WithState(func(st *sim.State) { h, tick = st.Hash(), st.Tick() })
		assert.Equal(t, rec.hashes[tick], h, "mirror hash at tick %d after playing", tick)
	})

	t.Run("speed changes the rate", func(t *testing.T) {
		rate := func(pct uint32) float64 {
			seekTo(t, c, 400)
			control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SPEED, SpeedPct: pct})
			control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PLAY})
			waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetPlaying() && st.GetSpeedPct() == pct })
			t0, k0 := time.Now(), c.Tick()
			time.Sleep(600 * time.Millisecond)
			t1, k1 := time.Now(), c.Tick()
			control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PAUSE})
			waitStatus(t, c, func(st *pb.ReplayStatus) bool { return !st.GetPlaying() })
			return float64(k1-k0) / t1.Sub(t0).Seconds()
		}
		slow, normal, fast := rate(25), rate(100), rate(800)
		t.Logf("ticks/s at 25 %%: %.1f, 100 %%: %.1f, 800 %%: %.1f", slow, normal, fast)
		assert.InDelta(t, 5, slow, 4)
		assert.InDelta(t, 20, normal, 8)
		assert.InDelta(t, 160, fast, 60)
	})

	t.Run("play at the end starts over", func(t *testing.T) {
		seekTo(t, c, 2000)
		control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PLAY})
		require.NoError(t, c.WaitFrame(testCtx(t), func(_ *sim.State, f client.FrameInfo) bool { return f.Tick < 100 }))
	})
	require.NoError(t, c.Err())
}

func TestReplayBadNames(t *testing.T) {
	dir := t.TempDir()
	smallMatch().write(t, filepath.Join(dir, "ok.tsrec"))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "junk.tsrec"), []byte("not a recording"), 0o644))
	other := smallMatch()
	other.game, other.ticks = "nosuchgame", 10
	other.write(t, filepath.Join(dir, "other.tsrec"))
	outside := filepath.Join(t.TempDir(), "secret.tsrec")
	smallMatch().write(t, outside)
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link.tsrec")))
	addr := replayServer(t, Config{}, dir)
	for _, name := range []string{"replay:", "replay:nope", "replay:../ok", "replay:a/b", "replay:.hidden", "replay:ok.tsrec",
		"replay:..", "replay:junk", "replay:link", "replay:other", "replay:" + filepath.Join("..", filepath.Base(filepath.Dir(outside)), "secret")} {
		t.Run(name, func(t *testing.T) {
			_, err := client.Dial(testCtx(t), "ws://"+addr+"/ws", client.Options{Room: name})
			var ce *client.CloseError
			require.True(t, errors.As(err, &ce), "err %v", err)
			assert.Equal(t, uint16(CodeRoomNotFound), ce.Code)
		})
	}
	// Without recordings configured, every replay is unknown.
	bare := replayServer(t, Config{}, "")
	_, err := client.Dial(testCtx(t), "ws://"+bare+"/ws", client.Options{Room: "replay:ok"})
	var ce *client.CloseError
	require.True(t, errors.As(err, &ce), "err %v", err)
	assert.Equal(t, uint16(CodeRoomNotFound), ce.Code)
}

// TestReplayLongName: a recording is named after its room (up to 64 bytes) and its start time,
// so its replay room id is longer than any live room id; joining it must still work.
func TestReplayLongName(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("r", maxRoomIDLen) + "-20261202-053000"
	smallMatch().write(t, filepath.Join(dir, name+ReplayExt))
	addr := replayServer(t, Config{}, dir)
	c, err := client.Dial(testCtx(t), "ws://"+addr+"/ws", client.Options{Room: ReplayRoomPrefix + name})
	require.NoError(t, err)
	defer c.Close()
	assert.True(t, c.Welcome().GetReplay())
	require.NoError(t, c.WaitTick(testCtx(t), 1))

	// Past the name bound the join itself is malformed.
	_, err = client.Dial(testCtx(t), "ws://"+addr+"/ws", client.Options{Room: ReplayRoomPrefix + strings.Repeat("r", maxReplayNameLen+1)})
	var ce *client.CloseError
	require.True(t, errors.As(err, &ce), "err %v", err)
	assert.Equal(t, uint16(CodePolicy), ce.Code)
}

// A recording cut in the middle of a record plays up to its last whole tick.
func TestReplayTornFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "torn.tsrec")
	rec := smallMatch().write(t, path)
	const last = 1234
	require.NoError(t, os.Truncate(path, rec.tickOff[last+1]+3))
	addr := replayServer(t, Config{}, dir)
	c, err := client.Dial(testCtx(t), "ws://"+addr+"/ws", client.Options{Room: "replay:torn"})
	require.NoError(t, err)
	defer c.Close()
	st := waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetName() == "torn" })
	assert.Equal(t, uint32(last), st.GetLastTick())
	for _, tick := range []uint32{last, 1000, last - 1} {
		seekTo(t, c, tick)
		var h uint64
		c.WithState(func(st *sim.State) { h = st.Hash() })
		assert.Equal(t, rec.hashes[tick], h, "tick %d", tick)
	}
	control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SPEED, SpeedPct: 800})
	control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PLAY})
	require.NoError(t, c.WaitTick(testCtx(t), last))
	st = waitStatus(t, c, func(st *pb.ReplayStatus) bool { return !st.GetPlaying() && st.GetTick() == last })
	var h uint64
	c.WithState(func(st *sim.State) { h = st.Hash() })
	assert.Equal(t, rec.hashes[last], h)
	require.NoError(t, c.Err())
}

func TestListReplays(t *testing.T) {
	dir := t.TempDir()
	rec := smallMatch().write(t, filepath.Join(dir, "b.tsrec"))
	torn := smallMatch().write(t, filepath.Join(dir, "a.tsrec"))
	require.NoError(t, os.Truncate(torn.path, torn.tickOff[100]+1))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c.tsrec"), []byte("garbage"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d.tsrec"), 0o755))
	addr := replayServer(t, Config{}, dir)
	get := func() []replayJSON {
		resp, err := http.Get("http://" + addr + "/replays")
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out []replayJSON
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	out := get()
	require.Len(t, out, 3)
	assert.Equal(t, "a", out[0].Name)
	assert.False(t, out[0].Complete)
	assert.Equal(t, uint32(99), out[0].Ticks)
	assert.NotEmpty(t, out[0].Problem)
	assert.Empty(t, out[0].Error)
	fi, err := os.Stat(rec.path)
	require.NoError(t, err)
	assert.Equal(t, replayJSON{Name: "b", Game: arena.Name, Room: "match", TickRate: 20, Ticks: 2000, Duration: 100,
		Size: fi.Size(), Players: 6, Complete: true}, out[1])
	assert.Equal(t, "c", out[2].Name)
	assert.NotEmpty(t, out[2].Error)

	// A changed file is read again; a removed one disappears.
	require.NoError(t, os.Remove(filepath.Join(dir, "c.tsrec")))
	smallMatch().write(t, filepath.Join(dir, "a.tsrec"))
	out = get()
	require.Len(t, out, 2)
	assert.True(t, out[0].Complete)

	// No recordings configured: an empty list.
	s, err := New(withArena(Config{}))
	require.NoError(t, err)
	rr := httptest.NewRecorder()
	s.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/replays", nil))
	assert.JSONEq(t, "[]", rr.Body.String())
}

// A recording without ticks is welcomed with an empty range and sends no frames.
func TestReplayEmpty(t *testing.T) {
	dir := t.TempDir()
	m := smallMatch()
	m.ticks = 0
	m.write(t, filepath.Join(dir, "empty.tsrec"))
	addr := replayServer(t, Config{}, dir)
	c, err := client.Dial(testCtx(t), "ws://"+addr+"/ws", client.Options{Room: "replay:empty"})
	require.NoError(t, err)
	defer c.Close()
	st := waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetName() == "empty" })
	assert.Zero(t, st.GetFirstTick())
	assert.Zero(t, st.GetLastTick())
	assert.False(t, st.GetPlaying())
	control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_PLAY})
	control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SEEK, SeekTick: 5})
	control(t, c, &pb.ReplayControl{Action: pb.ReplayAction_REPLAY_ACTION_SPEED, SpeedPct: 5000})
	waitStatus(t, c, func(st *pb.ReplayStatus) bool { return st.GetSpeedPct() == 800 })
	assert.Zero(t, c.Counters().Frames)
	require.NoError(t, c.Err())
}

// Sessions beyond the limit close with 4003, like a join at the room limit; a closed session
// frees its place.
func TestReplaySessionLimit(t *testing.T) {
	dir := t.TempDir()
	smallMatch().write(t, filepath.Join(dir, "m.tsrec"))
	rs := ReplayDir(dir)
	rs.max = 1
	url := "ws://" + replayServer(t, Config{Replays: rs}, "") + "/ws"
	a, err := client.Dial(testCtx(t), url, client.Options{Room: "replay:m"})
	require.NoError(t, err)
	_, err = client.Dial(testCtx(t), url, client.Options{Room: "replay:m"})
	var ce *client.CloseError
	require.True(t, errors.As(err, &ce), "err %v", err)
	assert.Equal(t, uint16(CodeServerFull), ce.Code)
	require.NoError(t, a.Close())
	require.Eventually(t, func() bool { return rs.live.Load() == 0 }, 5*time.Second, 5*time.Millisecond)
	b, err := client.Dial(testCtx(t), url, client.Options{Room: "replay:m"})
	require.NoError(t, err)
	require.NoError(t, b.Close())
}
