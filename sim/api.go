package sim

import (
	"fmt"
)

// The optional parts of the game API. A Game implements any of these interfaces beside Game;
// one that does not pays nothing for it. Every one keeps the match deterministic: what it
// decides depends only on the World and the inputs, and the recording keeps what a replay
// needs to decide it again.

// TickRater is a game with its own tick rate: a room of it ticks at TickRate Hz whatever the
// server's -tick-rate (which stays the default for games without one). Recordings keep the rate.
type TickRater interface {
	TickRate() uint32
}

// Seater is a game whose rooms seat at most Seats players (a room-size config, say); 0 means
// the server's -max-players. Quick play (a join that lets the server pick the room) counts a
// room of this game full at Seats players, so it sends the next player elsewhere instead of into
// the game's "room is full" refusal. Joins by room id are not affected (JoinFilter decides).
type Seater interface {
	Seats() int
}

// JoinFilter is a game that may refuse a player. AcceptJoin runs at the tick the join applies,
// before the seat is taken and before that tick's Step; a non-nil error refuses it: the client
// is closed with 4005 and the error's text as the reason (at most 123 bytes), and does not
// reconnect. Resumes of a held seat and spectators are not asked. AcceptJoin must not change the
// World (it only reads it); a refused join changes nothing, so it is not recorded. Joins of one
// tick are asked in order; JoinRequest.Pending lists those already accepted in this tick, which
// the World does not show yet (count them against a "room full" or "team full" rule).
type JoinFilter interface {
	AcceptJoin(w *World, j JoinRequest) error
}

// JoinRequest is a join as the game sees it.
type JoinRequest struct {
	Player uint32 // the seat's player id if accepted
	Meta   []byte // the player's metadata (valid during AcceptJoin only)
	// Pending are the joins accepted earlier in this tick: their join inputs reach Step after
	// this one is decided (valid during AcceptJoin only).
	Pending []JoinRequest
}

// Historian is a game whose Step reads past states with World.Past (lag compensation: check a
// hit against the world the shooter saw). History is how many ticks back it reads, at most
// MaxHistory; the World keeps that many states, and every keyframe of a recording carries them.
type Historian interface {
	History() int
}

// MaxHistory bounds Historian.History (a second and a half at 128 Hz).
const MaxHistory = 192

// Event is a one-off message from Step to players (a hit, a goal). Kind, Values and Data are
// the game's; To lists the players it is for (nil: everyone, spectators included). Events reach
// each client in order, in the frame of their tick or a later one, never lost to coalescing,
// and are recorded.
type Event struct {
	Kind   uint32
	Values []int32
	Data   []byte
	To     []uint32
}

// Result is how a game ended its match (World.End).
type Result struct {
	Tick    uint32   // set by End: the tick of the Step that ended the match
	Winners []uint32 // the winning players (none: a draw)
	Summary string   // short and human-readable: "red wins 5-3"
	Data    []byte   // the game's own (scores)
}

// Emit sends ev from the current Step. The World copies it: the caller may reuse its slices.
// Events emitted outside Step are dropped at the next one.
func (w *World) Emit(ev Event) {
	cp := Event{Kind: ev.Kind}
	if len(ev.Values) > 0 {
		cp.Values = append([]int32(nil), ev.Values...)
	}
	if len(ev.Data) > 0 {
		cp.Data = append([]byte(nil), ev.Data...)
	}
	if len(ev.To) > 0 {
		cp.To = append([]uint32(nil), ev.To...)
	}
	w.events = append(w.events, cp)
}

// Events returns the events the last Step emitted, in order (the World's own slice, valid until
// the next Step).
func (w *World) Events() []Event { return w.events }

// End ends the match with r at the current tick. The room delivers the result with this tick's
// frame and closes with 4002 "match over" after a short grace; nothing steps after it. Only the
// first End counts.
func (w *World) End(r Result) {
	if w.result != nil {
		return
	}
	r.Tick = w.tick
	r.Winners = append([]uint32(nil), r.Winners...)
	r.Data = append([]byte(nil), r.Data...)
	w.result = &r
}

// Result returns how the match ended, or nil while it goes on.
func (w *World) Result() *Result { return w.result }

// Past returns the state after tick, read-only, if the World keeps it: during Step of tick t,
// the ticks t-History … t-1 (not before tick 1; none for a game that is not a Historian).
func (w *World) Past(tick uint32) *State {
	h := &w.hist
	if tick == 0 || tick > w.tick || len(h.states) == 0 {
		return nil
	}
	st := h.states[int(tick)%len(h.states)]
	if st.schema == nil || st.tick != tick {
		return nil
	}
	return st
}

// history is the ring of past states a Historian's Step reads.
type history struct {
	depth  int
	states []*State // by tick mod depth
	ready  bool     // depth set up from the game
}

// setup sizes the ring from g the first time the World steps it.
func (h *history) setup(g Game) {
	h.ready = true
	h.depth = HistoryDepth(g)
	h.states = make([]*State, h.depth)
	for i := range h.states {
		h.states[i] = &State{}
	}
}

// HistoryDepth returns how many past states g reads: its History, at most MaxHistory (0 for a
// game that is not a Historian).
func HistoryDepth(g Game) int {
	if hg, ok := g.(Historian); ok {
		return min(max(hg.History(), 0), MaxHistory)
	}
	return 0
}

// keep stores the state after the tick just stepped.
func (h *history) keep(w *World) {
	if h.depth == 0 {
		return
	}
	w.Snapshot(h.states[int(w.tick)%h.depth])
}

// PastStates returns the kept states before the current tick that the next Step may read,
// oldest first: the History-1 ticks before it (the World itself is the newest). A keyframe
// saves them with the world.
func (w *World) PastStates() []*State {
	if w.hist.depth == 0 {
		return nil
	}
	var out []*State
	for t := w.tick - min(w.tick, uint32(w.hist.depth-1)); t < w.tick; t++ {
		if st := w.Past(t); st != nil {
			out = append(out, st)
		}
	}
	return out
}

// RestoreHistory sets up g's history on a World loaded from a keyframe and fills it with the
// keyframe's past states (oldest first; each must be a tick before the World's).
func (w *World) RestoreHistory(g Game, past []*State) error {
	w.hist = history{}
	w.hist.setup(g)
	for _, st := range past {
		if st.tick >= w.tick || st.tick+uint32(w.hist.depth) <= w.tick {
			return fmt.Errorf("%w: past state of tick %d for a world at %d (history %d)", ErrBadState, st.tick, w.tick, w.hist.depth)
		}
		w.hist.states[int(st.tick)%w.hist.depth].CopyFrom(st)
	}
	// The world's own state is the newest past one for the next Step.
	if w.hist.depth > 0 {
		w.hist.keep(w)
	}
	return nil
}
