package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
)

// viewsEngine makes an engine over arena with views.
func viewsEngine(t testing.TB, config string, cfg Config) (*Engine, sim.Viewer) {
	t.Helper()
	g, err := arena.New(20, []byte(config))
	require.NoError(t, err)
	v, ok := g.(sim.Viewer)
	require.True(t, ok, "arena with a view is a sim.Viewer")
	w := sim.NewWorld(g.Schema(), 7)
	require.NoError(t, g.Init(w))
	e, err := New(cfg, g, w)
	require.NoError(t, err)
	return e, v
}

// message is what the driver writes for f: the header, the body's slices, the extra.
func message(f *Frame) []byte {
	var bufs [][]byte
	bufs = f.Body.Buffers(bufs)
	bufs = append(bufs, f.Extra)
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	msg := sim.AppendFrameHeader(nil, f.Tick, f.Baseline, f.LastSeq, n)
	for _, b := range bufs {
		msg = append(msg, b...)
	}
	return msg
}

// TestViewsEngine runs arena with views: six players that walk about, one spectator following
// player 2 and one seeing everything. Writers take frames at random (a fixed seed), so
// baselines trail and frames are coalesced. After every frame a client applies, its mirror
// holds exactly the world's entities in the cells its player sees (the whole world for the
// plain spectator), its hash is that view's hash, and the frame's bytes are those of sim's
// one-client reference encoder: the pieces the engine shares are the ones each client would
// get alone.
func TestViewsEngine(t *testing.T) {
	e, v := viewsEngine(t, `{"npcs":400,"world":1000,"view":200,"cell":50}`, Config{HashEvery: 5, MaxLag: 1000, Ring: 8})
	grid := v.ViewGrid()
	type client struct {
		c      *Client
		player uint32 // whose eyes (0: the whole world)
		m      *sim.Mirror
		views  map[uint32][]sim.Cell
		base   uint32
		hashes int
	}
	var clients []*client
	for p := uint32(1); p <= 6; p++ {
		c := &client{c: NewClient(p), player: p}
		e.Join(c.c, JoinReq{Player: p, Views: true})
		clients = append(clients, c)
	}
	follower := &client{c: NewClient("follower"), player: 2}
	e.Join(follower.c, JoinReq{Spectator: true, Follow: 2, Views: true})
	whole := &client{c: NewClient("whole")}
	e.Join(whole.c, JoinReq{Spectator: true, Views: true})
	clients = append(clients, follower, whole)
	for _, c := range clients {
		c.m = sim.NewMirror(e.World().Schema())
		c.views = map[uint32][]sim.Cell{}
	}
	r := sim.NewRand(11)
	now := time.Unix(0, 0)
	var enc sim.Encoder
	states := map[uint32]*sim.State{}
	for tick := uint32(1); tick <= 200; tick++ {
		for _, c := range clients[:6] { // players steer now and then
			if c.c.seat != nil && r.Mod(4) == 0 {
				_, err := c.c.seat.Inbox().Push(tick, []int32{int32(r.Mod(40000)) - 20000, int32(r.Mod(40000)) - 20000}, now)
				require.NoError(t, err)
			}
		}
		rd := e.Tick(now, nil)
		require.Empty(t, rd.Closes)
		cur := rd.State
		cp := sim.NewState(cur.Schema())
		cp.CopyFrom(cur)
		states[tick] = cp
		for i := range rd.Frames {
			f := &rd.Frames[i]
			var c *client
			for _, x := range clients {
				if x.c == f.Client {
					c = x
				}
			}
			var view []sim.Cell
			if c.player != 0 {
				view = grid.Clean(v.View(e.World(), c.player, nil))
				c.views[tick] = view
			}
			if tick > 3 && r.Mod(3) == 0 {
				continue // the writer did not take it: the next frame replaces it
			}
			msg := message(f)
			if c.player != 0 {
				want := f.Baseline
				var d *sim.Delta
				if want != 0 {
					require.Equal(t, c.base, want, "a delta starts from what the client holds")
					d = &sim.Delta{}
					d.Find(states[want], cur)
				}
				body := enc.AppendViewBody(nil, d, cur, c.views[want], view, (tick+c.player)%5 == 0)
				require.Equal(t, sim.AppendFrameHeader(nil, tick, want, f.LastSeq, len(body)+len(f.Extra)), msg[:len(msg)-len(body)-len(f.Extra)], "tick %d client %d: header", tick, c.player)
				require.Equal(t, string(body), string(msg[len(msg)-len(body)-len(f.Extra):len(msg)-len(f.Extra)]), "tick %d client %d: body", tick, c.player)
			}
			got, err := c.m.ApplyMessage(msg)
			require.NoError(t, err, "tick %d client %d", tick, c.player)
			st := c.m.State()
			if c.player == 0 {
				require.Equal(t, cur.Hash(), st.Hash(), "tick %d: the plain spectator holds the world", tick)
			} else {
				h, _ := cur.ViewHash(view, nil)
				require.Equal(t, h, st.Hash(), "tick %d client %d: the mirror is the view", tick, c.player)
				for id := sim.Entity(1); id < cur.MaxID(); id++ {
					_, live := cur.ClassOf(id)
					_, held := st.ClassOf(id)
					require.Equal(t, live && sim.Sees(view, cur.CellOf(id)), held, "tick %d client %d entity %d", tick, c.player, id)
				}
				if fr := got.GetFrame(); fr.ViewHash != nil {
					require.Equal(t, h, fr.GetViewHash())
					c.hashes++
				}
			}
			f.Client.Ack(tick)
			c.base = tick
		}
		e.Advance()
		delete(states, tick-10)
		now = now.Add(50 * time.Millisecond)
	}
	for _, c := range clients[:7] {
		require.Positive(t, c.hashes, "client %d checked view hashes", c.player)
		require.Positive(t, c.m.State().Len(), "client %d holds something", c.player)
		require.Less(t, c.m.State().Len(), e.World().Len(), "client %d does not hold the whole world", c.player)
	}
}

// TestViewsNeedTheClient: a join without Views to a game with views is refused (a client that
// would misread the pieces); a spectator of the whole world needs no pieces.
func TestViewsNeedTheClient(t *testing.T) {
	e, _ := viewsEngine(t, `{"npcs":10,"view":200}`, Config{})
	old, follow, spec := NewClient("old"), NewClient("follow"), NewClient("spec")
	e.Join(old, JoinReq{Player: 1})
	e.Join(follow, JoinReq{Spectator: true, Follow: 1})
	e.Join(spec, JoinReq{Spectator: true})
	rd := e.Tick(time.Unix(0, 0), nil)
	require.Len(t, rd.Closes, 2)
	for _, c := range rd.Closes {
		require.ErrorIs(t, c.Err, ErrNoViews)
	}
	require.Len(t, rd.Frames, 1)
	require.Equal(t, spec, rd.Frames[0].Client)
}

// BenchmarkViewsTick is scenario D's room, one tick: 20,000 NPCs in a 4,000-unit world, N
// players each seeing the 400-unit square around it, every client in step. The encode cost
// grows with the pieces (cells × kinds that changed), not with clients × visible entities:
// compare ns/op across client counts.
func BenchmarkViewsTick(b *testing.B) {
	for _, n := range []int{50, 200, 500} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) { benchViews(b, n, `{"npcs":20000,"world":4000,"view":400}`) })
	}
}

// BenchmarkViewsAlone is what BenchmarkViewsTick's frames would cost encoded for each client
// alone (sim's one-client encoder, the same delta found once per tick, no hash): the work the
// shared pieces save. Only the encoding is timed.
func BenchmarkViewsAlone(b *testing.B) {
	for _, n := range []int{50, 200, 500} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			e, _ := viewsEngine(b, `{"npcs":20000,"world":4000,"view":400}`, Config{MaxPlayers: n, HashEvery: 20})
			for i := range n {
				e.Join(NewClient(i), JoinReq{Player: uint32(i + 1), Views: true})
			}
			now := time.Unix(0, 0)
			var prev *sim.State
			var enc sim.Encoder
			var d sim.Delta
			var dst []byte
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				rd := e.Tick(now, nil)
				for i := range rd.Frames {
					rd.Frames[i].Client.Ack(rd.Tick)
				}
				cur := sim.NewState(rd.State.Schema())
				cur.CopyFrom(rd.State)
				e.Advance()
				now = now.Add(50 * time.Millisecond)
				b.StartTimer()
				if prev != nil {
					d.Find(prev, cur)
					for _, c := range e.clients {
						vb, _ := c.view.at(prev.Tick())
						vt, _ := c.view.at(cur.Tick())
						dst = enc.AppendViewBody(dst[:0], &d, cur, vb, vt, false)
					}
				}
				prev = cur
			}
		})
	}
}

func benchViews(b *testing.B, n int, config string) {
	e, _ := viewsEngine(b, config, Config{MaxPlayers: n, HashEvery: 20})
	cs := make([]*Client, n)
	for i := range cs {
		cs[i] = NewClient(i)
		e.Join(cs[i], JoinReq{Player: uint32(i + 1), Views: true})
	}
	now := time.Unix(0, 0)
	var bytes, frames int
	tick := func() {
		rd := e.Tick(now, nil)
		for i := range rd.Frames {
			rd.Frames[i].Client.Ack(rd.Tick)
			bytes += rd.Frames[i].Body.Len()
		}
		frames += len(rd.Frames)
		e.Advance()
		now = now.Add(50 * time.Millisecond)
	}
	for range 100 { // the ring and the pools fill
		tick()
	}
	bytes, frames = 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tick()
	}
	b.ReportMetric(float64(bytes)/float64(frames), "B/frame")
}
