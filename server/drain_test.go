package server

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// get answers a GET on ts: status and body.
func (ts *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(ts.httpURL(path))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestDrain: a draining server refuses new joins (1001 "server draining"), join-creates,
// quick plays and new rooms (POST /rooms 503), answers /healthz 503 "draining", while the
// player in keeps playing and resumes its seat after a drop.
func TestDrain(t *testing.T) {
	ts := startServer(t, anonCfg(), nil)
	r, err := ts.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "joined", func() bool { return a.tick() != 0 })
	w := a.welcomed()
	code, body := ts.get(t, "/healthz")
	require.Equal(t, http.StatusOK, code, body)

	ts.Drain()
	assert.True(t, ts.Draining())
	code, body = ts.get(t, "/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, "draining\n", body)

	for name, j := range map[string]*pb.Join{
		"join":        {Room: "r"},
		"join-create": {Room: "new", CreateIfMissing: true},
		"quick play":  {QuickPlay: true},
	} {
		c := ts.dial(t, dialOpts{})
		c.join(j)
		code, reason := c.waitClose()
		assert.Equal(t, uint16(CodeGoingAway), code, name)
		assert.Equal(t, "server draining", reason, name)
	}
	resp, err := http.Post(ts.httpURL("/rooms"), "application/json", strings.NewReader(`{"game":"arena"}`))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "server draining\n", string(b))
	_, err = ts.CreateRoom("x", "arena", nil)
	assert.ErrorIs(t, err, ErrDraining)
	assert.Len(t, ts.Rooms(), 1, "no room was made")

	// The player in plays on, drops, and resumes its seat.
	a.input(1, 500, 500)
	tickUntil(t, r, "input applied", func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.lastSeq == 1 })
	_ = a.ws.NetConn().Close()
	tickUntil(t, r, "seat dropped", func() bool { return r.clientCount() == 0 })
	assert.Equal(t, 1, ts.Players(), "the seat is held")
	b2 := ts.dial(t, dialOpts{token: w.GetResumeToken()})
	b2.join(&pb.Join{Room: "r"})
	tickUntil(t, r, "resumed", func() bool { b2.mu.Lock(); defer b2.mu.Unlock(); return b2.frames > 0 })
	assert.True(t, b2.welcomed().GetResumed())
	assert.Equal(t, w.GetPlayerId(), b2.welcomed().GetPlayerId())
}

// TestJoinDeadline: a room made with a join deadline that nobody joins is disposed at the
// deadline, its recording deleted; one joined before it lives on, and the hooks report each
// creation, close and player count change.
func TestJoinDeadline(t *testing.T) {
	var clk offsetClock
	var mu sync.Mutex
	var created, closed []string
	players := map[string]int{}
	cfg := anonCfg()
	cfg.Now = clk.now
	dir := t.TempDir()
	rec, err := NewFileRecorder(FileRecorderOptions{Dir: dir, NoSync: true})
	require.NoError(t, err)
	cfg.NewRecorder = rec
	cfg.OnRoomCreated = func(r *Room) { mu.Lock(); created = append(created, r.ID()); mu.Unlock() }
	cfg.OnRoomClosed = func(r *Room) { mu.Lock(); closed = append(closed, r.ID()); mu.Unlock() }
	cfg.OnPlayersChanged = func(r *Room) { mu.Lock(); players[r.ID()] = r.Players(); mu.Unlock() }
	ts := startServer(t, cfg, nil)

	idle, err := ts.CreateRoomWith("idle", "arena", nil, RoomOptions{JoinDeadline: 10 * time.Second})
	require.NoError(t, err)
	used, err := ts.CreateRoomWith("used", "arena", nil, RoomOptions{JoinDeadline: 10 * time.Second})
	require.NoError(t, err)
	a := ts.dial(t, dialOpts{})
	a.join(&pb.Join{Room: "used"})
	tickUntil(t, used, "joined", func() bool { return a.tick() != 0 })
	require.True(t, idle.Tick())
	files, _ := filepath.Glob(filepath.Join(dir, "idle-*.tsrec"))
	require.Len(t, files, 1, "the idle room records")

	clk.advance(9 * time.Second)
	require.True(t, idle.Tick(), "before the deadline the room lives")
	clk.advance(time.Second)
	require.False(t, idle.Tick(), "at the deadline the unjoined room is disposed")
	<-idle.Done()
	require.True(t, used.Tick(), "the joined room lives on")
	_, ok := ts.Room("idle")
	assert.False(t, ok)
	_, err = os.Stat(files[0])
	assert.ErrorIs(t, err, os.ErrNotExist, "the unjoined room's recording is deleted")

	mu.Lock()
	assert.Equal(t, []string{"idle", "used"}, created)
	assert.Equal(t, []string{"idle"}, closed)
	assert.Equal(t, map[string]int{"used": 1}, players)
	mu.Unlock()
}

// TestStalled: a room that has not finished a tick for longer than d plus one tick interval
// is reported; one that ticks again is not.
func TestStalled(t *testing.T) {
	var clk offsetClock
	cfg := anonCfg()
	cfg.Now = clk.now
	s, err := New(withArena(cfg))
	require.NoError(t, err)
	r, err := s.CreateRoom("r", "arena", nil)
	require.NoError(t, err)
	require.True(t, r.Tick())
	assert.Empty(t, s.Stalled(clk.now(), time.Second))
	clk.advance(time.Second + 40*time.Millisecond) // within d + 50 ms at 20 Hz
	assert.Empty(t, s.Stalled(clk.now(), time.Second))
	clk.advance(20 * time.Millisecond)
	assert.Equal(t, []string{"r"}, s.Stalled(clk.now(), time.Second))
	require.True(t, r.Tick())
	assert.Empty(t, s.Stalled(clk.now(), time.Second))
}
