package replay

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// TestWriterRewind: a writer rewound to the mark of tick 30, past which it had written ticks
// and keyframes, closes into exactly the file of the same match written up to tick 30 only,
// which opens complete and verifies.
func TestWriterRewind(t *testing.T) {
	const at = 30
	m := small() // 60 ticks, a keyframe every 20: 20 before the mark, 40 and 60 after it
	short := m
	short.ticks = at
	want := short.play(t, nil, nil) // the same script, stopped at the mark

	g, err := arena.New(m.hz, m.config())
	require.NoError(t, err)
	world := sim.NewWorld(g.Schema(), m.seed)
	require.NoError(t, g.Init(world))
	var buf bytes.Buffer
	w, err := NewWriter(&buf, m.header(g))
	require.NoError(t, err)
	require.Error(t, w.Rewind(Mark{}, func(int64) error { panic("cut after a refused mark") }), "the zero mark")
	script := m.script()
	var mark, later Mark
	for tick := uint32(1); tick <= m.ticks; tick++ {
		world.Step(g, script[tick])
		require.NoError(t, w.WriteTick(tick, script[tick], world.Hash(), nil))
		if tick%m.keyEvery == 0 {
			require.NoError(t, w.WriteKeyframe(tick, world.Save()))
		}
		switch tick {
		case at:
			mark = w.Mark()
		case at + 15:
			later = w.Mark()
		}
	}
	assert.Equal(t, uint32(at), mark.Tick())

	full := buf.Len()
	errCut := errors.New("cannot truncate")
	require.ErrorIs(t, w.Rewind(mark, func(int64) error { return errCut }), errCut)
	assert.Equal(t, int64(full), w.Offset(), "a failed cut changes nothing")
	assert.Equal(t, m.ticks, w.LastTick())

	cut := func(off int64) error { buf.Truncate(int(off)); return nil }
	require.NoError(t, w.Rewind(mark, cut))
	assert.Equal(t, mark.Offset(), int64(buf.Len()), "cut to the mark")
	assert.Equal(t, uint32(at), w.LastTick())
	assert.Equal(t, mark.Offset(), w.Offset())
	require.Error(t, w.Rewind(later, cut), "a mark past the rewound end")
	assert.Equal(t, mark.Offset(), int64(buf.Len()), "not cut")
	require.Error(t, w.WriteKeyframe(at+10, world.Save()), "the writer is at tick 30 again")
	require.NoError(t, w.Close("room closed", 1_700_000_600_000))
	require.ErrorIs(t, w.Rewind(mark, cut), ErrClosed)
	assert.Equal(t, want.file, buf.Bytes(), "byte for byte the recording that stopped at the mark")

	r := openBytes(t, buf.Bytes())
	require.True(t, r.Complete(), "%v", r.Err())
	assert.Equal(t, uint32(at), r.LastTick())
	require.Len(t, r.Keyframes(), 1, "only the keyframe before the mark")
	require.NoError(t, Verify(r, lookup, nil))
}
