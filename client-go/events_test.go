package client

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
)

// TestKeepEventsOnce: a frame carries the events of every tick after its baseline, so frames
// built before the server saw the previous one taken repeat them; the client keeps each once,
// in order, and the first result. A snapshot back in time (a replay seek) starts again.
func TestKeepEventsOnce(t *testing.T) {
	ev := func(tick, kind uint32) *pb.GameEvent { return &pb.GameEvent{Tick: tick, Kind: kind} }
	res := &pb.MatchResult{Tick: 7, Summary: "done"}
	c := newClient("ws://x/ws", Options{}, nil)
	apply := func(base, tick uint32, evs []*pb.GameEvent, r *pb.MatchResult) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.keepEventsLocked(&pb.Frame{Tick: tick, BaselineTick: base, Events: evs, Result: r})
		c.frame.Tick = tick
	}
	kinds := func() (out []uint32) {
		for _, e := range c.Events() {
			out = append(out, e.GetTick()*10+e.GetKind())
		}
		return out
	}
	apply(0, 3, []*pb.GameEvent{ev(2, 1), ev(3, 1), ev(3, 2)}, nil) // the join's snapshot
	apply(3, 4, []*pb.GameEvent{ev(4, 1)}, nil)
	apply(3, 5, []*pb.GameEvent{ev(4, 1), ev(5, 1)}, nil) // baseline 3 still: tick 4 again
	apply(3, 6, []*pb.GameEvent{ev(4, 1), ev(5, 1)}, nil)
	assert.Equal(t, []uint32{21, 31, 32, 41, 51}, kinds())
	assert.Nil(t, c.Result())
	apply(6, 7, []*pb.GameEvent{ev(7, 3)}, res)
	apply(6, 7, []*pb.GameEvent{ev(7, 3)}, &pb.MatchResult{Tick: 7, Summary: "again"})
	assert.Equal(t, []uint32{21, 31, 32, 41, 51, 73}, kinds())
	assert.Same(t, res, c.Result(), "the first result is kept")
	assert.Equal(t, []uint32{73}, []uint32{c.EventsSince(5)[0].GetTick()*10 + 3})
	assert.Nil(t, c.EventsSince(6))
	assert.Len(t, c.EventsSince(-1), 6)

	got := c.Events()
	got[0] = nil // a copy: the client's list is unchanged
	assert.Equal(t, uint32(2), c.Events()[0].GetTick())

	apply(0, 2, []*pb.GameEvent{ev(2, 1)}, nil) // a seek back: the replayed events count again
	assert.Equal(t, []uint32{21, 31, 32, 41, 51, 73, 21}, kinds())

	require.NoError(t, c.WaitEvents(context.Background(), 7))
	r, err := c.WaitResult(context.Background())
	require.NoError(t, err)
	assert.Same(t, res, r)
}

// TestReconnectKeepsEvents: a Reconnect's client goes on with the old one's events, result and
// the tick through which it kept them (its first frame may have moved that on already), so a
// match's events stay listed once.
func TestReconnectKeepsEvents(t *testing.T) {
	s := newTestServer(t)
	c := dialTest(t, s, Options{})
	require.NoError(t, c.WaitTick(testCtx(t), 1))
	res := &pb.MatchResult{Tick: 1}
	c.mu.Lock()
	c.keepEventsLocked(&pb.Frame{Tick: 1, Events: []*pb.GameEvent{{Tick: 1, Kind: 9}}, Result: res})
	c.mu.Unlock()
	c2, err := c.Reconnect(testCtx(t))
	require.NoError(t, err)
	t.Cleanup(func() { c2.Close() })
	require.NoError(t, c2.WaitEvents(testCtx(t), 1))
	assert.Equal(t, c.Events(), c2.Events())
	assert.Same(t, res, c2.Result())
	c2.mu.Lock()
	assert.GreaterOrEqual(t, c2.eventsThrough, uint32(1), "events of ticks kept before are not kept again")
	c2.mu.Unlock()
}

// TestInputRenderTick: SendInput's render tick is the client's tick (the newest frame is what
// the Go client shows), with sub-tick 0; SendInputAt sends its own.
func TestInputRenderTick(t *testing.T) {
	s := newTestServer(t)
	c := dialTest(t, s, Options{})
	require.NoError(t, c.WaitTick(testCtx(t), 1))
	seq, err := c.SendInput(50)
	require.NoError(t, err)
	require.NoError(t, c.WaitFrame(testCtx(t), func(_ *sim.State, f FrameInfo) bool { return f.LastInputSeq >= seq }))
	seq, err = c.SendInputAt(7, 40000, -50)
	require.NoError(t, err)
	require.NoError(t, c.WaitFrame(testCtx(t), func(_ *sim.State, f FrameInfo) bool { return f.LastInputSeq >= seq }))
	s.mu.Lock()
	defer s.mu.Unlock()
	require.Len(t, s.inputs, 2)
	assert.Equal(t, uint32(1), s.inputs[0].GetRenderTick(), "the tick the client held")
	assert.Zero(t, s.inputs[0].GetSubtick())
	assert.Equal(t, []int32{50}, s.inputs[0].GetValues())
	assert.Equal(t, uint32(7), s.inputs[1].GetRenderTick())
	assert.Equal(t, uint32(40000), s.inputs[1].GetSubtick())
	assert.Equal(t, []int32{-50}, s.inputs[1].GetValues())
}
