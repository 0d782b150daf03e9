package replay_test

import (
	"bytes"
	"fmt"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"github.com/ticksync/ticksync/sim/replay"
)

// A room records each tick's inputs and hash, a keyframe every K ticks, and closes the file;
// a reader verifies it by re-simulation.
func Example() {
	g, _ := arena.New(20, nil)
	world := sim.NewWorld(g.Schema(), 1)
	_ = g.Init(world)
	st, in := g.Schema().Proto()
	var file bytes.Buffer // the server's recorder writes an *os.File and fsyncs after keyframes
	w, err := replay.NewWriter(&file, &pb.RecordingHeader{
		FormatVersion: replay.FormatVersion, Game: arena.Name, State: st, Input: in,
		Seed: 1, TickRate: 20, KeyframeEvery: replay.DefaultKeyframeEvery(20),
	})
	if err != nil {
		panic(err)
	}
	for tick := uint32(1); tick <= 400; tick++ {
		var inputs []sim.Input
		if tick == 1 {
			inputs = []sim.Input{{Player: 7, Kind: sim.InputJoin}}
		} else if tick%20 == 0 {
			inputs = []sim.Input{{Player: 7, Kind: sim.InputMove, Seq: tick, Values: []int32{500, -300}}}
		}
		world.Step(g, inputs)
		_ = w.WriteTick(tick, inputs, world.Hash(), nil)
		if tick%replay.DefaultKeyframeEvery(20) == 0 {
			_ = w.WriteKeyframe(tick, world.Save())
		}
	}
	_ = w.Close("room closed", 0)

	r, err := replay.Open(bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		panic(err)
	}
	info, _ := r.Info()
	fmt.Println(info.Game, info.Ticks, "ticks", info.Duration, info.Players, "player", info.Keyframes, "keyframes, complete:", info.Complete)
	lookup := func(name string) (sim.Factory, bool) { return arena.New, name == arena.Name }
	fmt.Println("verify:", replay.Verify(r, lookup, nil))
	seeked, _, _ := replay.Seek(r, lookup, 333)
	fmt.Println("seek:", seeked.Tick())
	// Output:
	// arena 400 ticks 20s 1 player 2 keyframes, complete: true
	// verify: <nil>
	// seek: 333
}
