package replay

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// Scenario B (docs/benchmark.md): 1,000 NPCs and 200 players at 20 Hz, every player sending one
// input per tick with vx, vy uniform in ±100 units.
const (
	benchNPCs    = 1000
	benchPlayers = 200
	benchHz      = 20
	benchSpeed   = 100 * arena.Scale
)

// load makes scenario B's inputs: every player joins at tick 1, then moves every tick. The
// slice and its values are reused by the next call.
type load struct {
	r    sim.Rand
	ins  []sim.Input
	vals []int32
}

func newLoad() *load {
	return &load{r: sim.NewRand(5), ins: make([]sim.Input, 0, benchPlayers), vals: make([]int32, 2*benchPlayers)}
}

func (l *load) tick(t uint32) []sim.Input {
	l.ins = l.ins[:0]
	for p := uint32(1); p <= benchPlayers; p++ {
		if t == 1 {
			l.ins = append(l.ins, sim.Input{Player: p, Kind: sim.InputJoin})
			continue
		}
		v := l.vals[2*(p-1) : 2*p : 2*p]
		v[0] = int32(l.r.Mod(2*benchSpeed+1)) - benchSpeed
		v[1] = int32(l.r.Mod(2*benchSpeed+1)) - benchSpeed
		l.ins = append(l.ins, sim.Input{Player: p, Kind: sim.InputMove, Seq: t, Values: v})
	}
	return l.ins
}

// scenarioB returns the game and its world after Init.
func scenarioB(b *testing.B) (sim.Game, *sim.World, *pb.RecordingHeader) {
	cfg := []byte(`{"npcs":1000}`)
	g, err := arena.New(benchHz, cfg)
	if err != nil {
		b.Fatal(err)
	}
	w := sim.NewWorld(g.Schema(), 42)
	if err := g.Init(w); err != nil {
		b.Fatal(err)
	}
	st, in := g.Schema().Proto()
	h := &pb.RecordingHeader{FormatVersion: FormatVersion, Game: arena.Name, State: st, Input: in, Config: cfg,
		Seed: 42, TickRate: benchHz, KeyframeEvery: 200, InputsPerTick: 2}
	return g, w, h
}

// WriteTick of a scenario-B tick: 200 moves. It must not allocate.
func BenchmarkWriteTick(b *testing.B) {
	b.Run("moves=200", func(b *testing.B) {
		_, _, h := scenarioB(b)
		cw := &countingWriter{}
		w, err := NewWriter(cw, h)
		if err != nil {
			b.Fatal(err)
		}
		l := newLoad()
		ins := l.tick(2)
		start := cw.n
		tick := uint32(0)
		b.ReportAllocs()
		for b.Loop() {
			tick++
			if err := w.WriteTick(tick, ins, 0x0123456789abcdef, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cw.n-start)/float64(tick), "B/tick")
	})
}

// The recording's cost next to the tick's own work (arena's Step, scenario B). The tick pays
// only for handing the inputs to the recorder's queue ("handoff"); the recorder goroutine
// hashes the tick's state copy and writes the record ("hash+write"). Both are reported as a
// percentage of Step.
func BenchmarkRecordingOverhead(b *testing.B) {
	g, world, h := scenarioB(b)
	w, err := NewWriter(io.Discard, h)
	if err != nil {
		b.Fatal(err)
	}
	l := newLoad()
	var slot queued
	var step, handoff, record time.Duration
	tick := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		tick++
		ins := l.tick(tick)
		t0 := time.Now()
		world.Step(g, ins)
		t1 := time.Now()
		slot.set(tick, ins)
		t2 := time.Now()
		if err := w.WriteTick(slot.tick, slot.ins, world.Hash(), nil); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		step, handoff, record = step+t1.Sub(t0), handoff+t2.Sub(t1), record+t3.Sub(t2)
	}
	n := float64(tick)
	b.ReportMetric(float64(step.Nanoseconds())/n, "step-ns/tick")
	b.ReportMetric(float64(handoff.Nanoseconds())/n, "handoff-ns/tick")
	b.ReportMetric(float64(record.Nanoseconds())/n, "hash+write-ns/tick")
	b.ReportMetric(100*float64(handoff)/float64(step), "handoff-%step")
	b.ReportMetric(100*float64(record)/float64(step), "hash+write-%step")
}

// queued is one entry of a recorder's bounded queue: a copy of a tick's inputs in memory the
// entry owns, so the room can reuse its own.
type queued struct {
	tick uint32
	ins  []sim.Input
	vals []int32
}

func (q *queued) set(tick uint32, ins []sim.Input) {
	n := 0
	for i := range ins {
		n += len(ins[i].Values)
	}
	if cap(q.vals) < n {
		q.vals = make([]int32, n, 2*n)
	}
	q.tick, q.ins, q.vals = tick, append(q.ins[:0], ins...), q.vals[:n]
	at := 0
	for i := range q.ins {
		k := copy(q.vals[at:], q.ins[i].Values)
		q.ins[i].Values = q.vals[at : at+k : at+k]
		at += k
	}
}

// A keyframe of scenario B: the room saves its world on the tick path every K ticks (the
// recorder cannot: the ring's State copies hold neither the PRNG nor the free ids), then the
// recorder writes it.
func BenchmarkKeyframe(b *testing.B) {
	g, world, h := scenarioB(b)
	l := newLoad()
	for t := uint32(1); t <= 2; t++ {
		world.Step(g, l.tick(t))
	}
	b.Run("save", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = world.Save()
		}
	})
	b.Run("write", func(b *testing.B) {
		ws := world.Save()
		cw := &countingWriter{}
		b.ReportAllocs()
		for b.Loop() {
			w, err := NewWriter(io.Discard, h)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.WriteTick(1, nil, 0, nil); err != nil {
				b.Fatal(err)
			}
			ws.Tick = 1
			before := w.Offset()
			if err := w.WriteKeyframe(1, ws); err != nil {
				b.Fatal(err)
			}
			cw.n = w.Offset() - before
		}
		b.ReportMetric(float64(cw.n), "B/keyframe")
	})
}

// File size of scenario B: one minute of ticks (1,200) with a keyframe every 200.
func BenchmarkRecordingSize(b *testing.B) {
	g, world, h := scenarioB(b)
	l := newLoad()
	const minute = 60 * benchHz
	ticks := make([]queued, minute+1)
	hashes := make([]uint64, minute+1)
	kfs := map[uint32]*pb.WorldState{}
	for t := uint32(1); t <= minute; t++ {
		ins := l.tick(t)
		world.Step(g, ins)
		ticks[t].set(t, ins)
		hashes[t] = world.Hash()
		if t%200 == 0 {
			kfs[t] = world.Save()
		}
	}
	cw := &countingWriter{}
	b.ReportAllocs()
	for b.Loop() {
		cw.n = 0
		w, err := NewWriter(cw, h)
		if err != nil {
			b.Fatal(err)
		}
		for t := uint32(1); t <= minute; t++ {
			if err := w.WriteTick(t, ticks[t].ins, hashes[t], nil); err != nil {
				b.Fatal(err)
			}
			if kf := kfs[t]; kf != nil {
				if err := w.WriteKeyframe(t, kf); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := w.Close("done", 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cw.n), "B/min")
}

// Seek in a 30-minute scenario-B recording (36,000 ticks, a keyframe every 200). The worst
// case is the tick before a keyframe: 199 ticks re-simulated from the previous one.
func BenchmarkSeek(b *testing.B) {
	const ticks = 30 * 60 * benchHz
	path := filepath.Join(b.TempDir(), "b.tsrec")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	g, world, h := scenarioB(b)
	w, err := NewWriter(f, h)
	if err != nil {
		b.Fatal(err)
	}
	l := newLoad()
	for t := uint32(1); t <= ticks; t++ {
		ins := l.tick(t)
		world.Step(g, ins)
		if err := w.WriteTick(t, ins, world.Hash(), nil); err != nil {
			b.Fatal(err)
		}
		if t%200 == 0 {
			if err := w.WriteKeyframe(t, world.Save()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Close("done", 0); err != nil {
		b.Fatal(err)
	}
	size := w.Offset()
	b.Logf("30-minute scenario-B recording: %d bytes, written in %v", size, time.Since(start))
	defer f.Close()
	r, err := Open(f, size)
	if err != nil {
		b.Fatal(err)
	}
	seek := func(b *testing.B, next func(i int) uint32) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, err := Seek(r, lookup, next(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(size)/30, "B/min")
	}
	b.Run("tick=35999", func(b *testing.B) { seek(b, func(int) uint32 { return ticks - 1 }) })
	b.Run("tick=35800", func(b *testing.B) { seek(b, func(int) uint32 { return ticks - 200 }) })
	b.Run("tick=random", func(b *testing.B) {
		rnd := sim.NewRand(1)
		seek(b, func(int) uint32 { return rnd.Mod(ticks + 1) })
	})
	b.Run("verify", func(b *testing.B) { // the whole file, once per iteration: `replay verify`
		for b.Loop() {
			if err := Verify(r, lookup, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(ticks), "ticks/op")
	})
	b.Run("open+tick=17999", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := Open(f, size)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := Seek(r, lookup, ticks/2-1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}
