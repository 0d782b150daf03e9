package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// recorders wraps a file recorder factory and keeps what it started, so tests can wait on a
// recorder's writer. With pace set, each recorder starts paced.
type recorders struct {
	pace    bool
	mu      sync.Mutex
	started []*pacedRecorder
}

// pacedRecorder is a file recorder whose Tick, while paced, waits until the writer has written
// the tick: tests and benchmark warm-ups tick far faster than 20 Hz, faster than a disk drains.
type pacedRecorder struct {
	*fileRecorder
	paced atomic.Bool
}

func (p *pacedRecorder) Tick(t *TickData) error {
	err := p.fileRecorder.Tick(t)
	if err == nil && p.paced.Load() {
		p.waitWritten(t.Tick)
	}
	return err
}

func (rs *recorders) wrap(t testing.TB, o FileRecorderOptions) func(RoomInfo) (Recorder, error) {
	t.Helper()
	newRec, err := NewFileRecorder(o)
	require.NoError(t, err)
	return func(ri RoomInfo) (Recorder, error) {
		rec, err := newRec(ri)
		if err != nil {
			return nil, err
		}
		p := &pacedRecorder{fileRecorder: rec.(*fileRecorder)}
		p.paced.Store(rs.pace)
		rs.mu.Lock()
		rs.started = append(rs.started, p)
		rs.mu.Unlock()
		return p, nil
	}
}

func (rs *recorders) last() *pacedRecorder {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.started[len(rs.started)-1]
}

// matchDriver plays a match in a manually ticked room without sockets: connections join,
// leave, drop (their seat expiring after the reconnect grace) and send random inputs through
// the room's own command queue and inboxes; each tick, every connection's frame is taken and
// released as its writer would. The clock advances one tick interval per tick.
type matchDriver struct {
	t        testing.TB
	s        *Server
	r        *Room
	rng      sim.Rand
	mu       sync.Mutex
	now      time.Time
	conns    []*driverConn
	joins    int
	moves    int
	scripted bool // no random events: the test queues its own
}

type driverConn struct {
	c    *conn
	seat *engine.Seat
	seq  uint32
}

func newMatchDriver(t testing.TB, seed uint32, cfg Config) *matchDriver {
	t.Helper()
	return newGameDriver(t, seed, cfg, "arena")
}

// newGameDriver is newMatchDriver with room "match" running game (from cfg.Games, arena's config).
func newGameDriver(t testing.TB, seed uint32, cfg Config, game string) *matchDriver {
	t.Helper()
	d := &matchDriver{t: t, rng: sim.NewRand(seed), now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	cfg.ManualTicks = true
	cfg.Now = d.clock
	if cfg.TickRate == 0 {
		cfg.TickRate = 20
	}
	if cfg.RoomGrace == 0 {
		cfg.RoomGrace = time.Hour
	}
	if cfg.ReconnectGrace == 0 {
		cfg.ReconnectGrace = 2 * time.Second
	}
	if cfg.MaxSeatsPerIP == 0 {
		cfg.MaxSeatsPerIP = -1 // up to 24 players, all from one in-process "address"
	}
	s, err := New(withArena(cfg))
	require.NoError(t, err)
	d.s = s
	r, err := s.CreateRoom("match", game, []byte(`{"npcs":20}`))
	require.NoError(t, err)
	d.r = r
	return d
}

func (d *matchDriver) clock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

func (d *matchDriver) join() {
	c := newConn(d.s, nil, "", nil)
	require.True(d.t, d.r.enqueue(roomCmd{kind: cmdJoin, c: c}))
	d.conns = append(d.conns, &driverConn{c: c})
}

func (d *matchDriver) remove(i int, kind cmdKind) {
	require.True(d.t, d.r.enqueue(roomCmd{kind: kind, c: d.conns[i].c}))
	d.conns = append(d.conns[:i], d.conns[i+1:]...)
}

// events queues this tick's random joins, leaves, drops and inputs.
func (d *matchDriver) events() {
	r := &d.rng
	if len(d.conns) < 24 && r.Mod(100) < 4 || len(d.conns) == 0 {
		d.join()
	}
	if len(d.conns) > 1 && r.Mod(100) < 1 {
		d.remove(int(r.Mod(uint32(len(d.conns)))), cmdLeave)
	}
	if len(d.conns) > 1 && r.Mod(200) < 1 {
		d.remove(int(r.Mod(uint32(len(d.conns)))), cmdGone) // the seat expires after the grace
	}
	now := d.clock()
	vals := make([]int32, 2)
	for _, dc := range d.conns {
		if dc.seat == nil || r.Mod(100) >= 60 {
			continue
		}
		for range 1 + r.Mod(2) { // sometimes two in a tick: the game keeps the newest
			dc.seq++
			vals[0] = int32(r.Mod(2*arena.MaxInput+1)) - arena.MaxInput
			vals[1] = int32(r.Mod(2*arena.MaxInput+1)) - arena.MaxInput
			_, err := dc.seat.Inbox().Push(dc.seq, vals, now)
			require.NoError(d.t, err)
		}
	}
}

// tick runs one tick and plays every connection's writer.
func (d *matchDriver) tick() bool {
	if !d.scripted {
		d.events()
	}
	ok := d.r.Tick()
	d.mu.Lock()
	d.now = d.now.Add(time.Second / time.Duration(d.s.cfg.TickRate))
	d.mu.Unlock()
	for _, dc := range d.conns {
		for drained := false; !drained; {
			select {
			case <-dc.c.ctrl:
			default:
				drained = true
			}
		}
		if f, ok := dc.c.mb.take(); ok {
			f.body.Release()
		}
		if dc.seat == nil {
			if s := dc.c.seat.Load(); s != nil {
				dc.seat = s
				d.joins++
			}
		}
	}
	return ok
}

func openReader(t testing.TB, path string) *replay.Reader {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	require.NoError(t, err)
	r, err := replay.Open(f, fi.Size())
	require.NoError(t, err)
	return r
}

// TestRecordedMatchVerifies records a 10,000-tick match with random joins, leaves, drops and
// inputs through a real room, and re-simulates it hash for hash. The same file with one input
// altered fails at exactly that tick.
func TestRecordedMatchVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 ticks")
	}
	const ticks = 10_000
	dir := t.TempDir()
	var recs recorders
	d := newMatchDriver(t, 42, Config{NewRecorder: recs.wrap(t, FileRecorderOptions{Dir: dir})})
	rec := recs.last()
	for i := uint32(1); i <= ticks; i++ {
		require.True(t, d.tick())
		if i%16 == 0 { // the test ticks far faster than 20 Hz: let the writer keep up
			rec.waitWritten(i)
		}
	}
	require.NoError(t, rec.failure())
	require.Equal(t, uint32(ticks), d.r.CurrentTick())
	require.True(t, d.s.CloseRoom("match"))
	<-d.r.Done()
	require.NoError(t, rec.result)

	r := openReader(t, rec.Path())
	require.True(t, r.Complete(), "%v", r.Err())
	in, err := r.Info()
	require.NoError(t, err)
	assert.Equal(t, uint32(ticks), in.Ticks)
	assert.Equal(t, ticks/200, in.Keyframes, "a keyframe every 10 s of game time")
	assert.Equal(t, d.joins, in.Players)
	assert.Greater(t, d.joins, 20, "the match saw players come and go")
	assert.Equal(t, "match", in.Room)
	assert.Equal(t, "room closed", in.EndReason)
	t.Logf("%d ticks, %d players, %d bytes (%.0f KiB per minute of match)", in.Ticks, in.Players, in.Size,
		float64(in.Size)/1024/in.Duration.Minutes())
	require.NoError(t, replay.Verify(r, d.s.cfg.Games.Lookup, nil), "hash-identical re-simulation")

	// One move altered, the newest of its player in its tick (the one the game applies), to a
	// different velocity: the state changes at that tick, and verify says so.
	altered := filepath.Join(t.TempDir(), "altered.tsrec")
	at := alterOneMove(t, r, altered, 6_543)
	var mm *replay.MismatchError
	err = replay.Verify(openReader(t, altered), d.s.cfg.Games.Lookup, nil)
	require.ErrorAs(t, err, &mm)
	assert.Equal(t, at, mm.Tick, "the first tick that differs is the altered one")
	assert.False(t, mm.Keyframe)
	assert.Equal(t, (at/200+1)*200, mm.DiffTick, "fields compared at the next keyframe")
	require.NotEmpty(t, mm.Diff)
}

// alterOneMove copies recording r to path with the applied move of one player at the first
// tick from `from` that has one changed; it returns that tick.
func alterOneMove(t testing.TB, r *replay.Reader, path string, from uint32) uint32 {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	w, err := replay.NewWriter(f, r.Header())
	require.NoError(t, err)
	alteredAt := uint32(0)
	it := r.Ticks(1)
	for it.Next() {
		tr := it.Record()
		ins := it.Inputs()
		if alteredAt == 0 && tr.GetTick() >= from {
			for i := len(ins) - 1; i >= 0; i-- { // the newest move of a player is the one applied
				if ins[i].Kind == sim.InputMove {
					v := append([]int32(nil), ins[i].Values...)
					if v[0] > 0 { // a large change: the position differs from then on
						v[0] -= arena.MaxInput
					} else {
						v[0] += arena.MaxInput
					}
					ins[i].Values, alteredAt = v, tr.GetTick()
					break
				}
			}
		}
		require.NoError(t, w.WriteTick(tr.GetTick(), ins, tr.GetWorldHash(), tr.GetReconnects()))
		if ws, ok, err := r.Keyframe(tr.GetTick()); ok {
			require.NoError(t, err)
			require.NoError(t, w.WriteKeyframe(tr.GetTick(), ws))
		}
	}
	require.NoError(t, it.Err())
	require.NotZero(t, alteredAt, "no move to alter")
	require.NoError(t, w.Close(r.End().GetReason(), r.End().GetEndUnixMs()))
	return alteredAt
}

// blockingFile is a recording file whose writes wait while blocked (a disk that stalls), or
// fail with failErr once failAfter bytes are written (a disk that fills).
type blockingFile struct {
	*os.File
	mu        sync.Mutex
	gate      chan struct{} // non-nil: writes wait for it to close
	entered   chan struct{} // a write is waiting (cap 1)
	failAfter int64         // > 0: writes past this many bytes fail
	failErr   error
	n         int64
}

func (b *blockingFile) Write(p []byte) (int, error) {
	b.mu.Lock()
	gate := b.gate
	b.mu.Unlock()
	if gate != nil {
		select {
		case b.entered <- struct{}{}:
		default:
		}
		<-gate
	}
	if b.failAfter > 0 && b.n+int64(len(p)) > b.failAfter {
		k := b.failAfter - b.n // a torn write: part of the record reaches the disk
		n, _ := b.File.Write(p[:k])
		b.n += int64(n)
		return n, b.failErr
	}
	n, err := b.File.Write(p)
	b.n += int64(n)
	return n, err
}

func (b *blockingFile) block() {
	b.mu.Lock()
	b.gate = make(chan struct{})
	b.mu.Unlock()
}

func (b *blockingFile) unblock() {
	b.mu.Lock()
	g := b.gate
	b.gate = nil
	b.mu.Unlock()
	if g != nil {
		close(g)
	}
}

// injectFile makes the recorder's files blockingFiles and hands them to the test.
func injectFile(o *FileRecorderOptions, setup func(*blockingFile)) chan *blockingFile {
	files := make(chan *blockingFile, 8)
	o.create = func(path string) (recordFile, error) {
		f, err := openRecordFile(path)
		if err != nil {
			return nil, err
		}
		bf := &blockingFile{File: f, entered: make(chan struct{}, 1)}
		if setup != nil {
			setup(bf)
		}
		files <- bf
		return bf, nil
	}
	return files
}

func listRooms(t testing.TB, s *Server) []roomJSON {
	t.Helper()
	rr := httptest.NewRecorder()
	s.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/rooms", nil))
	require.Equal(t, http.StatusOK, rr.Code)
	var rooms []roomJSON
	require.NoError(t, json.Unmarshal(rr.Body.Bytes(), &rooms))
	return rooms
}

// TestRecordingQueueFull: a writer stuck on the disk fills the queue; the recording fails at a
// record boundary (logged, counted, shown in /rooms) and the room ticks on, never waiting.
func TestRecordingQueueFull(t *testing.T) {
	dir := t.TempDir()
	o := FileRecorderOptions{Dir: dir, Queue: 4}
	files := injectFile(&o, nil)
	var recs recorders
	d := newMatchDriver(t, 7, Config{NewRecorder: recs.wrap(t, o)})
	rec, bf := recs.last(), <-files
	bf.block()
	require.True(t, d.tick()) // tick 1: the writer takes it and blocks writing it
	rec.flush()
	<-bf.entered
	for range 100 { // the queue fills at tick 5; the room must not wait for the disk
		require.True(t, d.tick())
	}
	assert.Equal(t, uint32(101), d.r.CurrentTick(), "the match goes on")
	err := rec.failure()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "queue full at tick 5")
	assert.Equal(t, 1.0, counterValue(t, d.s.m.recordingFailures))
	rooms := listRooms(t, d.s)
	require.Len(t, rooms, 1)
	require.NotNil(t, rooms[0].Recording)
	assert.True(t, rooms[0].Recording.Failed)
	assert.Contains(t, rooms[0].Recording.Error, "queue full")
	assert.Equal(t, filepath.Base(rec.Path()), rooms[0].Recording.File)

	bf.unblock() // the disk comes back: tick 1 is written, the rest was never read
	<-rec.done
	r := openReader(t, rec.Path())
	assert.Equal(t, uint32(1), r.LastTick(), "a prefix of the match, without gaps")
	require.True(t, r.Complete(), "ended at a record boundary: %v", r.Err())
	assert.True(t, strings.HasPrefix(r.End().GetReason(), "failed: "), r.End().GetReason())
	require.NoError(t, replay.Verify(r, d.s.cfg.Games.Lookup, nil))
	require.True(t, d.tick(), "still ticking")
}

// TestRecordingDiskError: a write that fails (disk full) stops the recording; the file is cut
// back to its last whole record and verifies up to there.
func TestRecordingDiskError(t *testing.T) {
	dir := t.TempDir()
	o := FileRecorderOptions{Dir: dir, NoSync: true}
	files := injectFile(&o, func(bf *blockingFile) { bf.failAfter, bf.failErr = 4000, syscall.ENOSPC })
	var recs recorders
	d := newMatchDriver(t, 9, Config{NewRecorder: recs.wrap(t, o)})
	rec := recs.last()
	<-files
	for i := uint32(1); i <= 300; i++ {
		require.True(t, d.tick())
		rec.waitWritten(i)
	}
	err := rec.failure()
	require.ErrorIs(t, err, syscall.ENOSPC)
	<-rec.done
	assert.Equal(t, 1.0, counterValue(t, d.s.m.recordingFailures))
	r := openReader(t, rec.Path())
	require.ErrorIs(t, r.Err(), replay.ErrNotClosed, "cut back to a record boundary, no torn tail")
	assert.Equal(t, rec.w.LastTick(), r.LastTick())
	assert.NotZero(t, r.LastTick())
	require.ErrorIs(t, replay.Verify(r, d.s.cfg.Games.Lookup, nil), replay.ErrNotClosed, "every readable tick verifies")
}

// TestRequiredRecordingFailsMidMatch: with RequireRecording, a recording that fails ends the
// room, and its connections get 1011.
func TestRequiredRecordingFailsMidMatch(t *testing.T) {
	o := FileRecorderOptions{Dir: t.TempDir(), Queue: 2}
	files := injectFile(&o, nil)
	var recs recorders
	d := newMatchDriver(t, 11, Config{NewRecorder: recs.wrap(t, o), RequireRecording: true})
	bf := <-files
	require.True(t, d.tick())
	require.True(t, d.tick())
	c := d.conns[0].c
	bf.block()
	t.Cleanup(bf.unblock)
	ended := false
	for range 10 {
		if !d.r.Tick() {
			ended = true
			break
		}
	}
	require.True(t, ended, "the room ends")
	<-d.r.Done()
	code, _ := closeFor(c.err)
	assert.Equal(t, uint16(CodeInternal), code)
	assert.Equal(t, 0.0, counterValue(t, d.s.m.roomPanics), "a recording failure is not a panic")
}

// TestRecordingCannotStart: a recorder that cannot start leaves the room unrecorded (shown in
// /rooms) unless recording is required: then POST /rooms answers 503 and join-create 1011.
func TestRecordingCannotStart(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o644))
	newRec, err := NewFileRecorder(FileRecorderOptions{Dir: notDir})
	require.NoError(t, err)

	t.Run("optional", func(t *testing.T) {
		s, err := New(withArena(Config{ManualTicks: true, NewRecorder: newRec}))
		require.NoError(t, err)
		r, err := s.CreateRoom("r", "arena", nil)
		require.NoError(t, err)
		require.True(t, r.Tick())
		rooms := listRooms(t, s)
		require.Len(t, rooms, 1)
		require.NotNil(t, rooms[0].Recording)
		assert.True(t, rooms[0].Recording.Failed)
		assert.NotEmpty(t, rooms[0].Recording.Error)
		assert.Equal(t, 1.0, counterValue(t, s.m.recordingFailures))
	})
	t.Run("required", func(t *testing.T) {
		ts := startServer(t, Config{TickRate: 20, NewRecorder: newRec, RequireRecording: true}, nil)
		resp, err := http.Post(ts.httpURL("/rooms"), "application/json", strings.NewReader(`{"game":"arena","id":"x"}`))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		c := ts.dial(t, dialOpts{})
		c.join(&pb.Join{Room: "y", Game: "arena", CreateIfMissing: true})
		code, _ := c.waitClose()
		assert.Equal(t, uint16(CodeInternal), code)
		assert.Empty(t, ts.Rooms())
	})
}

// TestRecordingFilesKept: starting a recording deletes the oldest beyond Keep, never one being
// written; names are the room id made file-safe and the UTC start time.
func TestRecordingFilesKept(t *testing.T) {
	dir := t.TempDir()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 5 {
		p := filepath.Join(dir, fmt.Sprintf("old%d-20250101-000000.tsrec", i))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		mt := base.Add(-time.Duration(10-i) * time.Hour)
		require.NoError(t, os.Chtimes(p, mt, mt))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644))
	newRec, err := NewFileRecorder(FileRecorderOptions{Dir: dir, Keep: 3, NoSync: true, Now: func() time.Time { return base }})
	require.NoError(t, err)
	schema := func() *sim.Schema { g, err := arena.New(20, nil); require.NoError(t, err); return g.Schema() }()
	ri := RoomInfo{ID: "a.b", Game: "arena", TickRate: 20, Schema: schema, Ring: 64}
	r1, err := newRec(ri)
	require.NoError(t, err)
	r2, err := newRec(ri) // the same room in the same second
	require.NoError(t, err)
	assert.Equal(t, "a_b-20260102-030405.tsrec", filepath.Base(r1.(*fileRecorder).Path()))
	assert.Equal(t, "a_b-20260102-030405-2.tsrec", filepath.Base(r2.(*fileRecorder).Path()))
	require.NoError(t, r1.Close("room closed")) // the writers have pruned when they are done
	require.NoError(t, r2.Close("room closed"))
	var names []string
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"a_b-20260102-030405.tsrec", "a_b-20260102-030405-2.tsrec", "old4-20250101-000000.tsrec", "notes.txt"}, names)

	assert.Equal(t, 32, cap(r1.(*fileRecorder).queue), "the default queue")
	ri.Ring = 8
	r3, err := newRec(ri)
	require.NoError(t, err)
	assert.Equal(t, 4, cap(r3.(*fileRecorder).queue), "at most half the ring: a queued state is never one the ring wrapped over")
	require.NoError(t, r3.Close("room closed"))
}

// TestRecordingPrunedWhenOneEnds: recordings that overlap are all being written when each
// starts, so starting them prunes none of them; finishing one prunes the directory back to
// Keep, by the time its Close returns.
func TestRecordingPrunedWhenOneEnds(t *testing.T) {
	dir := t.TempDir()
	newRec, err := NewFileRecorder(FileRecorderOptions{Dir: dir, Keep: 2, NoSync: true})
	require.NoError(t, err)
	g, err := arena.New(20, nil)
	require.NoError(t, err)
	ri := RoomInfo{Game: "arena", TickRate: 20, Schema: g.Schema(), Ring: 64}
	var recs []*fileRecorder
	for _, id := range []string{"a", "b", "c"} {
		ri.ID = id
		rec, err := newRec(ri)
		require.NoError(t, err)
		recs = append(recs, rec.(*fileRecorder))
	}
	w := sim.NewWorld(g.Schema(), 1)
	require.NoError(t, g.Init(w))
	st := sim.NewState(g.Schema())
	for tick := uint32(1); tick <= 5; tick++ {
		w.Step(g, nil)
		w.Snapshot(st)
		for _, rec := range recs {
			require.NoError(t, rec.Tick(&TickData{Tick: tick, State: st}))
			rec.waitWritten(tick) // each writer has pruned at its start before writing
		}
	}
	files := func() []string {
		t.Helper()
		paths, err := filepath.Glob(filepath.Join(dir, "*"+ReplayExt))
		require.NoError(t, err)
		var names []string
		for _, p := range paths {
			names = append(names, strings.SplitN(filepath.Base(p), "-", 2)[0])
		}
		return names
	}
	require.ElementsMatch(t, []string{"a", "b", "c"}, files(), "three being written: none pruned, though Keep is 2")

	require.NoError(t, recs[0].Close("room closed"))
	assert.ElementsMatch(t, []string{"b", "c"}, files(), "finishing one prunes back to Keep: the oldest not being written goes")
	require.NoError(t, recs[1].Close("room closed"))
	require.NoError(t, recs[2].Close("room closed"))
	assert.ElementsMatch(t, []string{"b", "c"}, files())
	for _, rec := range recs[1:] {
		in, err := openReader(t, rec.Path()).Info()
		require.NoError(t, err)
		assert.True(t, in.Complete, "%s: %v", rec.Path(), in.Problem)
		assert.Equal(t, uint32(5), in.Ticks)
	}
}

// TestRecordingName makes room ids file-safe.
func TestRecordingName(t *testing.T) {
	at := time.Date(2026, 11, 25, 23, 59, 1, 0, time.FixedZone("x", 3600))
	for _, tc := range []struct{ room, want string }{
		{"duel", "duel-20261125-225901"},
		{"a.b", "a_b-20261125-225901"},
		{"..", "__-20261125-225901"},
		{"", "room-20261125-225901"},
		{strings.Repeat("x", 80), strings.Repeat("x", 64) + "-20261125-225901"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			got := recordingName(tc.room, at)
			assert.Equal(t, tc.want, got)
			assert.True(t, validReplayName(got), "GET /replays lists it")
		})
	}
}

// TestRecordingTickDoesNotAllocate: the room's tick with a file recorder allocates nothing in
// steady state (the recorder copies inputs into entries it reuses).
func TestRecordingTickDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	recs := recorders{pace: true}
	// No keyframe in the window: Save allocates, on the writer goroutine, which AllocsPerRun
	// would count too.
	newRec := recs.wrap(t, FileRecorderOptions{Dir: t.TempDir(), NoSync: true, KeyframeEvery: 1 << 30})
	br := newBenchRoom(t, 50, func(c *Config) { c.NewRecorder = newRec })
	rec := recs.last()
	allocs := testing.AllocsPerRun(50, func() {
		br.inputs()
		br.r.Tick()
		br.write()
		rec.waitWritten(br.r.CurrentTick())
	})
	require.Zero(t, allocs, "allocations per tick")
	require.NoError(t, rec.failure())
}

// TestRecordingMarksReconnects: a player that drops and resumes its held seat is marked in the
// recording at the tick it came back (a mark for viewers, not an input), and the replay
// server lists it among the marks.
func TestRecordingMarksReconnects(t *testing.T) {
	dir := t.TempDir()
	var recs recorders
	d := newMatchDriver(t, 1, Config{NewRecorder: recs.wrap(t, FileRecorderOptions{Dir: dir}), ReconnectGrace: time.Minute})
	d.scripted = true
	rec := recs.last()
	d.join()
	d.join()
	for range 3 {
		require.True(t, d.tick())
	}
	st := d.conns[0].seat
	require.NotNil(t, st)
	player, session := st.Player(), st.Session()
	d.remove(0, cmdGone)
	for range 5 {
		require.True(t, d.tick())
	}
	back := newConn(d.s, nil, "", nil)
	require.True(t, d.r.enqueue(roomCmd{kind: cmdJoin, c: back, join: joinReq{player: player, resume: true, session: session}}))
	d.conns = append(d.conns, &driverConn{c: back})
	require.True(t, d.tick())
	resumedAt := d.r.CurrentTick()
	require.Equal(t, st, back.seat.Load(), "the held seat was resumed")
	for range 3 {
		require.True(t, d.tick())
	}
	rec.waitWritten(d.r.CurrentTick())
	require.True(t, d.s.CloseRoom("match"))
	<-d.r.Done()
	require.NoError(t, rec.result)

	r := openReader(t, rec.Path())
	marked := map[uint32][]uint32{}
	it := r.Ticks(1)
	for it.Next() {
		if rc := it.Record().GetReconnects(); len(rc) > 0 {
			marked[it.Record().GetTick()] = rc
		}
	}
	require.NoError(t, it.Err())
	assert.Equal(t, map[uint32][]uint32{resumedAt: {player}}, marked)
	require.NoError(t, replay.Verify(r, d.s.cfg.Games.Lookup, nil), "marks do not change the re-simulation")

	var found bool
	for _, m := range readNotes(r).marks {
		if m.GetKind() == pb.ReplayMarkKind_REPLAY_MARK_KIND_RECONNECT {
			assert.Equal(t, resumedAt, m.GetTick())
			assert.Equal(t, player, m.GetPlayer())
			found = true
		}
	}
	assert.True(t, found, "the replay server's marks include the reconnect")
}
