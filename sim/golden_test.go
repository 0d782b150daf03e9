package sim_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/frames.json (and the fuzz seed corpus)")

// goldenPath holds the frames the JS client replays (client-js tests read it): each scenario is
// a schema and a chain of frames, each with the state and hash the mirror must hold after it.
var goldenPath = filepath.Join("testdata", "golden", "frames.json")

type goldenFile struct {
	Scenarios []goldenScenario `json:"scenarios"`
}

type goldenScenario struct {
	Name      string        `json:"name"`
	SchemaB64 string        `json:"schema_b64"`
	Frames    []goldenFrame `json:"frames"`
}

type goldenFrame struct {
	FrameB64 string         `json:"frame_b64"`
	State    []goldenEntity `json:"state"`
	Hash     string         `json:"hash"`
	Events   []goldenEvent  `json:"events,omitempty"` // the frame's game events, in order (absent: none)
	Result   *goldenResult  `json:"result,omitempty"` // the frame's match result (absent: none)
}

// goldenEvent is one Frame.events entry (a frame carries no recipients).
type goldenEvent struct {
	Tick   uint32  `json:"tick"`
	Kind   uint32  `json:"kind"`
	Values []int32 `json:"values"`
	Data   string  `json:"data"` // hex
}

// goldenResult is a Frame.result.
type goldenResult struct {
	Tick    uint32   `json:"tick"`
	Winners []uint32 `json:"winners"`
	Summary string   `json:"summary"`
	Data    string   `json:"data"` // hex
}

type goldenEntity struct {
	ID     uint32   `json:"id"`
	Class  int      `json:"class"`
	Values []int32  `json:"values"`          // non-bytes fields in schema order
	Bytes  []string `json:"bytes,omitempty"` // hex of each bytes field in schema order; absent when the class has none
}

// goldenFrameOf records one applied frame and the state the mirror holds after it, with the
// frame's events and result as proto.Unmarshal reads them.
func goldenFrameOf(msg []byte, st *sim.State) goldenFrame {
	g := goldenFrame{FrameB64: base64.StdEncoding.EncodeToString(msg), State: []goldenEntity{}, Hash: fmt.Sprintf("%016x", st.Hash())}
	var sm pb.ServerMessage
	if err := proto.Unmarshal(msg, &sm); err == nil {
		for _, ev := range sm.GetFrame().GetEvents() {
			g.Events = append(g.Events, goldenEventOf(ev.GetTick(), ev.GetKind(), ev.GetValues(), ev.GetData()))
		}
		if r := sm.GetFrame().GetResult(); r != nil {
			g.Result = goldenResultOf(&sim.Result{Tick: r.GetTick(), Winners: r.GetWinners(), Summary: r.GetSummary(), Data: r.GetData()})
		}
	}
	for id := sim.Entity(1); id < st.MaxID(); id++ {
		c, ok := st.ClassOf(id)
		if !ok {
			continue
		}
		e := goldenEntity{ID: uint32(id), Class: c.Index(), Values: append([]int32{}, st.Values(id)...)}
		for _, b := range st.BytesValues(id) {
			e.Bytes = append(e.Bytes, hex.EncodeToString(b))
		}
		g.State = append(g.State, e)
	}
	return g
}

// TestGolden runs the scenario scripts that declare a golden name and compares what they emit
// with testdata/golden/frames.json; -update rewrites the file instead.
func TestGolden(t *testing.T) {
	var gf goldenFile
	for _, path := range scriptFiles(t) {
		sc := runScript(t, path)
		if sc.name == "" {
			continue
		}
		require.False(t, t.Failed(), "%s fails: fix it before recording it", path)
		require.NotEmpty(t, sc.out)
		st, _ := sc.s.Proto()
		schema, err := proto.MarshalOptions{Deterministic: true}.Marshal(st)
		require.NoError(t, err)
		gf.Scenarios = append(gf.Scenarios, goldenScenario{Name: sc.name, SchemaB64: base64.StdEncoding.EncodeToString(schema), Frames: sc.out})
	}
	gf.Scenarios = append(gf.Scenarios, goldenEventsScenario(t), goldenViewsScenario(t))
	require.NotEmpty(t, gf.Scenarios)
	got, err := json.MarshalIndent(gf, "", " ")
	require.NoError(t, err)
	got = append(got, '\n')
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(goldenPath), 0o755))
		require.NoError(t, os.WriteFile(goldenPath, got, 0o644))
		t.Logf("rewrote %s: read the diff before committing it", goldenPath)
		return
	}
	want, err := os.ReadFile(goldenPath)
	require.NoError(t, err, "run go test ./sim -run TestGolden -update once")
	assert.Equal(t, string(want), string(got), "golden frames changed: if on purpose, rerun with -update and tell the JS client")
}

// TestGoldenChains checks the file's own promises, as the JS client will read them: every
// scenario is a chain (each frame's baseline is the previous frame's tick, or 0 for a
// snapshot), and a fresh Go mirror fed the frames holds the recorded state and hash.
func TestGoldenChains(t *testing.T) {
	data, err := os.ReadFile(goldenPath)
	require.NoError(t, err)
	var gf goldenFile
	require.NoError(t, json.Unmarshal(data, &gf))
	for _, sc := range gf.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			raw, err := base64.StdEncoding.DecodeString(sc.SchemaB64)
			require.NoError(t, err)
			s := schemaFromBytes(t, raw)
			m := sim.NewMirror(s)
			prev := uint32(0)
			for i, fr := range sc.Frames {
				msg, err := base64.StdEncoding.DecodeString(fr.FrameB64)
				require.NoError(t, err)
				got, err := m.ApplyMessage(msg)
				require.NoError(t, err, "frame %d", i)
				f := got.GetFrame()
				require.NotNil(t, f)
				if i == 0 {
					assert.Zero(t, f.GetBaselineTick(), "a scenario starts with a snapshot")
				} else if f.GetBaselineTick() != 0 {
					assert.Equal(t, prev, f.GetBaselineTick(), "frame %d chains on the previous one", i)
				}
				prev = f.GetTick()
				assert.Equal(t, fr, goldenFrameOf(msg, m.State()), "frame %d", i)
			}
		})
	}
}

func schemaFromBytes(t *testing.T, raw []byte) *sim.Schema {
	t.Helper()
	var st pb.StateSchema
	require.NoError(t, proto.Unmarshal(raw, &st))
	s, err := sim.SchemaFromProto(&st, nil)
	require.NoError(t, err)
	return s
}

func goldenEventOf(tick, kind uint32, values []int32, data []byte) goldenEvent {
	return goldenEvent{Tick: tick, Kind: kind, Values: append([]int32{}, values...), Data: hex.EncodeToString(data)}
}

func goldenResultOf(r *sim.Result) *goldenResult {
	return &goldenResult{Tick: r.Tick, Winners: append([]uint32{}, r.Winners...), Summary: r.Summary, Data: hex.EncodeToString(r.Data)}
}

// goldenEventsScenario builds frames that carry game events and a match result the way the
// server sends them: the shared body, then this client's events (sim.AppendEvent, without
// recipients), then the result (sim.AppendResult), all inside the header's length. The expected
// events and result come from the sources, and must equal what proto.Unmarshal reads back.
func goldenEventsScenario(t *testing.T) goldenScenario {
	t.Helper()
	b := sim.NewSchemaBuilder()
	c := b.Class("unit")
	fx := c.Int("x")
	fhp := c.Int("hp")
	s, err := b.Build()
	require.NoError(t, err)
	w := sim.NewWorld(s, 1)
	g := simtest.Game{S: s}
	m := sim.NewMirror(s)
	var enc sim.Encoder
	u1 := w.Spawn(c.Handle())
	w.Set(u1, fhp, 100)
	u2 := w.Spawn(c.Handle())
	w.Set(u2, fhp, 80)

	type tickEvent struct {
		tick uint32
		ev   sim.Event
	}
	steps := []struct {
		ticks    int // World.Steps before the frame (more than 1: a coalesced frame)
		snapshot bool
		events   []tickEvent
		result   *sim.Result
	}{
		// A snapshot with one event for everyone.
		{ticks: 1, snapshot: true, events: []tickEvent{{1, sim.Event{Kind: 1, Values: []int32{7}}}}},
		// A frame without events.
		{ticks: 1},
		// Two ticks in one frame, several events: negative and extreme values, data bytes,
		// an event of nothing but its kind.
		{ticks: 2, events: []tickEvent{
			{3, sim.Event{Kind: 2, Values: []int32{-1, -150, math.MinInt32, math.MaxInt32}}},
			{3, sim.Event{Kind: 3, Data: []byte{0x00, 0xff, 'h', 'i'}}},
			{4, sim.Event{Kind: 4}},
			{4, sim.Event{Kind: 2, Values: []int32{-70000, 0, 5}, Data: []byte("boom")}},
		}},
		// The last frame: one more event and the result.
		{ticks: 1, events: []tickEvent{{5, sim.Event{Kind: 5, Values: []int32{-3}}}},
			result: &sim.Result{Tick: 5, Winners: []uint32{1, 3}, Summary: "red wins 5-3", Data: []byte{5, 3}}},
	}
	var base *sim.State
	var frames []goldenFrame
	for i, st := range steps {
		for range st.ticks {
			w.Step(&g, nil)
			w.Set(u1, fx, w.Get(u1, fx)-37) // heading negative: the state changes every tick
		}
		if i == 2 {
			w.Set(u2, fhp, 75)
		}
		cur := simtest.Snapshot(w)
		if st.snapshot {
			base = nil
		}
		body := enc.AppendBody(nil, base, cur, i == len(steps)-1)
		var extra []byte
		var want goldenFrame
		for _, te := range st.events {
			extra = sim.AppendEvent(extra, te.tick, &te.ev, false)
			want.Events = append(want.Events, goldenEventOf(te.tick, te.ev.Kind, te.ev.Values, te.ev.Data))
		}
		if st.result != nil {
			extra = sim.AppendResult(extra, st.result)
			want.Result = goldenResultOf(st.result)
		}
		var baseline uint32
		if base != nil {
			baseline = base.Tick()
		}
		msg := sim.AppendFrameHeader(nil, cur.Tick(), baseline, uint32(i), len(body)+len(extra))
		msg = append(append(msg, body...), extra...)
		_, err := m.ApplyMessage(msg)
		require.NoError(t, err, "frame %d", i)
		got := goldenFrameOf(msg, m.State())
		assert.Equal(t, want.Events, got.Events, "frame %d: events", i)
		assert.Equal(t, want.Result, got.Result, "frame %d: result", i)
		frames = append(frames, got)
		base = cur
	}
	st, _ := s.Proto()
	schema, err := proto.MarshalOptions{Deterministic: true}.Marshal(st)
	require.NoError(t, err)
	return goldenScenario{Name: "events: game events after the body, several per frame, data, negative values, then the match result", SchemaB64: base64.StdEncoding.EncodeToString(schema), Frames: frames}
}

// goldenViewsScenario is one client of a world with views (random cells, a view that changes
// every tick, a skipped tick): frames with pieces and movers, as docs/protocol.md's "Views"
// describes. The first seed whose chain holds every case the clients must handle is used: an
// own-part spawn, despawn and update (movers), enter, delta and leave pieces, an id despawned
// and spawned by one frame, and predicted frames.
func goldenViewsScenario(t *testing.T) goldenScenario {
	t.Helper()
	for seed := uint32(1); seed < 2000; seed++ {
		if sc, ok := viewsChain(t, seed); ok {
			return sc
		}
	}
	t.Fatal("no seed below 2000 covers every views case")
	return goldenScenario{}
}

// viewsChain builds the chain of seed and reports whether it covers every case.
func viewsChain(t *testing.T, seed uint32) (goldenScenario, bool) {
	w, ed := randomWorld(seed)
	g, err := sim.NewGrid(40, 40, 10)
	require.NoError(t, err)
	v := &cellMap{g: g, r: sim.NewRand(seed * 7)}
	m := sim.NewMirror(w.Schema())
	var enc sim.Encoder
	var base *sim.State
	var vb []sim.Cell
	seen := map[string]bool{}
	st, _ := w.Schema().Proto()
	schema, err := proto.MarshalOptions{Deterministic: true}.Marshal(st)
	require.NoError(t, err)
	sc := goldenScenario{Name: "views: pieces, movers, reused ids, a skipped tick", SchemaB64: base64.StdEncoding.EncodeToString(schema)}
	for i := range 12 {
		ed.Tick(int(ed.R.Mod(12)))
		if i == 6 {
			ed.Tick(int(ed.R.Mod(12))) // a tick the client skips: the next frame is not predicted
		}
		cur := simtest.Snapshot(w)
		v.move(w, cur)
		cur.PlaceCells(v, w)
		vt := g.Clean(g.AppendSquare(nil, int32(ed.R.Mod(40)), int32(ed.R.Mod(40)), 12))
		var baseline uint32
		var d *sim.Delta
		if base != nil {
			d = &sim.Delta{}
			d.Find(base, cur)
			baseline = base.Tick()
		}
		body := enc.AppendViewBody(nil, d, cur, vb, vt, i%4 == 3)
		msg := append(sim.AppendFrameHeader(nil, cur.Tick(), baseline, 0, len(body)), body...)
		got, err := m.ApplyMessage(msg)
		require.NoError(t, err)
		f := got.GetFrame()
		seen["predicted"] = seen["predicted"] || (baseline != 0 && baseline+1 == cur.Tick())
		seen["own spawn"] = seen["own spawn"] || (baseline != 0 && len(f.GetSpawnIds()) > 0)
		seen["own despawn"] = seen["own despawn"] || len(f.GetDespawnIds()) > 0
		seen["own update"] = seen["own update"] || len(f.GetUpdateIds()) > 0
		// A reuse across parts: an id despawned by one part (the own fields or a piece) and
		// spawned by another.
		despawnedIn := map[uint32]int{}
		parts := append([]*pb.FramePiece{{DespawnIds: f.GetDespawnIds(), SpawnIds: f.GetSpawnIds()}}, f.GetPieces()...)
		for i, p := range parts {
			for _, id := range undelta(p.GetDespawnIds()) {
				despawnedIn[id] = i + 1
			}
			seen["piece update"] = seen["piece update"] || (i > 0 && len(p.GetUpdateIds()) > 0)
			seen["piece despawn"] = seen["piece despawn"] || (i > 0 && len(p.GetDespawnIds()) > 0)
		}
		for i, p := range parts {
			for _, id := range undelta(p.GetSpawnIds()) {
				seen["reuse"] = seen["reuse"] || (despawnedIn[id] != 0 && despawnedIn[id] != i+1)
			}
		}
		requireViewOf(t, cur, vt, m.State())
		sc.Frames = append(sc.Frames, goldenFrameOf(msg, m.State()))
		base, vb = cur, vt
	}
	covered := 0
	for _, ok := range seen {
		if ok {
			covered++
		}
	}
	return sc, covered == 7
}

// undelta returns the ids of a delta-coded list.
func undelta(d []uint32) []uint32 {
	out := make([]uint32, len(d))
	id := uint32(0)
	for i, x := range d {
		id += x
		out[i] = id
	}
	return out
}
