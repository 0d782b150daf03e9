package server

import (
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
