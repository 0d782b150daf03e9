package sim_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// fuzzBase is what FuzzApplyFrame's mirror holds before the fuzzed message: a world of two
// classes (predicted fields, bytes fields between ints) at tick 5, and the frames that real
// servers send from it, which seed the corpus.
type fuzzBase struct {
	s        *sim.Schema
	base     *sim.State
	snapshot []byte            // the full snapshot of base the mirror starts from
	seeds    map[string][]byte // real messages, by name
}

func newFuzzBase(t testing.TB) *fuzzBase {
	b := sim.NewSchemaBuilder()
	ship := b.Class("ship")
	ship.Fixed("x", 100, sim.PredictFrom("vx", 1, 20))
	ship.Fixed("vx", 100)
	ship.Bytes("name", 8)
	ship.Fixed("y", 100, sim.PredictFrom("vy", 1, 20))
	ship.Fixed("vy", 100)
	ship.Bool("shield")
	rock := b.Class("rock")
	rock.Bytes("tag", 4)
	rock.Int("z", sim.PredictFrom("size", 3, -7))
	rock.Int("size")
	rock.Bytes("note", 2)
	s, err := b.Build()
	require.NoError(t, err)

	w := sim.NewWorld(s, 5)
	ed := simtest.NewEditor(w, 5)
	for range 12 {
		ed.Spawn()
	}
	for range 5 {
		ed.Tick(6)
	}
	fb := &fuzzBase{s: s, base: simtest.Snapshot(w), seeds: map[string][]byte{}}
	enc := &sim.Encoder{}
	fb.snapshot = simtest.EncodeFrame(enc, nil, fb.base, 0, false)
	fb.seeds["snapshot"] = fb.snapshot
	fb.seeds["snapshot-hash"] = simtest.EncodeFrame(enc, nil, fb.base, 9, true)

	// The same history, forked: a consecutive frame, an empty one, a gap.
	g := &simtest.Game{S: s}
	fork := func() (*sim.World, *simtest.Editor) {
		w2, err := sim.LoadWorld(s, w.Save())
		require.NoError(t, err)
		return w2, simtest.NewEditor(w2, 77)
	}
	w2, ed2 := fork()
	ed2.Tick(10)
	fb.seeds["predicted"] = simtest.EncodeFrame(enc, fb.base, simtest.Snapshot(w2), 3, true)
	w2, ed2 = fork()
	w2.Step(g, nil)
	ed2.Advance()
	fb.seeds["empty"] = simtest.EncodeFrame(enc, fb.base, simtest.Snapshot(w2), 3, false)
	w2, ed2 = fork()
	for range 4 {
		ed2.Tick(8)
	}
	fb.seeds["gap"] = simtest.EncodeFrame(enc, fb.base, simtest.Snapshot(w2), 4, false)
	w2, _ = fork()
	for _, id := range simtest.NewEditor(w2, 1).Live()[:4] {
		w2.Despawn(id)
	}
	for range 3 {
		ed2 = simtest.NewEditor(w2, 2)
		ed2.Spawn()
	}
	w2.Step(g, nil)
	fb.seeds["reuse"] = simtest.EncodeFrame(enc, fb.base, simtest.Snapshot(w2), 4, false)
	pong, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Pong{Pong: &pb.Pong{ClientTimeUs: 1, Tick: 5}}})
	require.NoError(t, err)
	fb.seeds["pong"] = pong
	return fb
}

// FuzzApplyFrame feeds any bytes to a mirror holding fuzzBase's state. ApplyMessage must never
// panic; it refuses (ErrBadFrame, the mirror unchanged) or leaves a valid state that a full
// snapshot and a delta re-encode exactly.
func FuzzApplyFrame(f *testing.F) {
	fb := newFuzzBase(f)
	for _, name := range sortedKeys(fb.seeds) {
		f.Add(fb.seeds[name])
	}
	f.Fuzz(func(t *testing.T, data []byte) { fb.check(t, data) })
}

// FuzzApplyFrameFields builds frames from small numbers (ids below 16, short lists, masks of a
// few bits), so that despawns, spawns, updates and bytes values hit live entities far more
// often than random protobuf bytes do; the checks are FuzzApplyFrame's.
func FuzzApplyFrameFields(f *testing.F) {
	fb := newFuzzBase(f)
	f.Add([]byte{1, 1, 3, 1, 2, 1, 0, 1, 0, 2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6})
	f.Add([]byte{0, 2, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzReader(data)
		fr := &pb.Frame{}
		switch r.next() % 4 {
		case 0:
			fr.Tick = 1 + uint32(r.next())
		case 1:
			fr.Tick, fr.BaselineTick = 6, 5
		case 2:
			fr.Tick, fr.BaselineTick = 9, 5
		default:
			fr.Tick, fr.BaselineTick = uint32(r.next()), uint32(r.next())
		}
		for range r.next() % 4 {
			fr.DespawnIds = append(fr.DespawnIds, uint32(r.next()%6))
		}
		for range r.next() % 4 {
			fr.SpawnIds = append(fr.SpawnIds, uint32(r.next()%10))
			fr.SpawnClasses = append(fr.SpawnClasses, uint32(r.next()%3))
		}
		for range r.next() % 12 {
			fr.SpawnValues = append(fr.SpawnValues, int32(int8(r.next()))*1000)
		}
		for range r.next() % 4 {
			fr.UpdateIds = append(fr.UpdateIds, uint32(r.next()%6))
			fr.UpdateMasks = append(fr.UpdateMasks, uint32(r.next())&0x3f)
		}
		for range r.next() % 8 {
			fr.UpdateValues = append(fr.UpdateValues, int32(int8(r.next())))
		}
		for range r.next() % 3 {
			fr.BytesValues = append(fr.BytesValues, &pb.BytesValue{EntityId: uint32(r.next() % 16), Field: uint32(r.next() % 6), Value: make([]byte, r.next()%6)})
		}
		if r.next()%2 == 1 {
			h := uint64(r.next())
			fr.ViewHash = &h
		}
		msg, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Frame{Frame: fr}})
		require.NoError(t, err)
		fb.check(t, msg)
	})
}

// fuzzReader hands out the fuzz input byte by byte, then zeros.
type fuzzReaderT struct{ b []byte }

func fuzzReader(b []byte) *fuzzReaderT { return &fuzzReaderT{b} }

func (r *fuzzReaderT) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// check applies data to a mirror holding the base state: a refusal changes nothing; an accepted
// frame leaves a valid state that a full snapshot and a delta from the state before re-encode
// exactly.
func (fb *fuzzBase) check(t *testing.T, data []byte) {
	m := sim.NewMirror(fb.s)
	_, err := m.ApplyMessage(fb.snapshot)
	require.NoError(t, err)
	before := sim.NewState(fb.s)
	before.CopyFrom(m.State())

	msg, err := m.ApplyMessage(data)
	if err != nil {
		require.True(t, errors.Is(err, sim.ErrBadFrame), "errors are ErrBadFrame: %v", err)
		requireSame(t, before, m.State(), "a refused frame changes nothing")
		return
	}
	if msg.GetFrame() == nil {
		requireSame(t, before, m.State(), "a message that is not a frame changes nothing")
		return
	}
	got := m.State()
	require.NoError(t, simtest.CheckState(got))

	enc := &sim.Encoder{}
	fresh := sim.NewMirror(fb.s)
	_, err = fresh.ApplyMessage(simtest.EncodeFrame(enc, nil, got, 0, true))
	require.NoError(t, err, "the mirror's state re-encoded as a snapshot")
	requireSame(t, got, fresh.State())

	// What the frame did, as the encoder's delta from the state before it.
	if msg.GetFrame().GetBaselineTick() != 0 {
		again := sim.NewMirror(fb.s)
		_, err = again.ApplyMessage(fb.snapshot)
		require.NoError(t, err)
		_, err = again.ApplyMessage(simtest.EncodeFrame(enc, before, got, 0, false))
		require.NoError(t, err, "the mirror's change re-encoded as a delta")
		requireSame(t, got, again.State())
	}
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzApplyFrame's real frames in step with the encoder
// (-update rewrites them). Crashers the fuzzer saved there stay as they are.
func TestFuzzSeedCorpus(t *testing.T) {
	fb := newFuzzBase(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzApplyFrame")
	for _, name := range sortedKeys(fb.seeds) {
		path := filepath.Join(dir, "seed-"+name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", fb.seeds[name])
		if *update {
			require.NoError(t, os.MkdirAll(dir, 0o755))
			require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
			continue
		}
		got, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./sim -run TestFuzzSeedCorpus -update")
		require.Equal(t, want, string(got), "%s is stale: rerun with -update", path)
	}
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
