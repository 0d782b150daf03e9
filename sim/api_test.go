package sim_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// TestPastWindow: a Historian's World keeps exactly History past states; during Step of tick t
// it reads t-History … t-1, nothing older, nothing not yet stepped.
func TestPastWindow(t *testing.T) {
	g, err := simtest.NewDuel(30, []byte(`{"history":4}`))
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), 1)
	require.NoError(t, g.Init(w))
	w.Step(g, []sim.Input{{Player: 7, Kind: sim.InputJoin}})
	for range 9 {
		w.Step(g, nil)
	}
	require.Equal(t, uint32(10), w.Tick())
	for tick := uint32(0); tick <= 12; tick++ {
		st := w.Past(tick)
		if tick >= 7 && tick <= 10 {
			require.NotNil(t, st, "tick %d", tick)
			assert.Equal(t, tick, st.Tick())
			assert.Equal(t, int32(tick-1), st.Value(1, fieldOf(t, g.Schema(), "marker", "x")), "tick %d", tick)
		} else {
			assert.Nil(t, st, "tick %d", tick)
		}
	}
	past := w.PastStates()
	require.Len(t, past, 3, "History-1 states before the world's own")
	assert.Equal(t, uint32(7), past[0].Tick())

	// A world without a Historian keeps nothing.
	a := simtest.Game{S: g.Schema()}
	w2 := sim.NewWorld(g.Schema(), 1)
	w2.Step(&a, nil)
	assert.Nil(t, w2.Past(1))
	assert.Nil(t, w2.PastStates())
	assert.Equal(t, 0, sim.HistoryDepth(&a))
	assert.Equal(t, 4, sim.HistoryDepth(g))
}

func fieldOf(t *testing.T, s *sim.Schema, class, field string) sim.Field {
	t.Helper()
	c, ok := s.ClassByName(class)
	require.True(t, ok)
	f, ok := s.FieldByName(c, field)
	require.True(t, ok)
	return f
}

// TestEmitAndEnd: events are copied, last one Step only, in order; End keeps the first result
// and stamps its tick.
func TestEmitAndEnd(t *testing.T) {
	s := simtest.Game{}
	b := sim.NewSchemaBuilder()
	b.Class("thing").Int("n")
	sch, err := b.Build()
	require.NoError(t, err)
	s.S = sch
	vals := []int32{1, 2}
	s.StepFunc = func(w *sim.World, tick uint32, _ []sim.Input) {
		if tick == 1 {
			w.Emit(sim.Event{Kind: 1, Values: vals, To: []uint32{3}})
			vals[0] = 99 // the World kept a copy
			w.Emit(sim.Event{Kind: 2, Data: []byte("x")})
		}
		if tick == 2 {
			w.End(sim.Result{Winners: []uint32{3}, Summary: "first"})
			w.End(sim.Result{Summary: "second"})
		}
	}
	w := sim.NewWorld(sch, 1)
	w.Step(&s, nil)
	require.Len(t, w.Events(), 2)
	assert.Equal(t, []int32{1, 2}, w.Events()[0].Values)
	assert.Equal(t, []uint32{3}, w.Events()[0].To)
	assert.Equal(t, uint32(2), w.Events()[1].Kind)
	assert.Nil(t, w.Result())
	w.Step(&s, nil)
	assert.Empty(t, w.Events(), "events last one Step")
	require.NotNil(t, w.Result())
	assert.Equal(t, "first", w.Result().Summary)
	assert.Equal(t, uint32(2), w.Result().Tick)
}

// TestAppendEventIsProto: the hand-written Frame.events and Frame.result fields are what
// proto.Marshal writes for the same Frame.
func TestAppendEventIsProto(t *testing.T) {
	evs := []sim.Event{
		{Kind: 1, Values: []int32{-5, 7, 1 << 30}},
		{Kind: 300, Data: []byte("goal"), To: []uint32{2, 9}},
		{},
	}
	res := &sim.Result{Tick: 77, Winners: []uint32{2, 4}, Summary: "blue wins 3-1", Data: []byte(`{"blue":3}`)}
	var got []byte
	want := &pb.Frame{}
	for i := range evs {
		got = sim.AppendEvent(got, 40+uint32(i), &evs[i], false)
		pe := sim.EventProto(40+uint32(i), &evs[i])
		pe.To = nil // frames do not carry recipients
		want.Events = append(want.Events, pe)
	}
	got = sim.AppendResult(got, res)
	want.Result = sim.ResultProto(res)
	wb, err := proto.Marshal(want)
	require.NoError(t, err)
	assert.Equal(t, wb, got)

	withTo := sim.AppendEvent(nil, 3, &evs[1], true)
	var f pb.Frame
	require.NoError(t, proto.Unmarshal(withTo, &f))
	assert.Equal(t, []uint32{2, 9}, f.GetEvents()[0].GetTo())
}

// TestRestoreHistoryChecks: past states must be of ticks the next Step may read.
func TestRestoreHistoryChecks(t *testing.T) {
	g, err := simtest.NewDuel(30, []byte(`{"history":4}`))
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), 1)
	for range 10 {
		w.Step(g, nil)
	}
	old := sim.NewState(g.Schema())
	w2 := sim.NewWorld(g.Schema(), 1)
	for range 5 {
		w2.Step(g, nil)
	}
	w2.Snapshot(old) // tick 5: too old for a world at 10 with History 4
	require.ErrorIs(t, w.RestoreHistory(g, []*sim.State{old}), sim.ErrBadState)
	require.NoError(t, w.RestoreHistory(g, w.PastStates()))
	assert.NotNil(t, w.Past(10))
}

// TestLoadWorldKeepsStorageOrder: a World restored from a keyframe lists each class's entities
// in the order the original did (spawn order with swap-removal on despawn), so a Step that
// iterates World.Entities steps on identically after a seek.
func TestLoadWorldKeepsStorageOrder(t *testing.T) {
	b := sim.NewSchemaBuilder()
	a := b.Class("a")
	av := a.Int("v")
	c := b.Class("c")
	c.Int("w")
	s, err := b.Build()
	require.NoError(t, err)
	g := &simtest.Game{S: s, StepFunc: func(w *sim.World, tick uint32, _ []sim.Input) {
		// Order-dependent rules: the first entity of class a doubles, the rest add their index;
		// every third tick the first one is despawned (swap-removal reorders the rest).
		for i, e := range w.Entities(a.Handle()) {
			if i == 0 {
				w.Set(e, av, w.Get(e, av)*2+1)
			} else {
				w.Set(e, av, w.Get(e, av)+int32(i))
			}
		}
		e := w.Spawn(a.Handle())
		w.Set(e, av, int32(tick))
		w.Spawn(c.Handle())
		if tick%3 == 0 {
			w.Despawn(w.Entities(a.Handle())[0])
		}
	}}
	w := sim.NewWorld(s, 1)
	for range 20 {
		w.Step(g, nil)
	}
	ws := w.Save()
	require.NotEmpty(t, ws.GetOrder(), "swap-removal left class a out of id order")
	r, err := sim.LoadWorld(s, ws)
	require.NoError(t, err)
	assert.Equal(t, w.Entities(a.Handle()), r.Entities(a.Handle()))
	for range 20 {
		w.Step(g, nil)
		r.Step(g, nil)
		require.Equal(t, w.Hash(), r.Hash(), "tick %d", w.Tick())
	}

	// A bad order is refused, not trusted.
	ws.Order[0], ws.Order[len(ws.Order)-1] = ws.Order[len(ws.Order)-1], ws.Order[0]
	_, err = sim.LoadWorld(s, ws)
	require.ErrorIs(t, err, sim.ErrBadState)
}
