package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"google.golang.org/protobuf/proto"
)

// viewFrames are one player's frames in docs/benchmark.md's scenario D (20,000 NPCs and 500
// players in a 4000-unit world, 400-unit views, 20 Hz): its welcome, its snapshot at the
// first tick, then a delta per tick, each with the view hash every hashEvery ticks.
type viewFrames struct {
	welcome, snapshot []byte
	deltas            [][]byte
}

func newViewFrames(tb testing.TB, ticks, hashEvery int) viewFrames {
	const players = 500
	g, err := arena.New(20, []byte(`{"npcs":20000,"world":4000,"view":400}`))
	require.NoError(tb, err)
	v, ok := g.(sim.Viewer)
	require.True(tb, ok, "arena with a view is a sim.Viewer")
	s := g.Schema()
	w := sim.NewWorld(s, 7)
	require.NoError(tb, g.Init(w))
	r := sim.NewRand(11)
	var inputs []sim.Input
	for p := uint32(1); p <= players; p++ {
		inputs = append(inputs, sim.Input{Player: p, Kind: sim.InputJoin})
	}
	st, in := s.Proto()
	welcome, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Welcome{Welcome: &pb.Welcome{
		PlayerId: 1, Room: "d", Game: "arena", TickRate: 20, State: st, Input: in, HashEvery: uint32(hashEvery),
	}}})
	require.NoError(tb, err)
	vf := viewFrames{welcome: welcome}
	var enc sim.Encoder
	var delta sim.Delta
	var base *sim.State
	var vb []sim.Cell
	for i := range ticks + 1 {
		w.Step(g, inputs)
		inputs = inputs[:0]
		for p := uint32(1); p <= players; p++ {
			inputs = append(inputs, sim.Input{Player: p, Kind: sim.InputMove, Seq: uint32(i + 1),
				Values: []int32{int32(r.Mod(20001)) - 10000, int32(r.Mod(20001)) - 10000}})
		}
		cur := sim.NewState(s)
		w.Snapshot(cur)
		cur.PlaceCells(v, w)
		vt := v.ViewGrid().Clean(v.View(w, 1, nil))
		var baseline uint32
		var d *sim.Delta // nil: the join's snapshot
		if base != nil {
			delta.Find(base, cur)
			d, baseline = &delta, base.Tick()
		}
		body := enc.AppendViewBody(nil, d, cur, vb, vt, int(cur.Tick())%hashEvery == 0)
		msg := append(sim.AppendFrameHeader(nil, cur.Tick(), baseline, 0, len(body)), body...)
		if base == nil {
			vf.snapshot = msg
		} else {
			vf.deltas = append(vf.deltas, msg)
		}
		base, vb = cur, vt
	}
	return vf
}

// BenchmarkHandleViewFrame is one decoding load client's work per frame in scenario D:
// decode the message, apply it to the mirror (its view: a few hundred entities) and check the
// view hash when it comes (every 20th frame). The mirror is reset with the snapshot, off the
// clock, when the frames run out.
func BenchmarkHandleViewFrame(b *testing.B) {
	vf := newViewFrames(b, 60, 20)
	c := newClient("ws://test/ws", Options{}, nil)
	require.NoError(b, c.handle(vf.welcome, time.Now()))
	total := 0
	for _, d := range vf.deltas {
		total += len(d)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i%len(vf.deltas) == 0 {
			b.StopTimer()
			c.mirror = sim.NewMirror(c.schema)
			c.frame = FrameInfo{}
			require.NoError(b, c.handle(vf.snapshot, time.Now()))
			b.StartTimer()
		}
		if err := c.handle(vf.deltas[i%len(vf.deltas)], time.Now()); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(total)/float64(len(vf.deltas)), "B/frame")
	b.ReportMetric(float64(c.Counters().HashChecks)/float64(c.Counters().Frames), "checks/frame")
	c.WithState(func(st *sim.State) { b.ReportMetric(float64(st.Len()), "held") })
}
