package replay

import (
	"errors"
	"fmt"
	"io"
	"strings"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"google.golang.org/protobuf/proto"
)

// Errors of re-simulation.
var (
	// ErrUnknownGame: the lookup knows no game of the recording's name.
	ErrUnknownGame = errors.New("replay: unknown game")
	// ErrSchemaMismatch: the game's schema is not the one the recording was made with.
	ErrSchemaMismatch = errors.New("replay: recorded schema differs from the game's")
	// ErrTickRange: a seek past the last readable tick.
	ErrTickRange = errors.New("replay: tick out of range")
)

// maxDiffs bounds a MismatchError's Diff: the first few differences say what went wrong.
const maxDiffs = 64

// MismatchError reports the first tick whose re-simulated state hash differs from the recorded
// one (or, with Keyframe set, a keyframe that differs from the re-simulated world).
type MismatchError struct {
	Tick     uint32 // the first tick that differs
	Want     uint64 // recorded hash (for a keyframe: the keyframe world's hash)
	Got      uint64 // re-simulated hash
	Keyframe bool   // the hashes agreed up to Tick, but the keyframe after it differs
	DiffTick uint32 // the keyframe Diff compares at (0 with an empty Diff: no keyframe followed)
	Diff     []FieldDiff
	More     int // differences left out of Diff
	// Events, when set, says the hashes agreed at Tick but the game events or the match
	// result re-simulated there differ from the recorded ones.
	Events string
}

// FieldDiff is one difference between a recorded keyframe and the re-simulated world.
type FieldDiff struct {
	Entity uint32 // 0 for the world's own state
	Class  string // class name ("" for the world's own state)
	Field  string // field name; "(entity)" when it exists on one side only; "rng_state", "next_id", "free_ids"
	Want   string // recorded
	Got    string // re-simulated
}

// String describes the difference in one line.
func (d FieldDiff) String() string {
	if d.Entity == 0 {
		return fmt.Sprintf("world %s: recorded %s, re-simulated %s", d.Field, d.Want, d.Got)
	}
	return fmt.Sprintf("entity %d (%s) %s: recorded %s, re-simulated %s", d.Entity, d.Class, d.Field, d.Want, d.Got)
}

// Error names the tick, both hashes and the first difference.
func (e *MismatchError) Error() string {
	var b strings.Builder
	if e.Events != "" {
		return fmt.Sprintf("replay: tick %d: %s", e.Tick, e.Events)
	}
	if e.Keyframe {
		fmt.Fprintf(&b, "replay: keyframe %d differs from the re-simulated world (hash %016x, re-simulated %016x)", e.Tick, e.Want, e.Got)
	} else {
		fmt.Fprintf(&b, "replay: tick %d: state hash %016x, re-simulated %016x", e.Tick, e.Want, e.Got)
	}
	if len(e.Diff) > 0 {
		fmt.Fprintf(&b, "; at keyframe %d: %s", e.DiffTick, e.Diff[0])
		if n := len(e.Diff) - 1 + e.More; n > 0 {
			fmt.Fprintf(&b, " and %d more", n)
		}
	}
	return b.String()
}

// Verify re-simulates the recording from its header and checks every tick's state hash and
// every keyframe. It reads the file as Info does, record by record from the header, so the two
// agree on where the readable part ends and why. It returns a *MismatchError for the first
// difference; else, once every readable tick has verified, what ends the file early, as
// Info.Problem says it: a *CorruptError, whose Tick is the last tick read and verified (a
// cleanly closed file may be damaged in the middle, past what Open read), or an error wrapping
// ErrNotClosed, with every tick to LastTick verified; else nil. progress, if not nil, is
// called every 256 ticks, and at the end with ticks done and the total once every tick Open
// found has verified.
func Verify(r *Reader, lookup func(game string) (sim.Factory, bool), progress func(done, total uint32)) error {
	g, err := newGame(r, lookup)
	if err != nil {
		return err
	}
	h := r.Header()
	w := sim.NewWorld(g.Schema(), h.GetSeed())
	if err := g.Init(w); err != nil {
		return fmt.Errorf("replay: verify: init %s: %w", h.GetGame(), err)
	}
	names := fieldNames(h.GetState())
	total := r.LastTick()
	var ins []sim.Input
	var mismatch *MismatchError
	sc, err := r.scan(func(s *stream) error {
		switch k := s.rec.Kind.(type) {
		case *pb.Record_Tick:
			ins = toInputs(ins[:0], k.Tick)
			w.Step(g, ins)
			if mismatch != nil {
				return nil // stepping on to the next keyframe, for the diff
			}
			if got := w.Hash(); got != k.Tick.GetWorldHash() {
				mismatch = &MismatchError{Tick: k.Tick.GetTick(), Want: k.Tick.GetWorldHash(), Got: got}
			} else if d := eventsDiff(k.Tick, w); d != "" {
				mismatch = &MismatchError{Tick: k.Tick.GetTick(), Want: k.Tick.GetWorldHash(), Got: got, Events: d}
				return mismatch
			}
			if t := k.Tick.GetTick(); progress != nil && t%256 == 0 {
				progress(t, total)
			}
		case *pb.Record_Keyframe:
			diff, more := diffWorlds(names, k.Keyframe.GetWorld(), w.Save())
			if mismatch != nil {
				mismatch.DiffTick, mismatch.Diff, mismatch.More = k.Keyframe.GetTick(), diff, more
				return mismatch
			}
			if len(diff) > 0 {
				m := &MismatchError{Tick: k.Keyframe.GetTick(), Got: w.Hash(), Keyframe: true, DiffTick: k.Keyframe.GetTick(), Diff: diff, More: more}
				if kw, err := sim.LoadWorld(g.Schema(), k.Keyframe.GetWorld()); err == nil {
					m.Want = kw.Hash()
				}
				mismatch = m
				return m
			}
		}
		return nil
	})
	switch {
	case mismatch != nil: // also when the file ends, or is damaged, before the next keyframe
		return mismatch
	case err != nil:
		return err
	}
	if progress != nil && sc.lastTick == total {
		progress(total, total)
	}
	return sc.err
}

// Seek returns the world after tick (0: the initial world) and the game stepping it, rebuilt
// from the last keyframe at or before tick and re-simulated from there.
func Seek(r *Reader, lookup func(game string) (sim.Factory, bool), tick uint32) (*sim.World, sim.Game, error) {
	if tick > r.LastTick() {
		return nil, nil, fmt.Errorf("%w: seek to tick %d, last tick is %d", ErrTickRange, tick, r.LastTick())
	}
	g, err := newGame(r, lookup)
	if err != nil {
		return nil, nil, err
	}
	var w *sim.World
	kf, ok := r.keyframeAtOrBefore(tick)
	s := r.streamAt(kf, ok)
	if ok {
		k, err := r.readKeyframe(s, kf)
		if err != nil {
			return nil, nil, err
		}
		if w, err = sim.LoadWorld(g.Schema(), k.GetWorld()); err != nil {
			return nil, nil, fmt.Errorf("replay: seek to tick %d: keyframe %d: %w", tick, kf.Tick, err)
		}
		if err := restoreHistory(g, w, k.GetHistory()); err != nil {
			return nil, nil, fmt.Errorf("replay: seek to tick %d: keyframe %d: %w", tick, kf.Tick, err)
		}
		if err := g.Load(w); err != nil {
			return nil, nil, fmt.Errorf("replay: seek to tick %d: load keyframe %d: %w", tick, kf.Tick, err)
		}
	} else {
		w = sim.NewWorld(g.Schema(), r.Header().GetSeed())
		if err := g.Init(w); err != nil {
			return nil, nil, fmt.Errorf("replay: seek: init %s: %w", r.Header().GetGame(), err)
		}
	}
	var ins []sim.Input
	for w.Tick() < tick {
		err := s.next()
		if err == io.EOF {
			return nil, nil, fmt.Errorf("%w: seek to tick %d: records end at tick %d", ErrTickRange, tick, w.Tick())
		}
		if err != nil {
			return nil, nil, err
		}
		if t := s.rec.GetTick(); t != nil {
			ins = toInputs(ins[:0], t)
			w.Step(g, ins)
		}
	}
	return w, g, nil
}

// newGame makes the recording's game and checks its schema against the recorded one.
func newGame(r *Reader, lookup func(game string) (sim.Factory, bool)) (sim.Game, error) {
	h := r.Header()
	f, ok := lookup(h.GetGame())
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownGame, h.GetGame())
	}
	g, err := f(h.GetTickRate(), h.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("replay: make game %q at %d Hz: %w", h.GetGame(), h.GetTickRate(), err)
	}
	st, in := g.Schema().Proto()
	if d := schemaDiff(h.GetState(), st, "class"); d != "" {
		return nil, fmt.Errorf("%w: %s", ErrSchemaMismatch, d)
	}
	if d := schemaDiff(&pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "input", Fields: h.GetInput().GetFields()}}},
		&pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "input", Fields: in.GetFields()}}}, "input"); d != "" {
		return nil, fmt.Errorf("%w: %s", ErrSchemaMismatch, d)
	}
	return g, nil
}

// schemaDiff names the first difference between a recorded and a game's schema ("" if equal).
func schemaDiff(rec, game *pb.StateSchema, what string) string {
	if proto.Equal(rec, game) {
		return ""
	}
	rc, gc := rec.GetClasses(), game.GetClasses()
	for i := range max(len(rc), len(gc)) {
		switch {
		case i >= len(rc):
			return fmt.Sprintf("%s %q is not recorded", what, gc[i].GetName())
		case i >= len(gc):
			return fmt.Sprintf("recorded %s %q is not in the game", what, rc[i].GetName())
		case rc[i].GetName() != gc[i].GetName():
			return fmt.Sprintf("%s %d: recorded %q, game has %q", what, i, rc[i].GetName(), gc[i].GetName())
		}
		rf, gf := rc[i].GetFields(), gc[i].GetFields()
		for j := range max(len(rf), len(gf)) {
			switch {
			case j >= len(rf):
				return fmt.Sprintf("%s %q: field %q is not recorded", what, gc[i].GetName(), gf[j].GetName())
			case j >= len(gf):
				return fmt.Sprintf("%s %q: recorded field %q is not in the game", what, rc[i].GetName(), rf[j].GetName())
			case !proto.Equal(rf[j], gf[j]):
				return fmt.Sprintf("%s %q field %q: recorded {%v}, game has {%v}", what, rc[i].GetName(), rf[j].GetName(), rf[j], gf[j])
			}
		}
	}
	return "schemas differ"
}

// classNames holds a class's name and the names of its fields by column.
type classNames struct {
	name  string
	ints  []string // non-bytes fields, in WorldState.values order
	field []string // every field by schema index (bytes values name theirs)
}

func fieldNames(st *pb.StateSchema) []classNames {
	out := make([]classNames, len(st.GetClasses()))
	for i, c := range st.GetClasses() {
		out[i].name = c.GetName()
		for _, f := range c.GetFields() {
			out[i].field = append(out[i].field, f.GetName())
			if f.GetType() != pb.FieldType_FIELD_TYPE_BYTES {
				out[i].ints = append(out[i].ints, f.GetName())
			}
		}
	}
	return out
}

// diffWorlds compares a recorded world state with a re-simulated one field by field and returns
// up to maxDiffs differences and how many more there are.
func diffWorlds(names []classNames, want, got *pb.WorldState) (diffs []FieldDiff, more int) {
	add := func(d FieldDiff) {
		if len(diffs) < maxDiffs {
			diffs = append(diffs, d)
		} else {
			more++
		}
	}
	num := func(v uint32) string { return fmt.Sprint(v) }
	if want.GetRngState() != got.GetRngState() {
		add(FieldDiff{Field: "rng_state", Want: num(want.GetRngState()), Got: num(got.GetRngState())})
	}
	if want.GetNextId() != got.GetNextId() {
		add(FieldDiff{Field: "next_id", Want: num(want.GetNextId()), Got: num(got.GetNextId())})
	}
	if fmt.Sprint(want.GetFreeIds()) != fmt.Sprint(got.GetFreeIds()) {
		add(FieldDiff{Field: "free_ids", Want: fmt.Sprint(want.GetFreeIds()), Got: fmt.Sprint(got.GetFreeIds())})
	}
	wv, gv := entityValues(names, want), entityValues(names, got)
	className := func(c uint32) string {
		if int(c) < len(names) {
			return names[c].name
		}
		return fmt.Sprintf("class %d", c)
	}
	clsAt := func(ws *pb.WorldState, i int) uint32 {
		if i < len(ws.GetClasses()) {
			return ws.GetClasses()[i]
		}
		return ^uint32(0)
	}
	i, j := 0, 0
	wids, gids := want.GetIds(), got.GetIds()
	for i < len(wids) || j < len(gids) {
		switch {
		case j == len(gids) || i < len(wids) && wids[i] < gids[j]:
			add(FieldDiff{Entity: wids[i], Class: className(clsAt(want, i)), Field: "(entity)", Want: "present", Got: "absent"})
			i++
		case i == len(wids) || gids[j] < wids[i]:
			add(FieldDiff{Entity: gids[j], Class: className(clsAt(got, j)), Field: "(entity)", Want: "absent", Got: "present"})
			j++
		default:
			wc, gc := clsAt(want, i), clsAt(got, j)
			if wc != gc {
				add(FieldDiff{Entity: wids[i], Class: className(gc), Field: "(class)", Want: className(wc), Got: className(gc)})
			} else if wv[i] == nil {
				add(FieldDiff{Entity: wids[i], Class: className(wc), Field: "(values)", Want: "malformed", Got: "ok"})
			} else if int(gc) < len(names) && gv[j] != nil {
				for col, name := range names[gc].ints {
					if a, b := wv[i][col], gv[j][col]; a != b {
						add(FieldDiff{Entity: wids[i], Class: className(gc), Field: name, Want: fmt.Sprint(a), Got: fmt.Sprint(b)})
					}
				}
			}
			i++
			j++
		}
	}
	type key struct{ id, field uint32 }
	wb, gb := map[key]string{}, map[key]string{}
	for _, b := range want.GetBytesValues() {
		wb[key{b.GetEntityId(), b.GetField()}] = fmt.Sprintf("%q", b.GetValue())
	}
	for _, b := range got.GetBytesValues() {
		gb[key{b.GetEntityId(), b.GetField()}] = fmt.Sprintf("%q", b.GetValue())
	}
	for _, b := range got.GetBytesValues() { // in id order
		k := key{b.GetEntityId(), b.GetField()}
		if wb[k] != gb[k] {
			add(bytesDiff(names, got, k.id, k.field, wb[k], gb[k]))
		}
	}
	for _, b := range want.GetBytesValues() {
		k := key{b.GetEntityId(), b.GetField()}
		if _, ok := gb[k]; !ok {
			add(bytesDiff(names, want, k.id, k.field, wb[k], ""))
		}
	}
	return diffs, more
}

func bytesDiff(names []classNames, ws *pb.WorldState, id, field uint32, want, got string) FieldDiff {
	d := FieldDiff{Entity: id, Field: fmt.Sprintf("field %d", field), Want: want, Got: got}
	for i, e := range ws.GetIds() {
		if i >= len(ws.GetClasses()) {
			break
		}
		if c := ws.GetClasses()[i]; e == id && int(c) < len(names) {
			d.Class = names[c].name
			if int(field) < len(names[c].field) {
				d.Field = names[c].field[field]
			}
		}
	}
	if d.Want == "" {
		d.Want = `""`
	}
	if d.Got == "" {
		d.Got = `""`
	}
	return d
}

// entityValues splits a state's values by entity (nil entries where the state is malformed).
func entityValues(names []classNames, ws *pb.WorldState) [][]int32 {
	out := make([][]int32, len(ws.GetIds()))
	vals := ws.GetValues()
	for i := range out {
		if i >= len(ws.GetClasses()) || int(ws.GetClasses()[i]) >= len(names) {
			return out
		}
		n := len(names[ws.GetClasses()[i]].ints)
		if len(vals) < n {
			return out
		}
		out[i], vals = vals[:n], vals[n:]
	}
	return out
}

// restoreHistory gives a world loaded from a keyframe the past states the keyframe carries, so
// a Historian game's next Steps read what they read live.
func restoreHistory(g sim.Game, w *sim.World, past []*pb.WorldState) error {
	sts := make([]*sim.State, 0, len(past))
	for _, ws := range past {
		pw, err := sim.LoadWorld(g.Schema(), ws)
		if err != nil {
			return fmt.Errorf("past state: %w", err)
		}
		st := sim.NewState(g.Schema())
		pw.Snapshot(st)
		sts = append(sts, st)
	}
	if d := sim.HistoryDepth(g); d > 1 && len(sts) < min(d-1, int(w.Tick())-1) {
		return fmt.Errorf("%w: keyframe carries %d past states, the game reads %d", sim.ErrBadState, len(sts), d)
	}
	return w.RestoreHistory(g, sts)
}

// eventsDiff compares the events and result a re-simulated tick produced with the recorded
// ones ("" when equal).
func eventsDiff(tr *pb.TickRecord, w *sim.World) string {
	rec, got := tr.GetEvents(), w.Events()
	if len(rec) != len(got) {
		return fmt.Sprintf("%d game events recorded, %d re-simulated", len(rec), len(got))
	}
	for i := range got {
		if !proto.Equal(rec[i], sim.EventProto(tr.GetTick(), &got[i])) {
			return fmt.Sprintf("game event %d differs: recorded kind %d %v, re-simulated kind %d %v", i, rec[i].GetKind(), rec[i].GetValues(), got[i].Kind, got[i].Values)
		}
	}
	res := w.Result()
	switch {
	case tr.GetResult() == nil && res != nil && res.Tick == tr.GetTick():
		return "the re-simulated match ended here, the recorded one did not"
	case tr.GetResult() != nil && (res == nil || !proto.Equal(tr.GetResult(), sim.ResultProto(res))):
		return "the recorded match result differs from the re-simulated one"
	}
	return ""
}
