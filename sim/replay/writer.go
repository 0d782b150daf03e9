package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("replay: writer closed")

// DefaultKeyframeEvery is the default keyframe interval: 10 s of game time.
func DefaultKeyframeEvery(tickRate uint32) uint32 { return 10 * tickRate }

// Writer appends a match to a recording. It is not safe for concurrent use: the server's
// recorder goroutine owns it. Each record goes to the underlying writer in one Write call, so a
// crash or a failed write leaves at most one torn record at the tail, which readers drop.
// After a failed write every method returns that error; truncating the file to Offset() makes it
// a clean prefix again (docs/operations.md, "Recordings": a recording stops at a record boundary).
type Writer struct {
	w         io.Writer
	off       int64  // bytes written as whole records: the offset of the next record
	buf       []byte // the record being framed; reused, so WriteTick does not allocate
	lastTick  uint32
	lastKF    int64 // the last keyframe's tick, -1 before any
	keyframes []*pb.KeyframeRef
	err       error // sticky: the first write error
	closed    bool
}

// NewWriter writes the magic and the header and returns a Writer for the ticks that follow.
// The header must have format_version FormatVersion, a game, a state schema, a tick rate and a
// keyframe interval; NewWriter does not modify it.
func NewWriter(w io.Writer, h *pb.RecordingHeader) (*Writer, error) {
	switch {
	case h.GetFormatVersion() != FormatVersion:
		return nil, fmt.Errorf("replay: new writer: format_version %d, want %d", h.GetFormatVersion(), FormatVersion)
	case h.GetGame() == "":
		return nil, errors.New("replay: new writer: header names no game")
	case h.GetState() == nil:
		return nil, errors.New("replay: new writer: header has no state schema")
	case h.GetTickRate() == 0:
		return nil, errors.New("replay: new writer: tick_rate is 0")
	case h.GetKeyframeEvery() == 0:
		return nil, errors.New("replay: new writer: keyframe_every is 0")
	}
	wr := &Writer{w: w, lastKF: -1}
	wr.buf = append(wr.buf[:0], magic...)
	frame, err := wr.frameMessage(wr.buf, &pb.Record{Kind: &pb.Record_Header{Header: h}})
	if err != nil {
		return nil, fmt.Errorf("replay: new writer: %w", err)
	}
	if err := wr.write(frame, "header"); err != nil {
		return nil, err
	}
	return wr, nil
}

// Offset returns the bytes written as whole records: where the next record starts. After a
// failed write it stays at the end of the last whole record, where the file can be truncated.
func (w *Writer) Offset() int64 { return w.off }

// LastTick returns the last tick written (0 before the first).
func (w *Writer) LastTick() uint32 { return w.lastTick }

// Mark is a point in a recording being written, between two records: what Writer.Rewind
// returns to. The zero Mark is no point (Rewind refuses it).
type Mark struct {
	off       int64
	tick      uint32
	lastKF    int64
	keyframes int
}

// Offset is where the records after the mark begin: the size the file is cut to on a rewind.
func (m Mark) Offset() int64 { return m.off }

// Tick is the last tick written at the mark.
func (m Mark) Tick() uint32 { return m.tick }

// Mark returns the current point: after the last tick written and its keyframe, if any. It
// does not allocate.
func (w *Writer) Mark() Mark {
	return Mark{off: w.off, tick: w.lastTick, lastKF: w.lastKF, keyframes: len(w.keyframes)}
}

// Rewind forgets every record written after m (ticks and keyframes alike), so that the next
// record, and Close's end record and index, follow m's tick as if nothing had come after it: the
// file becomes a normal recording of the ticks up to m.Tick(). cut must shorten the underlying
// file to off (m.Offset()) and make the next write land there (for a file opened with O_APPEND,
// a Truncate does both); Rewind calls it once it has checked m, which must come from this Writer
// and not lie past its last tick. When cut fails Rewind returns its error and the Writer goes on
// as if Rewind had not been called (cut must then have left the file as it was). After a write
// error or Close it returns that error or ErrClosed without calling cut.
func (w *Writer) Rewind(m Mark, cut func(off int64) error) error {
	if err := w.usable(); err != nil {
		return err
	}
	if m.off == 0 || m.off > w.off || m.tick > w.lastTick || m.keyframes > len(w.keyframes) {
		return fmt.Errorf("replay: rewind to tick %d at offset %d: not a point of this recording (tick %d at offset %d)", m.tick, m.off, w.lastTick, w.off)
	}
	if err := cut(m.off); err != nil {
		return fmt.Errorf("replay: rewind to tick %d: %w", m.tick, err)
	}
	w.off, w.lastTick, w.lastKF, w.keyframes = m.off, m.tick, m.lastKF, w.keyframes[:m.keyframes]
	return nil
}

// WriteTick appends tick's record: the inputs Step received in delivery order (values already
// clamped), the world hash after the tick, and the players that resumed their seat at it.
// Ticks are consecutive from 1. It does not keep inputs or reconnects and does not allocate in
// steady state.
func (w *Writer) WriteTick(tick uint32, inputs []sim.Input, hash uint64, reconnects []uint32) error {
	return w.WriteTickEvents(tick, inputs, hash, reconnects, nil, nil)
}

// WriteTickEvents is WriteTick with the game events Step emitted at tick and, at the tick the
// game ended the match, its result (nil otherwise).
func (w *Writer) WriteTickEvents(tick uint32, inputs []sim.Input, hash uint64, reconnects []uint32, events []sim.Event, result *sim.Result) error {
	if err := w.usable(); err != nil {
		return err
	}
	if tick != w.lastTick+1 {
		return fmt.Errorf("replay: write tick %d after tick %d: ticks are consecutive from 1", tick, w.lastTick)
	}
	for i := range inputs {
		if k := inputs[i].Kind; k < sim.InputMove || k > sim.InputLeave {
			return fmt.Errorf("replay: write tick %d: input %d has kind %d", tick, i, k)
		}
	}
	b, at := encodeTick(w.buf, tick, inputs, hash, reconnects, events, result)
	if len(b)-at > MaxRecordLen {
		return fmt.Errorf("replay: write tick %d: %d-byte record over the cap", tick, len(b)-at)
	}
	w.buf = b
	if err := w.write(b[at:], "tick"); err != nil {
		return err
	}
	w.lastTick = tick
	return nil
}

// WriteKeyframe appends the whole world after tick, which must be the last tick written (or 0
// before the first). ws.Tick must equal tick. The caller decides how often (the header's
// keyframe_every; DefaultKeyframeEvery); the server fsyncs after it.
func (w *Writer) WriteKeyframe(tick uint32, ws *pb.WorldState) error {
	return w.WriteKeyframeHistory(tick, ws, nil)
}

// WriteKeyframeHistory is WriteKeyframe with the past states a Historian game's next Step may
// read (World.PastStates, oldest first), so a seek to it re-simulates exactly.
func (w *Writer) WriteKeyframeHistory(tick uint32, ws *pb.WorldState, past []*pb.WorldState) error {
	if err := w.usable(); err != nil {
		return err
	}
	switch {
	case tick != w.lastTick:
		return fmt.Errorf("replay: write keyframe %d: last tick written is %d", tick, w.lastTick)
	case int64(tick) <= w.lastKF:
		return fmt.Errorf("replay: write keyframe %d: keyframe %d already written", tick, w.lastKF)
	case ws.GetTick() != tick:
		return fmt.Errorf("replay: write keyframe %d: world is at tick %d", tick, ws.GetTick())
	}
	off := w.off
	frame, err := w.frameMessage(w.buf[:0], &pb.Record{Kind: &pb.Record_Keyframe{Keyframe: &pb.Keyframe{Tick: tick, World: ws, History: past}}})
	if err != nil {
		return fmt.Errorf("replay: write keyframe %d: %w", tick, err)
	}
	if err := w.write(frame, "keyframe"); err != nil {
		return err
	}
	w.keyframes = append(w.keyframes, &pb.KeyframeRef{Tick: tick, Offset: uint64(off)})
	w.lastKF = int64(tick)
	return nil
}

// Close appends the end record (reason: "room closed", "room empty", "shutdown", "failed: …";
// endUnixMs is informational wall-clock time), the index and the trailer. It does not close or
// sync the underlying writer. After a write error it writes nothing and returns that error.
func (w *Writer) Close(reason string, endUnixMs int64) error {
	if err := w.usable(); err != nil {
		return err
	}
	w.closed = true
	endOff := w.off
	b, err := w.frameMessage(w.buf[:0], &pb.Record{Kind: &pb.Record_End{End: &pb.RecordingEnd{LastTick: w.lastTick, Reason: reason, EndUnixMs: endUnixMs}}})
	if err != nil {
		return fmt.Errorf("replay: close: %w", err)
	}
	b, err = w.frameMessage(b, &pb.Record{Kind: &pb.Record_Index{Index: &pb.RecordingIndex{Keyframes: w.keyframes, Ticks: w.lastTick}}})
	if err != nil {
		return fmt.Errorf("replay: close: %w", err)
	}
	b = appendTrailer(b, endOff)
	w.buf = b
	return w.write(b, "end and index")
}

func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

func (w *Writer) write(b []byte, what string) error {
	n, err := w.w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil { // w.off stays at the last whole record
		w.err = fmt.Errorf("replay: write %s at offset %d: %w", what, w.off, err)
		return w.err
	}
	w.off += int64(n)
	return nil
}

// frameMessage appends m as a framed record to b and returns b. It keeps the grown buffer in
// w.buf for the next record.
func (w *Writer) frameMessage(b []byte, m *pb.Record) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, maxPrefixLen)...)
	b, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend(b, m)
	if err != nil {
		return nil, err
	}
	if n := len(b) - start - maxPrefixLen; n > MaxRecordLen {
		return nil, fmt.Errorf("%d-byte record over the %d-byte cap", n, MaxRecordLen)
	}
	b, at := seal(b, start)
	n := copy(b[start:], b[at:]) // close the gap the unused prefix bytes left
	b = b[:start+n]
	w.buf = b
	return b, nil
}

// seal frames the payload at b[start+maxPrefixLen:], which runs to b's end: it writes the length
// prefix right before the payload and appends the CRC. The frame is b[at:].
func seal(b []byte, start int) (_ []byte, at int) {
	payload := len(b) - start - maxPrefixLen
	at = start + maxPrefixLen - protowire.SizeVarint(uint64(payload))
	binary.PutUvarint(b[at:], uint64(payload))
	return binary.LittleEndian.AppendUint32(b, crc(b[at:])), at
}

func appendTrailer(b []byte, endOff int64) []byte {
	at := len(b)
	b = binary.LittleEndian.AppendUint64(b, uint64(endOff))
	b = binary.LittleEndian.AppendUint32(b, crc(b[at:]))
	return append(b, trailerMagic...)
}

// tickHead is the room encodeTick leaves before a TickRecord's fields: the frame's length
// prefix, Record.tick's tag and the TickRecord's length.
const tickHead = maxPrefixLen + 1 + maxPrefixLen

// encodeTick frames a tick record in b (reused from its start) and returns b and the frame's
// offset in it: the frame is b[at:]. The payload is byte for byte what proto.Marshal writes for
// the same Record, in one pass and without building messages.
func encodeTick(b []byte, tick uint32, inputs []sim.Input, hash uint64, reconnects []uint32, events []sim.Event, result *sim.Result) (_ []byte, at int) {
	b = append(b[:0], make([]byte, tickHead)...)
	if tick != 0 {
		b = append(b, 1<<3|byte(protowire.VarintType))
		b = appendVarint(b, uint64(tick))
	}
	for i := range inputs {
		in := &inputs[i]
		b = append(b, 2<<3|byte(protowire.BytesType), 0)
		lenAt := len(b) - 1
		if in.Player != 0 {
			b = append(b, 1<<3|byte(protowire.VarintType))
			b = appendVarint(b, uint64(in.Player))
		}
		b = append(b, 2<<3|byte(protowire.VarintType), byte(in.Kind)) // 1..3: WriteTick checks
		if in.Seq != 0 {
			b = append(b, 3<<3|byte(protowire.VarintType))
			b = appendVarint(b, uint64(in.Seq))
		}
		if len(in.Values) > 0 {
			b = append(b, 4<<3|byte(protowire.BytesType), 0)
			valsAt := len(b) - 1
			for _, v := range in.Values {
				b = appendVarint(b, protowire.EncodeZigZag(int64(v)))
			}
			b = patchLen(b, valsAt)
		}
		if len(in.Meta) > 0 {
			b = protowire.AppendTag(b, 5, protowire.BytesType)
			b = protowire.AppendBytes(b, in.Meta)
		}
		if in.RenderTick != 0 {
			b = append(b, 6<<3|byte(protowire.VarintType))
			b = appendVarint(b, uint64(in.RenderTick))
		}
		if in.Subtick != 0 {
			b = append(b, 7<<3|byte(protowire.VarintType))
			b = appendVarint(b, uint64(in.Subtick))
		}
		b = patchLen(b, lenAt)
	}
	if hash != 0 {
		b = append(b, 3<<3|byte(protowire.Fixed64Type))
		b = binary.LittleEndian.AppendUint64(b, hash)
	}
	if len(reconnects) > 0 {
		b = append(b, 4<<3|byte(protowire.BytesType), 0)
		lenAt := len(b) - 1
		for _, v := range reconnects {
			b = appendVarint(b, uint64(v))
		}
		b = patchLen(b, lenAt)
	}
	for i := range events { // rare: these may allocate
		ev := sim.AppendEvent(nil, tick, &events[i], true)
		ev[0] = 5<<3 | byte(protowire.BytesType) // TickRecord.events instead of Frame.events
		b = append(b, ev...)
	}
	if result != nil {
		r := sim.AppendResult(nil, result)
		r[0] = 6<<3 | byte(protowire.BytesType) // TickRecord.result instead of Frame.result
		b = append(b, r...)
	}
	body := len(b) - tickHead
	at = tickHead - protowire.SizeVarint(uint64(body))
	binary.PutUvarint(b[at:], uint64(body))
	at--
	b[at] = 2<<3 | byte(protowire.BytesType) // Record.tick
	payload := len(b) - at
	at -= protowire.SizeVarint(uint64(payload))
	binary.PutUvarint(b[at:], uint64(payload))
	return binary.LittleEndian.AppendUint32(b, crc(b[at:])), at
}

// patchLen writes the length of what follows b[at] into b[at], a one-byte placeholder, making
// room when the length needs more bytes (a message of 128 bytes or more: rare).
func patchLen(b []byte, at int) []byte {
	n := len(b) - at - 1
	if n < 1<<7 {
		b[at] = byte(n)
		return b
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	b = append(b, make([]byte, extra)...)
	copy(b[at+1+extra:], b[at+1:len(b)-extra])
	binary.PutUvarint(b[at:], uint64(n))
	return b
}

// appendVarint is protowire.AppendVarint with the short cases inlined.
func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v)|0x80, byte(v>>7))
	case v < 1<<21:
		return append(b, byte(v)|0x80, byte(v>>7)|0x80, byte(v>>14))
	}
	return protowire.AppendVarint(b, v)
}
