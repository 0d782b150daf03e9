package arena

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

// scenarioB is docs/benchmark.md's scenario B: 1,000 NPCs and 200 players at 20 Hz, every player's
// velocity changing every tick (uniform in ±100 units/s, as the load clients send).
type scenarioB struct {
	g      *Game
	w      *sim.World
	r      sim.Rand
	inputs []sim.Input
	vals   []int32
	seq    uint32
}

func newScenarioB(tb testing.TB) *scenarioB {
	g, w := newWorld(tb, 20, `{"npcs":1000}`, 42)
	s := &scenarioB{g: g, w: w, r: sim.NewRand(99), vals: make([]int32, 400)}
	var joins []sim.Input
	for p := uint32(1); p <= 200; p++ {
		joins = append(joins, sim.Input{Player: p, Kind: sim.InputJoin})
	}
	w.Step(g, joins)
	s.inputs = make([]sim.Input, 200)
	for i := range 50 { // warm up: maps and scratch reach their steady size
		_ = i
		s.step()
	}
	return s
}

// fresh fills this tick's inputs: one move per player with new random velocities.
func (s *scenarioB) fresh() {
	s.seq++
	for i := range s.inputs {
		s.vals[2*i] = int32(s.r.Mod(20001)) - 10000
		s.vals[2*i+1] = int32(s.r.Mod(20001)) - 10000
		s.inputs[i] = sim.Input{Player: uint32(i + 1), Kind: sim.InputMove, Seq: s.seq, Values: s.vals[2*i : 2*i+2]}
	}
}

func (s *scenarioB) step() { s.fresh(); s.w.Step(s.g, s.inputs) }

func BenchmarkStep(b *testing.B) {
	s := newScenarioB(b)
	b.ReportAllocs()
	for b.Loop() {
		s.step()
	}
}

// BenchmarkDiffEncode measures the shared delta of one scenario-B tick: snapshot into the ring's
// State, diff against the previous tick, encode. It checks its own output once, decoded into a
// mirror, against the world, so the figure is of real work.
func BenchmarkDiffEncode(b *testing.B) {
	s := newScenarioB(b)
	prev, cur := sim.NewState(s.g.Schema()), sim.NewState(s.g.Schema())
	s.w.Snapshot(prev)
	m := sim.NewMirror(s.g.Schema())
	var enc sim.Encoder
	body := enc.AppendBody(nil, nil, prev, false)
	frame := sim.AppendFrameHeader(nil, prev.Tick(), 0, 0, len(body))
	_, err := m.ApplyMessage(append(frame, body...))
	require.NoError(b, err)
	checked := false
	var bytes, frames int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s.step()
		b.StartTimer()
		s.w.Snapshot(cur)
		body = enc.AppendBody(body[:0], prev, cur, false)
		bytes += len(body)
		frames++
		if !checked {
			b.StopTimer()
			frame = sim.AppendFrameHeader(frame[:0], cur.Tick(), prev.Tick(), 0, len(body))
			_, err := m.ApplyMessage(append(frame, body...))
			require.NoError(b, err)
			require.Equal(b, s.w.Hash(), m.State().Hash(), "decoded frame reproduces the world")
			checked = true
			b.StartTimer()
		}
		prev, cur = cur, prev
	}
	b.ReportMetric(float64(bytes)/float64(frames), "B/frame")
}

// BenchmarkMirrorApply measures a client decoding and applying one scenario-B delta.
func BenchmarkMirrorApply(b *testing.B) {
	s := newScenarioB(b)
	const n = 64
	prev, cur := sim.NewState(s.g.Schema()), sim.NewState(s.g.Schema())
	s.w.Snapshot(prev)
	var enc sim.Encoder
	snap := enc.AppendBody(nil, nil, prev, false)
	snap = append(sim.AppendFrameHeader(nil, prev.Tick(), 0, 0, len(snap)), snap...)
	frames := make([][]byte, n)
	for i := range frames {
		s.step()
		s.w.Snapshot(cur)
		body := enc.AppendBody(nil, prev, cur, false)
		frames[i] = append(sim.AppendFrameHeader(nil, cur.Tick(), prev.Tick(), 0, len(body)), body...)
		prev, cur = cur, prev
	}
	want := s.w.Hash()
	m := sim.NewMirror(s.g.Schema())
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i%n == 0 {
			b.StopTimer()
			_, err := m.ApplyMessage(snap)
			require.NoError(b, err)
			b.StartTimer()
		}
		if _, err := m.ApplyMessage(frames[i%n]); err != nil {
			b.Fatal(err)
		}
		i++
		if i%n == 0 && m.State().Hash() != want {
			b.Fatal("mirror diverged")
		}
	}
}
