package client

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/proto"
)

// TestJoinAsksForViews: every join says the client applies Frame.pieces, a spectator's join
// names the player it follows, and a reconnect follows the same player.
func TestJoinAsksForViews(t *testing.T) {
	s := newTestServer(t)
	dialTest(t, s, Options{})
	j := s.lastJoin(t)
	assert.True(t, j.GetViews(), "a player's join")
	assert.Zero(t, j.GetFollow())

	c := dialTest(t, s, Options{Spectator: true, Follow: 7})
	j = s.lastJoin(t)
	assert.True(t, j.GetViews(), "a spectator's join")
	assert.True(t, j.GetSpectator())
	assert.Equal(t, uint32(7), j.GetFollow())

	c2, err := c.Reconnect(testCtx(t))
	require.NoError(t, err)
	t.Cleanup(func() { c2.Close() })
	j = s.lastJoin(t)
	assert.True(t, j.GetViews(), "a reconnect's join")
	assert.Equal(t, uint32(7), j.GetFollow())
}

// TestWelcomeGridAndConfig: Grid and RoomConfig are the welcome's, nil and empty in a room
// whose game has no views.
func TestWelcomeGridAndConfig(t *testing.T) {
	s := newTestServer(t)
	plain := dialTest(t, s, Options{})
	assert.Nil(t, plain.Grid())
	assert.Empty(t, plain.RoomConfig())

	c := dialTest(t, s, Options{Room: "views"})
	want := &pb.ViewGrid{Width: 100000, Height: 100000, Cell: 10000, Cols: 10, Rows: 10}
	assert.True(t, proto.Equal(want, c.Grid()), "grid %v", c.Grid())
	assert.JSONEq(t, `{"view":400}`, string(c.RoomConfig()))
}

// TestHashCounters: every view hash a frame carries is checked and counted; a mismatch counts
// too (and stops the client); a count-only client checks none.
func TestHashCounters(t *testing.T) {
	s := newTestServer(t)
	c := dialTest(t, s, Options{})
	for range 4 {
		_, err := c.SendInput(10)
		require.NoError(t, err)
	}
	require.NoError(t, c.WaitTick(testCtx(t), 5))
	n := c.Counters()
	assert.Equal(t, uint64(5), n.HashChecks, "the join's snapshot and 4 deltas, each with a hash")
	assert.Zero(t, n.HashMismatches)

	co := dialTest(t, s, Options{CountOnly: true})
	_, err := co.SendInput(10)
	require.NoError(t, err)
	require.NoError(t, co.WaitTick(testCtx(t), 7))
	n = co.Counters()
	assert.Equal(t, uint64(2), n.Frames)
	assert.Zero(t, n.HashChecks, "count-only clients check nothing")

	bad := dialTest(t, s, Options{Room: "desync"})
	<-bad.Done()
	require.ErrorIs(t, bad.Err(), ErrDesync)
	n = bad.Counters()
	assert.Equal(t, uint64(1), n.HashChecks)
	assert.Equal(t, uint64(1), n.HashMismatches)
}
