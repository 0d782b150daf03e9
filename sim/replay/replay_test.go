package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/arena"
	"google.golang.org/protobuf/proto"
)

func TestTickEncodingMatchesProto(t *testing.T) {
	r := sim.NewRand(3)
	for i := range 500 {
		tick := r.Uint32() >> (r.Uint32() % 32)
		hash := uint64(r.Uint32())<<32 | uint64(r.Uint32())
		if i%7 == 0 {
			hash = 0
		}
		var ins []sim.Input
		for range r.Mod(6) {
			in := sim.Input{Player: r.Uint32() >> (r.Mod(32)), Kind: sim.InputKind(1 + r.Mod(3)), Seq: r.Uint32() >> r.Mod(32)}
			nv := r.Mod(4)
			if r.Mod(10) == 0 {
				nv = 20 + r.Mod(100) // a long input: lengths of two bytes
			}
			for range nv {
				in.Values = append(in.Values, int32(r.Uint32())>>r.Mod(32))
			}
			if r.Mod(4) == 0 { // the game API's fields: meta, render tick, sub-tick
				in.Meta = []byte(strings.Repeat("m", int(r.Mod(200))))
				in.RenderTick, in.Subtick = r.Uint32()>>r.Mod(32), uint16(r.Uint32())
			}
			ins = append(ins, in)
		}
		var evs []sim.Event
		for range r.Mod(3) {
			ev := sim.Event{Kind: r.Uint32() >> r.Mod(32), Values: []int32{int32(r.Uint32()), -1}}
			if r.Mod(2) == 0 {
				ev.To, ev.Data = []uint32{r.Mod(9), 1000}, []byte("hit")
			}
			evs = append(evs, ev)
		}
		var result *sim.Result
		if r.Mod(5) == 0 {
			result = &sim.Result{Tick: tick, Winners: []uint32{1, 3}, Summary: "red wins", Data: []byte(`{"red":5}`)}
		}
		var rec []uint32
		for range r.Mod(3) + 60*(r.Mod(8)/7) {
			rec = append(rec, r.Uint32()>>r.Mod(32))
		}
		want := &pb.TickRecord{Tick: tick, WorldHash: hash, Reconnects: rec}
		for _, in := range ins {
			want.Inputs = append(want.Inputs, &pb.RecordedInput{Player: in.Player, Kind: pb.InputKind(in.Kind), Seq: in.Seq, Values: in.Values,
				Meta: in.Meta, RenderTick: in.RenderTick, Subtick: uint32(in.Subtick)})
		}
		for i := range evs {
			want.Events = append(want.Events, sim.EventProto(tick, &evs[i]))
		}
		if result != nil {
			want.Result = sim.ResultProto(result)
		}
		wantBytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb.Record{Kind: &pb.Record_Tick{Tick: want}})
		require.NoError(t, err)
		b, at := encodeTick(nil, tick, ins, hash, rec, evs, result)
		frame := b[at:]
		n, k := binary.Uvarint(frame)
		require.Positive(t, k)
		require.Equal(t, wantBytes, frame[k:len(frame)-4], "case %d", i)
		require.Len(t, frame, k+int(n)+4)
		require.Equal(t, crc(frame[:len(frame)-4]), binary.LittleEndian.Uint32(frame[len(frame)-4:]))
	}
}

// A random match, recorded and replayed, has the same hash on every tick.
func TestRecordReplayMatch(t *testing.T) {
	m := match{hz: 20, seed: 42, scriptSeed: 9, ticks: 10_000, keyEvery: 200, players: 24,
		joinBelow: 1 << 25, leaveBelow: 1 << 23, moveBelow: 1 << 31, odd: true}
	p := m.play(t, nil, nil)
	r := openBytes(t, p.file)
	require.NoError(t, r.Err())
	require.True(t, r.Complete())
	assert.Equal(t, m.ticks, r.LastTick())
	assert.Len(t, r.Keyframes(), int(m.ticks/m.keyEvery))

	var calls int
	require.NoError(t, Verify(r, lookup, func(done, total uint32) {
		calls++
		assert.Equal(t, m.ticks, total)
	}))
	assert.Equal(t, int(m.ticks/256)+1, calls)

	it := r.Ticks(1)
	n := uint32(0)
	for it.Next() {
		n++
		require.Equal(t, n, it.Record().GetTick())
		require.Equal(t, p.hashes[n], it.Record().GetWorldHash())
		require.Len(t, it.Inputs(), len(p.inputs[n]))
	}
	require.NoError(t, it.Err())
	assert.Equal(t, m.ticks, n)

	info, err := r.Info()
	require.NoError(t, err)
	assert.Equal(t, Info{Game: arena.Name, Room: "golden", TickRate: 20, Seed: 42, KeyframeEvery: 200,
		Ticks: m.ticks, Duration: 500e9, Players: p.joined, Keyframes: 50, Size: int64(len(p.file)),
		StartUnixMs: 1_700_000_000_000, EndUnixMs: 1_700_000_600_000, EndReason: "room closed", Complete: true}, info)
	assert.Greater(t, p.joined, 10)

	for _, tick := range []uint32{0, 1, 199, 200, 201, 5555, 9999, 10_000} {
		w, g, err := Seek(r, lookup, tick)
		require.NoError(t, err, "tick %d", tick)
		require.Equal(t, tick, w.Tick())
		require.Equal(t, p.hashes[tick], w.Hash(), "tick %d", tick)
		if tick < m.ticks { // the game's caches came back too: stepping on agrees
			w.Step(g, p.inputs[tick+1])
			require.Equal(t, p.hashes[tick+1], w.Hash(), "tick %d", tick+1)
		}
	}
	_, _, err = Seek(r, lookup, m.ticks+1)
	require.ErrorIs(t, err, ErrTickRange)

	it = r.Ticks(4321)
	require.True(t, it.Next())
	assert.Equal(t, uint32(4321), it.Record().GetTick())
}

func TestSeekEveryTick(t *testing.T) {
	p := small().play(t, nil, nil)
	r := openBytes(t, p.file)
	for tick := uint32(0); tick <= small().ticks; tick++ {
		w, _, err := Seek(r, lookup, tick)
		require.NoError(t, err)
		require.Equal(t, p.hashes[tick], w.Hash(), "tick %d", tick)
	}
	ws, ok, err := r.Keyframe(40)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, uint32(40), ws.GetTick())
	_, ok, err = r.Keyframe(41)
	require.NoError(t, err)
	assert.False(t, ok)
}

// One altered input that changes the state fails Verify at exactly that tick, and the diff at
// the next keyframe names the player's fields.
func TestVerifyAlteredInput(t *testing.T) {
	m := small()
	orig := m.script()
	var at uint32
	var mover uint32
	for tick := uint32(25); tick < m.ticks && at == 0; tick++ { // a move of a player in the match
		g, _ := arena.New(m.hz, m.config())
		w := sim.NewWorld(g.Schema(), m.seed)
		require.NoError(t, g.Init(w))
		for t := uint32(1); t < tick; t++ {
			w.Step(g, orig[t])
		}
		for _, in := range orig[tick] {
			if _, ok := g.(*arena.Game).Player(in.Player); ok && in.Kind == sim.InputMove {
				at, mover = tick, in.Player
				break
			}
		}
	}
	require.NotZero(t, at)
	alter := func(ins []sim.Input) []sim.Input {
		out := append([]sim.Input(nil), ins...)
		for i := range out {
			if out[i].Player == mover && out[i].Kind == sim.InputMove {
				out[i].Values = []int32{out[i].Values[0] ^ 0x40, out[i].Values[1]}
			}
		}
		return out
	}
	p := m.play(t, nil, func(tick uint32, ins []sim.Input) []sim.Input {
		if tick == at {
			return alter(ins)
		}
		return ins
	})

	// The altered input does change the world.
	g, _ := arena.New(m.hz, m.config())
	w := sim.NewWorld(g.Schema(), m.seed)
	require.NoError(t, g.Init(w))
	for tick := uint32(1); tick < at; tick++ {
		w.Step(g, orig[tick])
	}
	w.Step(g, alter(orig[at]))
	require.NotEqual(t, p.hashes[at], w.Hash())

	err := Verify(openBytes(t, p.file), lookup, nil)
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	assert.Equal(t, at, me.Tick)
	assert.Equal(t, p.hashes[at], me.Want)
	assert.Equal(t, w.Hash(), me.Got)
	assert.False(t, me.Keyframe)
	assert.Equal(t, (at/m.keyEvery+1)*m.keyEvery, me.DiffTick)
	require.NotEmpty(t, me.Diff)
	var fields []string
	for _, d := range me.Diff {
		assert.Equal(t, "player", d.Class, "%s", d)
		fields = append(fields, d.Field)
	}
	assert.Contains(t, fields, "x") // later moves set vx again; the position keeps the change
	assert.Contains(t, err.Error(), "player")
}

// A keyframe that disagrees with the world its ticks make is reported at the keyframe.
func TestVerifyBadKeyframe(t *testing.T) {
	m := small()
	g, err := arena.New(m.hz, m.config())
	require.NoError(t, err)
	world := sim.NewWorld(g.Schema(), m.seed)
	require.NoError(t, g.Init(world))
	var buf bytes.Buffer
	w, err := NewWriter(&buf, m.header(g))
	require.NoError(t, err)
	script := m.script()
	for tick := uint32(1); tick <= 30; tick++ {
		world.Step(g, script[tick])
		require.NoError(t, w.WriteTick(tick, script[tick], world.Hash(), nil))
		if tick == 20 {
			ws := world.Save()
			ws.Values[4]-- // npc 1's hp
			ws.RngState++
			require.NoError(t, w.WriteKeyframe(tick, ws))
		}
	}
	require.NoError(t, w.Close("test", 0))
	err = Verify(openBytes(t, buf.Bytes()), lookup, nil)
	var me *MismatchError
	require.ErrorAs(t, err, &me)
	assert.True(t, me.Keyframe)
	assert.Equal(t, uint32(20), me.Tick)
	require.Len(t, me.Diff, 2)
	assert.Equal(t, FieldDiff{Field: "rng_state", Want: me.Diff[0].Want, Got: me.Diff[0].Got}, me.Diff[0])
	assert.Equal(t, FieldDiff{Entity: 1, Class: "npc", Field: "hp", Want: me.Diff[1].Want, Got: me.Diff[1].Got}, me.Diff[1])
}

func TestVerifyWrongGame(t *testing.T) {
	m := small()
	g, err := arena.New(30, m.config()) // predict_den follows the tick rate
	require.NoError(t, err)
	h := m.header(g)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	require.NoError(t, err)
	require.NoError(t, w.Close("test", 0))
	r := openBytes(t, buf.Bytes())

	err = Verify(r, lookup, nil)
	require.ErrorIs(t, err, ErrSchemaMismatch)
	assert.Contains(t, err.Error(), `class "npc" field "x"`)
	_, _, err = Seek(r, lookup, 0)
	require.ErrorIs(t, err, ErrSchemaMismatch)

	err = Verify(r, func(string) (sim.Factory, bool) { return nil, false }, nil)
	require.ErrorIs(t, err, ErrUnknownGame)
}

func TestWriterRules(t *testing.T) {
	m := small()
	g, err := arena.New(m.hz, m.config())
	require.NoError(t, err)
	world := sim.NewWorld(g.Schema(), m.seed)
	require.NoError(t, g.Init(world))

	bad := m.header(g)
	bad.FormatVersion = 2
	_, err = NewWriter(io.Discard, bad)
	require.Error(t, err)
	bad = m.header(g)
	bad.KeyframeEvery = 0
	_, err = NewWriter(io.Discard, bad)
	require.Error(t, err)

	w, err := NewWriter(io.Discard, m.header(g))
	require.NoError(t, err)
	require.NoError(t, w.WriteKeyframe(0, world.Save()), "a keyframe of the initial world")
	require.Error(t, w.WriteTick(2, nil, 0, nil), "ticks start at 1")
	require.NoError(t, w.WriteTick(1, nil, 0, nil))
	require.Error(t, w.WriteTick(1, nil, 0, nil), "again")
	require.Error(t, w.WriteTick(2, []sim.Input{{Player: 1}}, 0, nil), "kind 0")
	require.Error(t, w.WriteKeyframe(0, world.Save()), "keyframe 0 again")
	require.Error(t, w.WriteKeyframe(1, world.Save()), "world at tick 0")
	require.NoError(t, w.Close("done", 0))
	require.ErrorIs(t, w.WriteTick(2, nil, 0, nil), ErrClosed)
	require.ErrorIs(t, w.Close("again", 0), ErrClosed)

	fw := &failingWriter{after: 2}
	w, err = NewWriter(fw, m.header(g))
	require.NoError(t, err)
	require.NoError(t, w.WriteTick(1, nil, 1, nil))
	whole := w.Offset()
	err = w.WriteTick(2, nil, 2, nil)
	require.ErrorIs(t, err, errDiskFull)
	require.ErrorIs(t, w.WriteTick(3, nil, 3, nil), errDiskFull, "sticky")
	require.ErrorIs(t, w.Close("x", 0), errDiskFull)
	assert.Equal(t, whole, w.Offset(), "the torn half record is not counted")
	assert.Greater(t, int64(fw.n), whole)
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{ after, calls, n int }

func (f *failingWriter) Write(b []byte) (int, error) {
	f.calls++
	if f.calls > f.after {
		f.n += len(b) / 2
		return len(b) / 2, errDiskFull
	}
	f.n += len(b)
	return len(b), nil
}

// recordStarts lists the offset of every record of an intact closed file, the trailer's last.
func recordStarts(t *testing.T, file []byte) []int64 {
	t.Helper()
	rr := recReader{ra: bytes.NewReader(file), off: int64(len(magic)), limit: int64(len(file) - trailerLen), sealed: true}
	var starts []int64
	for {
		at := rr.off
		_, err := rr.next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		starts = append(starts, at)
	}
	return append(starts, int64(len(file)-trailerLen))
}

// A file cut at any byte of its last records reads up to the last whole record.
func TestTornTail(t *testing.T) {
	m := small()
	p := m.play(t, nil, nil)
	starts := recordStarts(t, p.file)
	require.Len(t, starts, 1+int(m.ticks)+int(m.ticks/m.keyEvery)+2+1)
	tickAt := map[int64]uint32{} // record start → tick record number
	for tick, off := range p.tickOff[1:] {
		tickAt[off] = uint32(tick + 1)
	}
	from := p.tickOff[m.ticks-3]
	for cut := from; cut < int64(len(p.file)); cut++ {
		r := openBytes(t, p.file[:cut])
		// the records wholly before the cut
		var whole uint32
		boundary := false
		for _, s := range starts {
			if tk, ok := tickAt[s]; ok && s < cut && nextStart(starts, s, len(p.file)) <= cut {
				whole = max(whole, tk)
			}
			boundary = boundary || s == cut
		}
		require.Equal(t, whole, r.LastTick(), "cut %d", cut)
		require.Error(t, r.Err())
		var ce *CorruptError
		if boundary && !endWritten(starts, cut) {
			require.ErrorIs(t, r.Err(), ErrNotClosed, "cut %d", cut)
		} else {
			require.ErrorAs(t, r.Err(), &ce, "cut %d", cut)
			require.ErrorIs(t, ce, ErrTorn, "cut %d", cut)
			require.Equal(t, whole, ce.Tick, "cut %d", cut)
			require.Equal(t, lastStartAtOrBefore(starts, cut), ce.Offset, "cut %d", cut)
		}
		it := r.Ticks(1)
		n := uint32(0)
		for it.Next() {
			n++
			require.Equal(t, p.hashes[n], it.Record().GetWorldHash())
		}
		require.Equal(t, whole, n, "cut %d", cut)
		require.Equal(t, r.Err(), it.Err(), "cut %d", cut)
		info, err := r.Info()
		require.NoError(t, err)
		require.False(t, info.Complete)
		require.Equal(t, r.Err().Error(), info.Problem.Error())
	}
	// The prefix still verifies, and Verify says the file is not whole.
	r := openBytes(t, p.file[:p.tickOff[m.ticks]+3])
	err := Verify(r, lookup, nil)
	require.ErrorIs(t, err, ErrTorn)
	var me *MismatchError
	require.False(t, errors.As(err, &me))
}

func nextStart(starts []int64, s int64, size int) int64 {
	for i, x := range starts {
		if x == s && i+1 < len(starts) {
			return starts[i+1]
		}
	}
	return int64(size)
}

func lastStartAtOrBefore(starts []int64, cut int64) int64 {
	var best int64
	for _, s := range starts {
		if s <= cut {
			best = s
		}
	}
	return best
}

// endWritten reports whether the end record lies wholly before cut (starts[-3] is the end
// record, [-2] the index, [-1] the trailer).
func endWritten(starts []int64, cut int64) bool { return starts[len(starts)-2] <= cut }

// A flipped bit anywhere is reported as a checksum error at its record's offset.
func TestBitFlip(t *testing.T) {
	p := small().play(t, nil, nil)
	starts := recordStarts(t, p.file)
	buf := make([]byte, len(p.file))
	for i := range p.file {
		rec := lastStartAtOrBefore(starts, int64(i))
		for bit := range 8 {
			if bit != i%8 && (i >= 64 && i < len(p.file)-64) { // every bit of the ends, one bit of each other byte
				continue
			}
			copy(buf, p.file)
			buf[i] ^= 1 << bit
			r, err := Open(bytes.NewReader(buf), int64(len(buf)))
			switch {
			case i < len(magic):
				require.ErrorIs(t, err, ErrNotRecording)
				continue
			case rec == starts[0]:
				var ce *CorruptError
				require.ErrorAs(t, err, &ce, "byte %d bit %d", i, bit)
				require.ErrorIs(t, err, ErrChecksum, "byte %d bit %d", i, bit)
				require.Equal(t, rec, ce.Offset)
				continue
			}
			require.NoError(t, err, "byte %d bit %d", i, bit)
			info, err := r.Info()
			require.NoError(t, err)
			var ce *CorruptError
			require.ErrorAs(t, info.Problem, &ce, "byte %d bit %d", i, bit)
			require.ErrorIs(t, ce, ErrChecksum, "byte %d bit %d: %v", i, bit, ce)
			require.Equal(t, rec, ce.Offset, "byte %d bit %d", i, bit)
			if bit == 0 && i%17 == 0 { // reading the ticks stops there too
				it := r.Ticks(1)
				for it.Next() {
				}
				if rec < p.tickOff[len(p.tickOff)-1]+1 {
					require.ErrorIs(t, it.Err(), ErrChecksum, "byte %d", i)
				}
			}
		}
	}
}

// Verify checks the ticks before a damaged record and then reports it.
func TestVerifyDamaged(t *testing.T) {
	p := small().play(t, nil, nil)
	buf := bytes.Clone(p.file)
	buf[p.tickOff[30]+6] ^= 0x04
	r := openBytes(t, buf)
	require.NoError(t, r.Err(), "the trailer and index are intact: Open does not read the middle")
	var done uint32
	err := Verify(r, lookup, func(d, _ uint32) { done = d })
	var ce *CorruptError
	require.ErrorAs(t, err, &ce)
	assert.ErrorIs(t, err, ErrChecksum)
	assert.Equal(t, p.tickOff[30], ce.Offset)
	assert.Equal(t, uint32(29), ce.Tick)
	assert.Zero(t, done, "no final progress call for a file that did not verify")
	_, _, err = Seek(r, lookup, 45)
	require.NoError(t, err, "from keyframe 40, past the damage")
	_, _, err = Seek(r, lookup, 35)
	require.ErrorIs(t, err, ErrChecksum)
}

// Info and Verify read a file the same way: whatever is wrong with it, they report the same
// readable range (Verify's CorruptError.Tick, or LastTick for an unclosed file, is Info.Ticks)
// and the same problem. Cleanly closed files open from their index without reading the
// middle, so damage there is found only by the reading, by both alike.
func TestInfoAndVerifyAgree(t *testing.T) {
	m := small()
	p := m.play(t, nil, nil)
	starts := recordStarts(t, p.file)
	endOff, indexOff := starts[len(starts)-3], starts[len(starts)-2]
	trailer := p.file[len(p.file)-trailerLen:]
	flip := func(off int64) []byte {
		b := bytes.Clone(p.file)
		b[off] ^= 0x20
		return b
	}
	// frame returns rec as a record: length prefix, payload, CRC32C.
	frame := func(rec *pb.Record) []byte {
		payload, err := proto.Marshal(rec)
		require.NoError(t, err)
		b := binary.AppendUvarint(nil, uint64(len(payload)))
		b = append(b, payload...)
		return binary.LittleEndian.AppendUint32(b, crc(b))
	}
	// A CRC-intact index that Open accepts (ordered, in range) but that names a tick record
	// where keyframe 20 is.
	var ix pb.RecordingIndex
	for _, kt := range []uint32{20, 40, 60} {
		off := p.kfOff[kt]
		if kt == 20 {
			off = p.tickOff[20]
		}
		ix.Keyframes = append(ix.Keyframes, &pb.KeyframeRef{Tick: kt, Offset: uint64(off)})
	}
	ix.Ticks = m.ticks
	wrongIndex := append(bytes.Clone(p.file[:indexOff]), frame(&pb.Record{Kind: &pb.Record_Index{Index: &ix}})...)
	wrongIndex = append(wrongIndex, trailer...)
	// A valid trailer after ticks with no end record.
	noEnd := append(bytes.Clone(p.file[:p.tickOff[50]]), trailer...)
	binary.LittleEndian.PutUint64(noEnd[len(noEnd)-trailerLen:], uint64(p.tickOff[40]))
	binary.LittleEndian.PutUint32(noEnd[len(noEnd)-8:], crc(noEnd[len(noEnd)-trailerLen:len(noEnd)-8]))

	for _, tc := range []struct {
		name  string
		file  []byte
		ticks uint32 // readable
		want  error
	}{
		{"keyframe damaged", flip(p.kfOff[20] + 9), 20, ErrChecksum},
		{"tick damaged", flip(p.tickOff[30] + 6), 29, ErrChecksum},
		{"last keyframe damaged", flip(p.kfOff[60] + 9), 60, ErrChecksum},
		{"end damaged", flip(endOff + 3), 60, ErrChecksum},
		{"index wrong", wrongIndex, 60, ErrMalformed},
		{"trailer but no end", noEnd, 49, ErrMalformed},
		{"torn", p.file[:p.kfOff[40]+5], 40, ErrTorn},
		{"unclosed", p.file[:p.tickOff[50]], 49, ErrNotClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := openBytes(t, tc.file)
			info, err := r.Info()
			require.NoError(t, err)
			assert.False(t, info.Complete)
			assert.Equal(t, tc.ticks, info.Ticks)
			require.ErrorIs(t, info.Problem, tc.want)
			verr := Verify(r, lookup, nil)
			require.ErrorIs(t, verr, tc.want)
			assert.Equal(t, info.Problem.Error(), verr.Error(), "one problem")
			var ce *CorruptError
			if errors.As(verr, &ce) {
				assert.Equal(t, info.Ticks, ce.Tick, "verified as far as readable")
			} else {
				assert.Equal(t, info.Ticks, r.LastTick(), "an unclosed file is read whole by Open")
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":      nil,
		"short":      []byte("TSR"),
		"not magic":  []byte("PK\x03\x04 a zip file"),
		"magic only": []byte(magic),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(b), int64(len(b)))
			require.Error(t, err)
		})
	}
}
