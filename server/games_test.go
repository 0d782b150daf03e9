package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// arenaGames returns a registry holding arena, the game the server's tests play: the server
// itself knows no game.
func arenaGames() *Registry {
	r := NewRegistry()
	if err := r.Register(arena.Name, arena.New); err != nil {
		panic(err)
	}
	return r
}

// withArena returns cfg with Games set to arenaGames when the test left it unset.
func withArena(cfg Config) Config {
	if cfg.Games == nil {
		cfg.Games = arenaGames()
	}
	return cfg
}

// playerEntities counts entities of the game's "player" class (arena's; takes the tick lock).
func (r *Room) playerEntities() int {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	c, ok := r.schema.ClassByName("player")
	if !ok {
		return 0
	}
	return len(r.eng.World().Entities(c))
}

// TestRegistryStartsEmpty: NewRegistry and the zero Registry know no game, and both take
// registrations.
func TestRegistryStartsEmpty(t *testing.T) {
	for name, r := range map[string]*Registry{"NewRegistry": NewRegistry(), "zero": {}} {
		assert.Empty(t, r.Names(), name)
		_, ok := r.Lookup(arena.Name)
		assert.False(t, ok, name)
		require.NoError(t, r.Register(arena.Name, arena.New), name)
		require.Error(t, r.Register(arena.Name, arena.New), "%s: a name registers once", name)
		require.Error(t, r.Register("", arena.New), name)
		require.Error(t, r.Register("x", nil), name)
		f, ok := r.Lookup(arena.Name)
		assert.True(t, ok, name)
		assert.NotNil(t, f, name)
		assert.Equal(t, []string{arena.Name}, r.Names(), name)
	}
}

// TestDefaultGame: a create that names no game runs the registry's only game; with none or
// several there is nothing to guess, and the create is refused as an unknown game.
func TestDefaultGame(t *testing.T) {
	two := arenaGames()
	require.NoError(t, two.Register("other", func(hz uint32, cfg []byte) (sim.Game, error) { return arena.New(hz, cfg) }))
	for _, tc := range []struct {
		name  string
		games *Registry
		want  string
	}{
		{"none", NewRegistry(), ""},
		{"one", arenaGames(), arena.Name},
		{"two", two, ""},
	} {
		s, err := New(Config{ManualTicks: true, Games: tc.games})
		require.NoError(t, err)
		assert.Equal(t, tc.want, s.defaultGame(), tc.name)
		r, err := s.CreateRoom("", s.defaultGame(), nil)
		if tc.want == "" {
			assert.ErrorIs(t, err, ErrUnknownGame, tc.name)
			code, _ := closeFor(err)
			assert.Equal(t, uint16(CodeRoomNotFound), code, "%s: a join-create closes 4004", tc.name)
		} else {
			require.NoError(t, err, tc.name)
			assert.Equal(t, tc.want, r.game, tc.name)
		}
		require.NoError(t, s.Shutdown(t.Context()))
	}
}

// TestJoinCreateDefaultGame: over a socket, a join-create naming no game gets the only
// registered game, and closes 4004 on a server with no game to pick.
func TestJoinCreateDefaultGame(t *testing.T) {
	empty := startServer(t, Config{TickRate: 20, Games: NewRegistry()}, nil)
	c := empty.dial(t, dialOpts{})
	c.join(&pb.Join{Room: "r", CreateIfMissing: true})
	code, _ := c.waitClose()
	assert.Equal(t, uint16(CodeRoomNotFound), code)
	_, ok := empty.Room("r")
	assert.False(t, ok, "no room was made")

	one := startServer(t, Config{TickRate: 20}, nil) // arena only
	c = one.dial(t, dialOpts{})
	c.join(&pb.Join{Room: "r", CreateIfMissing: true})
	c.waitFor("welcome", func(c *tclient) bool { return c.welcome != nil })
	assert.Equal(t, arena.Name, c.welcome.GetGame())
}

// Room test hooks (they take the tick lock).

// seatsSnapshot returns the seat of player id (tests; takes the tick lock).
func (r *Room) seatsSnapshot(id uint32) *engine.Seat {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	return r.eng.SeatOf(id)
}

func (r *Room) clientCount() int {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	return r.eng.Clients()
}

func (r *Room) stateHash() uint64 {
	r.tickMu.Lock()
	defer r.tickMu.Unlock()
	return r.eng.World().Hash()
}
