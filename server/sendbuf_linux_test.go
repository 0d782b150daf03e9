//go:build linux

package server

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/internal/rawws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
)

// sockBuffer reads a socket option (SO_SNDBUF, SO_RCVBUF) of a TCP socket.
func sockBuffer(t testing.TB, tc *net.TCPConn, opt int) int {
	t.Helper()
	rc, err := tc.SyscallConn()
	require.NoError(t, err)
	var n int
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) { n, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, opt) }))
	require.NoError(t, serr)
	return n
}

// serverConnOf waits until the server has registered the connection whose peer is nc.
func serverConnOf(t testing.TB, ts *testServer, nc net.Conn) *conn {
	t.Helper()
	var found *conn
	require.Eventually(t, func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		for c := range ts.conns {
			if c.ws.RemoteAddr().String() == nc.LocalAddr().String() {
				found = c
				return true
			}
		}
		return false
	}, waitTimeout, time.Millisecond)
	return found
}

// TestNeverReaderSendingInputs: a real TCP client joins a busy room, never reads, and keeps
// sending inputs. It must get 1008 "too slow" once its receive window has closed, whatever
// the server's kernel send buffer: capped by -send-buffer (SO_SNDBUF reads twice the cap), or
// autotuned by the kernel (megabytes on loopback), where only the acknowledgement check
// (SIOCOUTQ) can see the lag in time. The write deadline and the ping timeout are an hour, so
// neither can be what ends the connection; with the buffer autotuned, the room's own outbox
// lag cannot either (the writer never blocks), so the close must come from the acknowledgement
// check. No wall-clock bound is asserted (the machine may be busy); the byte bound holds.
func TestNeverReaderSendingInputs(t *testing.T) {
	const maxLag = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		buf  int // Config.SendBuffer
	}{
		{"send buffer capped", 16 << 10},
		{"send buffer autotuned", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{TickRate: 20, MaxLag: maxLag, WriteTimeout: time.Hour, SendBuffer: tc.buf,
				PingInterval: time.Hour, PongTimeout: time.Hour}, nil)
			_, err := ts.CreateRoom("r", "arena", []byte(`{"npcs":300}`))
			require.NoError(t, err)
			nc := rawDial(t, ts, "", rawws.Options{})
			sc := serverConnOf(t, ts, nc)
			tcp, plain := tcpConnOf(sc.ws.NetConn())
			require.NotNil(t, tcp)
			require.True(t, plain)
			if tc.buf > 0 { // set in OnOpen, which may not have run yet; Linux doubles the value
				require.Eventually(t, func() bool { return sockBuffer(t, tcp, syscall.SO_SNDBUF) == 2*tc.buf }, waitTimeout, time.Millisecond,
					"SO_SNDBUF never became twice -send-buffer")
			}
			// A small receive buffer: the client's window closes after a few frames, not after
			// the minute or two a default 128 KiB buffer takes to fill with ~70-byte deltas.
			require.NoError(t, nc.Conn.(*net.TCPConn).SetReadBuffer(4096))
			rcvBuf := sockBuffer(t, nc.Conn.(*net.TCPConn), syscall.SO_RCVBUF)

			start := time.Now()
			require.NoError(t, nc.WriteBinary(joinMsg(t, "r", false)))
			stop := make(chan struct{})
			inputsDone := make(chan struct{})
			go func() { // inputs at 20/s, within -input-rate: the client looks busy
				defer close(inputsDone)
				tk := time.NewTicker(50 * time.Millisecond)
				defer tk.Stop()
				for seq := uint32(1); ; seq++ {
					select {
					case <-stop:
						return
					case <-tk.C:
					}
					if nc.WriteBinary(inputMsg(t, seq, 1, 1)) != nil {
						return
					}
				}
			}()
			select {
			case <-sc.gone:
			case <-time.After(time.Minute): // a hang, not a timing bound
				t.Fatal("the never-reader is still connected after a minute")
			}
			elapsed := time.Since(start)
			close(stop)
			<-inputsDone
			code, reason := closeFor(sc.err)
			assert.Equal(t, uint16(CodePolicy), code)
			assert.Equal(t, "too slow", reason)
			assert.Equal(t, 1.0, counterValue(t, ts.m.closes.WithLabelValues("1008")))

			// What the server had queued for it reaches the client once it reads: at most its
			// receive buffer and the server's send buffer (Linux counts both in truesize, more
			// than the payload), then the close frame, or the TCP close when that did not fit.
			received := 0
			code, reason, err = nc.ReadClose(waitTimeout, func(_ byte, p []byte) { received += len(p) })
			if errors.Is(err, rawws.ErrNoClose) {
				t.Logf("no close frame (the TCP connection was closed): %v", err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, uint16(CodePolicy), code)
				assert.Equal(t, "too slow", reason)
			}
			t.Logf("closed %v after the join (-max-lag %v); the client's receive buffer %d B, %d B of frames queued for it",
				elapsed.Round(time.Millisecond), maxLag, rcvBuf, received)
			if tc.buf > 0 {
				assert.LessOrEqual(t, received, rcvBuf+2*tc.buf, "bounded by the two kernels' buffers")
			} else {
				assert.True(t, sc.slowAcks.Load(), "autotuned: only the acknowledgement check sees it")
			}
		})
	}
}

// TestShutdownUnblocksStuckWriter: with -write-timeout 60s and a client that never reads
// (its socket full, its writer blocked in a write), Shutdown gives that write at most 1 s
// more instead of waiting out the write timeout; a client that reads still gets 1001.
func TestShutdownUnblocksStuckWriter(t *testing.T) {
	cfg := anonCfg()
	cfg.WriteTimeout = time.Minute
	cfg.MaxLag = time.Hour // neither the lag check, the ping timeout nor the write deadline may end it first
	cfg.PingInterval, cfg.PongTimeout = time.Hour, time.Hour
	cfg.SendBuffer = 4096
	ts := startServer(t, cfg, nil)
	r, err := ts.CreateRoom("r", "arena", []byte(`{"npcs":500}`))
	require.NoError(t, err)
	nc := rawDial(t, ts, "", rawws.Options{})
	require.NoError(t, nc.Conn.(*net.TCPConn).SetReadBuffer(4096))
	stuck := serverConnOf(t, ts, nc)
	require.NoError(t, nc.WriteBinary(joinMsg(t, "r", false)))
	reader := ts.dial(t, dialOpts{})
	reader.join(&pb.Join{Room: "r"})
	// Its writer has taken no frame for 200 ticks while the reader follows: blocked in a write
	// (full snapshots of 500 NPCs fill both buffers at once).
	tickUntil(t, r, "the never-reader's writer blocked", func() bool {
		return reader.tick() != 0 && r.CurrentTick()-stuck.mb.lastTaken() > 200
	})
	r.Tick()
	want := r.CurrentTick()
	reader.waitFor("the reader at the last tick", func(c *tclient) bool { return c.mirror.Tick() == want })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	// Without the hurry the stuck write would end only at -write-timeout (a minute), past the
	// context: Shutdown would report the connections it had to close hard.
	require.NoError(t, ts.Shutdown(ctx), "every connection closed before the context ended")
	t.Logf("Shutdown took %v with -write-timeout %v and a stuck writer", time.Since(start).Round(time.Millisecond), cfg.WriteTimeout)
	code, reason := reader.waitClose()
	assert.Equal(t, uint16(CodeGoingAway), code)
	assert.Equal(t, "server shutting down", reason)
	select {
	case <-stuck.gone:
	default:
		t.Error("the stuck connection is still open after Shutdown returned")
	}
}

// TestAckLag: the lag read from acknowledgements, step by step.
func TestAckLag(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	l := ackLag{caughtUp: t0}
	l.wrote(100) // 102 bytes on the wire
	assert.Equal(t, uint64(102), l.sent)
	assert.Equal(t, time.Duration(0), l.behind(0, at(0)), "everything acknowledged: caught up now")
	l.wrote(200)
	assert.Equal(t, uint64(306), l.sent, "a 200-byte payload has a 4-byte header")
	assert.Equal(t, 10*time.Millisecond, l.behind(204, at(10)), "unacknowledged bytes set a mark; caught up 10 ms ago")
	l.wrote(100)
	assert.Equal(t, 20*time.Millisecond, l.behind(306, at(20)), "the mark (306 bytes) not yet acknowledged")
	assert.Equal(t, 20*time.Millisecond, l.behind(102, at(30)), "the mark's 306 bytes acknowledged: caught up to when it was set (10 ms)")
	assert.Equal(t, time.Duration(0), l.behind(0, at(40)))
	for ms := 50; ms < 600; ms += 10 { // the peer stops acknowledging: caught up at 40 ms
		l.wrote(60)
		assert.Equal(t, time.Duration(ms-40)*time.Millisecond, l.behind(int(l.sent)-408, at(ms)))
	}
}

// BenchmarkSendQueueUnacked is the acknowledgement check's cost (one SIOCOUTQ), paid at most
// once per MaxLag/32 per connection.
func BenchmarkSendQueueUnacked(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(b, err)
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(b, err)
	q := newSendQueue(rc)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := q.unacked(); !ok {
			b.Fatal("SIOCOUTQ failed")
		}
	}
}

// TestDroppedNeverReaderIsReset: when the server drops a peer that does not read (too slow, or
// no pong), the close is abortive. A graceful close would leave the kernel an orphan socket
// holding the unsent frames and the FIN behind the peer's shut window for minutes, and the
// peer, whose writes still land in its own send buffer, could not tell it was dropped. So once
// the server's side is gone, the peer's writes fail (reset) at once, not minutes later.
func TestDroppedNeverReaderIsReset(t *testing.T) {
	ts := startServer(t, Config{TickRate: 20, MaxLag: 500 * time.Millisecond}, nil)
	_, err := ts.CreateRoom("r", "arena", []byte(`{"npcs":300}`))
	require.NoError(t, err)
	nc := rawDial(t, ts, "", rawws.Options{})
	require.NoError(t, nc.Conn.(*net.TCPConn).SetReadBuffer(2048))
	sc := serverConnOf(t, ts, nc)
	require.NoError(t, nc.WriteBinary(joinMsg(t, "r", false)))
	seq := uint32(0)
	send := func() error {
		seq++
		_ = nc.SetWriteDeadline(time.Now().Add(waitTimeout))
		return nc.WriteBinary(inputMsg(t, seq, 1, 1))
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	hang := time.After(time.Minute) // a hang detector, not a timing bound
	for gone := false; !gone; {
		select {
		case <-sc.gone:
			gone = true
		case <-tick.C:
			require.NoError(t, send(), "a write failed before the server dropped the client")
		case <-hang:
			t.Fatal("the never-reader is still connected after a minute")
		}
	}
	code, _ := closeFor(sc.err)
	require.Equal(t, uint16(CodePolicy), code)
	// The server's side is gone: the peer's writes now fail with a reset. Without the abortive
	// close they would keep succeeding for minutes (its own send buffer takes them).
	var werr error
	for deadline := time.Now().Add(waitTimeout); werr == nil && time.Now().Before(deadline); {
		<-tick.C
		werr = send()
	}
	require.Error(t, werr, "the peer can still write %v after the server dropped it", waitTimeout)
	assert.True(t, errors.Is(werr, syscall.ECONNRESET) || errors.Is(werr, syscall.EPIPE), "%v", werr)
}
