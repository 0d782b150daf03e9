package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// The room grace of these tests: 40 ticks at 20 Hz, with a keyframe every 16 ticks, so the
// idle tail holds keyframes too.
const (
	trimGrace    = 2 * time.Second
	trimKeyEvery = 16
)

// trimRoom is a manually ticked, recorded arena room whose writer keeps up with every tick
// (paced), and whose recorder logs go to logs.
type trimRoom struct {
	*matchDriver
	rec  *pacedRecorder
	logs *lockedBuffer
}

func newTrimRoom(t *testing.T, cfg Config, game string) *trimRoom {
	t.Helper()
	logs := &lockedBuffer{}
	recs := recorders{pace: true}
	cfg.NewRecorder = recs.wrap(t, FileRecorderOptions{Dir: t.TempDir(), NoSync: true, KeyframeEvery: trimKeyEvery,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if cfg.RoomGrace == 0 {
		cfg.RoomGrace = trimGrace
	}
	d := newGameDriver(t, 5, cfg, game)
	d.scripted = true
	return &trimRoom{matchDriver: d, rec: recs.last(), logs: logs}
}

// play runs n ticks in which every seated connection moves.
func (d *trimRoom) play(n int) {
	d.t.Helper()
	for range n {
		for i, dc := range d.conns {
			if dc.seat != nil {
				dc.seq++
				_, err := dc.seat.Inbox().Push(dc.seq, []int32{int32(i+1) * 40, -arena.MaxInput / 2}, d.clock())
				require.NoError(d.t, err)
			}
		}
		require.True(d.t, d.tick(), "the room goes on")
	}
}

// leave has connection i leave and runs the tick that applies it; it returns the tick and the
// live room's world hash after it.
func (d *trimRoom) leave(i int) (tick uint32, hash uint64) {
	d.t.Helper()
	d.remove(i, cmdLeave)
	require.True(d.t, d.tick())
	d.r.tickMu.Lock()
	defer d.r.tickMu.Unlock()
	return d.r.CurrentTick(), d.r.eng.World().Hash()
}

// idle runs ticks until the room disposes of itself; it returns the last tick the room ran.
func (d *trimRoom) idle() uint32 {
	d.t.Helper()
	for i := 0; d.tick(); i++ {
		require.Less(d.t, i, 10_000, "the empty room is never disposed")
	}
	<-d.r.Done()
	return d.r.CurrentTick()
}

// recording waits for the recording to be finished, checks that it is complete and verifies,
// and returns it.
func (d *trimRoom) recording() *replay.Reader {
	d.t.Helper()
	<-d.rec.done
	require.NoError(d.t, d.rec.result)
	r := openReader(d.t, d.rec.Path())
	require.True(d.t, r.Complete(), "a normal closed recording: %v", r.Err())
	require.NoError(d.t, replay.Verify(r, d.s.cfg.Games.Lookup, nil), "replay verify")
	for _, kf := range r.Keyframes() {
		assert.LessOrEqual(d.t, kf.Tick, r.LastTick(), "no keyframe past the end")
	}
	return r
}

// lastRecord returns the recording's last tick record.
func lastRecord(t *testing.T, r *replay.Reader) (hash uint64, inputs []sim.Input) {
	t.Helper()
	it := r.Ticks(r.LastTick())
	require.True(t, it.Next(), "tick %d: %v", r.LastTick(), it.Err())
	return it.Record().GetWorldHash(), it.Inputs()
}

func hasLeave(inputs []sim.Input) bool {
	for _, in := range inputs {
		if in.Kind == sim.InputLeave {
			return true
		}
	}
	return false
}

// TestRecordingEndsWhenRoomEmpties: a player plays and leaves; the empty room is disposed
// after the grace, and its recording ends at the leave's tick, with the live room's hash
// there, instead of running on through the grace.
func TestRecordingEndsWhenRoomEmpties(t *testing.T) {
	d := newTrimRoom(t, Config{}, arena.Name)
	d.join()
	d.play(60)
	left, liveHash := d.leave(0)
	last := d.idle()
	require.GreaterOrEqual(t, last, left+39, "the room ran through its grace (40 ticks after the last with someone in), keyframes included")

	r := d.recording()
	assert.Equal(t, left, r.LastTick(), "the recording ends at the tick of the leave")
	hash, inputs := lastRecord(t, r)
	assert.Equal(t, liveHash, hash, "the last tick's hash is the live room's at the leave")
	assert.True(t, hasLeave(inputs), "the last tick applies the leave")
	assert.Equal(t, ReasonEmpty, r.End().GetReason())
	in, err := r.Info()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(left)*time.Second/20, in.Duration, "replay info's duration ends at the leave")
	assert.Len(t, r.Keyframes(), int(left/trimKeyEvery), "the keyframes of the grace are gone")
	assert.Contains(t, d.logs.String(), "recording trimmed")
	assert.Contains(t, d.logs.String(), "ticks_trimmed="+strconv.Itoa(int(last-left)))
}

// TestRecordingOfRoomNobodyJoined: a room created and never joined keeps its first tick only.
func TestRecordingOfRoomNobodyJoined(t *testing.T) {
	d := newTrimRoom(t, Config{}, arena.Name)
	d.idle()
	r := d.recording()
	assert.Equal(t, uint32(1), r.LastTick())
	assert.Equal(t, ReasonEmpty, r.End().GetReason())
}

// TestRecordingKeepsGraceSomeoneCameBackTo: the room empties, someone joins during the grace
// and plays: those idle ticks are part of the match and stay. Only the tail after the second
// player's leave is cut.
func TestRecordingKeepsGraceSomeoneCameBackTo(t *testing.T) {
	d := newTrimRoom(t, Config{}, arena.Name)
	d.join()
	d.play(30)
	firstLeft, _ := d.leave(0)
	for range 20 { // half the grace, nobody in
		require.True(t, d.tick())
	}
	d.join()
	d.play(30)
	left, liveHash := d.leave(0)
	last := d.idle()
	require.Greater(t, last, left)

	r := d.recording()
	assert.Equal(t, left, r.LastTick(), "ends at the second leave, not the first")
	assert.Greater(t, left, firstLeft+50)
	hash, _ := lastRecord(t, r)
	assert.Equal(t, liveHash, hash)
	in, err := r.Info()
	require.NoError(t, err)
	assert.Equal(t, 2, in.Players)
}

// TestRecordingNotTrimmedWhenClosed: a room closed by an operator (DELETE /rooms/{id}) or by
// a shutdown keeps every tick: while a player is in (though the room was empty at its start),
// and also while it is empty during its grace (a deliberate close, not a disposal).
func TestRecordingNotTrimmedWhenClosed(t *testing.T) {
	deleteRoom := func(t *testing.T, d *trimRoom) {
		req := httptest.NewRequest(http.MethodDelete, "/rooms/match", nil)
		req.RemoteAddr = "127.0.0.1:40000" // anonymous mode: admin routes from loopback
		rr := httptest.NewRecorder()
		d.s.Handler().ServeHTTP(rr, req)
		require.Equal(t, http.StatusNoContent, rr.Code, rr.Body.String())
	}
	shutdown := func(t *testing.T, d *trimRoom) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		require.NoError(t, d.s.Shutdown(ctx))
	}
	for _, tc := range []struct {
		name   string
		close  func(*testing.T, *trimRoom)
		reason string
	}{
		{"delete", deleteRoom, errRoomClosed.Error()},
		{"shutdown", shutdown, ErrShutdown.Error()},
	} {
		for _, leaves := range []bool{false, true} {
			name := tc.name + " while in"
			if leaves {
				name = tc.name + " during the grace"
			}
			t.Run(name, func(t *testing.T) {
				d := newTrimRoom(t, Config{}, arena.Name)
				for range 5 { // empty at first
					require.True(t, d.tick())
				}
				d.join()
				d.play(40)
				if leaves {
					d.leave(0)
					for range 20 {
						require.True(t, d.tick())
					}
				}
				last := d.r.CurrentTick()
				tc.close(t, d)
				<-d.r.Done()
				r := d.recording()
				assert.Equal(t, last, r.LastTick(), "every tick kept")
				assert.Equal(t, tc.reason, r.End().GetReason())
				assert.NotContains(t, d.logs.String(), "recording trimmed")
			})
		}
	}
}

// endsAt is arena whose match ends at a fixed tick, whoever is in the room.
type endsAt struct {
	sim.Game
	at uint32
}

func (g endsAt) Step(w *sim.World, tick uint32, in []sim.Input) {
	g.Game.Step(w, tick, in)
	if tick == g.at {
		w.End(sim.Result{Summary: "time is up"})
	}
}

// TestRecordingOfEndedMatchNotTrimmed: the game ends the match in a room its last player has
// left: the result is the match's end, not an idle tail, and the recording keeps it.
func TestRecordingOfEndedMatchNotTrimmed(t *testing.T) {
	const end = 90
	games := arenaGames()
	require.NoError(t, games.Register("timed", func(hz uint32, cfg []byte) (sim.Game, error) {
		g, err := arena.New(hz, cfg)
		return endsAt{g, end}, err
	}))
	d := newTrimRoom(t, Config{Games: games, RoomGrace: time.Hour}, "timed")
	d.join()
	d.play(30)
	left, _ := d.leave(0)
	require.Less(t, left, uint32(end))
	d.idle() // runs to the end, then closes after MatchOverGrace
	assert.Equal(t, uint32(end), d.r.CurrentTick())

	r := d.recording()
	assert.Equal(t, uint32(end), r.LastTick(), "the result's tick is kept")
	in, err := r.Info()
	require.NoError(t, err)
	require.NotNil(t, in.Result)
	assert.Equal(t, "time is up", in.Result.GetSummary())
	assert.Equal(t, errMatchOver.Error(), r.End().GetReason())
	assert.NotContains(t, d.logs.String(), "recording trimmed")
}
