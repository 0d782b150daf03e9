// Command recfixture writes the replay viewer's browser test recording (e2e/replay.test.ts): a
// 200-tick arena match straight from the sim, no server, whose four marks are players joining
// and leaving at fixed ticks, two of them one tick apart, so the seek bar has marks that fall
// on the same pixel.
//
//	go run ./client-js/e2e/recfixture FILE.tsrec
package main

import (
	"fmt"
	"os"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

const (
	ticks    = 200
	tickRate = 20
	seed     = 7
)

// script is the match's joins and leaves by tick: the recording's marks.
var script = map[uint32][]sim.Input{
	1:   {{Player: 1, Kind: sim.InputJoin}},
	100: {{Player: 2, Kind: sim.InputJoin}},
	101: {{Player: 3, Kind: sim.InputJoin}},
	150: {{Player: 1, Kind: sim.InputLeave}},
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: recfixture FILE.tsrec")
		os.Exit(2)
	}
	if err := write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "recfixture:", err)
		os.Exit(1)
	}
}

// write records the scripted match to path, with a keyframe every 100 ticks.
func write(path string) error {
	g, err := arena.New(tickRate, nil)
	if err != nil {
		return err
	}
	w := sim.NewWorld(g.Schema(), seed)
	if err := g.Init(w); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, in := g.Schema().Proto()
	rw, err := replay.NewWriter(f, &pb.RecordingHeader{FormatVersion: replay.FormatVersion, Game: arena.Name, State: st,
		Input: in, Seed: seed, TickRate: tickRate, Room: "marks", KeyframeEvery: 100, StartUnixMs: 1_700_000_000_000})
	if err != nil {
		return err
	}
	for tick := uint32(1); tick <= ticks; tick++ {
		ins := script[tick]
		w.Step(g, ins)
		if err := rw.WriteTick(tick, ins, w.Hash(), nil); err != nil {
			return err
		}
		if tick%100 == 0 {
			if err := rw.WriteKeyframe(tick, w.Save()); err != nil {
				return err
			}
		}
	}
	if err := rw.Close("room closed", 1_700_000_010_000); err != nil {
		return err
	}
	return f.Close()
}
