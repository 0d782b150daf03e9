package server

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/server/internal/engine"
	"github.com/ticksync/ticksync/sim"
)

// TestWaker: the room stores frames without waking anyone; the waker's goroutine wakes every
// queued writer after one kick, reuses its lists, and stops when the room is done.
func TestWaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		frames, w := testFrames(t)
		wk := newWaker()
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() { wk.run(done); close(stopped) }()

		mbs := []*mailbox{newMailbox(), newMailbox(), newMailbox()}
		var first *engine.Body
		for round := uint32(1); round <= 3; round++ {
			body, _ := frames.Body(0, frames.Snapshot(w), false)
			if first == nil {
				first = body
			}
			assert.Same(t, first, body, "round %d: every reference released, one body reused", round)
			wk.mu.Lock()
			for _, m := range mbs {
				require.True(t, m.store(frame{body: body, tick: round}))
				wk.queue(m)
			}
			wk.mu.Unlock()
			frames.Release()
			synctest.Wait()
			for i, m := range mbs {
				assert.Len(t, m.notify, 0, "mailbox %d woken before the kick", i)
			}
			wk.kick()
			synctest.Wait()
			for i, m := range mbs {
				select {
				case <-m.notify:
				default:
					t.Fatalf("round %d: mailbox %d not woken", round, i)
				}
				f, ok := m.take()
				require.True(t, ok)
				assert.Equal(t, round, f.tick)
				f.body.Release()
			}
		}
		closed := newMailbox()
		closed.close()
		body, _ := frames.Body(0, frames.Snapshot(w), false)
		assert.False(t, closed.store(frame{body: body}), "a closed mailbox takes nothing")
		frames.Release()

		close(done)
		synctest.Wait()
		select {
		case <-stopped:
		default:
			t.Fatal("waker still running after done")
		}
	})
}

// testFrames returns a frame pipeline and a one-entity world to encode bodies from.
func testFrames(t *testing.T) (*engine.Frames, *sim.World) {
	b := sim.NewSchemaBuilder()
	c := b.Class("thing")
	b.InputInt("v")
	c.Int("n")
	s, err := b.Build()
	require.NoError(t, err)
	w := sim.NewWorld(s, 1)
	w.Spawn(c.Handle())
	return engine.NewFrames(4), w
}
