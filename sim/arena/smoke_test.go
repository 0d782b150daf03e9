package arena

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

func TestSmoke(t *testing.T) {
	g, err := New(20, []byte(`{"npcs":1000}`))
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), 42)
	require.NoError(t, g.Init(w))
	var in []sim.Input
	for p := uint32(1); p <= 200; p++ {
		in = append(in, sim.Input{Player: p, Kind: sim.InputJoin})
	}
	w.Step(g, in)
	prev, cur := sim.NewState(g.Schema()), sim.NewState(g.Schema())
	w.Snapshot(prev)
	m := sim.NewMirror(g.Schema())
	var enc sim.Encoder
	body := enc.AppendBody(nil, nil, prev, true)
	msg := sim.AppendFrameHeader(nil, prev.Tick(), 0, 0, len(body))
	_, err = m.ApplyMessage(append(msg, body...))
	require.NoError(t, err)
	r := sim.NewRand(7)
	total := 0
	for tick := 0; tick < 100; tick++ {
		in = in[:0]
		for p := uint32(1); p <= 200; p++ {
			in = append(in, sim.Input{Player: p, Kind: sim.InputMove, Seq: uint32(tick + 1), Values: []int32{int32(r.Mod(20001)) - 10000, int32(r.Mod(20001)) - 10000}})
		}
		w.Step(g, in)
		w.Snapshot(cur)
		body = enc.AppendBody(body[:0], prev, cur, false)
		total += len(body)
		msg = sim.AppendFrameHeader(msg[:0], cur.Tick(), prev.Tick(), 0, len(body))
		_, err = m.ApplyMessage(append(msg, body...))
		require.NoError(t, err)
		require.Equal(t, w.Hash(), m.State().Hash())
		prev, cur = cur, prev
	}
	t.Logf("mean body %d B", total/100)
}
