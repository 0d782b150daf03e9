package skirmish_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/examples/skirmish"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
)

var update = flag.Bool("update", false, "rewrite testdata/predict-vectors.json")

// predictVectorsPath is where the page's predict step is checked against skirmish: client-js's
// test/predictcheck.test.ts runs predictSkirmish over it with checkPredict.
var predictVectorsPath = filepath.Join("testdata", "predict-vectors.json")

// players reads player entities by field name, as a client would.
type players struct {
	cls    sim.Class
	fields map[string]sim.Field
}

func newPlayers(s *sim.Schema) players {
	p := players{fields: map[string]sim.Field{}}
	p.cls, _ = s.ClassByName("player")
	for _, f := range s.ClassSpec(p.cls).Fields {
		if f.Kind != sim.KindBytes {
			p.fields[f.Name], _ = s.FieldByName(p.cls, f.Name)
		}
	}
	return p
}

// of returns player id's entity, 0 when it has none.
func (p players) of(w *sim.World, id uint32) sim.Entity {
	for _, e := range w.Entities(p.cls) {
		if w.Get(e, p.fields["player"]) == int32(id) {
			return e
		}
	}
	return 0
}

// get returns a field of player entity e.
func (p players) get(w *sim.World, e sim.Entity, field string) int32 {
	return w.Get(e, p.fields[field])
}

// skirmishScript is a scripted skirmish match for predict vectors. In the lobby, red player 1
// steers diagonals and fires (no reload before play); blue 2 joins and the countdown starts;
// red 3 joins in it. In play, 1 runs up to 2 and shoots it until it dies (aim 0,0 while it is
// dead: no shot) and respawns, 2 runs at 1 and shoots back now and then, 3 pushes into the
// top-left corner, then into the bottom edge, with out-of-range sticks; a tick without a move
// and one with two. seen records which of these the match went through.
func skirmishScript(p players, match sim.Class, phase sim.Field, seen map[string]bool) func(tick uint32, w *sim.World) []sim.Input {
	return func(tick uint32, w *sim.World) []sim.Input {
		t := int(tick)
		ph := w.Get(w.Entities(match)[0], phase)
		var in []sim.Input
		move := func(id uint32, mx, my, ax, ay int32, fire bool) {
			f := int32(0)
			if fire {
				f = 1
			}
			in = append(in, sim.Input{Player: id, Kind: sim.InputMove, Values: []int32{mx, my, ax, ay, f}})
		}
		join := func(id uint32, meta string) {
			in = append(in, sim.Input{Player: id, Kind: sim.InputJoin, Meta: []byte(meta)})
		}
		switch t {
		case 1:
			join(1, `{"name":"ann","team":"red"}`)
		case 15:
			join(2, `{"name":"bo","team":"blue"}`)
		case 25:
			join(3, `{"name":"cy","team":"red"}`)
		}
		e1, e2, e3 := p.of(w, 1), p.of(w, 2), p.of(w, 3)
		if e1 != 0 {
			switch {
			case ph != skirmish.PhasePlaying:
				seen["lobby shot"] = seen["lobby shot"] || ph == skirmish.PhaseLobby
				sticks := [...][2]int32{{100, 100}, {-100, 100}, {70, -70}, {-37, -100}}
				s := sticks[(t/4)%len(sticks)]
				move(1, s[0], s[1], 1000, 0, true)
			case e2 == 0 || p.get(w, e2, "alive") == 0:
				move(1, 0, 40, 0, 0, t%3 == 0) // fire without aim: no shot, no reload
			default:
				seen["play"] = true
				dx := p.get(w, e2, "x") - p.get(w, e1, "x")
				dy := p.get(w, e2, "y") - p.get(w, e1, "y")
				m := max(dx, -dx, dy, -dy, 1)
				ax, ay := dx*skirmish.MaxAim/m, dy*skirmish.MaxAim/m
				if int64(dx)*int64(dx)+int64(dy)*int64(dy) > 25*25*skirmish.Scale*skirmish.Scale {
					move(1, ax/10, ay/10, ax, ay, false) // run up to it
				} else {
					seen["reload"] = seen["reload"] || p.get(w, e1, "reload") > 0
					move(1, 0, 0, ax, ay, true)
				}
				if t == 150 { // two moves in one tick
					move(1, 100, 0, ax, ay, false)
				}
			}
			seen["hit"] = seen["hit"] || p.get(w, e1, "hp") < skirmish.FullHP
		}
		if e2 != 0 {
			seen["kill"] = seen["kill"] || p.get(w, e2, "alive") == 0
			my := int32(60)
			if t/20%2 == 0 {
				my = -60
			}
			dx, dy := int32(0), int32(0)
			if e1 != 0 {
				dx, dy = p.get(w, e1, "x")-p.get(w, e2, "x"), p.get(w, e1, "y")-p.get(w, e2, "y")
			}
			move(2, -100, my, dx/10, dy/10, t%30 == 0)
		}
		if e3 != 0 && t%17 != 0 { // t%17 == 0: no move
			switch x, y := p.get(w, e3, "x"), p.get(w, e3, "y"); {
			case t < 130:
				seen["corner"] = seen["corner"] || x == 0 && y == 0
				move(3, -300, -150, 0, 0, false) // out of range: clamped, then a diagonal
			default:
				seen["bottom"] = seen["bottom"] || y == skirmish.Height
				move(3, 20, 100, -1, 1, false)
			}
		}
		return in
	}
}

// TestPredictVectors records a scripted skirmish match as predict vectors and compares them
// with testdata/predict-vectors.json; -update rewrites the file.
func TestPredictVectors(t *testing.T) {
	const config = `{"countdown_ticks":30,"respawn_ticks":20,"max_players":4}`
	g, err := skirmish.New(0, []byte(config))
	require.NoError(t, err)
	s := g.Schema()
	p := newPlayers(s)
	match, _ := s.ClassByName("match")
	phase, _ := s.FieldByName(match, "phase")
	seen := map[string]bool{}
	got, err := simtest.PredictVectors(skirmish.Name, simtest.PredictMatch{
		Name: "2v1", Game: g, TickRate: skirmish.TickRate, Config: config, Seed: 7, Ticks: 300,
		Script: skirmishScript(p, match, phase, seen),
		// A (re)spawn and a death are Step's doing, not the input's.
		Note: func(w *sim.World, prev *sim.State, _ uint32, e sim.Entity) string {
			if p.get(w, e, "spawned") == int32(w.Tick()) {
				return "respawn"
			}
			if c, ok := prev.ClassOf(e); ok && c == p.cls && prev.Value(e, p.fields["alive"]) == 1 && p.get(w, e, "alive") == 0 {
				return "killed"
			}
			return ""
		},
	})
	require.NoError(t, err)
	for _, what := range []string{"lobby shot", "play", "reload", "hit", "kill", "corner", "bottom"} {
		assert.True(t, seen[what], "the scripted match has no %s", what)
	}
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(predictVectorsPath), 0o755))
		require.NoError(t, os.WriteFile(predictVectorsPath, got, 0o644))
	}
	want, err := os.ReadFile(predictVectorsPath)
	require.NoError(t, err, "run go test ./examples/skirmish -run TestPredictVectors -update once")
	assert.Equal(t, string(want), string(got), "skirmish's predict vectors changed: if on purpose, rerun with -update and run client-js's tests (predictSkirmish must still agree)")
}
