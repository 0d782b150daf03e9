package server

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ticksync/ticksync/sim"
)

// Seek within a replay session of a 30-minute match (36,000 ticks at 20 Hz, 1,000 NPCs and 200
// players all moving every tick, a keyframe every 200 ticks): what a viewer waits for between dropping the seek bar
// and holding the new tick's snapshot, minus the network. It is replay.Seek (keyframe, then up
// to 199 ticks re-simulated) plus the snapshot's encoding. The target is under 100 ms.
func BenchmarkReplaySeek(b *testing.B) {
	dir := b.TempDir()
	start := time.Now()
	m := recMatch{hz: 20, ticks: 30 * 60 * 20, keyEvery: 200, players: 200, npcs: 1000, seed: 3, moveAll: true}
	m.write(b, filepath.Join(dir, "long.tsrec"))
	b.Logf("30-minute recording written in %v", time.Since(start))
	srv, err := New(withArena(Config{}))
	if err != nil {
		b.Fatal(err)
	}
	rs := ReplayDir(dir)
	c := &conn{srv: srv, mb: newMailbox(), ctrl: make(chan []byte, controlSlots), closing: make(chan struct{}), gone: make(chan struct{})}
	s := &replaySession{srv: srv, c: c, rs: rs, name: "long", ctrl: make(chan replayCmd, 1), log: srv.log, speed: 100}
	if err := s.start(); err != nil {
		b.Fatal(err)
	}
	defer s.f.Close()
	seek := func(b *testing.B, next func() uint32) {
		b.ReportAllocs()
		for b.Loop() {
			if err := s.seek(next()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/seek")
	}
	b.Run("tick=35999", func(b *testing.B) { seek(b, func() uint32 { return m.ticks - 1 }) })
	b.Run("tick=random", func(b *testing.B) {
		r := sim.NewRand(1)
		seek(b, func() uint32 { return 1 + r.Mod(m.ticks) })
	})
	// The marks scan a viewer's first join of a recording pays (cached afterwards).
	b.Run("marks", func(b *testing.B) {
		for b.Loop() {
			readNotes(s.rd)
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scan")
	})
}
