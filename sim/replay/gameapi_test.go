package replay

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

func duelLookup(name string) (sim.Factory, bool) {
	if name == simtest.DuelName {
		return simtest.NewDuel, true
	}
	return nil, false
}

// duelMatch records a Duel match in which player 1 shoots at where player 2 was at its render
// tick, some ticks back: every hit depends on the history. keyframeHistory false writes
// keyframes without the past states (what a recorder unaware of History would write).
func duelMatch(t *testing.T, keyframeHistory bool) (file []byte, hashes []uint64, events int, result *sim.Result) {
	t.Helper()
	g, err := simtest.NewDuel(30, []byte(`{"hits":3,"history":8}`))
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), 5)
	require.NoError(t, g.Init(w))
	st, in := g.Schema().Proto()
	var buf bytes.Buffer
	rw, err := NewWriter(&buf, &pb.RecordingHeader{FormatVersion: FormatVersion, Game: simtest.DuelName, State: st, Input: in,
		Config: []byte(`{"hits":3,"history":8}`), Seed: 5, TickRate: 30, KeyframeEvery: 4, History: 8})
	require.NoError(t, err)
	hashes = []uint64{w.Hash()}
	for tick := uint32(1); tick <= 40 && w.Result() == nil; tick++ {
		var ins []sim.Input
		switch {
		case tick == 1:
			ins = []sim.Input{{Player: 1, Kind: sim.InputJoin, Meta: []byte(`{"name":"ann"}`)}, {Player: 2, Kind: sim.InputJoin, Meta: []byte(`{"name":"bob"}`)}}
		case tick%5 == 0:
			// Player 2 spawned at tick 1 with x 0, so after tick r its x is r-1; the shooter
			// was showing tick tick-6 (within the history of 8).
			r := tick - 6
			ins = []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: tick, Values: []int32{int32(r - 1), 2}, RenderTick: r, Subtick: 1234}}
		}
		w.Step(g, ins)
		hashes = append(hashes, w.Hash())
		events += len(w.Events())
		require.NoError(t, rw.WriteTickEvents(tick, ins, w.Hash(), nil, w.Events(), w.Result()))
		if tick%4 == 0 {
			var past []*pb.WorldState
			if keyframeHistory {
				for _, st := range w.PastStates() {
					past = append(past, st.Save())
				}
			}
			require.NoError(t, rw.WriteKeyframeHistory(tick, w.Save(), past))
		}
	}
	require.NoError(t, rw.Close("match over", 0))
	return buf.Bytes(), hashes, events, w.Result()
}

// TestHistoryReplaysExactly: a match whose hits are checked against past states verifies, and a
// seek to any tick, from a keyframe that carries the game's history, re-simulates every later
// tick exactly, hits included. The events and the result are recorded and Info shows them.
func TestHistoryReplaysExactly(t *testing.T) {
	file, hashes, events, result := duelMatch(t, true)
	require.NotNil(t, result, "player 1 won by hits checked against the past")
	assert.Equal(t, []uint32{1}, result.Winners)
	assert.Equal(t, 6, events, "three hits, each an event to everyone and one to the shooter")
	r := openBytes(t, file)
	require.NoError(t, Verify(r, duelLookup, nil))

	info, err := r.Info()
	require.NoError(t, err)
	assert.Equal(t, events, info.Events)
	require.NotNil(t, info.Result)
	assert.Equal(t, "player 1 wins", info.Result.GetSummary())
	assert.Equal(t, result.Tick, info.Result.GetTick())

	evs, res, err := r.Events()
	require.NoError(t, err)
	require.Len(t, evs, events)
	assert.Equal(t, []uint32{1}, evs[1].GetTo(), "the second event of a hit is the shooter's own")
	assert.Equal(t, []int32{1, 2}, evs[0].GetValues())
	assert.Equal(t, result.Tick, res.GetTick())

	last := r.LastTick()
	for tick := uint32(0); tick <= last; tick++ {
		w, g, err := Seek(r, duelLookup, tick)
		require.NoError(t, err, "seek %d", tick)
		require.Equal(t, hashes[tick], w.Hash(), "seek %d", tick)
		it := r.Ticks(tick + 1)
		for it.Next() {
			w.Step(g, it.Inputs())
			require.Equal(t, hashes[w.Tick()], w.Hash(), "seek %d, then tick %d", tick, w.Tick())
		}
		require.NoError(t, it.Err())
	}
}

// TestKeyframeWithoutHistoryRefused: a keyframe that lacks the past states the game reads
// cannot be seeked from (it would re-simulate hits differently), and says why.
func TestKeyframeWithoutHistoryRefused(t *testing.T) {
	file, _, _, _ := duelMatch(t, false)
	r := openBytes(t, file)
	require.NoError(t, Verify(r, duelLookup, nil), "verify re-simulates from the start: no keyframe needed")
	_, _, err := Seek(r, duelLookup, 9)
	require.ErrorIs(t, err, sim.ErrBadState)
	assert.Contains(t, err.Error(), "past states")
}

// TestVerifyChecksEvents: a recording whose events differ from the re-simulated ones fails
// verification at that tick, even though every hash agrees.
func TestVerifyChecksEvents(t *testing.T) {
	g, err := simtest.NewDuel(30, nil)
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), 1)
	st, in := g.Schema().Proto()
	var buf bytes.Buffer
	rw, err := NewWriter(&buf, &pb.RecordingHeader{FormatVersion: FormatVersion, Game: simtest.DuelName, State: st, Input: in, Seed: 1, TickRate: 30, KeyframeEvery: 100})
	require.NoError(t, err)
	for tick := uint32(1); tick <= 3; tick++ {
		w.Step(g, nil)
		var fake []sim.Event
		if tick == 2 {
			fake = []sim.Event{{Kind: simtest.EventHit, Values: []int32{1, 2}}}
		}
		require.NoError(t, rw.WriteTickEvents(tick, nil, w.Hash(), nil, fake, nil))
	}
	require.NoError(t, rw.Close("closed", 0))
	err = Verify(openBytes(t, buf.Bytes()), duelLookup, nil)
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, uint32(2), me.Tick)
	assert.Contains(t, err.Error(), "1 game events recorded, 0 re-simulated")
}
