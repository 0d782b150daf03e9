package replay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
)

// KeyframeRef locates a keyframe: the tick it is after and its record's offset.
type KeyframeRef struct {
	Tick   uint32
	Offset int64
}

// Reader reads a recording through an io.ReaderAt. Once open it is read-only, so goroutines may
// share it (io.ReaderAt allows parallel reads); each TickIter belongs to one goroutine.
type Reader struct {
	ra        io.ReaderAt
	size      int64
	header    *pb.RecordingHeader
	first     int64 // offset of the first record after the header
	recEnd    int64 // tick and keyframe records end here (the end record, or the readable prefix's end)
	sealed    bool  // the file has a valid trailer: it was closed cleanly
	lastTick  uint32
	keyframes []KeyframeRef
	end       *pb.RecordingEnd
	err       error // why the readable part ends early; nil for a complete file
}

// Open reads a recording's header and locates its keyframes: from the index when the file was
// closed cleanly, else by scanning it. It fails only when nothing is readable (no magic, a bad
// header); a torn or damaged file opens with Err saying where its readable prefix ends.
func Open(ra io.ReaderAt, size int64) (*Reader, error) {
	var m [len(magic)]byte
	if size < int64(len(magic)) {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotRecording, size)
	}
	if _, err := ra.ReadAt(m[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("replay: open: %w", err)
	}
	if string(m[:]) != magic {
		return nil, fmt.Errorf("%w: bad magic %q", ErrNotRecording, m[:])
	}
	r := &Reader{ra: ra, size: size}
	endOff, sealed, err := r.trailer()
	if err != nil {
		return nil, err
	}
	limit := size
	if sealed {
		limit = size - trailerLen
	}
	rr := recReader{ra: ra, off: int64(len(magic)), limit: limit, sealed: sealed}
	payload, err := rr.next()
	if err == io.EOF {
		err = fmt.Errorf("%w: no header", ErrTorn)
		if sealed {
			err = fmt.Errorf("%w: no header", ErrChecksum)
		}
	}
	if err != nil {
		return nil, headerError(err)
	}
	rec := &pb.Record{}
	if err := unmarshalRecord(payload, rec); err != nil || rec.GetHeader() == nil {
		return nil, &CorruptError{Offset: int64(len(magic)), Err: malformed("first record is not a header")}
	}
	h := rec.GetHeader()
	switch {
	case h.GetFormatVersion() != FormatVersion:
		return nil, fmt.Errorf("%w: %d", ErrVersion, h.GetFormatVersion())
	case h.GetTickRate() == 0:
		return nil, &CorruptError{Offset: int64(len(magic)), Err: malformed("header: tick rate 0")}
	}
	r.header, r.first = h, rr.off
	if sealed && r.openIndex(endOff) {
		return r, nil
	}
	sc, err := r.scan(nil)
	if err != nil {
		return nil, err
	}
	r.lastTick, r.keyframes, r.end, r.recEnd, r.err = sc.lastTick, sc.keyframes, sc.end, sc.recEnd, sc.err
	r.sealed = sc.err == nil
	return r, nil
}

func headerError(err error) error {
	if errors.Is(err, ErrTorn) || errors.Is(err, ErrChecksum) {
		return &CorruptError{Offset: int64(len(magic)), Err: err}
	}
	return fmt.Errorf("replay: open: %w", err)
}

// trailer reads the trailer and reports the end record's offset when it is valid.
func (r *Reader) trailer() (endOff int64, ok bool, err error) {
	if r.size < int64(len(magic))+trailerLen {
		return 0, false, nil
	}
	var t [trailerLen]byte
	if _, err := r.ra.ReadAt(t[:], r.size-trailerLen); err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("replay: open: read trailer: %w", err)
	}
	if string(t[12:]) != trailerMagic || crc(t[:8]) != binary.LittleEndian.Uint32(t[8:12]) {
		return 0, false, nil
	}
	off := binary.LittleEndian.Uint64(t[:8])
	if off < uint64(len(magic)) || off >= uint64(r.size-trailerLen) {
		return 0, false, nil
	}
	return int64(off), true, nil
}

// openIndex reads the end and index records a valid trailer points at and reports whether they
// hold together; if not, Open scans.
func (r *Reader) openIndex(endOff int64) bool {
	if endOff < r.first {
		return false
	}
	rr := recReader{ra: r.ra, off: endOff, limit: r.size - trailerLen, sealed: true}
	var end, idx pb.Record
	payload, err := rr.next()
	if err != nil || unmarshalRecord(payload, &end) != nil || end.GetEnd() == nil {
		return false
	}
	payload, err = rr.next()
	if err != nil || unmarshalRecord(payload, &idx) != nil || idx.GetIndex() == nil || rr.off != rr.limit {
		return false
	}
	last := end.GetEnd().GetLastTick()
	ix := idx.GetIndex()
	if ix.GetTicks() != last || int64(len(ix.GetKeyframes())) > (endOff-r.first)/minRecordSize {
		return false
	}
	kfs := make([]KeyframeRef, 0, len(ix.GetKeyframes()))
	for i, k := range ix.GetKeyframes() {
		if k.GetTick() > last || k.GetOffset() < uint64(r.first) || k.GetOffset() >= uint64(endOff) {
			return false
		}
		if i > 0 && (k.GetTick() <= ix.GetKeyframes()[i-1].GetTick() || k.GetOffset() <= ix.GetKeyframes()[i-1].GetOffset()) {
			return false
		}
		kfs = append(kfs, KeyframeRef{Tick: k.GetTick(), Offset: int64(k.GetOffset())})
	}
	r.lastTick, r.keyframes, r.end, r.recEnd, r.sealed = last, kfs, end.GetEnd(), endOff, true
	return true
}

// scanResult is what a scan of the whole file found.
type scanResult struct {
	lastTick  uint32
	keyframes []KeyframeRef
	end       *pb.RecordingEnd
	recEnd    int64
	err       error // why the readable part ends early
}

// scan reads every record after the header, checking each, and the trailer. visit, if not nil,
// sees each intact record as it is read (s.rec, s.recOff); an error from it stops the scan and
// is returned as is. Info and Verify both read the file through scan, so they find the same
// readable range and the same reason it ends.
func (r *Reader) scan(visit func(s *stream) error) (scanResult, error) {
	endOff, sealed, err := r.trailer()
	if err != nil {
		return scanResult{}, err
	}
	limit := r.size
	if sealed {
		limit = r.size - trailerLen
	}
	var sc scanResult
	s := stream{rr: recReader{ra: r.ra, off: r.first, limit: limit, sealed: sealed, chunk: readChunk}, lastKF: -1}
	var index *pb.RecordingIndex
	recEnd := int64(-1)
	for index == nil && sc.err == nil {
		err := s.next()
		if err == io.EOF {
			break
		}
		var ce *CorruptError
		if errors.As(err, &ce) {
			sc.err = ce
			break
		}
		if err != nil {
			return scanResult{}, err
		}
		if visit != nil {
			if err := visit(&s); err != nil {
				return scanResult{}, err
			}
		}
		switch k := s.rec.Kind.(type) {
		case *pb.Record_Keyframe:
			sc.keyframes = append(sc.keyframes, KeyframeRef{Tick: k.Keyframe.GetTick(), Offset: s.recOff})
		case *pb.Record_End:
			sc.end, recEnd = k.End, s.recOff
		case *pb.Record_Index:
			index = k.Index
			if !sameIndex(index, sc.keyframes, s.lastTick) {
				sc.err = &CorruptError{Offset: s.recOff, Tick: s.lastTick, Err: malformed("index does not match the records")}
			}
		}
	}
	sc.lastTick = s.lastTick
	switch {
	case recEnd >= 0:
	case sc.err != nil:
		recEnd = sc.err.(*CorruptError).Offset
	default:
		recEnd = s.rr.off
	}
	sc.recEnd = recEnd
	if sc.err != nil {
		return sc, nil
	}
	// Every record is intact; say what is missing, if anything.
	at := s.rr.off
	tail := r.size - at
	corrupt := func(off int64, err error) error { return &CorruptError{Offset: off, Tick: sc.lastTick, Err: err} }
	switch {
	case sealed && sc.end == nil: // a trailer vouches for an end record the records lack
		sc.err = corrupt(at, malformed("no end record before the trailer"))
	case sc.end == nil:
		sc.err = fmt.Errorf("%w: ends after tick %d", ErrNotClosed, sc.lastTick)
	case index == nil:
		sc.err = corrupt(at, fmt.Errorf("%w: no index after the end record", ErrTorn))
	case sealed && at != limit:
		sc.err = corrupt(at, malformed("%d bytes between the index and the trailer", limit-at))
	case sealed && endOff != recEnd:
		sc.err = corrupt(limit, malformed("trailer points at offset %d, end record is at %d", endOff, recEnd))
	case sealed:
	case tail < trailerLen:
		sc.err = corrupt(at, fmt.Errorf("%w: trailer cut short (%d of %d bytes)", ErrTorn, tail, trailerLen))
	case tail == trailerLen:
		sc.err = corrupt(at, fmt.Errorf("%w: trailer", ErrChecksum))
	default:
		sc.err = corrupt(at, malformed("%d bytes after the index", tail))
	}
	return sc, nil
}

func sameIndex(ix *pb.RecordingIndex, kfs []KeyframeRef, lastTick uint32) bool {
	if ix.GetTicks() != lastTick || len(ix.GetKeyframes()) != len(kfs) {
		return false
	}
	for i, k := range ix.GetKeyframes() {
		if k.GetTick() != kfs[i].Tick || k.GetOffset() != uint64(kfs[i].Offset) {
			return false
		}
	}
	return true
}

// Header returns the recording's header. Do not modify it.
func (r *Reader) Header() *pb.RecordingHeader { return r.header }

// Size returns the file's size as given to Open.
func (r *Reader) Size() int64 { return r.size }

// LastTick returns the last readable tick (0: none).
func (r *Reader) LastTick() uint32 { return r.lastTick }

// Keyframes returns the readable keyframes in tick order. Do not modify the slice.
func (r *Reader) Keyframes() []KeyframeRef { return r.keyframes }

// End returns the end record, or nil when the file has none.
func (r *Reader) End() *pb.RecordingEnd { return r.end }

// Complete reports whether the file was closed cleanly (end, index and trailer intact) as far
// as Open looked. Records it did not read are checked as they are read (Ticks, Info, Verify).
func (r *Reader) Complete() bool { return r.err == nil }

// Err returns why the readable part of the file ends early: a *CorruptError (errors.Is
// ErrTorn for a cut write, ErrChecksum for damage, ErrMalformed) or ErrNotClosed. It is nil
// for a complete file.
func (r *Reader) Err() error { return r.err }

// keyframeAtOrBefore returns the last keyframe at or before tick.
func (r *Reader) keyframeAtOrBefore(tick uint32) (KeyframeRef, bool) {
	lo, hi := 0, len(r.keyframes) // first keyframe after tick
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.keyframes[m].Tick <= tick {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return KeyframeRef{}, false
	}
	return r.keyframes[lo-1], true
}

// streamAt returns a stream of the records from a keyframe (or from the first record).
func (r *Reader) streamAt(kf KeyframeRef, fromKeyframe bool) *stream {
	s := &stream{rr: recReader{ra: r.ra, off: r.first, limit: r.recEnd, sealed: r.sealed, chunk: readChunk}, lastKF: -1}
	if fromKeyframe {
		s.rr.off, s.lastTick = kf.Offset, kf.Tick
	}
	return s
}

// Keyframe returns the world state of the keyframe after tick; ok is false when there is none.
func (r *Reader) Keyframe(tick uint32) (ws *pb.WorldState, ok bool, err error) {
	kf, found := r.keyframeAtOrBefore(tick)
	if !found || kf.Tick != tick {
		return nil, false, nil
	}
	s := r.streamAt(kf, true)
	s.rr.chunk = 0 // one record
	k, err := r.readKeyframe(s, kf)
	return k.GetWorld(), err == nil, err
}

func (r *Reader) readKeyframe(s *stream, kf KeyframeRef) (*pb.Keyframe, error) {
	err := s.next()
	if err == io.EOF {
		err = &CorruptError{Offset: kf.Offset, Tick: kf.Tick, Err: malformed("no keyframe at offset %d", kf.Offset)}
	}
	if err != nil {
		return nil, err
	}
	k := s.rec.GetKeyframe()
	if k == nil || k.GetTick() != kf.Tick {
		return nil, &CorruptError{Offset: kf.Offset, Tick: kf.Tick, Err: malformed("index points at a record that is not keyframe %d", kf.Tick)}
	}
	return k, nil
}

// TickIter iterates tick records. Use it as
//
//	it := r.Ticks(from)
//	for it.Next() { … it.Record() … }
//	if err := it.Err(); err != nil { … }
type TickIter struct {
	r    *Reader
	s    *stream
	from uint32
	rec  *pb.TickRecord
	ins  []sim.Input
	err  error
	done bool
}

// Ticks returns an iterator over the tick records from tick from (1: all) to the last readable
// one. It starts at the last keyframe before from, so it costs what it reads.
func (r *Reader) Ticks(from uint32) *TickIter {
	kf, ok := r.keyframeAtOrBefore(max(from, 1) - 1)
	return &TickIter{r: r, s: r.streamAt(kf, ok), from: from}
}

// Next advances to the next tick record and reports whether there is one.
func (it *TickIter) Next() bool {
	for !it.done {
		err := it.s.next()
		switch {
		case err == io.EOF:
			it.done, it.err = true, it.r.err
			return false
		case err != nil:
			it.done, it.err = true, err
			return false
		}
		if t := it.s.rec.GetTick(); t != nil && t.GetTick() >= it.from {
			it.rec = t
			return true
		}
	}
	return false
}

// Record returns the current tick record. It is valid after Next returns false too.
func (it *TickIter) Record() *pb.TickRecord { return it.rec }

// Inputs returns the current tick's inputs as Step takes them, in a slice reused by the next
// call.
func (it *TickIter) Inputs() []sim.Input {
	it.ins = toInputs(it.ins[:0], it.rec)
	return it.ins
}

// Err returns why the iteration stopped early: nil at the end of a complete file, else the
// reader's Err or the *CorruptError met on the way.
func (it *TickIter) Err() error { return it.err }

func toInputs(dst []sim.Input, tr *pb.TickRecord) []sim.Input {
	for _, in := range tr.GetInputs() {
		dst = append(dst, sim.Input{Player: in.GetPlayer(), Kind: sim.InputKind(in.GetKind()), Seq: in.GetSeq(), Values: in.GetValues(),
			Meta: in.GetMeta(), RenderTick: in.GetRenderTick(), Subtick: uint16(min(in.GetSubtick(), 0xFFFF))})
	}
	return dst
}

// Info describes a recording.
type Info struct {
	Game          string
	Room          string
	TickRate      uint32
	Seed          uint32
	KeyframeEvery uint32
	Ticks         uint32        // readable tick records (ticks 1..Ticks)
	Duration      time.Duration // Ticks / TickRate of game time
	Players       int           // distinct players that joined
	Keyframes     int
	Size          int64
	StartUnixMs   int64
	EndUnixMs     int64           // 0 when the file has no end record
	EndReason     string          // the end record's reason
	Events        int             // game events recorded
	Result        *pb.MatchResult // how the game ended the match (nil: it did not)
	Complete      bool            // closed cleanly and every record intact
	Problem       error           // why not complete: *CorruptError or ErrNotClosed
}

// Info reads every record (checking each) and describes the recording. The returned error is
// an I/O error; a damaged or unclosed file is described, with Problem saying why.
func (r *Reader) Info() (Info, error) {
	players := map[uint32]struct{}{}
	var events int
	var result *pb.MatchResult
	sc, err := r.scan(func(s *stream) error {
		events += len(s.rec.GetTick().GetEvents())
		if res := s.rec.GetTick().GetResult(); res != nil {
			result = res
		}
		for _, in := range s.rec.GetTick().GetInputs() {
			if in.GetKind() == pb.InputKind_INPUT_KIND_JOIN {
				players[in.GetPlayer()] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	h := r.header
	in := Info{
		Game: h.GetGame(), Room: h.GetRoom(), TickRate: h.GetTickRate(), Seed: h.GetSeed(),
		KeyframeEvery: h.GetKeyframeEvery(), Ticks: sc.lastTick,
		Duration: time.Duration(sc.lastTick) * time.Second / time.Duration(h.GetTickRate()),
		Players:  len(players), Keyframes: len(sc.keyframes), Size: r.size,
		StartUnixMs: h.GetStartUnixMs(), Complete: sc.err == nil, Problem: sc.err,
		Events: events, Result: result,
	}
	if sc.end != nil {
		in.EndUnixMs, in.EndReason = sc.end.GetEndUnixMs(), sc.end.GetReason()
	}
	return in, nil
}

// Events returns every game event of the readable ticks, in order, with its recipients, and
// how the match ended (nil: it did not). The replay viewer lists them.
func (r *Reader) Events() ([]*pb.GameEvent, *pb.MatchResult, error) {
	var evs []*pb.GameEvent
	var result *pb.MatchResult
	it := r.Ticks(1)
	for it.Next() {
		evs = append(evs, it.Record().GetEvents()...)
		if res := it.Record().GetResult(); res != nil {
			result = res
		}
	}
	if err := it.Err(); err != nil && !errors.Is(err, ErrNotClosed) {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			return evs, result, err
		}
	}
	return evs, result, nil
}
