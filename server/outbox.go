package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/server/internal/engine"
)

// frame is what a mailbox holds: a shared, reference-counted body (the engine's) and this
// client's header fields.
type frame struct {
	body     *engine.Body
	extra    []byte // this client's events and result, after the body (usually nil)
	tick     uint32
	baseline uint32
	lastSeq  uint32
	mark     *writeMark // non-nil while the room measures: the writer stamps its write here
}

// writeMark is when a tick's hand-off started and when the last of its frames reached a
// socket (monotonic ns since processStart), for the Stats' prev_writes_ns. The room resets a
// mark before reusing it for a later tick; a writer stamps it only while it is its frame's.
type writeMark struct {
	tick  atomic.Uint32
	start atomic.Int64
	end   atomic.Int64
}

// written records that a frame of tick reached its socket now (a later tick's mark is left
// alone).
func (w *writeMark) written(tick uint32) {
	if w.tick.Load() != tick {
		return
	}
	now := mono()
	for {
		old := w.end.Load()
		if old >= now || w.end.CompareAndSwap(old, now) {
			return
		}
	}
}

// processStart anchors mono.
var processStart = time.Now()

// mono is monotonic nanoseconds since processStart.
func mono() int64 { return int64(time.Since(processStart)) }

// mailbox is a connection's one-slot, latest-wins frame outbox. Only the room puts; only the
// connection's writer takes. taken is the client's baseline: the tick of the last frame handed
// to its socket.
type mailbox struct {
	mu     sync.Mutex
	slot   frame
	full   bool
	taken  uint32 // tick of the last frame the writer took
	closed bool
	notify chan struct{} // cap 1: wakes the writer
}

func newMailbox() *mailbox { return &mailbox{notify: make(chan struct{}, 1)} }

// baseline empties the slot (a frame the writer did not take is replaced: the next one is
// computed from what the client really holds) and returns the client's baseline and whether a
// frame was coalesced. Between baseline and put nothing changes the baseline: only the writer
// moves it, and only by taking from the slot, which is now empty.
func (m *mailbox) baseline() (base uint32, coalesced bool) {
	m.mu.Lock()
	var old *engine.Body
	if m.full {
		old, m.full, coalesced = m.slot.body, false, true
		m.slot = frame{}
	}
	base = m.taken
	m.mu.Unlock()
	if old != nil {
		old.Release()
	}
	return base, coalesced
}

// put hands f to the writer (taking a reference to its body) and wakes it. A closed mailbox
// takes nothing.
func (m *mailbox) put(f frame) {
	if m.store(f) {
		m.wake()
	}
}

// wake tells the writer a frame is waiting (it never blocks).
func (m *mailbox) wake() {
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// store is put without the wake-up; it reports whether the frame was stored (false: the
// mailbox is closed).
func (m *mailbox) store(f frame) bool {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return false
	}
	f.body.Retain()
	var old *engine.Body
	if m.full {
		old = m.slot.body
	}
	m.slot, m.full = f, true
	m.mu.Unlock()
	if old != nil {
		old.Release()
	}
	return true
}

// take gives the writer the pending frame, if any, and records it as the new baseline. The
// caller releases the body after writing it.
func (m *mailbox) take() (frame, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.full {
		return frame{}, false
	}
	f := m.slot
	m.slot, m.full = frame{}, false
	m.taken = f.tick
	return f, true
}

// setBaseline sets the client's baseline before its first frame (resume from Join.last_tick).
func (m *mailbox) setBaseline(t uint32) {
	m.mu.Lock()
	m.taken = t
	m.mu.Unlock()
}

// lastTaken returns the tick of the last frame handed to the socket.
func (m *mailbox) lastTaken() uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.taken
}

// close drops the pending frame and refuses more.
func (m *mailbox) close() {
	m.mu.Lock()
	var old *engine.Body
	if m.full {
		old = m.slot.body
	}
	m.slot, m.full, m.closed = frame{}, false, true
	m.mu.Unlock()
	if old != nil {
		old.Release()
	}
}

// waker wakes a room's writers off the room's goroutine. Readying two hundred writers from the
// room's own thread makes the Go scheduler start a second thread mid-hand-off, and on a busy
// box that thread (or the load it wakes) takes the room's core: scenario B's hand-off p99 was
// 2.1 ms at GOMAXPROCS=2 against 0.16 ms at GOMAXPROCS=1. So the room only stores frames,
// queues the mailboxes here and signals once; this goroutine does the waking. The two lists
// swap, so neither side allocates in steady state.
type waker struct {
	mu      sync.Mutex
	pending []*mailbox // filled by the room under mu
	spare   []*mailbox // the waker's: the list it woke last
	signal  chan struct{}
}

func newWaker() *waker { return &waker{signal: make(chan struct{}, 1)} }

// queue adds mailboxes to wake; the caller holds w.mu (the room takes it once per hand-off).
func (w *waker) queue(m *mailbox) { w.pending = append(w.pending, m) }

// kick signals the waker goroutine (never blocks: one pending signal covers every queue).
func (w *waker) kick() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// run wakes queued mailboxes until done is closed.
func (w *waker) run(done <-chan struct{}) {
	for {
		select {
		case <-w.signal:
		case <-done:
			return
		}
		w.mu.Lock()
		list := w.pending
		w.pending = w.spare[:0]
		w.mu.Unlock()
		for i, m := range list {
			m.wake()
			list[i] = nil
		}
		w.spare = list
	}
}
