package server

import (
	"net/http"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lxzan/gws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"google.golang.org/protobuf/proto"

	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

// benchRoom is docs/benchmark.md's scenario B in one room without sockets: 1,000 NPCs and 200
// seated players at 20 Hz, each connection a mailbox whose writer is emulated between ticks
// (take the frame, release it), so every client stays in step as a real reader would.
type benchRoom struct {
	srv   *Server
	r     *Room
	conns []*conn
	seats []*engine.Seat
	rng   sim.Rand
	seq   uint32
	vals  []int32
}

func newBenchRoom(tb testing.TB, players int, opts ...func(*Config)) *benchRoom {
	cfg := Config{TickRate: 20, ManualTicks: true, MaxPlayers: players, MaxSeatsPerIP: -1, Inbox: 32}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(withArena(cfg))
	require.NoError(tb, err)
	r, err := s.CreateRoom("bench", "arena", []byte(`{"npcs":1000}`))
	require.NoError(tb, err)
	b := &benchRoom{srv: s, r: r, rng: sim.NewRand(7), vals: make([]int32, 2)}
	for i := 0; i < players; i++ {
		c := newConn(s, nil, "", nil)
		b.conns = append(b.conns, c)
		r.enqueue(roomCmd{kind: cmdJoin, c: c})
	}
	r.Tick()
	for _, c := range b.conns {
		<-c.ctrl // the welcome
		b.seats = append(b.seats, c.seat.Load())
	}
	for range 100 { // warm up: pools, scratch and maps reach their steady size
		b.inputs()
		r.Tick()
		b.write()
	}
	return b
}

// inputs gives every player a fresh input (the read goroutines' work, not the tick's).
func (b *benchRoom) inputs() {
	b.seq++
	now := time.Now()
	for _, s := range b.seats {
		b.vals[0] = int32(b.rng.Mod(20001)) - 10000
		b.vals[1] = int32(b.rng.Mod(20001)) - 10000
		_, _ = s.Inbox().Push(b.seq, b.vals, now)
	}
}

// write emulates each connection's writer: take the frame (the client's new baseline) and
// release its body, as after a write.
func (b *benchRoom) write() (bytes int) {
	for _, c := range b.conns {
		if f, ok := c.mb.take(); ok {
			bytes += len(f.body.B)
			f.body.Release()
		}
	}
	return bytes
}

// BenchmarkRoomTick measures one scenario-B tick: drain 200 fresh inputs, step 1,200
// entities, snapshot, diff and encode the shared delta once, hand 200 frames to mailboxes.
// It reports the tick's p99 and allocations per tick (socket writes are outside the tick).
func BenchmarkRoomTick(b *testing.B) {
	br := newBenchRoom(b, 200)
	var durs []time.Duration
	var bytes, frames int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		br.inputs()
		b.StartTimer()
		t0 := time.Now()
		br.r.Tick()
		d := time.Since(t0)
		b.StopTimer()
		durs = append(durs, d)
		bytes += br.write()
		frames += len(br.conns)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds())/1e6, "p99-ms")
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds())/1e6, "p50-ms")
	b.ReportMetric(float64(bytes)/float64(max(frames, 1)), "B/frame")
}

// TestRoomTickAllocs holds the tick path to zero allocations in steady state (the benchmark's
// figure, as a test, so a regression fails CI).
func TestRoomTickAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	br := newBenchRoom(t, 50)
	allocs := testing.AllocsPerRun(50, func() {
		br.inputs()
		br.r.Tick()
		br.write()
	})
	// inputs() and write() allocate nothing either; the tick must not.
	require.Zero(t, allocs, "allocations per tick")
}

// discardClient reads and drops everything (a load client's socket work without decoding).
type discardClient struct {
	gws.BuiltinEventHandler
	bytes    *atomic.Int64
	welcomed atomic.Bool
}

func (d *discardClient) OnMessage(_ *gws.Conn, m *gws.Message) {
	d.bytes.Add(int64(m.Data.Len()))
	d.welcomed.Store(true)
	m.Close()
}

// BenchmarkRoomTickLoopback is scenario B with the frames going over real loopback sockets
// to 200 gws clients in this process: each op is one tick plus the wait until all 200
// writers have written its frame. It reports the tick alone, the write-out (tick end → the
// last frame written) and the process CPU per tick (server writers and client readers).
func BenchmarkRoomTickLoopback(b *testing.B) {
	const players = 200
	ts := startServer(b, Config{TickRate: 20, ManualTicks: true, MaxPlayers: players, MaxConnsPerIP: -1, MaxSeatsPerIP: -1}, nil)
	r, err := ts.CreateRoom("bench", "arena", []byte(`{"npcs":1000}`))
	require.NoError(b, err)
	var got atomic.Int64
	join, _ := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: "bench"}}})
	clients := make([]*discardClient, players)
	for i := range clients {
		d := &discardClient{bytes: &got}
		ws, _, err := gws.NewClient(d, &gws.ClientOption{Addr: ts.wsURL(""), RequestHeader: http.Header{"Sec-WebSocket-Protocol": {Subprotocol}}, ReadMaxPayloadSize: 1 << 20})
		require.NoError(b, err)
		go ws.ReadLoop()
		b.Cleanup(func() { _ = ws.NetConn().Close() })
		require.NoError(b, ws.WriteMessage(gws.OpcodeBinary, join))
		clients[i] = d
	}
	tickUntil(b, r, "all joined", func() bool { return r.clientCount() == players })
	seats := make([]*engine.Seat, 0, players)
	r.tickMu.Lock()
	for _, ec := range r.eng.ClientList() {
		seats = append(seats, ec.Peer.(*conn).seat.Load())
	}
	r.tickMu.Unlock()
	rng := sim.NewRand(3)
	vals := make([]int32, 2)
	seq := uint32(0)
	written := func() uint64 { return ts.framesWritten.Load() }
	step := func() (tick, out time.Duration) {
		seq++
		now := time.Now()
		for _, s := range seats {
			vals[0], vals[1] = int32(rng.Mod(20001))-10000, int32(rng.Mod(20001))-10000
			_, _ = s.Inbox().Push(seq, vals, now)
		}
		want := written() + players
		t0 := time.Now()
		r.Tick()
		t1 := time.Now()
		for written() < want {
			time.Sleep(20 * time.Microsecond)
		}
		return t1.Sub(t0), time.Since(t1)
	}
	for range 50 {
		step()
	}
	var ticks, outs []time.Duration
	bytes0 := got.Load()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		tk, out := step()
		ticks, outs = append(ticks, tk), append(outs, out)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	slices.Sort(ticks)
	slices.Sort(outs)
	n := len(ticks)
	b.ReportMetric(float64(ticks[n*99/100].Nanoseconds())/1e6, "tick-p99-ms")
	b.ReportMetric(float64(outs[n/2].Nanoseconds())/1e6, "writeout-p50-ms")
	b.ReportMetric(float64(outs[n*99/100].Nanoseconds())/1e6, "writeout-p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n)/1e3, "cpu-ms/tick")
	b.ReportMetric(float64(got.Load()-bytes0)/float64(n*players), "B/frame")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecodeInput: an input message through the allocation-free fast path and through
// the reflective decoder it falls back to (compare the two in one run).
func BenchmarkDecodeInput(b *testing.B) {
	msg, err := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: &pb.Input{
		Seq: 123456, ClientTimeUs: 1_764_000_000_000_000, Values: []int32{1000, -1000, 0, 250}}}})
	require.NoError(b, err)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		vals := make([]int32, 0, 8)
		var when engine.When
		for b.Loop() {
			if _, _, ok := fastInput(msg, vals[:0], 4, &when); !ok {
				b.Fatal("not taken")
			}
		}
	})
	b.Run("proto", func(b *testing.B) {
		b.ReportAllocs()
		var m pb.ClientMessage
		for b.Loop() {
			if err := decodeClientMessage(msg, &m, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
}
