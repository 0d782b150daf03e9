package server

import (
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWaker: the room stores frames without waking anyone; the waker's goroutine wakes every
// queued writer after one kick, reuses its lists, and stops when the room is done.
func TestWaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := &bufPool{}
		wk := newWaker()
		done := make(chan struct{})
		stopped := make(chan struct{})
		go func() { wk.run(done); close(stopped) }()

		mbs := []*mailbox{newMailbox(), newMailbox(), newMailbox()}
		for round := uint32(1); round <= 3; round++ {
			body := pool.get()
			wk.mu.Lock()
			for _, m := range mbs {
				require.True(t, m.store(frame{body: body, tick: round}))
				wk.queue(m)
			}
			wk.mu.Unlock()
			body.release()
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
				f.body.release()
			}
		}
		assert.Len(t, pool.free, 1, "every reference released: one body, reused each round")

		closed := newMailbox()
		closed.close()
		assert.False(t, closed.store(frame{body: pool.get()}), "a closed mailbox takes nothing")

		close(done)
		synctest.Wait()
		select {
		case <-stopped:
		default:
			t.Fatal("waker still running after done")
		}
	})
}
