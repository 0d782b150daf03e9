package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDueTicks(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := []struct {
		name string
		at   time.Duration
		rate int64
		want uint64
	}{
		{"before start", -time.Millisecond, 20, 0},
		{"at start", 0, 20, 1},
		{"just before second", 49 * time.Millisecond, 20, 1},
		{"second", 50 * time.Millisecond, 20, 2},
		{"one second", time.Second, 20, 21},
		{"128 Hz, 1s", time.Second, 128, 129},
		{"128 Hz, 7.8125ms", 7812500 * time.Nanosecond, 128, 2},
		{"a day at 60 Hz", 24 * time.Hour, 60, 24*3600*60 + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, dueTicks(start, start.Add(tc.at), tc.rate, time.Second))
		})
	}
}

// TestClockNoDrift wakes the loop late by a jittering amount every time and checks that the
// total number of ticks run follows the schedule exactly, with no drift.
func TestClockNoDrift(t *testing.T) {
	start := time.Unix(0, 0)
	c := newClock(start, 20, 5)
	jitter := []time.Duration{0, 3 * time.Millisecond, 11 * time.Millisecond, 1 * time.Millisecond, 17 * time.Millisecond}
	var total uint64
	for i := 0; i < 10_000; i++ {
		now := c.next().Add(jitter[i%len(jitter)])
		n, skipped := c.due(now)
		require.Zero(t, skipped)
		total += n
	}
	last := c.at(total)
	assert.Equal(t, start.Add(time.Duration(total-1)*50*time.Millisecond), last, "tick n due at start+(n-1)/rate")
	assert.Equal(t, uint64(10_000), total)
}

func TestClockCatchUpCap(t *testing.T) {
	start := time.Unix(0, 0)
	c := newClock(start, 20, 5)
	n, skipped := c.due(start)
	require.Equal(t, uint64(1), n)
	require.Zero(t, skipped)
	// A one-second stall: 20 ticks are due, 5 run, 15 are skipped.
	n, skipped = c.due(start.Add(time.Second))
	assert.Equal(t, uint64(5), n)
	assert.Equal(t, uint64(15), skipped)
	// The schedule then carries on from the new position: next is 1.05 s.
	assert.Equal(t, start.Add(1050*time.Millisecond), c.next())
	n, _ = c.due(start.Add(1049 * time.Millisecond))
	assert.Zero(t, n)
	n, _ = c.due(start.Add(1050 * time.Millisecond))
	assert.Equal(t, uint64(1), n)
	// Calling again at the same instant runs nothing.
	n, _ = c.due(start.Add(1050 * time.Millisecond))
	assert.Zero(t, n)
}

// TestSpeedClock: a replay's schedule at a speed factor is the tick rate scaled exactly, with
// no drift over a long match, and its catch-up cap slows playback rather than spiralling.
func TestSpeedClock(t *testing.T) {
	start := time.Unix(0, 0)
	cases := []struct {
		name        string
		rate, speed int
		interval    time.Duration // between ticks
	}{
		{"20 Hz at 100%", 20, 100, 50 * time.Millisecond},
		{"20 Hz at 25%", 20, 25, 200 * time.Millisecond},
		{"20 Hz at 800%", 20, 800, 6250 * time.Microsecond},
		{"60 Hz at 150%", 60, 150, time.Second / 90},
		{"128 Hz at 800%", 128, 800, time.Second / 1024},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newSpeedClock(start, tc.rate, tc.speed, 1<<40)
			perHour := uint64(tc.rate * tc.speed * 36) // rate·speed/100 per second, 3,600 s
			assert.InDelta(t, float64(time.Hour/tc.interval), float64(perHour), 2, "the case's interval")
			n, skipped := c.due(start.Add(time.Hour - time.Nanosecond))
			assert.Zero(t, skipped)
			assert.InDelta(t, perHour, n, 1, "an hour's ticks")
			want := float64(n) * float64(time.Hour) / float64(perHour) // tick n+1 is due at n intervals
			assert.InDelta(t, want, float64(c.next().Sub(start)), 2, "no drift")
		})
	}
	c := newSpeedClock(start, 20, 800, 256)
	n, skipped := c.due(start.Add(time.Minute))
	assert.Equal(t, uint64(256), n, "catch-up capped")
	assert.Equal(t, uint64(60*160+1-256), skipped)
}
