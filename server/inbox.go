package server

import (
	"sync"
	"time"
)

// Reasons an input is dropped (the input_drops_total label).
const (
	dropStale     = "stale_seq"  // seq not above the last applied one, or a duplicate
	dropInboxFull = "inbox_full" // the player's inbox is full
	dropRate      = "rate"       // token bucket empty
	dropBytes     = "bytes"      // byte bucket empty
	dropSpectator = "spectator"  // spectators cannot move
	dropNotSeated = "not_seated" // the join is still being processed
	numDropKinds  = 6
)

// pendingInput is one input waiting in a seat's inbox.
type pendingInput struct {
	seq  uint32
	at   time.Time // read off the socket (hold samples)
	vals []int32   // len = the game's input fields; preallocated
}

// inbox holds one seat's inputs between the connection's read goroutine and the room, sorted
// by seq, deduplicated, bounded. The reader inserts, the room takes the k lowest each tick.
// Neither blocks on the other for longer than a copy of a few values; nothing allocates after
// construction.
type inbox struct {
	mu          sync.Mutex
	items       []pendingInput // sorted by seq; len = count
	spare       []pendingInput // backing store, cap slots
	lastApplied uint32         // highest seq delivered to Step (room writes, reader reads)
}

func newInbox(slots, nvals int) *inbox {
	in := &inbox{spare: make([]pendingInput, slots)}
	vals := make([]int32, slots*nvals)
	for i := range in.spare {
		in.spare[i].vals = vals[i*nvals : (i+1)*nvals : (i+1)*nvals]
	}
	in.items = in.spare[:0]
	return in
}

// push offers one input. It returns the drop reason ("" when queued) or errSeqRange when seq
// runs too far ahead of the last applied input.
func (in *inbox) push(seq uint32, vals []int32, at time.Time) (drop string, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if seq <= in.lastApplied {
		return dropStale, nil
	}
	if seq-in.lastApplied > maxSeqAhead {
		return "", errSeqRange
	}
	n := len(in.items)
	i := n
	for i > 0 && in.items[i-1].seq > seq { // inputs arrive in order: usually no shifting
		i--
	}
	if i > 0 && in.items[i-1].seq == seq {
		return dropStale, nil
	}
	if n == cap(in.items) {
		return dropInboxFull, nil
	}
	in.items = in.items[:n+1]
	free := in.items[n] // the slot past the end owns a spare vals buffer
	copy(in.items[i+1:], in.items[i:n])
	free.seq, free.at = seq, at
	clear(free.vals)
	copy(free.vals, vals)
	in.items[i] = free
	return "", nil
}

// take moves up to k of the lowest-seq inputs to out (calling add for each, in seq order)
// and returns how many it took.
func (in *inbox) take(k int, add func(p *pendingInput)) int {
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
	var tmp [8]pendingInput
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

// last returns the highest applied seq.
func (in *inbox) last() uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lastApplied
}

// bucket is a token bucket refilled at rate per second up to burst. One goroutine (the
// connection's reader) uses it.
type bucket struct {
	tokens, burst, rate float64
	at                  time.Time
}

func newBucket(rate, burst int, now time.Time) bucket {
	return bucket{tokens: float64(burst), burst: float64(burst), rate: float64(rate), at: now}
}

// take removes n tokens if it can.
func (b *bucket) take(n float64, now time.Time) bool {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		b.at = now
	}
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// pending returns how many inputs wait.
func (in *inbox) pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.items)
}
