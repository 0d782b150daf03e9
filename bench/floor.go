package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The floor is a bare TCP server with the scenario's shape and no game: one frame of the
// scenario's patch size per tick to every connection (a little-endian uint32 length, then the
// payload), and the clients' inputs read and thrown away. Each connection has its own writer
// goroutine fed through a one-slot mailbox, as in ticksync, so the floor pays the same
// syscalls and wake-ups. Its CPU is the least any server can use for that traffic.

// floorConfig configures the floor server process (the hidden -floor-server mode).
type floorConfig struct {
	Addr       string
	Hz         int
	FrameBytes int
	// Loop writes every frame from the tick loop itself, one connection after the other,
	// instead of through per-connection writers: fewer wake-ups, a serial burst.
	Loop bool
}

// floorReport is what the floor server measured over one window.
type floorReport struct {
	Event string `json:"event"`
	Conns int    `json:"conns"`
	Ticks int    `json:"ticks"`
	// Missed counts ticks that started a whole interval or more late.
	Missed int `json:"missed"`
	// BurstUs holds, per tick, the time from the tick's start until the last connection's
	// write of that tick returned.
	BurstUs []uint32 `json:"burst_us"`
}

type floorConn struct {
	c    net.Conn
	mail chan struct{} // one slot: "write this tick's frame"
}

// floorServer is the floor server's state.
type floorServer struct {
	cfg   floorConfig
	ln    net.Listener
	frame []byte

	mu    sync.Mutex // guards conns
	conns []*floorConn

	// The tick in flight: its start and how many writes are still out.
	tickStart atomic.Int64
	pending   atomic.Int64

	wmu       sync.Mutex // guards the window fields below
	measuring bool
	ticks     int
	missed    int
	burstUs   []uint32
}

// runFloorServer is the -floor-server mode.
func runFloorServer(ctx context.Context, cfg floorConfig, in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("bench: floor listen: %w", err)
	}
	fs := &floorServer{cfg: cfg, ln: ln, frame: make([]byte, 4+cfg.FrameBytes)}
	binary.LittleEndian.PutUint32(fs.frame, uint32(cfg.FrameBytes))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go fs.accept()
	go fs.tickLoop(ctx)
	ch := &childIO{out: out}
	ch.emit(envelope{Event: evReady, Addr: ln.Addr().String()})
	err = serveCommands(ctx, in, func(ctx context.Context, cmd []string) error {
		switch cmd[0] {
		case "start":
			fs.wmu.Lock()
			fs.measuring, fs.ticks, fs.missed, fs.burstUs = true, 0, 0, nil
			fs.wmu.Unlock()
			ch.emit(envelope{Event: evStarted})
		case "stop":
			fs.mu.Lock()
			n := len(fs.conns)
			fs.mu.Unlock()
			fs.wmu.Lock()
			r := floorReport{Event: evReport, Conns: n, Ticks: fs.ticks, Missed: fs.missed, BurstUs: fs.burstUs}
			fs.measuring, fs.burstUs = false, nil
			fs.wmu.Unlock()
			ch.emit(r)
		default:
			ch.fail(fmt.Errorf("unknown command %q", cmd[0]))
		}
		return nil
	})
	_ = ln.Close()
	fs.mu.Lock()
	for _, c := range fs.conns {
		_ = c.c.Close()
	}
	fs.mu.Unlock()
	return err
}

func (fs *floorServer) accept() {
	for {
		c, err := fs.ln.Accept()
		if err != nil {
			return
		}
		fc := &floorConn{c: c, mail: make(chan struct{}, 1)}
		fs.mu.Lock()
		fs.conns = append(fs.conns, fc)
		fs.mu.Unlock()
		go fs.read(fc)
		if !fs.cfg.Loop {
			go fs.write(fc)
		}
	}
}

// read discards a connection's inputs (length-prefixed, like frames).
func (fs *floorServer) read(fc *floorConn) {
	r := bufio.NewReaderSize(fc.c, 4<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		if _, err := r.Discard(int(binary.LittleEndian.Uint32(hdr[:]))); err != nil {
			return
		}
	}
}

// write sends the frame each time the mailbox says so; the last writer of a tick records the
// tick's write burst.
func (fs *floorServer) write(fc *floorConn) {
	for range fc.mail {
		_ = fc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := fc.c.Write(fs.frame); err != nil {
			if fs.pending.Add(-1) == 0 {
				fs.recordBurst()
			}
			return
		}
		if fs.pending.Add(-1) == 0 {
			fs.recordBurst()
		}
	}
}

// recordBurst books the tick's write burst: its start until now.
func (fs *floorServer) recordBurst() {
	burst := time.Now().UnixMicro() - fs.tickStart.Load()
	fs.wmu.Lock()
	if fs.measuring {
		fs.burstUs = append(fs.burstUs, uint32(max(burst, 0)))
	}
	fs.wmu.Unlock()
}

// tickLoop runs the drift-free tick schedule and fills every mailbox each tick. A tick whose
// previous burst is still in flight skips the connections that have not taken their frame
// (latest wins, as in ticksync).
func (fs *floorServer) tickLoop(ctx context.Context) {
	interval := time.Second / time.Duration(fs.cfg.Hz)
	start := time.Now()
	t := time.NewTimer(interval)
	defer t.Stop()
	for n := int64(1); ; n++ {
		due := start.Add(time.Duration(n) * interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if late := now.Sub(due); late >= interval {
			skip := int64(late / interval)
			n += skip
			fs.wmu.Lock()
			if fs.measuring {
				fs.missed += int(skip)
			}
			fs.wmu.Unlock()
		}
		fs.mu.Lock()
		conns := fs.conns
		fs.mu.Unlock()
		if fs.cfg.Loop {
			fs.tickStart.Store(now.UnixMicro())
			for _, c := range conns {
				_ = c.c.SetWriteDeadline(now.Add(5 * time.Second))
				_, _ = c.c.Write(fs.frame)
			}
			fs.recordBurst()
		}
		if !fs.cfg.Loop && fs.pending.Load() <= 0 {
			fs.tickStart.Store(now.UnixMicro())
		} // else the last burst overran the interval: this one is measured from its start
		if !fs.cfg.Loop {
			// Count every write out before the first can finish, then take back the mailboxes
			// that were still full (latest wins: their writer has not taken the last frame yet).
			fs.pending.Add(int64(len(conns)))
			full := 0
			for _, c := range conns {
				select {
				case c.mail <- struct{}{}:
				default:
					full++
				}
			}
			if full > 0 && fs.pending.Add(-int64(full)) == 0 {
				fs.recordBurst()
			}
		}
		fs.wmu.Lock()
		if fs.measuring {
			fs.ticks++
		}
		fs.wmu.Unlock()
		t.Reset(time.Until(start.Add(time.Duration(n+1) * interval)))
	}
}
