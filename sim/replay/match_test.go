package replay

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// lookup knows arena, as the server's game registry will.
func lookup(name string) (sim.Factory, bool) {
	if name == arena.Name {
		return arena.New, true
	}
	return nil, false
}

// match is a scripted random arena match: players join, move and leave at random, drawn from a
// seeded PRNG so the same match is played every run.
type match struct {
	npcs       int    // arena config
	hz         uint32 // tick rate
	seed       uint32 // world seed
	scriptSeed uint32 // seed of the input script
	ticks      uint32
	keyEvery   uint32
	players    uint32 // player ids 1..players
	joinBelow  uint32 // per tick, an absent player joins with chance joinBelow/2^32
	leaveBelow uint32 // a present player leaves with this chance
	moveBelow  uint32 // a present player moves with this chance
	odd        bool   // sometimes send moves of absent players and joins of present ones
}

// played is a match as it was simulated and written.
type played struct {
	file    []byte
	hashes  []uint64      // by tick; [0] is the initial world's
	inputs  [][]sim.Input // by tick
	tickOff []int64       // offset of each tick's record, by tick
	kfOff   map[uint32]int64
	joined  int // distinct players that joined
}

func (m match) config() []byte {
	if m.npcs == 0 {
		return nil
	}
	return []byte(`{"npcs":` + strconv.Itoa(m.npcs) + `}`)
}

// header returns the recording header of the match for game g.
func (m match) header(g sim.Game) *pb.RecordingHeader {
	st, in := g.Schema().Proto()
	return &pb.RecordingHeader{
		FormatVersion: FormatVersion, Game: arena.Name, State: st, Input: in, Config: m.config(),
		Seed: m.seed, TickRate: m.hz, StartUnixMs: 1_700_000_000_000, Room: "golden",
		KeyframeEvery: m.keyEvery, InputsPerTick: 2,
	}
}

// script returns the inputs of every tick (index tick; [0] is empty).
func (m match) script() [][]sim.Input {
	r := sim.NewRand(m.scriptSeed)
	in := make([]bool, m.players+1)
	seq := make([]uint32, m.players+1)
	out := make([][]sim.Input, m.ticks+1)
	for t := uint32(1); t <= m.ticks; t++ {
		var ins []sim.Input
		for p := uint32(1); p <= m.players; p++ {
			switch {
			case !in[p] && r.Below(m.joinBelow):
				in[p] = true
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputJoin})
			case in[p] && r.Below(m.leaveBelow):
				in[p] = false
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputLeave})
			case in[p] && r.Below(m.moveBelow), m.odd && r.Below(1<<26):
				seq[p]++
				v := []int32{int32(r.Mod(2*arena.MaxInput+1)) - arena.MaxInput, int32(r.Mod(2*arena.MaxInput+1)) - arena.MaxInput}
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputMove, Seq: seq[p], Values: v})
			}
			if m.odd && in[p] && r.Below(1<<25) {
				ins = append(ins, sim.Input{Player: p, Kind: sim.InputJoin}) // already in: ignored
			}
		}
		out[t] = ins
	}
	return out
}

// play simulates the match and records it into w (nil: a buffer kept in the result). edit, if
// not nil, may change what is written for a tick (not what is simulated).
func (m match) play(tb testing.TB, w io.Writer, edit func(tick uint32, ins []sim.Input) []sim.Input) played {
	tb.Helper()
	g, err := arena.New(m.hz, m.config())
	require.NoError(tb, err)
	world := sim.NewWorld(g.Schema(), m.seed)
	require.NoError(tb, g.Init(world))
	var buf bytes.Buffer
	if w == nil {
		w = &buf
	}
	p := played{hashes: []uint64{world.Hash()}, inputs: m.script(), tickOff: make([]int64, m.ticks+1), kfOff: map[uint32]int64{}}
	rw, err := NewWriter(w, m.header(g))
	require.NoError(tb, err)
	joined := map[uint32]bool{}
	var reconnects []uint32
	for t := uint32(1); t <= m.ticks; t++ {
		ins := p.inputs[t]
		world.Step(g, ins)
		h := world.Hash()
		p.hashes = append(p.hashes, h)
		reconnects = reconnects[:0]
		for _, in := range ins {
			if in.Kind == sim.InputJoin {
				joined[in.Player] = true
			}
			if in.Kind == sim.InputMove && in.Seq%97 == 0 {
				reconnects = append(reconnects, in.Player) // marks for the viewer only
			}
		}
		if edit != nil {
			ins = edit(t, ins)
		}
		p.tickOff[t] = rw.Offset()
		require.NoError(tb, rw.WriteTick(t, ins, h, reconnects))
		if t%m.keyEvery == 0 {
			p.kfOff[t] = rw.Offset()
			require.NoError(tb, rw.WriteKeyframe(t, world.Save()))
		}
	}
	require.NoError(tb, rw.Close("room closed", 1_700_000_600_000))
	p.joined = len(joined)
	p.file = buf.Bytes()
	return p
}

// small is a short match with every kind of input, quick enough to cut at every byte.
func small() match {
	return match{npcs: 8, hz: 20, seed: 7, scriptSeed: 11, ticks: 60, keyEvery: 20, players: 6,
		joinBelow: 1 << 29, leaveBelow: 1 << 26, moveBelow: 1 << 31, odd: true}
}

func openBytes(tb testing.TB, b []byte) *Reader {
	tb.Helper()
	r, err := Open(bytes.NewReader(b), int64(len(b)))
	require.NoError(tb, err)
	return r
}
