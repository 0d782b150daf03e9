package server

import (
	"errors"
	"fmt"
	"maps"
)

// Quick play: a join that leaves the choice of room to the server (Join.quick_play), like
// Colyseus's joinOrCreate. The server sends the player to the fullest room of the game that has
// a free seat and carries the labels asked for, or creates one. The choice is made under the
// server lock and the seat promised at once, so joins routed at the same moment cannot both
// take a room's last seat; the room releases the promise when the join has been applied (and
// counted in its players).

// Room label limits (Join.labels, POST /rooms "labels").
const (
	maxLabels     = 16
	maxLabelKey   = 32
	maxLabelValue = 64
)

var (
	errBadLabels = errors.New("bad room labels")
	// errQuickPlayScope refuses quick play with a token for one room (4001).
	errQuickPlayScope = errors.New("quick play needs a game-scoped or admin token")
	// errWrongGame refuses a game-scoped token a room of another game (4001).
	errWrongGame = errors.New("token not valid for this game")
)

// checkLabels validates room labels: at most maxLabels, keys of 1-32 bytes of A-Z a-z 0-9 - _
// ., values of at most 64 bytes.
func checkLabels(l map[string]string) error {
	if len(l) > maxLabels {
		return fmt.Errorf("%w: %d labels, at most %d", errBadLabels, len(l), maxLabels)
	}
	for k, v := range l {
		if len(k) > maxLabelKey || !validRoomID(k) {
			return fmt.Errorf("%w: key %q (1-%d of A-Z a-z 0-9 - _ .)", errBadLabels, k, maxLabelKey)
		}
		if len(v) > maxLabelValue {
			return fmt.Errorf("%w: value of %q longer than %d bytes", errBadLabels, k, maxLabelValue)
		}
	}
	return nil
}

// hasLabels reports whether every pair of want is among the room's labels.
func (r *Room) hasLabels(want map[string]string) bool {
	for k, v := range want {
		if got, ok := r.labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// taken is the seats quick play counts as used: the room's players and spectators (every
// connection holds a seat of -max-players) and the joins promised to it.
func (r *Room) taken() int {
	return int(r.nPlayers.Load()) + int(r.nSpectators.Load()) + int(r.promised.Load())
}

// free reports whether quick play may send one more player here.
func (r *Room) free(maxPlayers int) bool {
	p := int(r.promised.Load())
	return r.taken() < maxPlayers && int(r.nPlayers.Load())+p < r.seats
}

// quickPlay picks the room for a quick-play join and promises it a seat: the room of game with
// the most seats taken among those with a free seat, a match not over and every label asked
// for (ties: the oldest, then the smallest id, so the choice does not depend on map order).
// With none, it creates a room with config and labels under a generated id.
func (s *Server) quickPlay(game string, labels map[string]string, config []byte) (*Room, error) {
	s.mu.Lock()
	var best *Room
	for _, r := range s.rooms {
		if r.game != game || r.over.Load() || !r.hasLabels(labels) || !r.free(s.cfg.MaxPlayers) {
			continue
		}
		if best == nil || better(r, best) {
			best = r
		}
	}
	if best != nil {
		best.promised.Add(1)
		s.mu.Unlock()
		return best, nil
	}
	s.mu.Unlock()
	r, err := s.createRoom("", game, config, maps.Clone(labels), func(r *Room) { r.promised.Add(1) })
	if err != nil {
		return nil, err
	}
	return r, nil
}

// better orders quick play's candidates: more seats taken, then older, then smaller id.
func better(a, b *Room) bool {
	if ta, tb := a.taken(), b.taken(); ta != tb {
		return ta > tb
	}
	if !a.created.Equal(b.created) {
		return a.created.Before(b.created)
	}
	return a.id < b.id
}

// releasePromised gives back the quick-play promises of the joins this tick handed to the
// engine: they are counted in nPlayers/nSpectators now (or were refused). Tick-owned.
func (r *Room) releasePromised() {
	if r.quickIn > 0 {
		r.promised.Add(-r.quickIn)
		r.quickIn = 0
	}
}
