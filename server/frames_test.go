package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

// fakeWriter plays a connection's writer without a socket: it takes the mailbox's frame,
// encodes the header the real writer would, and applies the message to a mirror.
type fakeWriter struct {
	c      *conn
	mirror *sim.Mirror
	last   frame
}

func (w *fakeWriter) write(t *testing.T) bool {
	f, ok := w.c.mb.take()
	if !ok {
		return false
	}
	msg := sim.AppendFrameHeader(nil, f.tick, f.baseline, f.lastSeq, len(f.body.B))
	msg = append(msg, f.body.B...)
	f.body.Release()
	_, err := w.mirror.ApplyMessage(msg)
	require.NoError(t, err)
	w.last = f
	return true
}

// TestFrameBaselines: clients in step share one body per tick; a client that skipped frames
// gets a delta from its own baseline while the ring holds it, a full snapshot after; each
// mirror ends bit-identical to the world.
func TestFrameBaselines(t *testing.T) {
	s, err := New(withArena(Config{TickRate: 20, ManualTicks: true, Ring: 8, MaxLag: 1 << 40}))
	require.NoError(t, err)
	r, err := s.CreateRoom("f", "arena", []byte(`{"npcs":50}`))
	require.NoError(t, err)
	ws := make([]*fakeWriter, 3)
	for i := range ws {
		c := newConn(s, nil, "", nil)
		r.enqueue(roomCmd{kind: cmdJoin, c: c})
		ws[i] = &fakeWriter{c: c, mirror: sim.NewMirror(r.schema)}
	}
	require.True(t, r.Tick())
	for _, w := range ws {
		<-w.c.ctrl
		require.True(t, w.write(t))
		assert.Zero(t, w.last.baseline, "first frame: snapshot")
	}
	inStep, lagging, gone := ws[0], ws[1], ws[2]
	for range 3 {
		r.Tick()
		f, g := inStep.c.mb.peek(), lagging.c.mb.peek()
		require.Same(t, f.body, g.body, "clients in step share the tick's body")
		assert.Equal(t, f.tick-1, f.baseline)
		require.True(t, inStep.write(t))
		require.True(t, lagging.write(t))
	}
	// lagging and gone stop writing; inStep goes on.
	base := lagging.last.tick
	for i := 0; i < 5; i++ {
		r.Tick()
		inStep.write(t)
	}
	require.True(t, lagging.write(t))
	assert.Equal(t, base, lagging.last.baseline, "delta from its own baseline (in the ring)")
	for i := 0; i < 20; i++ {
		r.Tick()
		inStep.write(t)
		lagging.write(t)
	}
	require.True(t, gone.write(t))
	assert.Zero(t, gone.last.baseline, "baseline older than the ring: full snapshot")
	h := r.stateHash()
	for _, w := range ws {
		assert.Equal(t, h, w.mirror.State().Hash())
	}
	assert.Greater(t, counterValue(t, s.m.coalesced), 20.0)
}

// peek returns the pending frame without taking it.
func (m *mailbox) peek() frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.slot
}
