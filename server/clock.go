package server

import "time"

// Tick rate bounds: below 1 Hz a game is turn-based, above 128 Hz the interval is shorter
// than a scheduler slice on a loaded box.
const (
	minTickRate = 1
	maxTickRate = 128
)

// clock is a drift-free schedule: tick n (counting from 1) is due at start + (n-1)·per/rate,
// so jitter in when the loop wakes never accumulates. A room's clock runs rate ticks per
// second; a replay's runs rate·speed ticks per 100 s (speed in percent). When the loop falls
// more than maxCatchup ticks behind, the surplus is skipped rather than run: slow motion can be
// recovered from, a spiral of ever-later ticks cannot (ebiten caps catch-up the same way).
// It reads no clock; the room loop passes now in.
type clock struct {
	start      time.Time
	rate       int64         // ticks per per
	per        time.Duration // the span rate ticks take
	maxCatchup uint64
	done       uint64 // ticks run
	skipped    uint64 // ticks dropped by the catch-up cap
}

// newClock makes a schedule of rate ticks per second from start.
func newClock(start time.Time, rate, maxCatchup int) clock {
	return clock{start: start, rate: int64(rate), per: time.Second, maxCatchup: uint64(max(maxCatchup, 1))}
}

// newSpeedClock makes a schedule of rate ticks per second played at speed percent (a replay
// at 25%..800%): rate·speed ticks per 100 s, exact in integers.
func newSpeedClock(start time.Time, rate, speed, maxCatchup int) clock {
	return clock{start: start, rate: int64(rate) * int64(speed), per: 100 * time.Second, maxCatchup: uint64(max(maxCatchup, 1))}
}

// dueTicks is how many ticks are due by now for a schedule of rate ticks per per that began
// at start: a pure function of its arguments (the first tick is due at start).
func dueTicks(start, now time.Time, rate int64, per time.Duration) uint64 {
	d := now.Sub(start)
	if d < 0 {
		return 0
	}
	q, r := int64(d/per), int64(d%per)
	return uint64(q*rate+r*rate/int64(per)) + 1
}

// due returns how many ticks to run now (at most maxCatchup) and records them as run, and how
// many were skipped by the cap on this call.
func (c *clock) due(now time.Time) (run, skipped uint64) {
	target := dueTicks(c.start, now, c.rate, c.per)
	if target <= c.done+c.skipped {
		return 0, 0
	}
	run = target - c.done - c.skipped
	if run > c.maxCatchup {
		skipped = run - c.maxCatchup
		c.skipped += skipped
		run = c.maxCatchup
	}
	c.done += run
	return run, skipped
}

// at returns when schedule slot n (counting from 1, skipped slots included) is due.
func (c *clock) at(n uint64) time.Time {
	k := int64(n - 1)
	q, rem := k/c.rate, k%c.rate
	return c.start.Add(time.Duration(q)*c.per + time.Duration(rem*int64(c.per)/c.rate))
}

// next returns when the next tick is due.
func (c *clock) next() time.Time { return c.at(c.done + c.skipped + 1) }
