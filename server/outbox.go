package server

import (
	"sync"
	"sync/atomic"
)

// frameBuf is one encoded frame body shared by every client at the same baseline in a tick.
// It is reference counted: the room holds one reference while it hands the body out, each
// mailbox holding it one more; the last release returns it to the room's pool. A body is never
// reused while a writer may still be writing it.
type frameBuf struct {
	b    []byte
	refs atomic.Int32
	pool *bufPool
}

func (f *frameBuf) retain() { f.refs.Add(1) }

func (f *frameBuf) release() {
	if f.refs.Add(-1) == 0 {
		f.pool.put(f)
	}
}

// bufPool recycles a room's frame bodies. A plain mutex-guarded free list: it grows to the
// number of bodies in flight and then stops allocating (sync.Pool may drop entries at GC).
type bufPool struct {
	mu   sync.Mutex
	free []*frameBuf
}

func (p *bufPool) get() *frameBuf {
	p.mu.Lock()
	var f *frameBuf
	if n := len(p.free); n > 0 {
		f = p.free[n-1]
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if f == nil {
		f = &frameBuf{pool: p, b: make([]byte, 0, 4<<10)}
	}
	f.b = f.b[:0]
	f.refs.Store(1)
	return f
}

func (p *bufPool) put(f *frameBuf) {
	p.mu.Lock()
	p.free = append(p.free, f)
	p.mu.Unlock()
}

// frame is what a mailbox holds: a shared body and this client's header fields.
type frame struct {
	body     *frameBuf
	tick     uint32
	baseline uint32
	lastSeq  uint32
}

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
	var old *frameBuf
	if m.full {
		old, m.full, coalesced = m.slot.body, false, true
		m.slot = frame{}
	}
	base = m.taken
	m.mu.Unlock()
	if old != nil {
		old.release()
	}
	return base, coalesced
}

// put hands f to the writer (taking a reference to its body) and wakes it. A closed mailbox
// takes nothing.
func (m *mailbox) put(f frame) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	f.body.retain()
	var old *frameBuf
	if m.full {
		old = m.slot.body
	}
	m.slot, m.full = f, true
	m.mu.Unlock()
	if old != nil {
		old.release()
	}
	select {
	case m.notify <- struct{}{}:
	default:
	}
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
	var old *frameBuf
	if m.full {
		old = m.slot.body
	}
	m.slot, m.full, m.closed = frame{}, false, true
	m.mu.Unlock()
	if old != nil {
		old.release()
	}
}
