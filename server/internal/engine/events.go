package engine

import "github.com/ticksync/ticksync/sim"

// EventLog keeps recent ticks' game events, each encoded once as a Frame.events field, and
// gives a client the ones of a range of ticks addressed to it. Live rooms (the engine) and
// replay sessions share it, as they share Frames.
type EventLog struct {
	ticks []tickEvents // oldest first
}

// tickEvents is one tick's events, each pre-encoded as a Frame.events field.
type tickEvents struct {
	tick uint32
	evs  []sim.Event
	enc  [][]byte
}

// Add keeps tick's events (copied; nothing when there are none) and returns the log's copy.
func (l *EventLog) Add(tick uint32, evs []sim.Event) []sim.Event {
	if len(evs) == 0 {
		return nil
	}
	te := tickEvents{tick: tick, evs: append([]sim.Event(nil), evs...), enc: make([][]byte, len(evs))}
	for i := range te.evs {
		te.enc[i] = sim.AppendEvent(nil, tick, &te.evs[i], false)
	}
	l.ticks = append(l.ticks, te)
	return te.evs
}

// Forget drops the events of ticks up to through.
func (l *EventLog) Forget(through uint32) {
	drop := 0
	for drop < len(l.ticks) && l.ticks[drop].tick <= through {
		drop++
	}
	if drop > 0 {
		l.ticks = append(l.ticks[:0], l.ticks[drop:]...)
	}
}

// Reset drops every event (a replay's seek starts another timeline).
func (l *EventLog) Reset() { l.ticks = l.ticks[:0] }

// Empty reports whether the log holds no event.
func (l *EventLog) Empty() bool { return len(l.ticks) == 0 }

// Append appends to dst the events of the ticks after `after` up to `through`, in order, that
// reach player: every one when all is set (a replay shows everything), else those for everyone
// or naming player (spectators, player 0, get only those for everyone).
func (l *EventLog) Append(dst []byte, after, through, player uint32, all bool) []byte {
	for i := range l.ticks {
		te := &l.ticks[i]
		if te.tick <= after || te.tick > through {
			continue
		}
		for j := range te.evs {
			if all || addressed(te.evs[j].To, player) {
				dst = append(dst, te.enc[j]...)
			}
		}
	}
	return dst
}

// addressed reports whether an event for to reaches player.
func addressed(to []uint32, player uint32) bool {
	if len(to) == 0 {
		return true
	}
	for _, p := range to {
		if p == player && p != 0 {
			return true
		}
	}
	return false
}
