package engine

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// eventsOf decodes a frame's extra fields.
func eventsOf(t *testing.T, f *Frame) (ticks []uint32, res *pb.MatchResult) {
	t.Helper()
	var fr pb.Frame
	require.NoError(t, proto.Unmarshal(f.Extra, &fr))
	for _, ev := range fr.GetEvents() {
		ticks = append(ticks, ev.GetTick())
	}
	return ticks, fr.GetResult()
}

// TestEventsSurviveCoalescing: a game emits an event every tick, one to everyone and every
// third one to player 1 only. A client whose writer takes only some frames (the others are
// replaced in its mailbox, its baseline stays) still gets every event addressed to it exactly
// once, in order, across the frames it took; a spectator gets only the events for everyone.
func TestEventsSurviveCoalescing(t *testing.T) {
	b := sim.NewSchemaBuilder()
	b.Class("thing").Int("n")
	s, err := b.Build()
	require.NoError(t, err)
	g := &simtest.Game{S: s, StepFunc: func(w *sim.World, tick uint32, _ []sim.Input) {
		w.Emit(sim.Event{Kind: 1, Values: []int32{int32(tick)}})
		if tick%3 == 0 {
			w.Emit(sim.Event{Kind: 2, To: []uint32{1}})
		}
		if tick == 40 {
			w.End(sim.Result{Summary: "over"})
		}
	}}
	w := sim.NewWorld(s, 1)
	e, err := New(Config{MaxLag: 1000}, g, w)
	require.NoError(t, err)
	p, spec := NewClient("p"), NewClient("s")
	e.Join(p, JoinReq{Player: 1})
	e.Join(spec, JoinReq{Spectator: true})
	now := time.Unix(0, 0)
	took := map[*Client][]uint32{}
	var results int
	for tick := uint32(1); tick <= 40; tick++ {
		rd := e.Tick(now, nil)
		for i := range rd.Frames {
			f := &rd.Frames[i]
			// The player's writer takes every fifth frame; the spectator's every second.
			every := uint32(5)
			if f.Client == spec {
				every = 2
			}
			if tick%every != 0 && tick != 40 {
				continue // replaced in the mailbox: the baseline stays
			}
			ticks, res := eventsOf(t, f)
			took[f.Client] = append(took[f.Client], ticks...)
			if res != nil {
				results++
				assert.Equal(t, uint32(40), res.GetTick())
			}
			f.Client.Ack(f.Tick)
		}
		e.Advance()
	}
	assert.Equal(t, 2, results, "both clients got the result")
	var wantP, wantS []uint32
	for tick := uint32(1); tick <= 40; tick++ {
		wantP, wantS = append(wantP, tick), append(wantS, tick)
		if tick%3 == 0 {
			wantP = append(wantP, tick)
		}
	}
	assert.Equal(t, wantP, took[p], "every event once, in order")
	assert.Equal(t, wantS, took[spec], "a spectator gets the events for everyone")
}

// TestJoinFilterAndRenderTicks: the game's AcceptJoin refuses with its reason before a seat or
// a player id is taken; a move's render tick is clamped to the ticks the World keeps.
func TestJoinFilterAndRenderTicks(t *testing.T) {
	g, err := simtest.NewDuel(30, []byte(`{"history":4}`))
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), 1)
	e, err := New(Config{}, g, w)
	require.NoError(t, err)
	bad, good := NewClient("m"), NewClient("a")
	e.Join(bad, JoinReq{Meta: []byte(`{"name":"mallory"}`)})
	e.Join(good, JoinReq{Meta: []byte(`{"name":"ann"}`)})
	rd := e.Tick(time.Unix(0, 0), nil)
	require.Len(t, rd.Closes, 1)
	var re *RefusedError
	require.ErrorAs(t, rd.Closes[0].Err, &re)
	assert.Equal(t, "mallory may not play", re.Reason)
	require.Len(t, rd.Welcomes, 1)
	assert.Equal(t, uint32(1), rd.Welcomes[0].Player, "the refused join took no player id")
	assert.Equal(t, []byte(`{"name":"ann"}`), rd.Inputs[0].Meta)
	e.Advance()
	for range 9 {
		e.Tick(time.Unix(0, 0), nil)
		e.Advance()
	}
	in := e.SeatOf(1).Inbox()
	for i, rt := range []uint32{0, 2, 8, 10, 99} {
		_, err := in.PushWhen(uint32(i+1), When{RenderTick: rt, Subtick: 7}, []int32{0, 0}, time.Time{})
		require.NoError(t, err)
	}
	var got []uint32
	for range 3 {
		rd = e.Tick(time.Unix(0, 0), nil)
		for _, in := range rd.Inputs {
			got = append(got, in.RenderTick)
			assert.Equal(t, uint16(7), in.Subtick)
		}
		e.Advance()
	}
	// Applied at ticks 11 and 12 (two per tick), then 13: the World keeps ticks t-4 … t-1.
	assert.Equal(t, []uint32{0, 7, 8, 10, 12}, got)
}

// oneSeat is a game that takes one player: it counts the seats the World shows (none here)
// plus the joins already accepted in this tick.
type oneSeat struct{ simtest.Game }

func (g *oneSeat) AcceptJoin(_ *sim.World, j sim.JoinRequest) error {
	if len(j.Pending) > 0 {
		return errors.New("one player only")
	}
	return nil
}

// TestJoinFilterSeesPending: two joins in one tick; the game sees the first (accepted, not yet
// stepped) when it decides the second.
func TestJoinFilterSeesPending(t *testing.T) {
	b := sim.NewSchemaBuilder()
	b.Class("thing").Int("n")
	s, err := b.Build()
	require.NoError(t, err)
	e, err := New(Config{}, &oneSeat{simtest.Game{S: s}}, sim.NewWorld(s, 1))
	require.NoError(t, err)
	e.Join(NewClient("a"), JoinReq{Meta: []byte("a")})
	e.Join(NewClient("b"), JoinReq{Meta: []byte("b")})
	rd := e.Tick(time.Unix(0, 0), nil)
	require.Len(t, rd.Welcomes, 1)
	require.Len(t, rd.Closes, 1)
	assert.EqualError(t, rd.Closes[0].Err, "one player only")
}
