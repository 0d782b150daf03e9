package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/replay"
)

// Recording defaults (docs/operations.md, "Recordings").
const (
	// DefaultRecordKeep is how many recordings a directory keeps: the newest 100.
	DefaultRecordKeep = 100
	// defaultRecordQueue bounds ticks waiting for a recorder's writer. It stays well below the
	// room's ring (64): the writer reads the ring's state of a queued tick, which the room
	// overwrites Ring ticks later, so a queue the disk cannot drain fails the recording long
	// before the ring wraps over a tick still waiting.
	defaultRecordQueue = 32
	// defaultRecordCloseWait bounds how long Close waits for the writer to finish the file (a
	// hung disk must not hold a room's end forever; shutdown has its own bound on top).
	defaultRecordCloseWait = 10 * time.Second
	// maxRecordNameTries bounds the "-2", "-3"… suffixes tried when a room's file name is taken
	// (a room recreated within the same second).
	maxRecordNameTries = 100
)

// FileRecorderOptions configures NewFileRecorder. The zero value of every field but Dir means
// its default.
type FileRecorderOptions struct {
	// Dir is where recordings go, one file per match, <room>-<UTC yyyymmdd-hhmmss>.tsrec. It is
	// created with the first recording (cli: -record-dir, default ./recordings).
	Dir string
	// Keep is how many recordings Dir keeps: starting one and finishing one both delete the
	// oldest (by modification time) beyond it, never one being written (default 100; negative:
	// keep all). While more than Keep are being written at once, all of them are kept; the
	// directory is back to Keep when enough of them have finished.
	Keep int
	// KeyframeEvery is the keyframe interval in ticks (default replay.DefaultKeyframeEvery: 10 s
	// of game time). A keyframe is also where the file is fsynced.
	KeyframeEvery uint32
	// Queue bounds ticks waiting for the writer (default 32, at most half the room's ring). A
	// full queue fails the recording; the room never waits for the disk.
	Queue int
	// NoSync skips every fsync (tests, benchmarks). By default the file is fsynced at each
	// keyframe and on close, and the directory once after the file is created, so a power loss
	// costs at most one keyframe interval.
	NoSync bool
	// CloseWait bounds how long Close waits for the writer to finish the file (default 10 s).
	CloseWait time.Duration
	// Logger receives the recorders' logs (default: discard).
	Logger *slog.Logger
	// OnFailure, when set, is called once per failed recording (a metrics hook), from the
	// goroutine that found the failure. The server counts failures itself.
	OnFailure func(room string, err error)
	// Now is the wall clock of file names and the header's start time (default time.Now).
	Now func() time.Time

	// create opens a new file for writing (default: openRecordFile). Tests inject a writer
	// that blocks or fails.
	create func(path string) (recordFile, error)
}

// openRecordFile creates a recording file: exclusively (never over another file), and in
// append mode, so that after the empty tail is trimmed (Truncate) the end record lands right
// after the ticks kept.
func openRecordFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
}

// recordFile is what a recorder writes to: an *os.File in production.
type recordFile interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// NewFileRecorder returns a Config.NewRecorder that records each room to a file in o.Dir.
func NewFileRecorder(o FileRecorderOptions) (func(RoomInfo) (Recorder, error), error) {
	if o.Dir == "" {
		return nil, errors.New("server: file recorder: no directory")
	}
	if o.Queue < 0 {
		return nil, fmt.Errorf("server: file recorder: queue %d is negative", o.Queue)
	}
	if o.Keep == 0 {
		o.Keep = DefaultRecordKeep
	}
	if o.Queue == 0 {
		o.Queue = defaultRecordQueue
	}
	if o.CloseWait <= 0 {
		o.CloseWait = defaultRecordCloseWait
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.create == nil {
		o.create = func(path string) (recordFile, error) { return openRecordFile(path) }
	}
	fr := &fileRecorders{o: o, active: map[string]struct{}{}}
	return fr.start, nil
}

// fileRecorders starts recorders and keeps the directory to its size.
type fileRecorders struct {
	o       FileRecorderOptions
	pruneMu sync.Mutex // one prune at a time: two listing and deleting at once delete too much
	mu      sync.Mutex
	active  map[string]struct{} // file names being written: never pruned
}

func (fr *fileRecorders) start(ri RoomInfo) (_ Recorder, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("server: start recording of room %s: %w", ri.ID, err)
		}
	}()
	o := &fr.o
	if ri.Schema == nil || ri.TickRate <= 0 {
		return nil, errors.New("room info has no schema or tick rate")
	}
	k := o.KeyframeEvery
	if k == 0 {
		k = replay.DefaultKeyframeEvery(uint32(ri.TickRate))
	}
	queue := o.Queue
	if ri.Ring > 0 {
		queue = max(min(queue, ri.Ring/2), 1)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	start := o.Now()
	f, name, err := fr.create(recordingName(ri.ID, start))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(o.Dir, name)
	st, in := ri.Schema.Proto()
	h := &pb.RecordingHeader{
		FormatVersion: replay.FormatVersion, Game: ri.Game, State: st, Input: in, Config: ri.Config,
		Seed: ri.Seed, TickRate: uint32(ri.TickRate), StartUnixMs: start.UnixMilli(), Room: ri.ID,
		KeyframeEvery: k, InputsPerTick: uint32(max(ri.InputsPerTick, 0)), History: uint32(max(ri.History, 0)),
	}
	w, err := replay.NewWriter(f, h)
	if err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		fr.release(name)
		return nil, err
	}
	r := &fileRecorder{
		fr: fr, room: ri.ID, name: name, path: path, k: k, sync: !o.NoSync,
		every:   max(time.Second*time.Duration(queue)/time.Duration(4*ri.TickRate), time.Millisecond),
		kick:    make(chan struct{}, 1),
		log:     o.Logger.With("room", ri.ID, "file", path),
		free:    make(chan *recEntry, queue),
		queue:   make(chan *recEntry, queue),
		closing: make(chan struct{}), done: make(chan struct{}), notify: make(chan struct{}, 1),
		f: f, w: w,
	}
	for range queue {
		r.free <- &recEntry{}
	}
	r.log.Info("recording started")
	go r.run()
	return r, nil
}

// create makes base.tsrec, or base-2.tsrec… when the name is taken; it returns the file and
// its name, reserved in fr.active.
func (fr *fileRecorders) create(base string) (recordFile, string, error) {
	for i := 1; i <= maxRecordNameTries; i++ {
		name := base + ReplayExt
		if i > 1 {
			name = fmt.Sprintf("%s-%d%s", base, i, ReplayExt)
		}
		fr.mu.Lock()
		_, taken := fr.active[name]
		fr.active[name] = struct{}{}
		fr.mu.Unlock()
		if taken {
			continue
		}
		f, err := fr.o.create(filepath.Join(fr.o.Dir, name))
		if err == nil {
			return f, name, nil
		}
		fr.release(name)
		if !errors.Is(err, os.ErrExist) {
			return nil, "", err
		}
	}
	return nil, "", fmt.Errorf("%d file names for %s taken", maxRecordNameTries, base)
}

func (fr *fileRecorders) release(name string) {
	fr.mu.Lock()
	delete(fr.active, name)
	fr.mu.Unlock()
}

// prune deletes the oldest recordings beyond Keep, never one being written.
func (fr *fileRecorders) prune() {
	if fr.o.Keep < 0 {
		return
	}
	fr.pruneMu.Lock()
	defer fr.pruneMu.Unlock()
	ents, err := os.ReadDir(fr.o.Dir)
	if err != nil {
		fr.o.Logger.Warn("recordings: list directory", "dir", fr.o.Dir, "err", err)
		return
	}
	type old struct {
		name string
		mod  time.Time
	}
	var olds []old
	total := 0
	fr.mu.Lock()
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ReplayExt) {
			continue
		}
		total++
		if _, busy := fr.active[e.Name()]; busy {
			continue
		}
		if fi, err := e.Info(); err == nil {
			olds = append(olds, old{e.Name(), fi.ModTime()})
		}
	}
	fr.mu.Unlock()
	sort.Slice(olds, func(i, j int) bool {
		if !olds[i].mod.Equal(olds[j].mod) {
			return olds[i].mod.Before(olds[j].mod)
		}
		return olds[i].name < olds[j].name
	})
	for _, o := range olds {
		if total <= fr.o.Keep {
			break
		}
		if err := os.Remove(filepath.Join(fr.o.Dir, o.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			fr.o.Logger.Warn("recordings: delete old recording", "file", o.name, "err", err)
			continue
		}
		total--
		fr.o.Logger.Debug("recordings: deleted old recording", "file", o.name, "keep", fr.o.Keep)
	}
}

// recordingName is a room's file name without extension: the room id made file-safe, and the
// start time in UTC.
func recordingName(room string, start time.Time) string {
	b := []byte(room)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		b = []byte("room")
	}
	if len(b) > maxRoomIDLen {
		b = b[:maxRoomIDLen]
	}
	return string(b) + "-" + start.UTC().Format("20060102-150405")
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// recEntry is one queued tick: its inputs copied into entry-owned memory, and the ring's state
// of the tick (immutable until the ring wraps; the queue is bounded well below that).
type recEntry struct {
	tick       uint32
	inputs     []sim.Input
	vals       []int32
	reconnects []uint32
	st         *sim.State
	events     []sim.Event      // immutable: the engine's copies
	result     *sim.Result      // immutable
	past       []*pb.WorldState // a keyframe tick's history (Historian games)
	empty      bool             // nobody in the room after the tick (TickData.Empty)
}

// fileRecorder records one room (docs/operations.md, "Recordings"). The room goroutine calls Tick and Close;
// a writer goroutine owns the file. Entries cycle between free and queue, so Tick neither
// blocks nor allocates once the entries have grown to the room's inputs. Tick does not wake the
// writer either: the writer drains the queue on its own clock, every quarter of the queue's
// worth of ticks, so its work (mostly hashing the whole state) does not run beside the rest of
// the room's tick, and a room pays one buffered channel send per tick.
type fileRecorder struct {
	fr               *fileRecorders
	room, name, path string
	k                uint32
	sync             bool
	log              *slog.Logger

	free, queue chan *recEntry // both of the queue's capacity; entries move between them
	closing     chan struct{}  // closed by Close
	done        chan struct{}  // closed when the writer has finished the file
	notify      chan struct{}  // cap 1: a tick was written (tests wait on it)
	kick        chan struct{}  // cap 1: drain the queue now (tests and benchmarks)
	every       time.Duration  // the writer drains the queue this often
	written     atomic.Uint32  // the last tick written

	closed bool   // room goroutine: Close was called
	reason string // set by Close before closing is closed

	failed  atomic.Bool
	failMu  sync.Mutex
	failErr error // the first failure
	result  error // the writer's outcome; read after done

	// Writer goroutine only.
	f     recordFile
	w     *replay.Writer
	ioErr error // a write, sync or truncate failed: the file ends at the last whole record
	// emptyAt is the end of the tick at which the room last became empty, while it has stayed
	// empty since (zero otherwise): where a close for emptiness (ReasonEmpty) trims the file to.
	emptyAt replay.Mark
}

// Path returns the recording's file path.
func (r *fileRecorder) Path() string { return r.path }

// Tick queues tick for the writer. With the queue full it fails the recording, which ends at
// the last tick written: a prefix of the match, never one with gaps.
func (r *fileRecorder) Tick(t *TickData) error {
	tick := t.Tick
	if r.failed.Load() {
		return r.failure()
	}
	if r.closed {
		return replay.ErrClosed
	}
	var e *recEntry
	select {
	case e = <-r.free:
	default:
		err := fmt.Errorf("server: recording %s: queue full at tick %d (%d ticks waiting): the disk cannot keep up", r.name, tick, cap(r.queue))
		r.fail(tick, err)
		return r.failure()
	}
	e.tick, e.st = tick, t.State
	e.reconnects = append(e.reconnects[:0], t.Reconnects...)
	e.inputs = append(e.inputs[:0], t.Inputs...)
	e.vals = e.vals[:0]
	for i := range t.Inputs {
		e.vals = append(e.vals, t.Inputs[i].Values...)
	}
	off := 0
	for i := range e.inputs { // point at the entry's copy only now: appends may have moved it
		if n := len(e.inputs[i].Values); n > 0 {
			e.inputs[i].Values = e.vals[off : off+n : off+n]
			off += n
		}
	}
	e.events, e.result, e.past, e.empty = t.Events, t.Result, nil, t.Empty
	if tick%r.k == 0 && t.Past != nil {
		// The world's history is overwritten as it steps: save it now, on the room's
		// goroutine (a keyframe every few seconds, for games that keep one).
		for _, st := range t.Past() {
			e.past = append(e.past, st.Save())
		}
	}
	r.queue <- e // never blocks: there are only cap(queue) entries
	return nil
}

// Close finishes the recording: the queued ticks, the empty tail cut when the reason is
// ReasonEmpty (trimEmptyTail), the end record with reason, the index, an fsync. It waits for
// the writer at most CloseWait; after a failure it does not wait at all (the writer may be
// stuck on the disk) and returns the failure.
func (r *fileRecorder) Close(reason string) error {
	if r.closed {
		return r.failure()
	}
	r.closed, r.reason = true, reason
	close(r.closing)
	if r.failed.Load() {
		return r.failure()
	}
	t := time.NewTimer(r.fr.o.CloseWait)
	defer t.Stop()
	select {
	case <-r.done:
		return r.result
	case <-t.C:
		err := fmt.Errorf("server: recording %s: close still waiting for the disk after %v; finishing in the background", r.name, r.fr.o.CloseWait)
		r.log.Error("recording close timed out", "err", err)
		return err
	}
}

func (r *fileRecorder) failure() error {
	if !r.failed.Load() {
		return nil
	}
	r.failMu.Lock()
	defer r.failMu.Unlock()
	return r.failErr
}

// fail marks the recording failed (the first failure wins), logs it and calls the hook.
func (r *fileRecorder) fail(tick uint32, err error) {
	r.failMu.Lock()
	first := r.failErr == nil
	if first {
		r.failErr = err
		r.failed.Store(true)
	}
	r.failMu.Unlock()
	if !first {
		return
	}
	r.log.Error("recording failed", "tick", tick, "last_written", r.written.Load(), "err", err)
	if h := r.fr.o.OnFailure; h != nil {
		h(r.room, err)
	}
}

// run is the writer goroutine: every queued tick, then the end of the file, then a prune.
func (r *fileRecorder) run() {
	defer close(r.done)
	// Here rather than in start, which runs under the server's lock: a directory fsync and a
	// listing can take a while on a busy disk.
	if r.sync {
		if err := syncDir(r.fr.o.Dir); err != nil { // the file's name survives a power loss
			r.log.Warn("recording: sync directory", "err", err)
		}
	}
	r.fr.prune()
	t := time.NewTicker(r.every)
	defer t.Stop()
	for closing := false; !closing && !r.failed.Load(); {
		select {
		case <-t.C:
		case <-r.kick:
		case <-r.closing:
			closing = true // after everything Tick queued before Close
		}
		r.drain()
	}
	r.result = r.finish()
	// Prune again now that this file is finished, and before done, so that a Close that has
	// returned has pruned: recordings that overlapped were all being written when each
	// started, so the directory can hold more than Keep until one ends.
	r.fr.release(r.name)
	r.fr.prune()
}

// drain writes the queued ticks (after a failure it only frees their entries).
func (r *fileRecorder) drain() {
	for {
		select {
		case e := <-r.queue:
			r.write(e)
		default:
			return
		}
	}
}

// write writes one tick (and its keyframe). It reads the ring's state first and all at once:
// after a failure the room no longer waits for this queue, so a state read later could be one
// the ring has wrapped over.
func (r *fileRecorder) write(e *recEntry) {
	defer func() {
		e.st, e.events, e.result, e.past = nil, nil, nil, nil
		r.free <- e
	}()
	if r.failed.Load() {
		return
	}
	hash := e.st.Hash()
	var ws *pb.WorldState
	if e.tick%r.k == 0 {
		ws = e.st.Save()
	}
	err := r.w.WriteTickEvents(e.tick, e.inputs, hash, e.reconnects, e.events, e.result)
	if err == nil && ws != nil {
		err = r.w.WriteKeyframeHistory(e.tick, ws, e.past)
		if err == nil && r.sync {
			err = r.f.Sync()
		}
	}
	if err != nil {
		r.ioErr = err
		r.fail(e.tick, fmt.Errorf("server: recording %s: tick %d: %w", r.name, e.tick, err))
		return
	}
	switch {
	case !e.empty || e.result != nil: // a match's end is never trimmed
		r.emptyAt = replay.Mark{}
	case r.emptyAt == replay.Mark{}:
		r.emptyAt = r.w.Mark() // after the tick and its keyframe
	}
	r.written.Store(e.tick)
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// finish ends the file at a record boundary: the end record and index when the writer is
// healthy (reason "failed: …" after a failure), else truncated to the last whole record.
func (r *fileRecorder) finish() error {
	var reason string
	if err := r.failure(); err != nil {
		reason = "failed: " + err.Error()
	} else {
		reason = r.reason // the loop ended on closing: Close set it before
	}
	if r.ioErr == nil && reason == ReasonUnjoined {
		return r.discard()
	}
	if r.ioErr == nil && reason == ReasonEmpty {
		r.trimEmptyTail()
	}
	if r.ioErr == nil {
		if err := r.w.Close(reason, r.fr.o.Now().UnixMilli()); err != nil {
			r.ioErr = err
			r.fail(r.w.LastTick(), fmt.Errorf("server: recording %s: close: %w", r.name, err))
		}
	}
	var errs []error
	if r.ioErr != nil {
		errs = append(errs, r.failure())
		if err := r.f.Truncate(r.w.Offset()); err != nil {
			errs = append(errs, fmt.Errorf("server: recording %s: truncate to the last whole record: %w", r.name, err))
		}
	}
	if r.sync {
		if err := r.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("server: recording %s: sync: %w", r.name, err))
		}
	}
	if err := r.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("server: recording %s: close: %w", r.name, err))
	}
	err := errors.Join(errs...)
	if err == nil {
		r.log.Info("recording closed", "ticks", r.w.LastTick(), "bytes", r.w.Offset(), "reason", reason)
	} else {
		r.log.Error("recording ended badly", "ticks", r.w.LastTick(), "bytes", r.w.Offset(), "err", err)
	}
	if f := r.failure(); f != nil && err == nil {
		err = f
	}
	return err
}

// discard closes and deletes the recording of a room nobody joined (ReasonUnjoined): idle
// ticks only, not worth a place among the -record-keep files.
func (r *fileRecorder) discard() error {
	err := errors.Join(r.f.Close(), os.Remove(r.path))
	if err != nil {
		r.log.Warn("recording: delete the recording of a room nobody joined", "err", err)
		return fmt.Errorf("server: recording %s: discard: %w", r.name, err)
	}
	r.log.Info("recording deleted: nobody joined the room", "ticks", r.w.LastTick())
	return nil
}

// trimEmptyTail cuts the file of a room disposed for emptiness back to the end of the tick at
// which it became empty for good: the ticks after it are the room grace, with nobody there.
// Only the last empty stretch is cut: ticks before someone came back stay. A truncate that
// fails leaves the file whole: the recording then keeps its tail.
func (r *fileRecorder) trimEmptyTail() {
	m, last, size := r.emptyAt, r.w.LastTick(), r.w.Offset()
	if m == (replay.Mark{}) || m.Tick() == last {
		return
	}
	if err := r.w.Rewind(m, r.f.Truncate); err != nil {
		r.log.Warn("recording: trim the empty room's tail", "tick", m.Tick(), "err", err)
		return
	}
	r.log.Info("recording trimmed to the tick the room became empty", "tick", m.Tick(),
		"ticks_trimmed", last-m.Tick(), "bytes_trimmed", size-m.Offset())
}

// waitWritten has the writer drain the queue now and waits until tick is written or the
// recording has failed or finished (tests).
func (r *fileRecorder) waitWritten(tick uint32) {
	r.flush()
	for r.written.Load() < tick && !r.failed.Load() {
		select {
		case <-r.notify:
		case <-r.done:
			return
		}
	}
}

// flush has the writer drain the queue now rather than at its next turn (tests).
func (r *fileRecorder) flush() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// recordingStatus is a room's recording as GET /rooms shows it.
type recordingStatus struct {
	File   string `json:"file,omitempty"`   // the file name in the recordings directory
	Failed bool   `json:"failed,omitempty"` // the recording stopped (or never started)
	Error  string `json:"error,omitempty"`  // why
}

// noteRecording publishes the room's recording status for GET /rooms and counts a failure:
// called with the recorder and error the factory returned, and with (nil, err) when recording
// stops mid-match. Room goroutine (or newRoom).
func (r *Room) noteRecording(rec Recorder, err error) {
	st := &recordingStatus{}
	if prev := r.recording.Load(); prev != nil {
		st.File = prev.File
	}
	if p, ok := rec.(interface{ Path() string }); ok {
		st.File = filepath.Base(p.Path())
	}
	if err != nil {
		st.Failed, st.Error = true, oneLine(err.Error())
		r.srv.m.recordingFailures.Inc()
	}
	r.recording.Store(st)
}
