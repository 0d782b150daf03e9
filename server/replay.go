package server

// Replay sessions: a recording played to a browser through the live protocol and client.
//
// Naming: a join whose room is "replay:<name>" (ReplayRoomPrefix) opens a replay session of
// the recording <name> of Config.Replays instead of a live room. Live room ids cannot contain
// ':' (validRoomID), so the two never collide. <name> is the file name without ".tsrec": 1-200
// bytes of A-Z a-z 0-9 - _ ., not starting with '.' and without "..", so a name is never a
// path. An unknown or unreadable name closes with 4004, like an unknown room; in token mode the
// token must name the room "replay:<name>" (or "*"), as for any room.
//
// The session answers with a Welcome (replay and spectator set, the recording's schema and
// tick rate, hash_every as configured, no resume token), a ReplayStatus carrying the marks
// (joins, leaves, reconnects) and the name, then a full snapshot of the first tick. It starts
// playing at 100 %. Each session is one goroutine owning its own sim.World (one viewer each:
// simple and exact), stepping the recording's inputs at tick_rate × speed and handing frames to
// the connection's mailbox exactly as a room does; statuses go through the control queue after
// the welcome, after every ReplayControl and about once a second while playing. A seek rebuilds
// the world from the nearest keyframe (replay.Seek) and sends a full snapshot of the target
// tick carrying its view hash. Play at the last tick starts over from the first. Inputs from a
// replay viewer are dropped (it is a spectator); controls count against its input rate.

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/replay"
	"google.golang.org/protobuf/proto"
)

// ReplayRoomPrefix starts the room id of a join that watches a recording: "replay:<name>".
const ReplayRoomPrefix = "replay:"

// ReplayExt is the file extension of recordings a replay directory lists.
const ReplayExt = ".tsrec"

const (
	// maxReplayNameLen bounds recording names: room id, timestamp and more fit.
	maxReplayNameLen = 200
	// maxReplaySessions bounds concurrent replay sessions: each holds a world and a
	// goroutine, like a room.
	maxReplaySessions = 64
	// maxReplayList bounds GET /replays (the server keeps the newest 100 recordings).
	maxReplayList = 1000
	// maxReplayMarks bounds the marks of the first status: one message must stay small.
	maxReplayMarks = 4096
	// replayCtrlSlots bounds controls waiting for the session; a full queue is a flood (1008).
	replayCtrlSlots = 16
	// minReplayFrame caps frames at 60 per second: at 8× a fast tick rate, several ticks share
	// one frame (the mailbox would coalesce them anyway).
	minReplayFrame = time.Second / 60
	// maxReplaySteps bounds ticks stepped per wake-up; beyond it playback slows down instead of
	// spiralling (as the room clock's catch-up cap).
	maxReplaySteps = 256
	// replayStatusEvery is how often a playing session reports its position.
	replayStatusEvery = time.Second
	// Speed bounds in percent (messages.proto).
	minReplaySpeed, maxReplaySpeed = 25, 800
)

// Replays is the set of recordings a server plays to viewers: the *.tsrec files of a directory
// (ReplayDir) or a fixed list of files (ReplayFiles). It caches each file's description by
// modification time and size. Safe for concurrent use.
type Replays struct {
	dir   string            // ReplayDir: files only inside it
	files map[string]string // ReplayFiles: name → path
	max   int               // concurrent sessions
	live  atomic.Int32      // sessions running

	mu    sync.Mutex
	cache map[string]*replayEntry // by name
}

type replayEntry struct {
	mod   time.Time
	size  int64
	item  *replayJSON
	notes *replayNotes // nil until a session reads them
}

// replayNotes is what a viewer lists beside the playback: marks, game events, the result.
type replayNotes struct {
	marks  []*pb.ReplayMark
	events []*pb.GameEvent
	result *pb.MatchResult
}

// ReplayDir returns the recordings of dir (files named <name>.tsrec; other files, links and
// directories are not listed). A missing directory lists nothing.
func ReplayDir(dir string) *Replays {
	return &Replays{dir: dir, max: maxReplaySessions, cache: map[string]*replayEntry{}}
}

// ReplayFiles returns the recordings at paths, each named by its file name without ".tsrec".
// Two files of one name, or a name that is not valid, are an error.
func ReplayFiles(paths []string) (*Replays, error) {
	rs := &Replays{files: map[string]string{}, max: maxReplaySessions, cache: map[string]*replayEntry{}}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ReplayExt)
		if !validReplayName(name) {
			return nil, fmt.Errorf("server: replay %s: name %q is not 1-%d of A-Z a-z 0-9 - _ . (not starting with '.', no '..')", p, name, maxReplayNameLen)
		}
		if prev, ok := rs.files[name]; ok {
			return nil, fmt.Errorf("server: replay %s: name %q is taken by %s", p, name, prev)
		}
		rs.files[name] = p
	}
	return rs, nil
}

// validReplayName: a file name, never a path.
func validReplayName(name string) bool {
	if name == "" || len(name) > maxReplayNameLen || name[0] == '.' || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// isReplayRoom reports whether a join names a replay session.
func isReplayRoom(room string) bool { return strings.HasPrefix(room, ReplayRoomPrefix) }

// open opens recording name: inside the directory only (os.Root), or the listed file.
func (rs *Replays) open(name string) (*os.File, fs.FileInfo, error) {
	if !validReplayName(name) {
		return nil, nil, fmt.Errorf("%w: replay %q", ErrRoomNotFound, name)
	}
	var f *os.File
	var err error
	if rs.files != nil {
		p, ok := rs.files[name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: replay %q", ErrRoomNotFound, name)
		}
		f, err = os.Open(p)
	} else {
		var root *os.Root
		if root, err = os.OpenRoot(rs.dir); err == nil {
			f, err = root.Open(name + ReplayExt)
			root.Close()
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: replay %q: %v", ErrRoomNotFound, name, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%w: replay %q: not a regular file", ErrRoomNotFound, name)
	}
	return f, fi, nil
}

// replayJSON is one entry of GET /replays. A file that cannot be read is listed with error.
type replayJSON struct {
	Name        string  `json:"name"`
	Game        string  `json:"game,omitempty"`
	Room        string  `json:"room,omitempty"`
	TickRate    uint32  `json:"tick_rate,omitempty"`
	Ticks       uint32  `json:"ticks"`
	Duration    float64 `json:"duration"` // seconds of game time
	Size        int64   `json:"size"`
	Players     int     `json:"players"`
	StartUnixMs int64   `json:"start_unix_ms,omitempty"`
	Complete    bool    `json:"complete"`
	Problem     string  `json:"problem,omitempty"` // why not complete (torn, not closed)
	Error       string  `json:"error,omitempty"`   // why it cannot be played
}

// candidates returns the names and file infos to list.
func (rs *Replays) candidates() map[string]fs.FileInfo {
	out := map[string]fs.FileInfo{}
	if rs.files != nil {
		for name, p := range rs.files {
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				out[name] = fi
			}
		}
		return out
	}
	ents, err := os.ReadDir(rs.dir)
	if err != nil {
		return out
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ReplayExt)
		if !ok || !e.Type().IsRegular() || !validReplayName(name) || len(out) >= maxReplayList {
			continue
		}
		if fi, err := e.Info(); err == nil {
			out[name] = fi
		}
	}
	return out
}

// list describes every recording, sorted by name, reading only files changed since last time.
func (rs *Replays) list() []*replayJSON {
	cands := rs.candidates()
	out := make([]*replayJSON, 0, len(cands))
	for name, fi := range cands {
		out = append(out, rs.describe(name, fi))
	}
	rs.mu.Lock()
	for name := range rs.cache { // forget removed files
		if _, ok := cands[name]; !ok {
			delete(rs.cache, name)
		}
	}
	rs.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// entry returns the cache entry of name if it still describes a file of fi's time and size.
func (rs *Replays) entry(name string, fi fs.FileInfo) *replayEntry {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if e := rs.cache[name]; e != nil && e.mod.Equal(fi.ModTime()) && e.size == fi.Size() {
		return e
	}
	e := &replayEntry{mod: fi.ModTime(), size: fi.Size()}
	rs.cache[name] = e
	return e
}

func (rs *Replays) describe(name string, fi fs.FileInfo) *replayJSON {
	e := rs.entry(name, fi)
	rs.mu.Lock()
	item := e.item
	rs.mu.Unlock()
	if item != nil {
		return item
	}
	item = &replayJSON{Name: name, Size: fi.Size()}
	if err := rs.readInfo(name, item); err != nil {
		item.Error = oneLine(err.Error())
	}
	rs.mu.Lock()
	e.item = item
	rs.mu.Unlock()
	return item
}

func (rs *Replays) readInfo(name string, item *replayJSON) error {
	f, fi, err := rs.open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := replay.Open(f, fi.Size())
	if err != nil {
		return err
	}
	in, err := rd.Info()
	if err != nil {
		return err
	}
	item.Game, item.Room, item.TickRate, item.Ticks = in.Game, in.Room, in.TickRate, in.Ticks
	item.Duration, item.Size, item.Players, item.StartUnixMs = in.Duration.Seconds(), in.Size, in.Players, in.StartUnixMs
	item.Complete = in.Complete
	if in.Problem != nil {
		item.Problem = oneLine(in.Problem.Error())
	}
	return nil
}

// notes returns the recording's joins, leaves and reconnects, its game events and its result
// (cached with its description).
func (rs *Replays) notes(name string, fi fs.FileInfo, rd *replay.Reader) *replayNotes {
	e := rs.entry(name, fi)
	rs.mu.Lock()
	n := e.notes
	rs.mu.Unlock()
	if n != nil {
		return n
	}
	n = readNotes(rd)
	rs.mu.Lock()
	e.notes = n
	rs.mu.Unlock()
	return n
}

// readNotes scans the tick records for players joining, leaving and resuming, the game's
// events (the first maxReplayMarks of each) and its result. A join of a player already in (or
// a leave of one not in) changes nothing in the game and is no mark. A torn tail ends the notes
// where the readable ticks end.
func readNotes(rd *replay.Reader) *replayNotes {
	n := &replayNotes{marks: []*pb.ReplayMark{}}
	in := map[uint32]bool{}
	add := func(tick uint32, kind pb.ReplayMarkKind, player uint32) {
		if len(n.marks) < maxReplayMarks {
			n.marks = append(n.marks, &pb.ReplayMark{Tick: tick, Kind: kind, Player: player})
		}
	}
	it := rd.Ticks(1)
	for it.Next() {
		rec := it.Record()
		t := rec.GetTick()
		for _, x := range rec.GetInputs() {
			p := x.GetPlayer()
			switch {
			case x.GetKind() == pb.InputKind_INPUT_KIND_JOIN && !in[p]:
				in[p] = true
				add(t, pb.ReplayMarkKind_REPLAY_MARK_KIND_JOIN, p)
			case x.GetKind() == pb.InputKind_INPUT_KIND_LEAVE && in[p]:
				delete(in, p)
				add(t, pb.ReplayMarkKind_REPLAY_MARK_KIND_LEAVE, p)
			}
		}
		for _, p := range rec.GetReconnects() {
			add(t, pb.ReplayMarkKind_REPLAY_MARK_KIND_RECONNECT, p)
		}
		if ev := rec.GetEvents(); len(ev) > 0 && len(n.events) < maxReplayMarks {
			n.events = append(n.events, ev[:min(len(ev), maxReplayMarks-len(n.events))]...)
		}
		if res := rec.GetResult(); res != nil {
			n.result = res
		}
	}
	return n
}

func (rs *Replays) acquire() bool {
	if rs.live.Add(1) > int32(rs.max) {
		rs.live.Add(-1)
		return false
	}
	return true
}

func (rs *Replays) release() { rs.live.Add(-1) }

// handleListReplays is GET /replays: the recordings as JSON (an empty list without any).
func (s *Server) handleListReplays(w http.ResponseWriter, _ *http.Request) {
	out := []*replayJSON{}
	if s.cfg.Replays != nil {
		out = s.cfg.Replays.list()
	}
	writeJSON(w, http.StatusOK, out)
}

// joinReplay starts a replay session for a join of "replay:<name>" (on the connection's read
// goroutine). The session goroutine opens the file; an unknown name closes with 4004.
func (s *Server) joinReplay(c *conn, j *pb.Join) error {
	rs := s.cfg.Replays
	name := strings.TrimPrefix(j.GetRoom(), ReplayRoomPrefix)
	if rs == nil || !validReplayName(name) {
		return ErrRoomNotFound
	}
	if !rs.acquire() {
		return ErrServerFull
	}
	c.joinTimer.Stop()
	c.spectator.Store(true)
	sess := &replaySession{
		srv: s, c: c, rs: rs, name: name, ctrl: make(chan replayCmd, replayCtrlSlots),
		log: s.log.With("room", j.GetRoom()), speed: 100, views: j.GetViews(), follow: j.GetFollow(),
	}
	c.replay = sess
	go sess.run()
	return nil
}

// replayControl hands a ReplayControl to the connection's replay session (read goroutine).
// Controls count against the input rate; a full queue is a flood.
func (c *conn) replayControl(m *pb.ReplayControl, now time.Time) error {
	sess := c.replay
	if sess == nil {
		return nil // live rooms ignore it
	}
	if !c.rate.take(1, now) {
		c.srv.m.drop(dropRate)
		return c.flooding(now)
	}
	select {
	case sess.ctrl <- replayCmd{action: m.GetAction(), speed: m.GetSpeedPct(), tick: m.GetSeekTick(), follow: m.GetFollow()}:
		return nil
	default:
		return errFlood
	}
}

// replayCmd is a ReplayControl copied off the reader's reused message.
type replayCmd struct {
	action pb.ReplayAction
	speed  uint32
	tick   uint32
	follow uint32
}

// replaySession plays one recording to one connection. Everything but ctrl belongs to its
// goroutine (run).
type replaySession struct {
	srv  *Server
	c    *conn
	rs   *Replays
	name string
	ctrl chan replayCmd
	log  *slog.Logger

	f         *os.File
	rd        *replay.Reader
	g         sim.Game
	w         *sim.World
	it        *replay.TickIter
	first     uint32 // first tick (1; 0 when the recording has none)
	last      uint32 // last readable tick
	hashEvery uint32
	frames    *engine.Frames // the live rooms' pipeline: ring, encoder, bodies (a seek resets it)
	playing   bool
	speed     uint32
	clk       clock // the playback schedule at speed, from the current tick (anchor)
	statusAt  time.Time
	marksSent bool
	diverged  bool
	events    engine.EventLog // events of the ticks stepped since the viewer's baseline
	views     bool            // the viewer applies frame pieces (Join.views)
	follow    uint32          // the player whose view the viewer sees (0: the whole world)
	view      *engine.View    // what the viewer was sent while following
}

// run is the session's goroutine: it ends when the connection does.
func (s *replaySession) run() {
	defer s.rs.release()
	defer func() {
		if s.f != nil {
			s.f.Close()
		}
	}()
	defer func() { // a bug ends this session only (1011)
		if p := recover(); p != nil {
			s.log.Error("replay session panicked", "panic", p, "stack", string(debug.Stack()))
			s.c.fail(errRoomFailed)
		}
	}()
	if err := s.start(); err != nil {
		s.log.Info("replay not playable", "err", err)
		s.c.fail(err)
		return
	}
	timer := time.NewTimer(s.wait(s.srv.cfg.Now()))
	defer timer.Stop()
	for {
		if !s.playing {
			timer.Stop()
		}
		select {
		case <-s.c.closing:
			return
		case <-s.c.gone:
			return
		case cmd := <-s.ctrl:
			if err := s.controls(cmd); err != nil {
				s.log.Error("replay seek failed", "err", err)
				s.c.fail(errRoomFailed)
				return
			}
		case <-timer.C:
		}
		now := s.srv.cfg.Now()
		if s.playing {
			s.advance(now)
		}
		if s.playing && now.Sub(s.statusAt) >= replayStatusEvery {
			s.status(now)
		}
		if s.playing {
			timer.Reset(s.wait(s.srv.cfg.Now()))
		}
	}
}

// wait is how long to sleep at now: until the next tick is due, at least minReplayFrame (at
// high speeds several ticks share one frame).
func (s *replaySession) wait(now time.Time) time.Duration {
	if s.clk.rate == 0 { // nothing to play: no schedule
		return minReplayFrame
	}
	return max(s.clk.next().Sub(now), minReplayFrame)
}

// start opens the recording and sends the welcome, the first status and the first frame.
func (s *replaySession) start() error {
	f, fi, err := s.rs.open(s.name)
	if err != nil {
		return err
	}
	s.f = f
	rd, err := replay.Open(f, fi.Size())
	if err != nil {
		return fmt.Errorf("%w: replay %q: %v", ErrRoomNotFound, s.name, err)
	}
	h := rd.Header()
	if _, ok := s.srv.cfg.Games.Lookup(h.GetGame()); !ok {
		return fmt.Errorf("%w: replay %q: game %q", ErrRoomNotFound, s.name, h.GetGame())
	}
	s.rd, s.last = rd, rd.LastTick()
	if s.last > 0 {
		s.first = 1
	}
	s.hashEvery = uint32(max(s.srv.cfg.HashEvery, 0))
	s.frames = engine.NewFrames(s.srv.cfg.Ring)
	s.view = s.frames.NewView()
	wm := &pb.Welcome{Room: ReplayRoomPrefix + s.name, Game: h.GetGame(), TickRate: h.GetTickRate(), State: h.GetState(),
		Input: h.GetInput(), HashEvery: s.hashEvery, Tick: s.first, Spectator: true, Replay: true, Config: h.GetConfig()}
	if g, err := s.game(); err == nil {
		wm.Grid = gridOf(g)
		if s.follow != 0 && wm.Grid != nil && !s.views {
			return errNoViews
		}
	}
	b, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: wm}})
	if err != nil {
		return fmt.Errorf("server: encode welcome: %w", err)
	}
	if s.first > 0 {
		if err := s.rebuild(s.first); err != nil { // a schema that changed since: not playable
			return fmt.Errorf("%w: %v", ErrRoomNotFound, err)
		}
	}
	notes := s.rs.notes(s.name, fi, rd)
	if !s.c.sendControl(b) {
		return nil
	}
	s.playing = s.first > 0
	s.statusMarks(s.srv.cfg.Now(), notes) // before the first frame: the writer drains controls first
	if s.first > 0 {
		s.frame(true)
	}
	return nil
}

// controls applies cmd and any others already queued (of a run of seeks, only the last one
// rebuilds the world), then reports the new status.
func (s *replaySession) controls(cmd replayCmd) error {
	for {
		var next replayCmd
		more := false
		select {
		case next = <-s.ctrl:
			more = true
		default:
		}
		if !(more && cmd.action == pb.ReplayAction_REPLAY_ACTION_SEEK && next.action == pb.ReplayAction_REPLAY_ACTION_SEEK) {
			if err := s.control(cmd); err != nil {
				return err
			}
		}
		if !more {
			break
		}
		cmd = next
	}
	s.status(s.srv.cfg.Now())
	return nil
}

func (s *replaySession) control(cmd replayCmd) error {
	now := s.srv.cfg.Now()
	switch cmd.action {
	case pb.ReplayAction_REPLAY_ACTION_PLAY:
		if s.first == 0 {
			return nil
		}
		if s.w.Tick() >= s.last {
			if err := s.seek(s.first); err != nil {
				return err
			}
		}
		s.playing = true
	case pb.ReplayAction_REPLAY_ACTION_PAUSE:
		s.playing = false
	case pb.ReplayAction_REPLAY_ACTION_SPEED:
		s.speed = min(max(cmd.speed, minReplaySpeed), maxReplaySpeed)
	case pb.ReplayAction_REPLAY_ACTION_SEEK:
		if s.first == 0 {
			return nil
		}
		if err := s.seek(min(max(cmd.tick, s.first), s.last)); err != nil {
			return err
		}
	case pb.ReplayAction_REPLAY_ACTION_FOLLOW:
		if s.frames.Viewer() != nil && cmd.follow != 0 && !s.views {
			return errNoViews
		}
		if cmd.follow != s.follow {
			s.follow = cmd.follow
			s.view.Forget()
			if s.w != nil && s.w.Tick() > 0 {
				s.frame(true) // what the viewer holds is no longer a baseline for the new view
			}
		}
	}
	s.anchor(now)
	return nil
}

// anchor restarts the playback schedule at now: the tick after the current one is due one
// tick's time (at the current speed) from now. The schedule is a clock (clock.go) whose
// catch-up cap is maxReplaySteps: a session that falls behind plays slower, not in a spiral.
func (s *replaySession) anchor(now time.Time) {
	rate := int(max(s.rd.Header().GetTickRate(), 1))
	c := newSpeedClock(now, rate, int(s.speed), maxReplaySteps)
	s.clk = newSpeedClock(c.at(2), rate, int(s.speed), maxReplaySteps)
}

// seek rebuilds the world at tick and sends its full snapshot.
func (s *replaySession) seek(tick uint32) error {
	if err := s.rebuild(tick); err != nil {
		return err
	}
	s.frame(true)
	return nil
}

// rebuild makes the world at tick from the nearest keyframe (replay.Seek).
func (s *replaySession) rebuild(tick uint32) error {
	w, g, err := replay.Seek(s.rd, s.srv.cfg.Games.Lookup, tick)
	if err != nil {
		return fmt.Errorf("replay %q: %w", s.name, err)
	}
	s.w, s.g = w, g
	v, _ := g.(sim.Viewer)
	s.frames.SetViewer(v)
	s.it = s.rd.Ticks(tick + 1)
	s.events.Reset() // a seek starts the events afresh
	s.frames.Reset()
	s.anchor(s.srv.cfg.Now())
	return nil
}

// advance steps the ticks due at now (at most maxReplaySteps) and sends one frame.
func (s *replaySession) advance(now time.Time) {
	due, _ := s.clk.due(now)
	n := 0
	for ; uint64(n) < due && s.w.Tick() < s.last; n++ {
		if !s.step() {
			break
		}
	}
	if n > 0 {
		s.frame(false)
	}
	if s.w.Tick() >= s.last {
		s.playing = false
		s.status(now)
	}
}

// step applies the next tick record; false at the end of the readable ticks.
func (s *replaySession) step() bool {
	if !s.it.Next() {
		s.last = s.w.Tick()
		return false
	}
	rec := s.it.Record()
	s.w.Step(s.g, s.it.Inputs())
	s.events.Add(s.w.Tick(), s.w.Events())
	if !s.diverged && s.w.Hash() != rec.GetWorldHash() {
		s.diverged = true
		s.log.Warn("replay diverges from the recording (game code changed?)", "tick", s.w.Tick())
	}
	return true
}

// frame hands the current tick to the mailbox: a delta from the client's baseline when the
// ring holds it from the current world, else (and always when snapshot) a full snapshot.
func (s *replaySession) frame(snapshot bool) {
	tick := s.w.Tick()
	if tick == 0 {
		return
	}
	cur := s.frames.Snapshot(s.w)
	base, _ := s.c.mb.baseline()
	if snapshot {
		base = 0
	}
	withHash := snapshot || (s.hashEvery > 0 && tick%s.hashEvery == 0)
	var b *engine.Body
	var key uint32
	if s.frames.Viewer() != nil && s.follow != 0 {
		cells := s.frames.Cells(s.view, s.w, s.follow)
		b, key = s.frames.ViewBody(s.view, base, cur, cells, withHash)
		s.frames.Seal()
	} else {
		b, key = s.frames.Body(base, cur, withHash)
	}
	s.c.mb.put(frame{body: b, extra: s.extra(base, tick), tick: tick, baseline: key})
	s.frames.Release()
}

// extra encodes the events of the ticks after base up to tick, every one whoever it was for (a
// frame the mailbox replaced did not reach the viewer, whose baseline stayed: its events go
// with this one) and, at the end of a match, the result.
func (s *replaySession) extra(base, tick uint32) []byte {
	s.events.Forget(base)
	b := s.events.Append(nil, base, tick, 0, true)
	if res := s.w.Result(); res != nil && res.Tick == tick {
		b = sim.AppendResult(b, res)
	}
	return b
}

func (s *replaySession) status(now time.Time) { s.statusMarks(now, nil) }

// statusMarks queues a ReplayStatus (every one names the recording); the first one carries the
// marks, the game events and the result (notes; nil on the later ones).
func (s *replaySession) statusMarks(now time.Time, notes *replayNotes) {
	st := &pb.ReplayStatus{FirstTick: s.first, LastTick: s.last, Playing: s.playing, SpeedPct: s.speed, Name: s.name}
	if s.w != nil {
		st.Tick = s.w.Tick()
	}
	if !s.marksSent && notes != nil {
		st.Marks, st.Events, st.Result, s.marksSent = notes.marks, notes.events, notes.result, true
	}
	b, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_ReplayStatus{ReplayStatus: st}})
	if err != nil {
		return
	}
	s.statusAt = now
	s.c.sendControl(b)
}

// game makes the recording's game from its header (for what the welcome tells about it).
func (s *replaySession) game() (sim.Game, error) {
	h := s.rd.Header()
	f, ok := s.srv.cfg.Games.Lookup(h.GetGame())
	if !ok {
		return nil, fmt.Errorf("game %q", h.GetGame())
	}
	return f(h.GetTickRate(), h.GetConfig())
}
