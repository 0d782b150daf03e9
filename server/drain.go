package server

import (
	"time"

	"github.com/ticksync/ticksync/auth"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// What a fleet manager needs of a server (package agonesmode runs one under Agones): rooms
// made for an allocation with a join deadline, the drain, a stall check and a player count.
// The room lifecycle hooks are in Config (OnRoomCreated, OnRoomClosed, OnPlayersChanged).

// RoomOptions are CreateRoomWith's extras.
type RoomOptions struct {
	// JoinDeadline, when positive, disposes of the room if nobody (player or spectator) is in
	// it that long after its creation and nobody has been yet: a room allocated for players
	// who never came. Its recording is deleted (ReasonUnjoined). Once someone has joined, the
	// room lives by the usual rules (RoomGrace).
	JoinDeadline time.Duration
}

// CreateRoomWith is CreateRoom with options.
func (s *Server) CreateRoomWith(id, game string, config []byte, o RoomOptions) (*Room, error) {
	var set func(*Room)
	if o.JoinDeadline > 0 {
		set = func(r *Room) { r.joinBy = r.created.Add(o.JoinDeadline) } // before the loop starts
	}
	return s.createRoom(id, game, config, nil, set)
}

// Drain stops the server taking anything new while the players already in finish: no new
// room (CreateRoom, POST /rooms: 503 "server draining"; a join-create or quick play: 1001
// "server draining") and no new join, a resume of a seat excepted (a resume token: players in
// live rooms reconnect as usual). /healthz answers 503 "draining". Rooms go on and are
// disposed as usual when they empty. Drain does not end: Shutdown does, when the caller has
// waited enough (docs/operations.md, "Drain"). Calling it again does nothing.
func (s *Server) Drain() {
	s.mu.Lock()
	first := !s.draining
	s.draining = true
	s.mu.Unlock()
	if first {
		s.log.Info("draining: no new rooms or joins; resumes still welcome")
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// isResume reports whether a join resumes a seat (or a spectator's session) with a resume
// token: the one kind of join a draining server takes.
func isResume(cl *auth.Claims, j *pb.Join) bool {
	return cl != nil && cl.Kind == auth.KindResume && !j.GetQuickPlay()
}

// Players returns the seats held in every room (Room.Players summed).
func (s *Server) Players() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.rooms {
		n += r.Players()
	}
	return n
}

// Stalled returns the ids of the rooms that have not finished a tick for longer than d plus
// one of their tick intervals before now: a room stuck in its game's Step (or starved of CPU
// that long). Without Config.ManualTicks every live room ticks on its own, so a healthy server
// returns none.
func (s *Server) Stalled(now time.Time, d time.Duration) []string {
	var out []string
	for _, r := range s.Rooms() {
		if now.Sub(r.LastTick()) > d+time.Second/time.Duration(r.tickRate) {
			out = append(out, r.id)
		}
	}
	return out
}
