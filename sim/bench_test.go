package sim_test

import (
	"testing"

	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// benchWorld is a generic 1,200-entity world (without arena): positions predicted from
// velocities at 20 Hz, bouncing off the borders of [0, 100000], and about 220 velocity
// changes per tick. states holds ticks 1..65, the ring the encoder reads.
type benchWorld struct {
	s      *sim.Schema
	w      *sim.World
	states []*sim.State
}

const (
	benchEntities = 1200
	benchChanges  = 220
	benchBorder   = 100_000
)

func newBenchWorld(b *testing.B) *benchWorld {
	sb := sim.NewSchemaBuilder()
	npc := sb.Class("npc")
	x := npc.Fixed("x", 100, sim.PredictFrom("vx", 1, 20), sim.Interpolate())
	y := npc.Fixed("y", 100, sim.PredictFrom("vy", 1, 20), sim.Interpolate())
	vx := npc.Fixed("vx", 100)
	vy := npc.Fixed("vy", 100)
	hp := npc.Int("hp", sim.Range(0, 100))
	npc.Int("kind")
	s, err := sb.Build()
	if err != nil {
		b.Fatal(err)
	}
	w := sim.NewWorld(s, 7)
	r := w.Rand()
	for range benchEntities {
		e := w.Spawn(npc.Handle())
		w.Set(e, x, int32(r.Mod(benchBorder+1)))
		w.Set(e, y, int32(r.Mod(benchBorder+1)))
		w.Set(e, vx, int32(r.Mod(16001))-8000)
		w.Set(e, vy, int32(r.Mod(16001))-8000)
		w.Set(e, hp, 100)
	}
	bounce := func(p, v []int32, row int) {
		p[row] += v[row] / 20
		if p[row] < 0 || p[row] > benchBorder {
			p[row] = min(max(-p[row], p[row]), 2*benchBorder-p[row])
			v[row] = -v[row]
		}
	}
	g := &simtest.Game{S: s, StepFunc: func(w *sim.World, _ uint32, _ []sim.Input) {
		r := w.Rand()
		cx, cy, cvx, cvy, chp := w.Column(x), w.Column(y), w.Column(vx), w.Column(vy), w.Column(hp)
		for range benchChanges {
			row := r.Mod(uint32(len(cvx)))
			cvx[row], cvy[row] = int32(r.Mod(16001))-8000, int32(r.Mod(16001))-8000
		}
		for row := range cx {
			bounce(cx, cvx, row)
			bounce(cy, cvy, row)
		}
		chp[r.Mod(uint32(len(chp)))]--
	}}
	bw := &benchWorld{s: s, w: w}
	for range 65 {
		w.Step(g, nil)
		bw.states = append(bw.states, simtest.Snapshot(w))
	}
	return bw
}

func BenchmarkEncodeBody(b *testing.B) {
	bw := newBenchWorld(b)
	for _, bc := range []struct {
		name string
		gap  int // 0: full snapshot
	}{{"consecutive", 1}, {"gap=5", 5}, {"snapshot", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			var enc sim.Encoder
			dst := make([]byte, 0, 64<<10)
			total, frames := 0, 0
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				cur := bw.states[5+i%60]
				var base *sim.State
				if bc.gap > 0 {
					base = bw.states[5+i%60-bc.gap]
				}
				dst = enc.AppendBody(dst[:0], base, cur, false)
				total += len(dst)
				frames++
				i++
			}
			b.ReportMetric(float64(total)/float64(frames), "B/frame")
		})
	}
}

// BenchmarkMarshalReference is what the hand-written encoder replaces: proto.Marshal of the
// same consecutive-tick frame, already diffed into a pb.Frame (so it measures encoding alone,
// while BenchmarkEncodeBody/consecutive diffs and encodes).
func BenchmarkMarshalReference(b *testing.B) {
	bw := newBenchWorld(b)
	msg := refFrame(bw.states[9], bw.states[10], 0, false)
	dst := make([]byte, 0, 64<<10)
	opts := proto.MarshalOptions{Deterministic: true}
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = opts.MarshalAppend(dst[:0], msg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(dst)), "B/frame")
}

func BenchmarkSnapshot(b *testing.B) {
	bw := newBenchWorld(b)
	dst := sim.NewState(bw.s)
	bw.w.Snapshot(dst)
	b.ReportAllocs()
	for b.Loop() {
		bw.w.Snapshot(dst)
	}
}

func BenchmarkHash(b *testing.B) {
	bw := newBenchWorld(b)
	b.Run("world", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bw.w.Hash()
		}
	})
	b.Run("state", func(b *testing.B) {
		st := bw.states[len(bw.states)-1]
		b.ReportAllocs()
		for b.Loop() {
			st.Hash()
		}
	})
}

// BenchmarkMirrorApply decodes and applies consecutive frames (a client's work per tick); every
// 64 frames the mirror is reset with a snapshot, off the clock.
func BenchmarkMirrorApply(b *testing.B) {
	bw := newBenchWorld(b)
	var enc sim.Encoder
	snapshot := simtest.EncodeFrame(&enc, nil, bw.states[0], 0, false)
	var frames [][]byte
	total := 0
	for i := 1; i < len(bw.states); i++ {
		frames = append(frames, simtest.EncodeFrame(&enc, bw.states[i-1], bw.states[i], 0, false))
		total += len(frames[len(frames)-1])
	}
	m := sim.NewMirror(bw.s)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i%len(frames) == 0 {
			b.StopTimer()
			if _, err := m.ApplyMessage(snapshot); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if _, err := m.ApplyMessage(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(total)/float64(len(frames)), "B/frame")
}
