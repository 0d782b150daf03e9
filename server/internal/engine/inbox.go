package engine

import (
	"errors"
	"sync"
	"time"
)

// MaxSeqAhead is how far an input's seq may run ahead of the last applied one: a client
// coalesces to one input per tick, so 1024 is ~50 s of inputs at 20 Hz.
const MaxSeqAhead = 1024

// ErrSeqRange is Push's answer to a seq more than MaxSeqAhead past the last applied one.
var ErrSeqRange = errors.New("seq out of range")

// Drop is why Push did not queue an input.
type Drop uint8

// Push's answers.
const (
	Queued    Drop = iota // the input waits for a tick
	DropStale             // seq not above the last applied one, or a duplicate
	DropFull              // the inbox is full
)

// pending is one input waiting in an inbox.
type pending struct {
	seq  uint32
	when When
	at   time.Time // read off the socket (hold samples)
	vals []int32   // len = the game's input fields; preallocated
}

// When is when the player made an input, as its client says: the tick it was showing and the
// fraction of a tick after it (lag compensation; the engine clamps RenderTick).
type When struct {
	RenderTick uint32
	Subtick    uint16
}

// Inbox holds one seat's inputs between the connection's read goroutine and the engine,
// sorted by seq, deduplicated, bounded. The reader pushes, the engine takes the k lowest each
// tick. Neither waits on the other longer than a copy of a few values; nothing allocates after
// construction.
type Inbox struct {
	mu          sync.Mutex
	items       []pending // sorted by seq; len = count
	spare       []pending // backing store, cap slots
	lastApplied uint32    // highest seq delivered to Step
}

// NewInbox makes an inbox of slots inputs of nvals values each.
func NewInbox(slots, nvals int) *Inbox {
	in := &Inbox{spare: make([]pending, max(slots, 1))}
	vals := make([]int32, len(in.spare)*nvals)
	for i := range in.spare {
		in.spare[i].vals = vals[i*nvals : (i+1)*nvals : (i+1)*nvals]
	}
	in.items = in.spare[:0]
	return in
}

// Push offers one input read at at (vals is copied). It returns ErrSeqRange when seq runs too
// far ahead of the last applied input, else whether the input was queued or dropped.
func (in *Inbox) Push(seq uint32, vals []int32, at time.Time) (Drop, error) {
	return in.PushWhen(seq, When{}, vals, at)
}

// PushWhen is Push with the client's render tick and sub-tick.
func (in *Inbox) PushWhen(seq uint32, when When, vals []int32, at time.Time) (Drop, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if seq <= in.lastApplied {
		return DropStale, nil
	}
	if seq-in.lastApplied > MaxSeqAhead {
		return Queued, ErrSeqRange
	}
	n := len(in.items)
	i := n
	for i > 0 && in.items[i-1].seq > seq { // inputs arrive in order: usually no shifting
		i--
	}
	if i > 0 && in.items[i-1].seq == seq {
		return DropStale, nil
	}
	if n == cap(in.items) {
		return DropFull, nil
	}
	in.items = in.items[:n+1]
	free := in.items[n] // the slot past the end owns a spare vals buffer
	copy(in.items[i+1:], in.items[i:n])
	free.seq, free.when, free.at = seq, when, at
	clear(free.vals)
	copy(free.vals, vals)
	in.items[i] = free
	return Queued, nil
}

// take hands up to k of the lowest-seq inputs to add, in seq order, and returns how many.
func (in *Inbox) take(k int, add func(p *pending)) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := min(k, len(in.items))
	for i := 0; i < n; i++ {
		add(&in.items[i])
		in.lastApplied = in.items[i].seq
	}
	if n == 0 {
		return 0
	}
	// Rotate the taken slots to the end so their vals buffers are reused.
	var tmp [8]pending
	if n <= len(tmp) {
		copy(tmp[:n], in.items[:n])
		rest := len(in.items) - n
		copy(in.items[:rest], in.items[n:])
		copy(in.items[rest:rest+n], tmp[:n])
		in.items = in.items[:rest]
	} else {
		for j := 0; j < n; j++ {
			first := in.items[0]
			copy(in.items, in.items[1:])
			in.items[len(in.items)-1] = first
			in.items = in.items[:len(in.items)-1]
		}
	}
	return n
}

// Last returns the highest applied seq.
func (in *Inbox) Last() uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lastApplied
}

// Pending returns how many inputs wait.
func (in *Inbox) Pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.items)
}
