package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ticksync/ticksync/auth"
)

// inputRange is the load clients' input velocity bound: ±100 units/s in arena's 1/100 scale.
const inputRange = 10000

// loadgenConfig configures a load generator process (the hidden -loadgen mode).
type loadgenConfig struct {
	Target     string  // ws://host:port (WebSocket mode)
	FloorAddr  string  // host:port of a floor server (TCP mode, no WebSocket)
	Game       string  // the game of the rooms
	InputHz    float64 // inputs per second per client
	InputBytes int     // floor mode: bytes per input
	Decode     int     // how many of this process's clients decode fully (-1: all)
	Secret     []byte  // token secret (nil: anonymous)
	Seed       uint64
	Dial       dialFunc
}

// loadReport is what a load generator measured over one window.
type loadReport struct {
	Event              string   `json:"event"`
	Clients            int      `json:"clients"`
	WindowS            float64  `json:"window_s"`
	Messages           int64    `json:"messages"`
	Bytes              int64    `json:"bytes"`
	Frames             int64    `json:"frames"`
	FullStates         int      `json:"full_states"` // clients whose full state was measured
	FullStateMaxBytes  int      `json:"full_state_max_bytes"`
	FullStateMeanBytes float64  `json:"full_state_mean_bytes"`
	InputsSent         int64    `json:"inputs_sent"`
	RTTUs              []uint32 `json:"rtt_us"`
	DecodeNs           int64    `json:"decode_ns"`
	Decoded            int64    `json:"decoded"`
	Decoders           int      `json:"decoders"`
	HashChecks         int64    `json:"hash_checks"`     // in the window
	HashMismatches     int64    `json:"hash_mismatches"` // since the clients joined
	CPUS               float64  `json:"cpu_s"`
	LagP99Us           float64  `json:"lag_p99_us"`
	LagMaxUs           float64  `json:"lag_max_us"`
	Disconnects        int      `json:"disconnects"`
	Errors             []string `json:"errors,omitempty"`
}

// loadClient is one connection's bookkeeping.
type loadClient struct {
	sess    session
	tcp     net.Conn
	decoder bool
	// TCP (floor) connections count here; sessions count in session.Counters.
	tcpFrames, tcpBytes atomic.Uint64

	mu       sync.Mutex // guards the fields below: sender, read goroutine and commands
	startSeq uint32     // inputs after this seq were sent in the window
	seq      uint32     // last seq sent
	base     counters   // counters at the window's start
	inputs   int64
	rtt      []uint32
	lag      []uint32
}

// counters returns the connection's cumulative counters.
func (c *loadClient) counters() counters {
	if c.sess != nil {
		return c.sess.Counters()
	}
	f, b := c.tcpFrames.Load(), c.tcpBytes.Load()
	return counters{Messages: f, Frames: f, Bytes: b}
}

// loadgen is the load generator process's state.
type loadgen struct {
	cfg       loadgenConfig
	mu        sync.Mutex // guards clients and errs
	clients   []*loadClient
	errs      []string
	disc      atomic.Int64
	decoders  atomic.Int64 // clients that asked to decode (the first Decode do)
	measuring atomic.Bool
	winStart  time.Time
	cpuStart  time.Duration
	wg        sync.WaitGroup
	stop      chan struct{}
	epoch     time.Time // the clients' send phases are relative to it
}

// runLoadgen is the -loadgen mode: it serves the parent's commands on in/out.
func runLoadgen(ctx context.Context, cfg loadgenConfig, in io.Reader, out io.Writer) error {
	lg := &loadgen{cfg: cfg, stop: make(chan struct{}), epoch: time.Now()}
	ch := &childIO{out: out}
	ch.emit(envelope{Event: evReady})
	err := serveCommands(ctx, in, func(ctx context.Context, cmd []string) error {
		switch cmd[0] {
		case "join":
			if len(cmd) != 4 {
				ch.fail(fmt.Errorf("join wants <room> <count> <first player>"))
				return nil
			}
			n, err1 := strconv.Atoi(cmd[2])
			first, err2 := strconv.ParseUint(cmd[3], 10, 32)
			if err1 != nil || err2 != nil {
				ch.fail(fmt.Errorf("join: bad numbers in %q", cmd))
				return nil
			}
			if err := lg.join(ctx, cmd[1], n, uint32(first)); err != nil {
				ch.fail(err)
				return nil
			}
			ch.emit(struct {
				Event   string `json:"event"`
				Clients int    `json:"clients"`
			}{evJoined, lg.count()})
		case "start":
			lg.start()
			ch.emit(envelope{Event: evStarted})
		case "stop":
			ch.emit(lg.report())
		default:
			ch.fail(fmt.Errorf("unknown command %q", cmd[0]))
		}
		return nil
	})
	lg.close()
	return err
}

func (lg *loadgen) count() int {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return len(lg.clients)
}

func (lg *loadgen) addErr(err error) {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if len(lg.errs) < 10 {
		lg.errs = append(lg.errs, err.Error())
	}
}

// join connects n clients to room, player ids first, first+1, …, a few at a time.
func (lg *loadgen) join(ctx context.Context, room string, n int, first uint32) error {
	const parallel = 16
	sem := make(chan struct{}, parallel)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := lg.connect(ctx, room, first+uint32(i))
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				return
			}
			lg.mu.Lock()
			lg.clients = append(lg.clients, c)
			lg.mu.Unlock()
			lg.wg.Add(1)
			go lg.send(c, first+uint32(i))
		}()
	}
	wg.Wait()
	return firstErr
}

// connect opens one client: a WebSocket session or, in floor mode, a TCP connection.
func (lg *loadgen) connect(ctx context.Context, room string, player uint32) (*loadClient, error) {
	c := &loadClient{decoder: lg.cfg.Decode < 0 || lg.decoders.Add(1) <= int64(lg.cfg.Decode)}
	if lg.cfg.FloorAddr != "" {
		conn, err := net.Dial("tcp", lg.cfg.FloorAddr)
		if err != nil {
			return nil, fmt.Errorf("bench: floor dial: %w", err)
		}
		c.tcp = conn
		lg.wg.Add(1)
		go lg.readTCP(c)
		return c, nil
	}
	var token string
	if lg.cfg.Secret != nil {
		var err error
		token, err = auth.Mint(lg.cfg.Secret, auth.Claims{
			Kind: auth.KindJoin, Room: room, Game: lg.cfg.Game, Player: player,
			Role: auth.RolePlayer, Expiry: time.Now().Add(24 * time.Hour).Unix(),
		})
		if err != nil {
			return nil, err
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := lg.cfg.Dial(dctx, dialConfig{
		URL: lg.cfg.Target, Token: token, Room: room, Game: lg.cfg.Game,
		CreateIfMissing: lg.cfg.Secret == nil, Decode: c.decoder,
		OnApplied: func(seq uint32, rtt time.Duration) { lg.onApplied(c, seq, rtt) },
		OnClose: func(err error) {
			lg.disc.Add(1)
			lg.addErr(fmt.Errorf("player %d: connection closed: %w", player, err))
		},
	})
	if err != nil {
		return nil, err
	}
	c.sess = s
	return c, nil
}

// onApplied books one input's round trip (read goroutine).
func (lg *loadgen) onApplied(c *loadClient, seq uint32, rtt time.Duration) {
	if !lg.measuring.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq > c.startSeq {
		c.rtt = append(c.rtt, uint32(rtt/time.Microsecond))
	}
}

// send is client idx's sender: one input every 1/InputHz, at its phase (sendPhase).
func (lg *loadgen) send(c *loadClient, idx uint32) {
	defer lg.wg.Done()
	rng := rand.New(rand.NewPCG(lg.cfg.Seed^uint64(idx), 0x7469636b))
	period := time.Duration(float64(time.Second) / lg.cfg.InputHz)
	next := lg.epoch.Add(sendPhase(idx, lg.cfg.Seed, period))
	if late := time.Since(next); late > 0 {
		next = next.Add((late/period + 1) * period)
	}
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	var buf []byte
	if c.tcp != nil {
		buf = make([]byte, 4+max(lg.cfg.InputBytes, 1))
		binary.LittleEndian.PutUint32(buf, uint32(len(buf)-4))
	}
	for {
		select {
		case <-lg.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		lag := now.Sub(next)
		measuring := lg.measuring.Load()
		var seq uint32
		var err error
		if c.tcp != nil {
			_, err = c.tcp.Write(buf)
		} else {
			vx := int32(rng.IntN(2*inputRange+1) - inputRange)
			vy := int32(rng.IntN(2*inputRange+1) - inputRange)
			seq, err = c.sess.SendInput(vx, vy)
			c.mu.Lock()
			c.seq = seq
			c.mu.Unlock()
		}
		if err != nil {
			return
		}
		if measuring {
			c.mu.Lock()
			c.inputs++
			c.lag = append(c.lag, uint32(max(lag, 0)/time.Microsecond))
			c.mu.Unlock()
		}
		next = next.Add(period)
		if d := time.Since(next); d > period {
			next = next.Add(d.Truncate(period)) // fell behind by whole periods: skip them
		}
		t.Reset(time.Until(next))
	}
}

// sendPhase is client idx's send time within the input period. Random phases drawn from the
// clients' seeds are one fixed sample, the same in every run (the seeds are the same small
// integers), and at 20 Hz inputs against 20 Hz ticks they never drift: that sample's lumps
// biased the wait for the tick, and with it the RTT and hold medians, by 3 to 6 ms. A
// golden-ratio sequence by index spreads any number of clients evenly; the seed sets its
// offset.
func sendPhase(idx uint32, seed uint64, period time.Duration) time.Duration {
	offset := float64(splitmix64(seed)>>11) / (1 << 53)
	u := math.Mod(offset+float64(idx)*0.6180339887498949, 1)
	return time.Duration(u * float64(period))
}

// splitmix64 scrambles x (Steele, Lea and Flood's SplitMix64 finalizer).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// readTCP counts a floor connection's frames: a little-endian uint32 length, then the payload.
func (lg *loadgen) readTCP(c *loadClient) {
	defer lg.wg.Done()
	r := bufio.NewReaderSize(c.tcp, 64<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			lg.tcpClosed(err)
			return
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:]))
		if _, err := r.Discard(int(n)); err != nil {
			lg.tcpClosed(err)
			return
		}
		c.tcpFrames.Add(1)
		c.tcpBytes.Add(uint64(n))
	}
}

func (lg *loadgen) tcpClosed(err error) {
	select {
	case <-lg.stop:
	default:
		if !errors.Is(err, net.ErrClosed) {
			lg.disc.Add(1)
			lg.addErr(fmt.Errorf("floor connection closed: %w", err))
		}
	}
}

// start opens the window: every client's counters start from zero.
func (lg *loadgen) start() {
	lg.mu.Lock()
	cs := slices.Clone(lg.clients)
	lg.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		c.startSeq, c.base = c.seq, c.counters()
		c.inputs, c.rtt, c.lag = 0, nil, nil
		c.mu.Unlock()
	}
	lg.winStart = time.Now()
	lg.cpuStart = selfCPU()
	lg.measuring.Store(true)
}

// report closes the window and sums the clients' counters.
func (lg *loadgen) report() loadReport {
	lg.measuring.Store(false)
	win := time.Since(lg.winStart)
	cpu := selfCPU() - lg.cpuStart
	lg.mu.Lock()
	cs := slices.Clone(lg.clients)
	r := loadReport{Event: evReport, Clients: len(cs), WindowS: win.Seconds(), CPUS: cpu.Seconds(),
		Errors: slices.Clone(lg.errs), Disconnects: int(lg.disc.Load())}
	lg.mu.Unlock()
	var lags []uint32
	var firstSum, firstN int
	for _, c := range cs {
		now := c.counters()
		c.mu.Lock()
		b := c.base
		r.InputsSent += c.inputs
		r.RTTUs = append(r.RTTUs, c.rtt...)
		lags = append(lags, c.lag...)
		c.inputs, c.rtt, c.lag = 0, nil, nil
		c.mu.Unlock()
		if now.FirstFrameBytes > 0 {
			firstSum += int(now.FirstFrameBytes)
			firstN++
			r.FullStateMaxBytes = max(r.FullStateMaxBytes, int(now.FirstFrameBytes))
		}
		if c.decoder {
			r.Decoders++
		}
		r.Messages += int64(now.Messages - b.Messages)
		r.Frames += int64(now.Frames - b.Frames)
		r.Bytes += int64(now.Bytes - b.Bytes)
		r.Decoded += int64(now.Decoded - b.Decoded)
		r.DecodeNs += int64(now.DecodeNs - b.DecodeNs)
		r.HashChecks += int64(now.HashChecks - b.HashChecks)
		r.HashMismatches += int64(now.HashMismatches) // a mismatch in the warm-up counts too
	}
	r.FullStates = firstN
	if firstN > 0 {
		r.FullStateMeanBytes = float64(firstSum) / float64(firstN)
	}
	q := summarize(toFloats(lags))
	r.LagP99Us, r.LagMaxUs = q.P99*1000, q.Max*1000
	return r
}

// close ends every client.
func (lg *loadgen) close() {
	close(lg.stop)
	lg.mu.Lock()
	cs := slices.Clone(lg.clients)
	lg.mu.Unlock()
	for _, c := range cs {
		if c.sess != nil {
			c.sess.Close()
		}
		if c.tcp != nil {
			_ = c.tcp.Close()
		}
	}
	lg.wg.Wait()
}
