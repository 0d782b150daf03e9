package arena

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/ticksync/ticksync/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json")

func newWorld(t testing.TB, hz uint32, config string, seed uint32) (*Game, *sim.World) {
	t.Helper()
	g, err := New(hz, []byte(config))
	require.NoError(t, err)
	w := sim.NewWorld(g.Schema(), seed)
	require.NoError(t, g.Init(w))
	return g.(*Game), w
}

// randomInputs makes one tick of random joins, leaves and moves from r, tracking who is in.
type match struct {
	r      sim.Rand
	in     map[uint32]bool
	seq    map[uint32]uint32
	inputs []sim.Input
}

func newMatch(seed uint32) *match {
	return &match{r: sim.NewRand(seed), in: map[uint32]bool{}, seq: map[uint32]uint32{}}
}

func (m *match) tick() []sim.Input {
	m.inputs = m.inputs[:0]
	if m.r.Mod(10) == 0 { // someone joins
		m.inputs = append(m.inputs, sim.Input{Player: 1 + m.r.Mod(40), Kind: sim.InputJoin})
		m.in[m.inputs[len(m.inputs)-1].Player] = true
	}
	if m.r.Mod(25) == 0 { // someone leaves (maybe someone not in: ignored by the game)
		p := 1 + m.r.Mod(40)
		m.inputs = append(m.inputs, sim.Input{Player: p, Kind: sim.InputLeave})
		delete(m.in, p)
	}
	for p := uint32(1); p <= 40; p++ { // ascending: map order never matters
		if !m.in[p] || m.r.Mod(3) == 0 {
			continue
		}
		for range 1 + m.r.Mod(2) {
			m.seq[p]++
			vals := []int32{int32(m.r.Mod(50001)) - 25000, int32(m.r.Mod(50001)) - 25000} // beyond the clamp too
			m.inputs = append(m.inputs, sim.Input{Player: p, Kind: sim.InputMove, Seq: m.seq[p], Values: vals})
		}
	}
	return m.inputs
}

func TestDeterminism(t *testing.T) {
	const ticks = 10_000
	ga, a := newWorld(t, 20, `{"npcs":300}`, 42)
	gb, b := newWorld(t, 20, `{"npcs":300}`, 42)
	ma, mb := newMatch(7), newMatch(7)
	for tick := 1; tick <= ticks; tick++ {
		a.Step(ga, ma.tick())
		b.Step(gb, mb.tick())
		if a.Hash() != b.Hash() {
			require.Failf(t, "hashes differ", "tick %d", tick)
		}
	}
	assert.Equal(t, uint32(ticks), a.Tick())
	assert.Positive(t, len(a.Entities(ga.player)), "players in the match at the end")
}

func TestDifferentInputDifferentHash(t *testing.T) {
	ga, a := newWorld(t, 20, `{"npcs":50}`, 42)
	gb, b := newWorld(t, 20, `{"npcs":50}`, 42)
	join := []sim.Input{{Player: 1, Kind: sim.InputJoin}}
	a.Step(ga, join)
	b.Step(gb, join)
	require.Equal(t, a.Hash(), b.Hash())
	a.Step(ga, []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: 1, Values: []int32{100, 0}}})
	b.Step(gb, []sim.Input{{Player: 1, Kind: sim.InputMove, Seq: 1, Values: []int32{120, 0}}})
	assert.NotEqual(t, a.Hash(), b.Hash())
	ha, hb := a.Hash(), b.Hash()
	for range 100 { // the difference persists
		a.Step(ga, nil)
		b.Step(gb, nil)
		assert.NotEqual(t, a.Hash(), b.Hash())
	}
	assert.NotEqual(t, ha, a.Hash(), "the world moves")
	assert.NotEqual(t, hb, b.Hash())
}

func TestDifferentSeedDifferentWorld(t *testing.T) {
	_, a := newWorld(t, 20, "", 42)
	_, b := newWorld(t, 20, "", 43)
	assert.NotEqual(t, a.Hash(), b.Hash())
}

// scriptedInputs is the golden match: a fixed script anyone can re-implement.
func scriptedInputs(tick uint32) []sim.Input {
	var in []sim.Input
	if tick <= 5 {
		in = append(in, sim.Input{Player: tick, Kind: sim.InputJoin})
	}
	if tick == 500 {
		in = append(in, sim.Input{Player: 3, Kind: sim.InputLeave})
	}
	if tick == 600 {
		in = append(in, sim.Input{Player: 6, Kind: sim.InputJoin})
	}
	for p := uint32(1); p <= 6; p++ {
		if tick%uint32(p+1) == 0 {
			vx := int32(tick*37+p*1000)%40001 - 20000
			vy := int32(tick*53+p*777)%40001 - 20000
			in = append(in, sim.Input{Player: p, Kind: sim.InputMove, Seq: tick, Values: []int32{vx, vy}})
		}
	}
	return in
}

type golden struct {
	Seed   uint32 `json:"seed"`
	NPCs   int    `json:"npcs"`
	Hz     uint32 `json:"hz"`
	Ticks  int    `json:"ticks"`
	Hash   string `json:"hash"`
	Hash1  string `json:"hash_after_tick_1"`
	Script string `json:"script"`
}

func TestGoldenHash(t *testing.T) {
	g, w := newWorld(t, 20, `{"npcs":1000}`, 42)
	got := golden{Seed: 42, NPCs: 1000, Hz: 20, Ticks: 1000, Script: "scriptedInputs in arena_test.go"}
	for tick := uint32(1); tick <= 1000; tick++ {
		w.Step(g, scriptedInputs(tick))
		if tick == 1 {
			got.Hash1 = fmt.Sprintf("%016x", w.Hash())
		}
	}
	got.Hash = fmt.Sprintf("%016x", w.Hash())
	path := filepath.Join("testdata", "golden.json")
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(b, '\n'), 0o644))
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./sim/arena -run TestGoldenHash -update once")
	var want golden
	require.NoError(t, json.Unmarshal(b, &want))
	assert.Equal(t, want, got)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		hz           uint32
		ok           bool
	}{
		{"defaults", "", 20, true},
		{"npcs", `{"npcs":5}`, 60, true},
		{"negative", `{"npcs":-1}`, 20, false},
		{"huge", `{"npcs":100000000}`, 20, false},
		{"not json", `{`, 20, false},
		{"small world", `{"world":200}`, 1, true},
		{"big world", `{"world":100000}`, 20, true},
		{"world too small", `{"world":199}`, 20, false},
		{"world too big", `{"world":100001}`, 20, false},
		{"negative world", `{"world":-5}`, 20, false},
		{"zero hz", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.hz, []byte(tc.config))
			assert.Equal(t, tc.ok, err == nil, "err = %v", err)
		})
	}
}

// TestWorldConfig checks the world config: the schema's x and y ranges follow it (the default
// config's schema is the one of world 1000), NPCs and players are placed inside it, and players
// bounce off its far borders.
func TestWorldConfig(t *testing.T) {
	def, err := New(20, nil)
	require.NoError(t, err)
	same, err := New(20, []byte(`{"world":1000}`))
	require.NoError(t, err)
	assert.Equal(t, schemaJSON(t, def.Schema()), schemaJSON(t, same.Schema()), "world 1000 is the default")

	g, w := newWorld(t, 20, `{"npcs":300,"world":300}`, 42)
	st, _ := g.Schema().Proto()
	for _, c := range st.GetClasses() {
		for _, f := range c.GetFields()[:2] { // x, y
			assert.True(t, f.GetHasRange(), "%s.%s", c.GetName(), f.GetName())
			assert.Equal(t, [2]int32{0, 300 * Scale}, [2]int32{f.GetMin(), f.GetMax()}, "%s.%s range", c.GetName(), f.GetName())
		}
	}
	w.Step(g, []sim.Input{{Player: 1, Kind: sim.InputJoin}})
	e, ok := g.Player(1)
	require.True(t, ok)
	maxX := int32(0)
	for range 200 { // full speed right and down: the player ends at the far borders, bouncing
		w.Step(g, []sim.Input{{Player: 1, Kind: sim.InputMove, Values: []int32{MaxInput, MaxInput}}})
		for _, f := range []sim.Field{g.nx, g.ny, g.px, g.py} {
			for _, v := range w.Column(f) {
				require.True(t, v >= 0 && v <= 300*Scale, "a coordinate %d outside the 300-unit world", v)
			}
		}
		maxX = max(maxX, w.Get(e, g.px))
	}
	assert.Greater(t, maxX, int32(300*Scale-MaxInput/20), "the player reached the far border")
}

// schemaJSON is a schema's wire form as JSON, to compare two schemas.
func schemaJSON(t *testing.T, s *sim.Schema) string {
	t.Helper()
	st, in := s.Proto()
	b, err := json.Marshal([]any{st, in})
	require.NoError(t, err)
	return string(b)
}

func TestLoadRebuildsPlayers(t *testing.T) {
	g, w := newWorld(t, 20, `{"npcs":10}`, 1)
	w.Step(g, []sim.Input{{Player: 9, Kind: sim.InputJoin}, {Player: 4, Kind: sim.InputJoin}})
	g2, err := New(20, []byte(`{"npcs":10}`))
	require.NoError(t, err)
	w2, err := sim.LoadWorld(g2.Schema(), w.Save())
	require.NoError(t, err)
	require.NoError(t, g2.Load(w2))
	mv := []sim.Input{{Player: 4, Kind: sim.InputMove, Seq: 1, Values: []int32{500, -500}}}
	for range 50 {
		w.Step(g, mv)
		w2.Step(g2, mv)
		require.Equal(t, w.Hash(), w2.Hash())
	}
	e, ok := g2.(*Game).Player(4)
	require.True(t, ok)
	assert.Equal(t, int32(500), w2.Get(e, g.pvx))
}

// TestScripts runs testdata/*.txt: small arena matches written as scripts.
//
//	npcs N | hz N | seed N     set up (before the first tick)
//	join P | leave P           queue a join or leave for the next tick
//	move P vx vy               queue a move (values in 1/100 unit/s)
//	place P x y                put player P's entity at x, y (test only)
//	tick [N]                   step N ticks (default 1)
//	expect P k=v ...           player P's fields (x y vx vy hp) equal these
//	expect-absent P            player P has no entity
//	expect-count class=N       the number of entities of class npc or player
func TestScripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	f, err := os.Open(file)
	require.NoError(t, err)
	defer f.Close()
	hz, seed, npcs := uint32(20), uint32(42), 0
	var g *Game
	var w *sim.World
	var queued []sim.Input
	seq := map[uint32]uint32{}
	start := func() {
		if w == nil {
			g, w = newWorld(t, hz, fmt.Sprintf(`{"npcs":%d}`, npcs), seed)
			if npcs == 0 { // the config's zero means the default; a script with no NPCs wants none
				for _, e := range append([]sim.Entity(nil), w.Entities(g.npc)...) {
					w.Despawn(e)
				}
			}
		}
	}
	num := func(s string) int32 {
		v, err := strconv.ParseInt(s, 10, 32)
		require.NoError(t, err, "%q", s)
		return int32(v)
	}
	player := func(s string) sim.Entity {
		e, ok := g.Player(uint32(num(s)))
		require.True(t, ok, "player %s not in the match", s)
		return e
	}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		where := fmt.Sprintf("%s:%d: %s", file, line, sc.Text())
		switch cmd, args := fields[0], fields[1:]; cmd {
		case "npcs":
			npcs = int(num(args[0]))
		case "hz":
			hz = uint32(num(args[0]))
		case "seed":
			seed = uint32(num(args[0]))
		case "join", "leave":
			kind := map[string]sim.InputKind{"join": sim.InputJoin, "leave": sim.InputLeave}[cmd]
			queued = append(queued, sim.Input{Player: uint32(num(args[0])), Kind: kind})
		case "move":
			p := uint32(num(args[0]))
			seq[p]++
			queued = append(queued, sim.Input{Player: p, Kind: sim.InputMove, Seq: seq[p], Values: []int32{num(args[1]), num(args[2])}})
		case "place":
			e := player(args[0])
			w.Set(e, g.px, num(args[1]))
			w.Set(e, g.py, num(args[2]))
		case "tick":
			start()
			n := 1
			if len(args) > 0 {
				n = int(num(args[0]))
			}
			for range n {
				w.Step(g, queued)
				queued = nil
			}
		case "expect":
			e := player(args[0])
			byName := map[string]sim.Field{"x": g.px, "y": g.py, "vx": g.pvx, "vy": g.pvy, "hp": g.php}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, where)
				fld, ok := byName[k]
				require.True(t, ok, "%s: unknown field %s", where, k)
				assert.Equal(t, num(v), w.Get(e, fld), "%s: %s", where, k)
			}
		case "expect-absent":
			_, ok := g.Player(uint32(num(args[0])))
			assert.False(t, ok, where)
		case "expect-count":
			k, v, _ := strings.Cut(args[0], "=")
			cls := map[string]sim.Class{"npc": g.npc, "player": g.player}[k]
			assert.Len(t, w.Entities(cls), int(num(v)), where)
		default:
			require.Failf(t, "unknown command", where)
		}
	}
	require.NoError(t, sc.Err())
}
