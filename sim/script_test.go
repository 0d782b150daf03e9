package sim_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// Scenario scripts (testdata/*.txt) edit a world by hand, emit frames to a mirror and check
// what the frames hold and what the mirror ends up with. The language:
//
//	# comment                      (also after a command)
//	golden <name>                  this script is a scenario of testdata/golden/frames.json
//	class <name>                   declares a class; its fields follow, indented:
//	  int <name> [opts]            opts: predict=<field>/<num>/<den> range=<min>:<max>
//	  fixed <name> <scale> [opts]        interpolate owner
//	  bool <name> [opts]
//	  bytes <name> <max len>
//	spawn <class> [id=<n>] [<field>=<v>...]   id= asserts the id the world hands out
//	despawn <id>
//	set <id> <field>=<v>...        v: an integer, min/max (int32 extremes), min+n, max-n; for a
//	                               bytes field text, 0x<hex> or nothing (empty)
//	tick [n]                       World.Step n times (1); nothing else moves
//	step [n]                       n times: World.Step, then every predicted field follows the
//	                               prediction rule (a frame of only this is empty)
//	emit [snapshot] [hash] [seq=<n>]  encode the frame from the tick the mirror holds (or a full
//	                               snapshot) to the world now, check it against the reference
//	                               encoder and apply it to the mirror
//	expect frame k=v...            k: despawns, spawns, updates (ascending ids, "-": none),
//	                               tick, baseline, values (update values), bytes (bytes values),
//	                               body (body bytes), hash (yes/no)
//	expect update <id> <field>=<d>...  the frame lists exactly these fields of id, with these
//	                               differences
//	expect mirror == world         field by field, and the hashes
//	expect mirror|world <id> gone | <field>=<v>...
type script struct {
	t     *testing.T
	file  string
	line  int
	name  string // golden scenario name ("" when not golden)
	b     *sim.SchemaBuilder
	cls   *sim.ClassBuilder
	s     *sim.Schema
	w     *sim.World
	ed    *simtest.Editor
	game  simtest.Game
	m     *sim.Mirror
	enc   sim.Encoder
	ring  map[uint32]*sim.State // world states by emitted tick
	frame *pb.Frame             // the last emitted frame
	body  int                   // its body length
	out   []goldenFrame         // what TestGolden records
}

func (sc *script) fail(format string, a ...any) {
	sc.t.Helper()
	sc.t.Fatalf("%s:%d: %s", sc.file, sc.line, fmt.Sprintf(format, a...))
}

func (sc *script) check(ok bool, format string, a ...any) {
	sc.t.Helper()
	if !ok {
		sc.t.Errorf("%s:%d: %s", sc.file, sc.line, fmt.Sprintf(format, a...))
	}
}

// runScript runs the script at path and returns it (with the frames it emitted).
func runScript(t *testing.T, path string) *script {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := &script{t: t, file: filepath.Base(path), b: sim.NewSchemaBuilder(), ring: map[uint32]*sim.State{}}
	in := bufio.NewScanner(f)
	for in.Scan() {
		sc.line++
		text := in.Text()
		if i := strings.Index(text, "#"); i >= 0 {
			text = text[:i]
		}
		indented := strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t")
		args := strings.Fields(text)
		if len(args) == 0 {
			continue
		}
		if indented {
			sc.declareField(args)
			continue
		}
		sc.cls = nil
		switch args[0] {
		case "golden":
			sc.name = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text), "golden"))
		case "class":
			sc.need(len(args) == 2, "class <name>")
			sc.need(sc.s == nil, "classes come before the first step")
			sc.cls = sc.b.Class(args[1])
		default:
			sc.build()
			sc.do(args)
		}
	}
	require.NoError(t, in.Err())
	return sc
}

func (sc *script) need(ok bool, usage string) {
	sc.t.Helper()
	if !ok {
		sc.fail("usage: %s", usage)
	}
}

func (sc *script) declareField(args []string) {
	sc.need(sc.cls != nil, "fields are declared (indented) under a class")
	var opts []sim.FieldOption
	rest := args[2:]
	if args[0] == "fixed" || args[0] == "bytes" {
		sc.need(len(args) >= 3, args[0]+" <name> <n>")
		rest = args[3:]
	}
	for _, o := range rest {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "predict":
			p := strings.Split(v, "/")
			sc.need(len(p) == 3, "predict=<field>/<num>/<den>")
			opts = append(opts, sim.PredictFrom(p[0], sc.num(p[1]), sc.num(p[2])))
		case "range":
			lo, hi, ok := strings.Cut(v, ":")
			sc.need(ok, "range=<min>:<max>")
			opts = append(opts, sim.Range(sc.num(lo), sc.num(hi)))
		case "interpolate":
			opts = append(opts, sim.Interpolate())
		case "owner":
			opts = append(opts, sim.Owner())
		default:
			sc.fail("unknown field option %q", o)
		}
	}
	switch name := args[1]; args[0] {
	case "int":
		sc.cls.Int(name, opts...)
	case "fixed":
		sc.cls.Fixed(name, sc.num(args[2]), opts...)
	case "bool":
		sc.cls.Bool(name, opts...)
	case "bytes":
		sc.cls.Bytes(name, int(sc.num(args[2])), opts...)
	default:
		sc.fail("unknown field kind %q", args[0])
	}
}

func (sc *script) build() {
	if sc.s != nil {
		return
	}
	s, err := sc.b.Build()
	if err != nil {
		sc.fail("schema: %v", err)
	}
	sc.s = s
	sc.w = sim.NewWorld(s, 1)
	sc.ed = simtest.NewEditor(sc.w, 1)
	sc.game = simtest.Game{S: s}
	sc.m = sim.NewMirror(s)
}

// num parses an int32: a number, min, max, min+n or max-n.
func (sc *script) num(v string) int32 {
	sc.t.Helper()
	switch {
	case v == "min":
		return math.MinInt32
	case v == "max":
		return math.MaxInt32
	case strings.HasPrefix(v, "min+"):
		return math.MinInt32 + sc.num(v[4:])
	case strings.HasPrefix(v, "max-"):
		return math.MaxInt32 - sc.num(v[4:])
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		sc.fail("bad number %q", v)
	}
	return int32(n)
}

func (sc *script) id(v string) sim.Entity {
	sc.t.Helper()
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		sc.fail("bad entity id %q", v)
	}
	return sim.Entity(n)
}

func (sc *script) class(name string) sim.Class {
	c, ok := sc.s.ClassByName(name)
	if !ok {
		sc.fail("unknown class %q", name)
	}
	return c
}

// setFields applies field=value pairs to a live entity of the world.
func (sc *script) setFields(e sim.Entity, pairs []string) {
	c, ok := sc.w.ClassOf(e)
	if !ok {
		sc.fail("entity %d is not alive", e)
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		sc.need(ok, "<field>=<value>")
		if bf, ok := sc.s.BytesFieldByName(c, k); ok {
			b := []byte(v)
			if strings.HasPrefix(v, "0x") {
				var err error
				if b, err = hex.DecodeString(v[2:]); err != nil {
					sc.fail("bad hex %q", v)
				}
			}
			sc.w.SetBytes(e, bf, b)
			continue
		}
		f, ok := sc.s.FieldByName(c, k)
		if !ok {
			sc.fail("class %q has no field %q", sc.s.ClassSpec(c).Name, k)
		}
		sc.w.Set(e, f, sc.num(v))
	}
}

func (sc *script) count(args []string) int {
	if len(args) < 2 {
		return 1
	}
	return int(sc.num(args[1]))
}

func (sc *script) do(args []string) {
	switch args[0] {
	case "spawn":
		sc.need(len(args) >= 2, "spawn <class> [id=<n>] [<field>=<v>...]")
		e := sc.w.Spawn(sc.class(args[1]))
		pairs := args[2:]
		if len(pairs) > 0 && strings.HasPrefix(pairs[0], "id=") {
			sc.check(e == sc.id(pairs[0][3:]), "spawn got id %d, want %s", e, pairs[0][3:])
			pairs = pairs[1:]
		}
		sc.setFields(e, pairs)
	case "despawn":
		sc.need(len(args) == 2, "despawn <id>")
		sc.check(sc.w.Despawn(sc.id(args[1])), "despawn %s: not alive", args[1])
	case "set":
		sc.need(len(args) >= 3, "set <id> <field>=<v>...")
		sc.setFields(sc.id(args[1]), args[2:])
	case "tick":
		for range sc.count(args) {
			sc.w.Step(&sc.game, nil)
		}
	case "step":
		for range sc.count(args) {
			sc.w.Step(&sc.game, nil)
			sc.ed.Advance()
		}
	case "emit":
		sc.emit(args[1:])
	case "expect":
		sc.need(len(args) >= 2, "expect frame|update|mirror|world ...")
		sc.expect(args[1:])
	default:
		sc.fail("unknown command %q", args[0])
	}
}

func (sc *script) emit(args []string) {
	snapshot, withHash, seq := false, false, uint32(0)
	for _, a := range args {
		switch {
		case a == "snapshot":
			snapshot = true
		case a == "hash":
			withHash = true
		case strings.HasPrefix(a, "seq="):
			seq = uint32(sc.num(a[4:]))
		default:
			sc.fail("usage: emit [snapshot] [hash] [seq=<n>]")
		}
	}
	cur := simtest.Snapshot(sc.w)
	var base *sim.State
	if !snapshot {
		base = sc.ring[sc.m.Tick()]
		if base == nil {
			sc.fail("the mirror holds no emitted tick: emit a snapshot first")
		}
	}
	body := sc.enc.AppendBody(nil, base, cur, withHash)
	var baseline uint32
	if base != nil {
		baseline = base.Tick()
	}
	msg := append(sim.AppendFrameHeader(nil, cur.Tick(), baseline, seq, len(body)), body...)
	ref := refBytes(base, cur, seq, withHash)
	sc.check(slices.Equal(ref, msg), "encoder and reference differ:\n enc %x\n ref %x", msg, ref)
	got, err := sc.m.ApplyMessage(msg)
	if err != nil {
		sc.fail("mirror refused the frame: %v", err)
	}
	sc.frame, sc.body = proto.CloneOf(got.GetFrame()), len(body)
	sc.ring[cur.Tick()] = cur
	sc.out = append(sc.out, goldenFrameOf(msg, sc.m.State()))
}

func (sc *script) expect(args []string) {
	switch args[0] {
	case "frame":
		sc.need(sc.frame != nil, "expect frame after an emit")
		for _, kv := range args[1:] {
			k, v, _ := strings.Cut(kv, "=")
			f := sc.frame
			switch k {
			case "despawns":
				sc.check(idList(deltaDecode(f.GetDespawnIds())) == v, "despawns: got %s, want %s", idList(deltaDecode(f.GetDespawnIds())), v)
			case "spawns":
				sc.check(idList(deltaDecode(f.GetSpawnIds())) == v, "spawns: got %s, want %s", idList(deltaDecode(f.GetSpawnIds())), v)
			case "updates":
				sc.check(idList(deltaDecode(f.GetUpdateIds())) == v, "updates: got %s, want %s", idList(deltaDecode(f.GetUpdateIds())), v)
			case "tick":
				sc.check(f.GetTick() == uint32(sc.num(v)), "tick: got %d, want %s", f.GetTick(), v)
			case "baseline":
				sc.check(f.GetBaselineTick() == uint32(sc.num(v)), "baseline: got %d, want %s", f.GetBaselineTick(), v)
			case "values":
				sc.check(len(f.GetUpdateValues()) == int(sc.num(v)), "update values: got %d, want %s", len(f.GetUpdateValues()), v)
			case "bytes":
				sc.check(len(f.GetBytesValues()) == int(sc.num(v)), "bytes values: got %d, want %s", len(f.GetBytesValues()), v)
			case "body":
				sc.check(sc.body == int(sc.num(v)), "body: got %d bytes, want %s", sc.body, v)
			case "hash":
				sc.check((f.ViewHash != nil) == (v == "yes"), "view hash present: %v, want %s", f.ViewHash != nil, v)
			default:
				sc.fail("unknown frame property %q", k)
			}
		}
	case "update":
		sc.need(sc.frame != nil && len(args) >= 2, "expect update <id> <field>=<d>... after an emit")
		sc.expectUpdate(sc.id(args[1]), args[2:])
	case "mirror", "world":
		sc.need(len(args) >= 2, "expect mirror == world | expect mirror|world <id> ...")
		cur := simtest.Snapshot(sc.w)
		if args[1] == "==" {
			sc.need(args[0] == "mirror" && len(args) == 3 && args[2] == "world", "expect mirror == world")
			if d := simtest.DiffStates(cur, sc.m.State()); d != "" {
				sc.check(false, "mirror differs from world:\n%s", d)
			}
			return
		}
		st := cur
		if args[0] == "mirror" {
			st = sc.m.State()
		}
		sc.expectEntity(st, sc.id(args[1]), args[2:])
	default:
		sc.fail("unknown expectation %q", args[0])
	}
}

func (sc *script) expectUpdate(e sim.Entity, pairs []string) {
	f := sc.frame
	i := slices.Index(deltaDecode(f.GetUpdateIds()), uint32(e))
	if i < 0 {
		sc.check(false, "entity %d is not updated by the frame", e)
		return
	}
	c, ok := sc.m.State().ClassOf(e)
	sc.need(ok, "expect update of a live entity")
	fields := sc.s.ClassSpec(c).Fields
	// This entity's differences start after those of the entities listed before it.
	skip := 0
	for _, m := range f.GetUpdateMasks()[:i] {
		skip += bits.OnesCount32(m)
	}
	got := map[string]int32{}
	mask := f.GetUpdateMasks()[i]
	for k := 0; mask != 0; mask &= mask - 1 {
		got[fields[bits.TrailingZeros32(mask)].Name] = f.GetUpdateValues()[skip+k]
		k++
	}
	want := map[string]int32{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		sc.need(ok, "<field>=<difference>")
		want[k] = sc.num(v)
	}
	sc.check(fmt.Sprint(want) == fmt.Sprint(got), "entity %d: update got %v, want %v", e, got, want)
}

func (sc *script) expectEntity(st *sim.State, e sim.Entity, pairs []string) {
	c, ok := st.ClassOf(e)
	if len(pairs) == 1 && pairs[0] == "gone" {
		sc.check(!ok, "entity %d is alive", e)
		return
	}
	if !ok {
		sc.check(false, "entity %d is not alive", e)
		return
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		sc.need(ok, "<field>=<value>")
		if bf, ok := sc.s.BytesFieldByName(c, k); ok {
			got := st.BytesValue(e, bf)
			sc.check(string(got) == v || "0x"+hex.EncodeToString(got) == v, "entity %d: %s=%q, want %s", e, k, got, v)
			continue
		}
		f, ok := sc.s.FieldByName(c, k)
		if !ok {
			sc.fail("no field %q", k)
		}
		sc.check(st.Value(e, f) == sc.num(v), "entity %d: %s=%d, want %s", e, k, st.Value(e, f), v)
	}
}

func idList(ids []uint32) string {
	if len(ids) == 0 {
		return "-"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatUint(uint64(id), 10)
	}
	return strings.Join(s, ",")
}

func scriptFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	return files
}

func TestScripts(t *testing.T) {
	for _, path := range scriptFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			sc := runScript(t, path)
			require.NotEmpty(t, sc.out, "a script emits frames")
		})
	}
}
