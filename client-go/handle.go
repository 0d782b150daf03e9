package client

import (
	"errors"
	"fmt"
	"time"

	"github.com/lxzan/gws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers of ClientMessage.input, Input and ServerMessage.frame (messages.proto); the
// input encoder and the CountOnly frame reader below use them, and tests hold them to
// proto.Marshal.
const (
	fClientInput   = 2
	fInputSeq      = 1
	fInputTime     = 2
	fInputValues   = 3
	fInputRender   = 4
	fInputSubtick  = 5
	fServerFrame   = 2
	fFrameTick     = 1
	fFrameBaseline = 2
	fFrameLastSeq  = 3
	fFrameViewHash = 12
)

// frameTag is the first byte of a ServerMessage holding a frame.
var frameTag = byte(protowire.EncodeTag(fServerFrame, protowire.BytesType))

// unmarshal decodes server messages. A real server never nests deeply; a low limit keeps a
// hostile one from costing stack.
var unmarshal = proto.UnmarshalOptions{RecursionLimit: 16}

// appendInput appends a ClientMessage{input: {seq, client_time_us, values, render_tick,
// subtick}}, byte-identical to proto.Marshal, without allocating.
func appendInput(dst []byte, seq uint32, timeUs int64, values []int32, renderTick uint32, subtick uint16) []byte {
	var packed int
	for _, v := range values {
		packed += protowire.SizeVarint(protowire.EncodeZigZag(int64(v)))
	}
	n := protowire.SizeTag(fInputSeq) + protowire.SizeVarint(uint64(seq))
	if timeUs != 0 {
		n += protowire.SizeTag(fInputTime) + protowire.SizeVarint(uint64(timeUs))
	}
	if len(values) > 0 {
		n += protowire.SizeTag(fInputValues) + protowire.SizeBytes(packed)
	}
	if renderTick != 0 {
		n += protowire.SizeTag(fInputRender) + protowire.SizeVarint(uint64(renderTick))
	}
	if subtick != 0 {
		n += protowire.SizeTag(fInputSubtick) + protowire.SizeVarint(uint64(subtick))
	}
	dst = protowire.AppendTag(dst, fClientInput, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(n))
	dst = protowire.AppendTag(dst, fInputSeq, protowire.VarintType)
	dst = protowire.AppendVarint(dst, uint64(seq))
	if timeUs != 0 {
		dst = protowire.AppendTag(dst, fInputTime, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(timeUs))
	}
	if len(values) > 0 {
		dst = protowire.AppendTag(dst, fInputValues, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(packed))
		for _, v := range values {
			dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(int64(v)))
		}
	}
	if renderTick != 0 {
		dst = protowire.AppendTag(dst, fInputRender, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(renderTick))
	}
	if subtick != 0 {
		dst = protowire.AppendTag(dst, fInputSubtick, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(subtick))
	}
	return dst
}

// events is the client's gws event handler. Its methods run on the read goroutine.
type events struct{ c *Client }

func (e events) OnOpen(*gws.Conn) {}

// OnPing answers under the client's write lock, so the pong gets a fresh write deadline (an
// old one may have passed).
func (e events) OnPing(socket *gws.Conn, payload []byte) {
	e.c.wmu.Lock()
	defer e.c.wmu.Unlock()
	_ = socket.SetWriteDeadline(time.Now().Add(e.c.opts.WriteTimeout))
	_ = socket.WritePong(payload)
}

func (e events) OnPong(*gws.Conn, []byte) {}

func (e events) OnMessage(socket *gws.Conn, m *gws.Message) {
	defer m.Close()
	c := e.c
	c.mu.Lock()
	stopped := c.err != nil
	c.mu.Unlock()
	if stopped { // messages still buffered after a protocol error are not applied
		return
	}
	if m.Opcode != gws.OpcodeBinary {
		c.fail(fmt.Errorf("%w: text message", ErrProtocol))
		return
	}
	if err := c.handle(m.Bytes(), time.Now()); err != nil {
		c.fail(err)
	}
}

// OnClose records how the connection ended. gws calls it once.
func (e events) OnClose(_ *gws.Conn, err error) {
	c := e.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var ce *gws.CloseError
	switch {
	case errors.As(err, &ce):
		code := ce.Code
		if code == 0 {
			code = 1005 // close frame without a status
		}
		c.closeErr = &CloseError{Code: code, Reason: string(ce.Reason)}
	case c.local != nil:
		c.closeErr = c.local
	case c.kick != nil: // kicked, but the close frame got lost
		c.closeErr = &CloseError{Code: uint16(min(c.kick.GetCode(), 4999)), Reason: c.kick.GetReason()}
	default:
		reason := "connection lost"
		if err != nil {
			reason = err.Error()
		}
		c.closeErr = &CloseError{Code: 1006, Reason: reason}
	}
	c.notifyLocked()
	close(c.done)
}

// fail records a protocol error and closes the connection with 1002.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.notifyLocked()
	c.mu.Unlock()
	if c.conn != nil {
		c.closeWith(1002, "protocol error")
	}
}

// handle processes one server message. It is the read goroutine's whole job, and all of it
// that a hostile server can reach: it returns an error, never panics.
func (c *Client) handle(b []byte, now time.Time) error {
	c.msgs.Add(1)
	c.bytesIn.Add(uint64(len(b)))
	if c.opts.CountOnly && len(b) > 0 && b[0] == frameTag {
		return c.countFrame(b, now)
	}
	var msg pb.ServerMessage
	if err := unmarshal.Unmarshal(b, &msg); err != nil {
		return fmt.Errorf("%w: decode: %v", ErrProtocol, err)
	}
	switch k := msg.GetKind().(type) {
	case *pb.ServerMessage_Welcome:
		return c.onWelcome(k.Welcome)
	case *pb.ServerMessage_Frame:
		return c.onFrame(k.Frame, len(b), now)
	case *pb.ServerMessage_Pong:
		c.mu.Lock()
		defer c.mu.Unlock()
		t := k.Pong.GetClientTimeUs()
		rtt := now.Sub(c.start) - time.Duration(t)*time.Microsecond
		if t > c.pongEcho && rtt >= 0 { // an echo of a time not yet reached is no ping of ours
			c.pongEcho, c.rtt = t, rtt
			c.notifyLocked()
		}
	case *pb.ServerMessage_Kick:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.kick = k.Kick
	case *pb.ServerMessage_Stats:
		if c.opts.OnStats != nil {
			c.opts.OnStats(k.Stats)
		}
	case *pb.ServerMessage_ReplayStatus:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.replay = k.ReplayStatus
		c.notifyLocked()
	default:
		return fmt.Errorf("%w: unknown message kind", ErrProtocol)
	}
	return nil
}

func (c *Client) onWelcome(w *pb.Welcome) error {
	c.mu.Lock()
	seen := c.welcome != nil
	c.mu.Unlock()
	if seen {
		return fmt.Errorf("%w: second welcome", ErrProtocol)
	}
	schema, err := sim.SchemaFromProto(w.GetState(), w.GetInput())
	if err != nil {
		return fmt.Errorf("%w: welcome schema: %v", ErrProtocol, err)
	}
	var m *sim.Mirror
	var tick uint32
	sd := c.seed
	same := sd != nil && proto.Equal(sd.welcome.GetState(), w.GetState()) && proto.Equal(sd.welcome.GetInput(), w.GetInput())
	if same {
		tick = sd.tick
	}
	if !c.opts.CountOnly {
		m = sim.NewMirror(schema)
		if same && sd.state != nil && sd.state.Tick() != 0 {
			if err := loadMirror(m, sd.state); err != nil {
				return fmt.Errorf("client: reconnect: %w", err)
			}
			tick = sd.state.Tick()
		}
	}
	c.seed = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	c.welcome, c.schema, c.mirror = w, schema, m
	c.frame = FrameInfo{Tick: tick}
	close(c.welcomed)
	c.notifyLocked()
	return nil
}

// loadMirror makes the empty mirror m hold st (the state a Reconnect carries over) by applying
// a full snapshot of it, so the mirror's own index of held entities is built as for any frame
// (writing its State directly would leave that index empty).
func loadMirror(m *sim.Mirror, st *sim.State) error {
	var enc sim.Encoder
	body := enc.AppendBody(nil, nil, st, false)
	_, err := m.ApplyMessage(append(sim.AppendFrameHeader(nil, st.Tick(), 0, 0, len(body)), body...))
	return err
}

func (c *Client) onFrame(f *pb.Frame, size int, now time.Time) error {
	if c.opts.CountOnly { // a frame not in the layout countFrame expects, but valid
		return c.countedFrame(FrameInfo{
			Tick: f.GetTick(), BaselineTick: f.GetBaselineTick(), LastInputSeq: f.GetLastInputSeq(),
			HasHash: f.ViewHash != nil, Bytes: size,
		}, now)
	}
	c.mu.Lock()
	if c.mirror == nil {
		c.mu.Unlock()
		return fmt.Errorf("%w: frame before the welcome", ErrProtocol)
	}
	if err := c.mirror.Apply(f); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("client: frame for tick %d: %w", f.GetTick(), err)
	}
	if f.ViewHash != nil {
		c.hashChecks.Add(1)
		if h := c.mirror.State().Hash(); h != f.GetViewHash() {
			c.hashMismatches.Add(1)
			c.mu.Unlock()
			return fmt.Errorf("%w at tick %d: mirror %#016x, server %#016x", ErrDesync, f.GetTick(), h, f.GetViewHash())
		}
	}
	c.keepEventsLocked(f)
	prev := c.frameLocked(FrameInfo{
		Tick: f.GetTick(), BaselineTick: f.GetBaselineTick(), LastInputSeq: f.GetLastInputSeq(),
		HasHash: f.ViewHash != nil, Bytes: size,
	}, now)
	c.mu.Unlock()
	c.applied(prev, f.GetLastInputSeq(), now)
	if c.opts.OnFrame != nil {
		c.opts.OnFrame(f)
	}
	c.notify() // waiters already see the frame; wake those that sleep
	return nil
}

// keepEventsLocked keeps an applied frame's game events that were not kept yet, then its
// result. A frame carries the events of every tick after its baseline, and the server moves a
// client's baseline only when its writer takes a frame, so frames built before that repeat
// the events of the ticks they share: only events of ticks after the previous frame's count.
// A snapshot that goes back in time (a replay seek) starts the count again.
func (c *Client) keepEventsLocked(f *pb.Frame) {
	if f.GetBaselineTick() == 0 && f.GetTick() <= c.frame.Tick {
		c.eventsThrough = 0
	}
	through := c.eventsThrough
	c.eventsThrough = max(through, f.GetTick())
	for _, ev := range f.GetEvents() {
		if ev.GetTick() > through {
			c.events = append(c.events, ev)
		}
	}
	if f.GetResult() != nil && c.result == nil {
		c.result = f.GetResult()
	}
}

// frameLocked records an applied frame, read at now, and returns the previous last input seq.
// The decode time is added here, before the frame counts as applied: a waiter that sees the
// frame also sees its decode time. The caller wakes the waiters after running the callbacks.
func (c *Client) frameLocked(fi FrameInfo, now time.Time) (prevSeq uint32) {
	c.decodeNs.Add(uint64(time.Since(now)))
	prevSeq = c.frame.LastInputSeq
	c.frame = fi
	if c.frames.Add(1) == 1 {
		c.firstFrame.Store(uint64(fi.Bytes))
	}
	return prevSeq
}

// countFrame reads only a frame's tick, baseline and last input seq (CountOnly mode).
func (c *Client) countFrame(b []byte, now time.Time) error {
	body, n := protowire.ConsumeBytes(b[1:])
	if n < 0 || 1+n != len(b) {
		return fmt.Errorf("%w: frame: bad length", ErrProtocol)
	}
	var fi FrameInfo
	fi.Bytes = len(b)
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return fmt.Errorf("%w: frame: %v", ErrProtocol, protowire.ParseError(n))
		}
		body = body[n:]
		if typ == protowire.VarintType && num >= fFrameTick && num <= fFrameLastSeq {
			v, n := protowire.ConsumeVarint(body)
			if n < 0 {
				return fmt.Errorf("%w: frame: %v", ErrProtocol, protowire.ParseError(n))
			}
			body = body[n:]
			switch num {
			case fFrameTick:
				fi.Tick = uint32(v)
			case fFrameBaseline:
				fi.BaselineTick = uint32(v)
			case fFrameLastSeq:
				fi.LastInputSeq = uint32(v)
			}
			continue
		}
		fi.HasHash = fi.HasHash || (num == fFrameViewHash && typ == protowire.Fixed64Type)
		n = protowire.ConsumeFieldValue(num, typ, body)
		if n < 0 {
			return fmt.Errorf("%w: frame: %v", ErrProtocol, protowire.ParseError(n))
		}
		body = body[n:]
	}
	return c.countedFrame(fi, now)
}

// countedFrame checks and records a frame the client does not apply (CountOnly mode).
func (c *Client) countedFrame(fi FrameInfo, now time.Time) error {
	c.mu.Lock()
	switch {
	case c.welcome == nil:
		c.mu.Unlock()
		return fmt.Errorf("%w: frame before the welcome", ErrProtocol)
	case fi.Tick == 0:
		c.mu.Unlock()
		return fmt.Errorf("client: frame: %w: tick 0", sim.ErrBadFrame)
	case fi.BaselineTick != 0 && (fi.BaselineTick != c.frame.Tick || fi.Tick <= fi.BaselineTick):
		held := c.frame.Tick
		c.mu.Unlock()
		return fmt.Errorf("client: frame for tick %d: %w: baseline %d, client holds %d", fi.Tick, sim.ErrBadFrame, fi.BaselineTick, held)
	}
	prev := c.frameLocked(fi, now)
	c.mu.Unlock()
	c.applied(prev, fi.LastInputSeq, now)
	c.notify()
	return nil
}

// applied reports the inputs after prev up to seq as applied (OnInputApplied).
func (c *Client) applied(prev, seq uint32, now time.Time) {
	if c.opts.OnInputApplied == nil || seq <= prev {
		return
	}
	if seq-prev > sendRing { // older ones were overwritten in the ring
		prev = seq - sendRing
	}
	for s := prev + 1; s <= seq && s != 0; s++ {
		c.mu.Lock()
		in := c.sentAt[s%sendRing]
		c.mu.Unlock()
		if in.seq == s {
			c.opts.OnInputApplied(s, now.Sub(in.at))
		}
	}
}
