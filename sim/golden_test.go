package sim_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
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
}

type goldenEntity struct {
	ID     uint32   `json:"id"`
	Class  int      `json:"class"`
	Values []int32  `json:"values"`          // non-bytes fields in schema order
	Bytes  []string `json:"bytes,omitempty"` // hex of each bytes field in schema order; absent when the class has none
}

// goldenFrameOf records one applied frame and the state the mirror holds after it.
func goldenFrameOf(msg []byte, st *sim.State) goldenFrame {
	g := goldenFrame{FrameB64: base64.StdEncoding.EncodeToString(msg), State: []goldenEntity{}, Hash: fmt.Sprintf("%016x", st.Hash())}
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
