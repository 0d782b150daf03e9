package sim_test

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
)

// contractVectors mirrors testdata/contract/contract-vectors.json: expected values computed
// outside the project from the contract's definitions (see testdata/contract/README.md).
type contractVectors struct {
	Mulberry32 struct {
		Seed  uint32   `json:"seed"`
		First []uint32 `json:"first_20_u32"`
	} `json:"mulberry32"`
	FNV1a64 struct {
		Cases []struct {
			BytesHex string `json:"bytes_hex"`
			Hash     string `json:"hash"`
		} `json:"cases"`
	} `json:"fnv1a64"`
	WorldHash struct {
		Entities []struct {
			Class    uint32   `json:"class"`
			ID       uint32   `json:"id"`
			Fields   []int32  `json:"fields"`
			BytesHex []string `json:"bytes_hex"`
		} `json:"entities"`
		BytesHex string `json:"bytes_hex"`
		Hash     string `json:"hash"`
	} `json:"world_hash"`
	Prediction struct {
		Cases []struct {
			FPrev int32 `json:"f_prev"`
			V     int32 `json:"v"`
			Num   int32 `json:"num"`
			Den   int32 `json:"den"`
			Pred  int32 `json:"pred"`
		} `json:"cases"`
	} `json:"prediction"`
}

func loadVectors(t *testing.T) *contractVectors {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "contract", "contract-vectors.json"))
	require.NoError(t, err, "contract vectors live in sim/testdata/contract")
	var v contractVectors
	require.NoError(t, json.Unmarshal(data, &v))
	require.Len(t, v.Mulberry32.First, 20)
	require.NotEmpty(t, v.FNV1a64.Cases)
	require.NotEmpty(t, v.WorldHash.Entities)
	require.NotEmpty(t, v.Prediction.Cases)
	return &v
}

func parseHash(t *testing.T, s string) uint64 {
	t.Helper()
	require.Len(t, s, 16, "hashes are 16 hex digits")
	h, err := strconv.ParseUint(s, 16, 64)
	require.NoError(t, err)
	return h
}

func TestContractMulberry32(t *testing.T) {
	v := loadVectors(t)
	r := sim.NewRand(v.Mulberry32.Seed)
	got := make([]uint32, len(v.Mulberry32.First))
	for i := range got {
		got[i] = r.Uint32()
	}
	assert.Equal(t, v.Mulberry32.First, got)

	// The whole state is one uint32: restoring it replays the same draws.
	r = sim.NewRand(v.Mulberry32.Seed)
	r.Uint32()
	saved := r.State()
	r2 := sim.NewRand(0)
	r2.SetState(saved)
	assert.Equal(t, v.Mulberry32.First[1], r2.Uint32())
	assert.Equal(t, v.Mulberry32.First[2]%7, r2.Mod(7))
	for i, threshold := range []uint32{v.Mulberry32.First[3], v.Mulberry32.First[4] + 1} {
		assert.Equal(t, i == 1, r2.Below(threshold), "Below is draw < threshold")
	}
}

func TestContractFNV1a64(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.FNV1a64.Cases {
		t.Run(c.BytesHex, func(t *testing.T) {
			b, err := hex.DecodeString(c.BytesHex)
			require.NoError(t, err)
			assert.Equal(t, parseHash(t, c.Hash), sim.FNV64(b))
		})
	}
}

// vectorSchema is the world-hash example's schema: class 0 with 5 int fields, class 1 with 5
// int fields and a bytes field last.
func vectorSchema(t *testing.T) (*sim.Schema, [2][]sim.Field, sim.BytesField) {
	t.Helper()
	b := sim.NewSchemaBuilder()
	var fields [2][]sim.Field
	var name sim.BytesField
	for c := range 2 {
		cb := b.Class("c" + strconv.Itoa(c))
		for i := range 5 {
			fields[c] = append(fields[c], cb.Int("f"+strconv.Itoa(i)))
		}
		if c == 1 {
			name = cb.Bytes("name", 16)
		}
	}
	s, err := b.Build()
	require.NoError(t, err)
	return s, fields, name
}

func TestContractWorldHash(t *testing.T) {
	v := loadVectors(t)
	wh := v.WorldHash
	want := parseHash(t, wh.Hash)
	layout, err := hex.DecodeString(wh.BytesHex)
	require.NoError(t, err)
	require.Equal(t, want, sim.FNV64(layout), "the vector's layout bytes hash to its hash")

	s, fields, name := vectorSchema(t)
	check := func(t *testing.T, w *sim.World) {
		t.Helper()
		assert.Equal(t, len(wh.Entities), w.Len())
		assert.Equal(t, want, w.Hash(), "World.Hash")
		st := sim.NewState(s)
		w.Snapshot(st)
		assert.Equal(t, want, st.Hash(), "State.Hash")
	}

	t.Run("spawn and despawn", func(t *testing.T) {
		w := sim.NewWorld(s, 1)
		byID := map[sim.Entity]int{}
		for i, e := range wh.Entities {
			byID[sim.Entity(e.ID)] = i
		}
		var last sim.Entity
		for id := sim.Entity(1); id <= sim.Entity(wh.Entities[len(wh.Entities)-1].ID); id++ {
			i, keep := byID[id]
			cls := 0
			if keep {
				cls = int(wh.Entities[i].Class)
			}
			cl, ok := s.ClassByName("c" + strconv.Itoa(cls))
			require.True(t, ok)
			got := w.Spawn(cl)
			require.Equal(t, id, got, "fresh ids count up from 1")
			if !keep {
				continue
			}
			e := wh.Entities[i]
			for k, f := range fields[cls] {
				w.Set(got, f, e.Fields[k])
			}
			for _, bh := range e.BytesHex {
				b, err := hex.DecodeString(bh)
				require.NoError(t, err)
				w.SetBytes(got, name, b)
			}
			last = got
		}
		for id := sim.Entity(1); id < last; id++ {
			if _, keep := byID[id]; !keep {
				require.True(t, w.Despawn(id))
			}
		}
		check(t, w)
	})

	t.Run("LoadWorld", func(t *testing.T) {
		ws := &pb.WorldState{NextId: wh.Entities[len(wh.Entities)-1].ID + 1}
		for _, e := range wh.Entities {
			ws.Ids = append(ws.Ids, e.ID)
			ws.Classes = append(ws.Classes, e.Class)
			ws.Values = append(ws.Values, e.Fields...)
			for _, bh := range e.BytesHex {
				b, err := hex.DecodeString(bh)
				require.NoError(t, err)
				ws.BytesValues = append(ws.BytesValues, &pb.BytesValue{EntityId: e.ID, Field: 5, Value: b})
			}
		}
		prev := uint32(0)
		for _, id := range ws.Ids {
			for free := prev + 1; free < id; free++ {
				ws.FreeIds = append(ws.FreeIds, free)
			}
			prev = id
		}
		w, err := sim.LoadWorld(s, ws)
		require.NoError(t, err)
		check(t, w)
	})
}

func TestContractPrediction(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.Prediction.Cases {
		name := strconv.Itoa(int(c.FPrev)) + "+" + strconv.Itoa(int(c.V)) + "*" + strconv.Itoa(int(c.Num)) + "/" + strconv.Itoa(int(c.Den))
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, c.Pred, sim.Predict(c.FPrev, c.V, c.Num, c.Den))
		})
	}
}
