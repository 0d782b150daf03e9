package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// subprotocol is the WebSocket subprotocol ticksync speaks.
const subprotocol = "ticksync.v1"

// Field numbers of ServerMessage and Frame (messages.proto) read by the counting path.
const (
	fieldWelcome   = 1
	fieldFrame     = 2
	fieldKick      = 4
	fieldStats     = 5
	fieldTick      = 1
	fieldBaseline  = 2
	fieldLastInput = 3
)

// rawSession is a load client on gws directly: it reads each frame's header (tick, baseline,
// last input seq) without decoding the rest, or, with Decode, applies every frame to a
// sim.Mirror. It is the fallback when client-go is not used.
type rawSession struct {
	gws.BuiltinEventHandler
	cfg     dialConfig
	conn    *gws.Conn
	seq     atomic.Uint32
	welcome chan error // gets nil on the welcome, or the close error before it
	once    sync.Once
	mirror  *sim.Mirror // read goroutine only
	closed  atomic.Bool

	mu      sync.Mutex // guards sentAt and lastSeq (sender and read goroutine)
	sentAt  [sendRing]sentInput
	lastSeq uint32

	msgs, frames, bytes, first, decoded, decodeNs atomic.Uint64
	hashChecks, hashMismatches                    atomic.Uint64
}

// sendRing is how many inputs' send times are kept: the server closes a connection whose seq
// runs more than 1024 ahead of the last applied one, so no more can be in flight.
const sendRing = 1024

type sentInput struct {
	seq uint32
	at  time.Time
}

// dialRaw opens a rawSession.
func dialRaw(ctx context.Context, cfg dialConfig) (session, error) {
	s := &rawSession{cfg: cfg, welcome: make(chan error, 1)}
	u := strings.TrimSuffix(cfg.URL, "/") + "/ws"
	if cfg.Token != "" {
		u += "?token=" + url.QueryEscape(cfg.Token)
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	conn, resp, err := gws.NewClient(s, &gws.ClientOption{
		Addr:               u,
		RequestHeader:      http.Header{"Sec-WebSocket-Protocol": []string{subprotocol}},
		HandshakeTimeout:   timeout,
		ReadMaxPayloadSize: 64 << 20,
		Recovery:           gws.Recovery,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("bench: dial %s: %s: %w", cfg.URL, resp.Status, err)
		}
		return nil, fmt.Errorf("bench: dial %s: %w", cfg.URL, err)
	}
	s.conn = conn
	go conn.ReadLoop()
	join := &pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{
		Room: cfg.Room, Game: cfg.Game, CreateIfMissing: cfg.CreateIfMissing, WantStats: cfg.WantStats,
		Views: true, Follow: cfg.Follow, // the mirror applies Frame.pieces; a count-only session needs nothing of them
	}}}
	b, _ := proto.Marshal(join)
	if err := conn.WriteMessage(gws.OpcodeBinary, b); err != nil {
		s.Close()
		return nil, fmt.Errorf("bench: send join: %w", err)
	}
	select {
	case err := <-s.welcome:
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("bench: join room %q: %w", cfg.Room, err)
		}
		return s, nil
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("bench: join room %q: %w", cfg.Room, ctx.Err())
	}
}

// SendInput sends an input with the next seq and the client's clock.
func (s *rawSession) SendInput(values ...int32) (uint32, error) {
	seq := s.seq.Add(1)
	s.mu.Lock()
	s.sentAt[seq%sendRing] = sentInput{seq: seq, at: time.Now()}
	s.mu.Unlock()
	b := appendInput(make([]byte, 0, 32), seq, values...)
	if err := s.conn.WriteMessage(gws.OpcodeBinary, b); err != nil {
		return seq, fmt.Errorf("bench: send input: %w", err)
	}
	return seq, nil
}

// Close closes the connection (1000).
func (s *rawSession) Close() {
	if s.closed.Swap(true) || s.conn == nil {
		return
	}
	_ = s.conn.WriteClose(1000, nil)
	_ = s.conn.NetConn().Close()
}

// OnClose reports the end of the connection.
func (s *rawSession) OnClose(_ *gws.Conn, err error) {
	if err == nil {
		err = errors.New("closed")
	}
	s.once.Do(func() { s.welcome <- err })
	if s.cfg.OnClose != nil && !s.closed.Load() {
		s.cfg.OnClose(err)
	}
}

// Counters returns the session's receive counters.
func (s *rawSession) Counters() counters {
	return counters{
		Messages: s.msgs.Load(), Frames: s.frames.Load(), Bytes: s.bytes.Load(),
		FirstFrameBytes: s.first.Load(), Decoded: s.decoded.Load(), DecodeNs: s.decodeNs.Load(),
		HashChecks: s.hashChecks.Load(), HashMismatches: s.hashMismatches.Load(),
	}
}

// OnMessage reads one server message.
func (s *rawSession) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	at := time.Now()
	b := m.Bytes()
	s.msgs.Add(1)
	s.bytes.Add(uint64(len(b)))
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || typ != protowire.BytesType {
		return
	}
	body, m2 := protowire.ConsumeBytes(b[n:])
	if m2 < 0 {
		return
	}
	switch num {
	case fieldWelcome:
		if s.cfg.Decode {
			var w pb.Welcome
			if err := proto.Unmarshal(body, &w); err == nil {
				if sch, err := sim.SchemaFromProto(w.GetState(), w.GetInput()); err == nil {
					s.mirror = sim.NewMirror(sch)
				}
			}
		}
		s.once.Do(func() { s.welcome <- nil })
	case fieldFrame:
		if s.frames.Add(1) == 1 {
			s.first.Store(uint64(len(b)))
		}
		_, lastSeq, _ := frameHeader(body)
		if s.mirror != nil {
			t0 := time.Now()
			msg, err := s.mirror.ApplyMessage(b)
			s.decodeNs.Add(uint64(time.Since(t0)))
			s.decoded.Add(1)
			if err != nil {
				s.fail(fmt.Errorf("frame does not apply: %w", err))
				return
			}
			if f := msg.GetFrame(); f.ViewHash != nil {
				s.hashChecks.Add(1)
				if f.GetViewHash() != s.mirror.State().Hash() {
					s.hashMismatches.Add(1)
					s.fail(fmt.Errorf("view hash mismatch at tick %d", f.GetTick()))
					return
				}
			}
		}
		s.applied(lastSeq, at)
	case fieldKick:
		var k pb.Kick
		if proto.Unmarshal(body, &k) == nil {
			s.once.Do(func() { s.welcome <- fmt.Errorf("kicked %d %s", k.GetCode(), k.GetReason()) })
		}
	case fieldStats:
		var st pb.Stats
		if proto.Unmarshal(body, &st) == nil && s.cfg.OnStats != nil {
			s.cfg.OnStats(&st)
		}
	}
}

// applied reports the inputs a frame received at at shows for the first time.
func (s *rawSession) applied(lastSeq uint32, at time.Time) {
	type sample struct {
		seq uint32
		rtt time.Duration
	}
	var buf [8]sample
	done := buf[:0]
	s.mu.Lock()
	if lastSeq <= s.lastSeq {
		s.mu.Unlock()
		return
	}
	from := max(s.lastSeq+1, lastSeq-min(lastSeq, sendRing-1))
	s.lastSeq = lastSeq
	for seq := from; seq <= lastSeq; seq++ {
		if in := s.sentAt[seq%sendRing]; in.seq == seq {
			done = append(done, sample{seq, at.Sub(in.at)})
		}
	}
	s.mu.Unlock()
	if s.cfg.OnApplied != nil {
		for _, d := range done { // outside s.mu: the callback takes the caller's locks
			s.cfg.OnApplied(d.seq, d.rtt)
		}
	}
}

// fail reports a protocol error and closes the session.
func (s *rawSession) fail(err error) {
	if s.cfg.OnClose != nil && !s.closed.Load() {
		s.cfg.OnClose(err)
	}
	s.closed.Store(true)
	_ = s.conn.WriteClose(1002, nil)
}

// frameHeader reads a Frame's tick, last input seq and whether its baseline is 0, without
// decoding the rest.
func frameHeader(b []byte) (tick, lastSeq uint32, full bool) {
	full = true
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return
		}
		b = b[n:]
		if typ != protowire.VarintType || num > fieldLastInput {
			if num > fieldLastInput {
				return
			}
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return
		}
		b = b[n:]
		switch num {
		case fieldTick:
			tick = uint32(v)
		case fieldBaseline:
			full = v == 0
		case fieldLastInput:
			lastSeq = uint32(v)
		}
	}
	return
}

// appendInput appends a ClientMessage{input: {seq, client time, values}} to b (the raw load
// clients and the hostile ones).
func appendInput(b []byte, seq uint32, values ...int32) []byte {
	in := make([]byte, 0, 28)
	in = protowire.AppendTag(in, 1, protowire.VarintType)
	in = protowire.AppendVarint(in, uint64(seq))
	in = protowire.AppendTag(in, 2, protowire.VarintType)
	in = protowire.AppendVarint(in, uint64(time.Now().UnixMicro()))
	var packed []byte
	for _, v := range values {
		packed = protowire.AppendVarint(packed, protowire.EncodeZigZag(int64(v)))
	}
	if len(packed) > 0 {
		in = protowire.AppendTag(in, 3, protowire.BytesType)
		in = protowire.AppendBytes(in, packed)
	}
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, in)
}
