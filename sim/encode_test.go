package sim_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

// TestEncoderMatchesProtoMarshal compares the hand-written encoder with proto.Marshal of the
// reference frame where varints get long: ticks near 2^32, the largest seq, big bodies.
func TestEncoderMatchesProtoMarshal(t *testing.T) {
	forSeeds(t, func(t *testing.T, seed uint32) {
		w, ed := randomWorld(seed)
		ws := w.Save()
		ws.Tick = math.MaxUint32 - 8 - seed%300
		far, err := sim.LoadWorld(w.Schema(), ws)
		require.NoError(t, err)
		ed2 := simtest.NewEditor(far, seed)
		for range 1 + ed.R.Mod(40) {
			ed2.Spawn()
		}
		ed2.Tick(5)
		a := simtest.Snapshot(far)
		for range 1 + ed.R.Mod(3) {
			ed2.Tick(int(ed.R.Mod(60)))
		}
		b := simtest.Snapshot(far)
		enc := &sim.Encoder{}
		for _, seq := range []uint32{0, 1, 127, 128, math.MaxUint32} {
			for _, hash := range []bool{false, true} {
				frame(t, enc, a, b, seq, hash)
				frame(t, enc, nil, b, seq, hash)
			}
		}
	})
}

// TestSharedBody checks the server's way of framing: one body, a header per client, appended to
// whatever the buffer holds.
func TestSharedBody(t *testing.T) {
	w, ed := randomWorld(11)
	a := simtest.Snapshot(w)
	ed.Tick(30)
	b := simtest.Snapshot(w)
	var enc sim.Encoder
	body := enc.AppendBody([]byte("prefix"), a, b, true)[len("prefix"):]
	for _, seq := range []uint32{0, 5, 1 << 20} {
		buf := sim.AppendFrameHeader([]byte{0xAA}, b.Tick(), a.Tick(), seq, len(body))
		buf = append(buf, body...)
		assert.Equal(t, refBytes(a, b, seq, true), buf[1:], "seq %d", seq)
		m := mirrorOf(t, a)
		_, err := m.ApplyMessage(buf[1:])
		require.NoError(t, err)
		requireSame(t, b, m.State())
	}
	// The Encoder's scratch is reused: a second body equals the first.
	again := enc.AppendBody(nil, a, b, true)
	assert.Equal(t, body, again)
}
