package client

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the seed corpus under testdata/fuzz")

// fuzzMessages are valid server messages for the ball game: a welcome, a snapshot at tick 1,
// deltas 1→2 (predicted) and 2→5 (a gap, with a spawn and a despawn), and the other kinds.
type fuzzMessages struct {
	welcome, snapshot, delta, gap []byte
	others                        [][]byte
}

func newFuzzMessages(t testing.TB) fuzzMessages {
	g := newBallGame(t)
	w := sim.NewWorld(g.s, 3)
	require.NoError(t, g.Init(w))
	var states []*sim.State
	for range 5 {
		w.Step(g, []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: uint32(len(states) + 1), Values: []int32{-250}}})
		st := sim.NewState(g.s)
		w.Snapshot(st)
		states = append(states, st)
	}
	var enc sim.Encoder
	marshal := func(m *pb.ServerMessage) []byte {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return b
	}
	return fuzzMessages{
		welcome:  marshal(g.welcomeMsg(1, 1, false)),
		snapshot: encodeFrame(&enc, nil, states[0], 1, true),
		delta:    encodeFrame(&enc, states[0], states[1], 2, true),
		gap:      encodeFrame(&enc, states[1], states[4], 5, false),
		others: [][]byte{
			marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Pong{Pong: &pb.Pong{ClientTimeUs: 5, ServerTimeUs: 9, Tick: 3}}}),
			marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Kick{Kick: &pb.Kick{Code: 4010, Reason: "replaced"}}}),
			marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Stats{Stats: &pb.Stats{
				Ticks: []*pb.TickWork{{Tick: 1, StepNs: 1000}}, Holds: []*pb.InputHold{{WaitUs: 3, HoldUs: 4}},
			}}}),
			marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_ReplayStatus{ReplayStatus: &pb.ReplayStatus{
				Tick: 4, LastTick: 9, Playing: true, SpeedPct: 100, Marks: []*pb.ReplayMark{{Tick: 1, Kind: pb.ReplayMarkKind_REPLAY_MARK_KIND_JOIN, Player: 1}},
			}}}),
			{},
			{0x12, 0x00},
			{0x12, 0x02, 0x08, 0x00},
		},
	}
}

// welcomed returns a fresh client (no socket) that has handled the welcome and the snapshot.
func (fm fuzzMessages) welcomed(t testing.TB, countOnly bool) *Client {
	c := newClient("ws://test/ws", Options{CountOnly: countOnly, OnInputApplied: func(uint32, time.Duration) {}}, nil)
	require.NoError(t, c.handle(fm.welcome, time.Now()))
	require.NoError(t, c.handle(fm.snapshot, time.Now()))
	return c
}

func TestHandleSequence(t *testing.T) {
	fm := newFuzzMessages(t)
	for _, countOnly := range []bool{false, true} {
		c := fm.welcomed(t, countOnly)
		require.NoError(t, c.handle(fm.delta, time.Now()))
		require.Error(t, c.handle(fm.delta, time.Now()), "a delta from a tick the client left behind")
		c = fm.welcomed(t, countOnly)
		require.NoError(t, c.handle(fm.delta, time.Now()))
		require.NoError(t, c.handle(fm.gap, time.Now()))
		for _, m := range fm.others[:4] {
			require.NoError(t, c.handle(m, time.Now()))
		}
		require.ErrorIs(t, c.handle(fm.others[4], time.Now()), ErrProtocol, "empty message: no kind")
		require.ErrorIs(t, c.handle(fm.welcome, time.Now()), ErrProtocol, "second welcome")
		fi := c.LastFrame()
		require.Equal(t, FrameInfo{Tick: 5, BaselineTick: 2, LastInputSeq: 5, Bytes: len(fm.gap)}, fi)
		require.Equal(t, "replaced", c.Kick().GetReason())
		require.Equal(t, uint32(9), c.ReplayStatus().GetLastTick())

		fresh := newClient("ws://test/ws", Options{CountOnly: countOnly}, nil)
		require.ErrorIs(t, fresh.handle(fm.snapshot, time.Now()), ErrProtocol, "frame before the welcome")
	}
}

func FuzzServerMessage(f *testing.F) {
	fm := newFuzzMessages(f)
	seeds := append([][]byte{fm.welcome, fm.snapshot, fm.delta, fm.gap}, fm.others...)
	if *update {
		dir := filepath.Join("testdata", "fuzz", "FuzzServerMessage")
		require.NoError(f, os.MkdirAll(dir, 0o755))
		for i, b := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			require.NoError(f, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644))
		}
	}
	for _, b := range seeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		now := time.Now()
		var infos [2]FrameInfo
		var ok [2]bool
		for i, countOnly := range []bool{false, true} {
			// As the first message, then followed by a snapshot.
			fresh := newClient("ws://test/ws", Options{CountOnly: countOnly}, nil)
			_ = fresh.handle(b, now)
			_ = fresh.handle(fm.snapshot, now)
			_ = fresh.State()

			// After the welcome and the snapshot.
			c := fm.welcomed(t, countOnly)
			err := c.handle(b, now)
			if st := c.State(); st != nil {
				_ = st.Hash()
			}
			infos[i], ok[i] = c.LastFrame(), err == nil
		}
		// The CountOnly reader agrees with the full decoder on every frame both accept.
		if ok[0] && ok[1] && infos[0] != infos[1] {
			t.Fatalf("full decode %+v, count-only %+v", infos[0], infos[1])
		}
	})
}
