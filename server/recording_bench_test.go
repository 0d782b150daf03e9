package server

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim/replay"
)

// BenchmarkRoomTickRecording measures what recording adds to scenario B's tick: two identical
// bench rooms, one with the file recorder (fsync on, as in production), each op ticking both
// with the same inputs. The writer runs on its own goroutine and is waited for between ops,
// outside the timing. It reports both ticks' p50 and the overhead in percent.
func BenchmarkRoomTickRecording(b *testing.B) {
	recs := recorders{pace: true}
	newRec := recs.wrap(b, FileRecorderOptions{Dir: b.TempDir()})
	// One start time: both worlds get the same seed, so with the same inputs they do the same
	// work tick for tick and only the recorder differs.
	start := time.Now()
	now := func(c *Config) { c.Now = func() time.Time { return start } }
	off := newBenchRoom(b, 200, now)
	on := newBenchRoom(b, 200, now, func(c *Config) { c.NewRecorder = newRec })
	rec := recs.last()
	rec.paced.Store(false)
	var offs, ons, diffs []time.Duration
	timed := func(br *benchRoom) time.Duration {
		t0 := time.Now()
		br.r.Tick()
		return time.Since(t0)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		off.inputs()
		on.inputs()
		b.StartTimer()
		// Off first, so its tick never overlaps the writer, which wakes during the other's
		// tick (that overlap is part of recording's cost) and is waited for below.
		offs, ons = append(offs, timed(off)), append(ons, timed(on))
		b.StopTimer()
		diffs = append(diffs, ons[len(ons)-1]-offs[len(offs)-1])
		off.write()
		on.write()
		rec.waitWritten(on.r.CurrentTick())
		b.StartTimer()
	}
	b.StopTimer()
	require.NoError(b, rec.failure())
	require.Equal(b, off.r.stateHash(), on.r.stateHash(), "the two rooms did the same work")
	slices.Sort(offs)
	slices.Sort(ons)
	slices.Sort(diffs)
	p50off, p50on := offs[len(offs)/2], ons[len(ons)/2]
	b.ReportMetric(float64(p50off.Nanoseconds())/1e6, "off-p50-ms")
	b.ReportMetric(float64(p50on.Nanoseconds())/1e6, "on-p50-ms")
	// The median of paired differences: noise common to both ticks of a pair cancels.
	b.ReportMetric(100*float64(diffs[len(diffs)/2])/float64(p50off), "overhead-%")
}

// BenchmarkRecorderTick measures the recorder's whole share of the room goroutine's tick
// (Recorder.Tick: take an entry, copy 200 inputs, queue it) on scenario B's real inputs and
// state, against the tick itself. The writer is waited for outside the timing.
func BenchmarkRecorderTick(b *testing.B) {
	br := newBenchRoom(b, 200)
	r := br.r
	var recs recorders
	// No keyframes: the recorder is fed its own tick numbers (1, 2, …), which a keyframe of the
	// room's state would contradict.
	newRec := recs.wrap(b, FileRecorderOptions{Dir: b.TempDir(), KeyframeEvery: 1 << 30})
	_, err := newRec(RoomInfo{ID: "bench", Game: r.game, TickRate: 20, Schema: r.schema, Ring: r.cfg.Ring})
	require.NoError(b, err)
	rec := recs.last()
	var ticks, records time.Duration
	n := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		br.inputs()
		t0 := time.Now()
		r.Tick()
		ticks += time.Since(t0)
		br.write()
		last := r.eng.Last()
		cur := last.State
		n++
		b.StartTimer()
		t1 := time.Now()
		td := TickData{Tick: n, Inputs: last.Inputs, State: cur}
		err := rec.Tick(&td)
		records += time.Since(t1)
		b.StopTimer()
		require.NoError(b, err)
		rec.waitWritten(n)
		b.StartTimer()
	}
	b.StopTimer()
	require.NoError(b, rec.Close("done"))
	b.ReportMetric(float64(records.Nanoseconds())/float64(n)/1e3, "record-us")
	b.ReportMetric(100*float64(records)/float64(ticks), "of-tick-%")
}

// BenchmarkRecordingWriter measures the writer goroutine's work per scenario-B tick, off the
// tick path: hash the ring's state, write the tick record, and every 200th tick a keyframe and
// an fsync (amortized). It reports that work as a share of the tick it records.
func BenchmarkRecordingWriter(b *testing.B) {
	br := newBenchRoom(b, 200)
	r := br.r
	f, err := os.Create(filepath.Join(b.TempDir(), "w.tsrec"))
	require.NoError(b, err)
	defer f.Close()
	st, in := r.schema.Proto()
	w, err := replay.NewWriter(f, &pb.RecordingHeader{FormatVersion: replay.FormatVersion, Game: r.game, State: st,
		Input: in, TickRate: 20, KeyframeEvery: replay.DefaultKeyframeEvery(20)})
	require.NoError(b, err)
	for t := uint32(1); t <= r.CurrentTick(); t++ { // the bench room has warmed up: catch up
		require.NoError(b, w.WriteTick(t, nil, 0, nil))
	}
	k := replay.DefaultKeyframeEvery(20)
	var ticks, writes time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		br.inputs()
		t0 := time.Now()
		r.Tick()
		ticks += time.Since(t0)
		br.write()
		last := r.eng.Last()
		tick, cur := last.Tick, last.State
		b.StartTimer()
		t1 := time.Now()
		require.NoError(b, w.WriteTick(tick, last.Inputs, cur.Hash(), nil))
		if tick%k == 0 {
			require.NoError(b, w.WriteKeyframe(tick, cur.Save()))
			require.NoError(b, f.Sync())
		}
		writes += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(100*float64(writes)/float64(ticks), "of-tick-%")
	b.ReportMetric(float64(w.Offset())/float64(r.CurrentTick())*20*60/1024, "KiB/min")
}
