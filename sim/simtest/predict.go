package simtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/ticksync/ticksync/sim"
)

// PredictVectorsFormat names the format of a predict vectors file: what PredictVectors writes
// and client-js's checkPredict reads.
const PredictVectorsFormat = "ticksync-predict-vectors/1"

// PredictMatch is one scripted match to record as predict vectors: a game, its seed and the
// inputs of every tick. Recording it must be deterministic (fixed seed, a script that reads
// nothing but the tick and the World), so that the file only changes when the game does.
type PredictMatch struct {
	Name     string   // names the match in the file and in mismatch messages
	Game     sim.Game // made by the game's Factory from TickRate and Config
	TickRate uint32   // the rate Game ticks at: a predict step gets it as ctx.tickRate
	Config   string   // the room config Game was made from (recorded, for the reader)
	Seed     uint32   // the World's seed
	Ticks    int      // ticks to record (fewer if the match ends first)
	// Script returns the inputs of tick (joins, leaves and moves, in delivery order), reading
	// the World after tick-1. The recorder does what a room does before Step: it asks the game's
	// JoinFilter (a refused join is dropped) and clamps move values to the input schema's ranges.
	Script func(tick uint32, w *sim.World) []sim.Input
	// Note, when set, names what Step did at tick to player's entity e that a predict step
	// cannot know (a respawn, a kill), or returns "". w is the World after tick, prev the state
	// after tick-1. Checkers skip a noted tick for that player and count it under the note.
	Note func(w *sim.World, prev *sim.State, player uint32, e sim.Entity) string
}

// The file's JSON. Field names are client-js/src/predictcheck.ts's.
type (
	vectorsFile struct {
		Format  string        `json:"format"`
		Game    string        `json:"game"`
		Matches []vectorMatch `json:"matches"`
	}
	vectorMatch struct {
		Name        string `json:"name"`
		TickRate    uint32 `json:"tick_rate"`
		Seed        uint32 `json:"seed"`
		Config      string `json:"config"`
		StateSchema []byte `json:"state_schema"` // ticksync.v1.StateSchema, as the welcome carries it
		InputSchema []byte `json:"input_schema"` // ticksync.v1.InputSchema
		ticks       []vectorTick
	}
	vectorTick struct {
		Tick    uint32         `json:"tick"`
		Frame   []byte         `json:"frame"` // a ServerMessage holding the frame of this tick
		Players []vectorPlayer `json:"players"`
	}
	vectorPlayer struct {
		Player uint32    `json:"player"`
		Entity uint32    `json:"entity"` // the entity it owns after the tick, 0: none
		Inputs [][]int32 `json:"inputs"` // the move values Step applied for it this tick, clamped
		Note   string    `json:"note,omitempty"`
	}
)

// PredictVectors plays each match and returns the predict vectors file of game: JSON holding,
// per match, the tick rate, the state and input schemas (protobuf, base64) and, per tick, the
// frame a client receives (a ServerMessage from sim's Encoder: a full snapshot at the first
// tick, then a delta from the tick before, with the state hash as view hash) and, for each
// seated player, its entity and the moves Step applied for it. A player is listed from the tick
// its join is accepted to the tick it leaves. Recording stops after a tick that ends the match.
// Each tick is one line, so a diff of the file shows the ticks that changed.
func PredictVectors(game string, matches ...PredictMatch) ([]byte, error) {
	f := vectorsFile{Format: PredictVectorsFormat, Game: game}
	for _, m := range matches {
		vm, err := recordMatch(m)
		if err != nil {
			return nil, fmt.Errorf("simtest: predict vectors %s/%s: %w", game, m.Name, err)
		}
		f.Matches = append(f.Matches, vm)
	}
	return f.marshal()
}

// recordMatch plays one match.
func recordMatch(m PredictMatch) (vectorMatch, error) {
	s := m.Game.Schema()
	st, in := s.Proto()
	opt := proto.MarshalOptions{Deterministic: true}
	stb, err := opt.Marshal(st)
	if err != nil {
		return vectorMatch{}, err
	}
	inb, err := opt.Marshal(in)
	if err != nil {
		return vectorMatch{}, err
	}
	vm := vectorMatch{Name: m.Name, TickRate: m.TickRate, Seed: m.Seed, Config: m.Config, StateSchema: stb, InputSchema: inb}
	w := sim.NewWorld(s, m.Seed)
	if err := m.Game.Init(w); err != nil {
		return vectorMatch{}, err
	}
	filter, _ := m.Game.(sim.JoinFilter)
	owners := ownerFields(s)
	var enc sim.Encoder
	var prev *sim.State
	var seated []uint32 // players in the match, in join order
	for t := uint32(1); t <= uint32(m.Ticks) && w.Result() == nil; t++ {
		inputs, moves, err := admit(w, filter, m.Script(t, w))
		if err != nil {
			return vectorMatch{}, fmt.Errorf("tick %d: %w", t, err)
		}
		for _, in := range inputs {
			if in.Kind == sim.InputJoin && !slices.Contains(seated, in.Player) {
				seated = append(seated, in.Player)
			}
		}
		w.Step(m.Game, inputs)
		cur := Snapshot(w)
		vt := vectorTick{Tick: t, Frame: EncodeFrame(&enc, prev, cur, 0, true)}
		left := seated[:0:0]
		for _, p := range seated {
			e := ownedBy(cur, owners, p)
			vp := vectorPlayer{Player: p, Entity: uint32(e), Inputs: moves[p]}
			if vp.Inputs == nil {
				vp.Inputs = [][]int32{}
			}
			if e != 0 && prev != nil && m.Note != nil {
				vp.Note = m.Note(w, prev, p, e)
			}
			vt.Players = append(vt.Players, vp)
			if !leaves(inputs, p) {
				left = append(left, p)
			}
		}
		seated = left
		vm.ticks = append(vm.ticks, vt)
		prev = cur
	}
	return vm, nil
}

// admit does what a room does with a tick's inputs before Step: joins go through the
// JoinFilter (with the joins it accepted before as Pending), move values are clamped to the
// input schema. It returns the inputs to step and each player's clamped moves.
func admit(w *sim.World, filter sim.JoinFilter, script []sim.Input) ([]sim.Input, map[uint32][][]int32, error) {
	s := w.Schema()
	var out []sim.Input
	var pending []sim.JoinRequest
	moves := map[uint32][][]int32{}
	for _, in := range script {
		switch in.Kind {
		case sim.InputJoin:
			if filter != nil {
				if filter.AcceptJoin(w, sim.JoinRequest{Player: in.Player, Meta: in.Meta, Pending: pending}) != nil {
					continue
				}
				pending = append(pending, sim.JoinRequest{Player: in.Player, Meta: in.Meta})
			}
		case sim.InputMove:
			if len(in.Values) != s.NumInputs() {
				return nil, nil, fmt.Errorf("player %d: a move of %d values, the input schema has %d", in.Player, len(in.Values), s.NumInputs())
			}
			in.Values = append([]int32(nil), in.Values...)
			s.ClampInput(in.Values)
			moves[in.Player] = append(moves[in.Player], in.Values)
		case sim.InputLeave:
		default:
			return nil, nil, errors.New("an input of unknown kind")
		}
		out = append(out, in)
	}
	return out, moves, nil
}

func leaves(inputs []sim.Input, p uint32) bool {
	for _, in := range inputs {
		if in.Kind == sim.InputLeave && in.Player == p {
			return true
		}
	}
	return false
}

// ownerFields returns each class's owner fields, by class number.
func ownerFields(s *sim.Schema) [][]sim.Field {
	out := make([][]sim.Field, s.NumClasses())
	for i, c := range Classes(s) {
		for _, fs := range s.ClassSpec(c).Fields {
			if fs.Owner {
				f, _ := s.FieldByName(c, fs.Name)
				out[i] = append(out[i], f)
			}
		}
	}
	return out
}

// ownedBy returns the lowest live entity whose owner field holds player, or 0 (as the clients'
// findOwned does).
func ownedBy(st *sim.State, owners [][]sim.Field, player uint32) sim.Entity {
	for e := sim.Entity(1); e < st.MaxID(); e++ {
		c, ok := st.ClassOf(e)
		if !ok {
			continue
		}
		for _, f := range owners[c.Index()] {
			if st.Value(e, f) == int32(player) {
				return e
			}
		}
	}
	return 0
}

// marshal writes the file with one tick per line.
func (f *vectorsFile) marshal() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\n  \"format\": %q,\n  \"game\": %q,\n  \"matches\": [", f.Format, f.Game)
	for i := range f.Matches {
		m := &f.Matches[i]
		head, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		b.Write(head[:len(head)-1]) // without the closing brace: the ticks follow
		b.WriteString(`,"ticks": [`)
		for j := range m.ticks {
			line, err := json.Marshal(&m.ticks[j])
			if err != nil {
				return nil, err
			}
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\n      ")
			b.Write(line)
		}
		b.WriteString("\n    ]}")
	}
	b.WriteString("\n  ]\n}\n")
	return b.Bytes(), nil
}
