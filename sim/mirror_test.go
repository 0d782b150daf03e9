package sim_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// mirrorAt5 returns a mirror holding units 1 and 2 and rock 3 at tick 5.
func mirrorAt5(t *testing.T, u *unitSchema) *sim.Mirror {
	w := sim.NewWorld(u.s, 1)
	g := &simtest.Game{S: u.s}
	for range 5 {
		w.Step(g, nil)
	}
	w.Spawn(u.unit)
	w.Spawn(u.unit)
	w.Set(2, u.hp, 50)
	w.SetBytes(2, u.name, []byte("bob"))
	w.Spawn(u.rock)
	return mirrorOf(t, simtest.Snapshot(w))
}

func TestMirrorRefusesBadFrames(t *testing.T) {
	u := newUnitSchema(t)
	tests := []struct {
		name  string
		frame *pb.Frame
	}{
		{"tick 0", &pb.Frame{}},
		{"baseline not held", &pb.Frame{Tick: 7, BaselineTick: 4}},
		{"tick not after baseline", &pb.Frame{Tick: 5, BaselineTick: 5}},
		{"spawn classes short", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{4}}},
		{"update masks short", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{1}, UpdateValues: []int32{1}}},
		{"despawn unknown", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{4}}},
		{"despawn id 0", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{0}}},
		{"despawn twice", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{1, 0}}},
		{"despawn in a snapshot", &pb.Frame{Tick: 6, DespawnIds: []uint32{1}}},
		{"spawn id 0", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{0}, SpawnClasses: []uint32{1}, SpawnValues: []int32{1}}},
		{"spawn twice", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{4, 0}, SpawnClasses: []uint32{1, 1}, SpawnValues: []int32{1, 1}}},
		{"spawn live entity", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{3}, SpawnClasses: []uint32{1}, SpawnValues: []int32{1}}},
		{"spawn id too big", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{1 << 30}, SpawnClasses: []uint32{1}, SpawnValues: []int32{1}}},
		{"spawn ids wrap", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{5, 1<<32 - 2}, SpawnClasses: []uint32{1, 1}, SpawnValues: []int32{1, 1}}},
		{"spawn unknown class", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{4}, SpawnClasses: []uint32{2}}},
		{"spawn values short", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{4}, SpawnClasses: []uint32{0}, SpawnValues: []int32{1}}},
		{"spawn values long", &pb.Frame{Tick: 6, BaselineTick: 5, SpawnIds: []uint32{4}, SpawnClasses: []uint32{1}, SpawnValues: []int32{1, 2}}},
		{"update unknown", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{4}, UpdateMasks: []uint32{1}, UpdateValues: []int32{1}}},
		{"update despawned", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{1}, UpdateIds: []uint32{1}, UpdateMasks: []uint32{1}, UpdateValues: []int32{1}}},
		{"update respawned", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{1}, SpawnIds: []uint32{1}, SpawnClasses: []uint32{1}, SpawnValues: []int32{1},
			UpdateIds: []uint32{1}, UpdateMasks: []uint32{1}, UpdateValues: []int32{1}}},
		{"update in a snapshot", &pb.Frame{Tick: 6, UpdateIds: []uint32{1}, UpdateMasks: []uint32{1}, UpdateValues: []int32{1}}},
		{"update twice", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{1, 0}, UpdateMasks: []uint32{1, 1}, UpdateValues: []int32{1, 1}}},
		{"mask 0", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{1}, UpdateMasks: []uint32{0}}},
		{"mask names a bytes field", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{1}, UpdateMasks: []uint32{2}, UpdateValues: []int32{1}}},
		{"mask beyond the class", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{3}, UpdateMasks: []uint32{2}, UpdateValues: []int32{1}}},
		{"update values short", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{1}, UpdateMasks: []uint32{5}, UpdateValues: []int32{1}}},
		{"update values long", &pb.Frame{Tick: 6, BaselineTick: 5, UpdateIds: []uint32{1}, UpdateMasks: []uint32{1}, UpdateValues: []int32{1, 2}}},
		{"bytes unknown entity", &pb.Frame{Tick: 6, BaselineTick: 5, BytesValues: []*pb.BytesValue{{EntityId: 4, Field: 1}}}},
		{"bytes entity 0", &pb.Frame{Tick: 6, BaselineTick: 5, BytesValues: []*pb.BytesValue{{EntityId: 0, Field: 1}}}},
		{"bytes despawned", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{1}, BytesValues: []*pb.BytesValue{{EntityId: 1, Field: 1}}}},
		{"bytes for an int field", &pb.Frame{Tick: 6, BaselineTick: 5, BytesValues: []*pb.BytesValue{{EntityId: 1, Field: 0, Value: []byte("a")}}}},
		{"bytes field beyond the class", &pb.Frame{Tick: 6, BaselineTick: 5, BytesValues: []*pb.BytesValue{{EntityId: 3, Field: 1, Value: []byte("a")}}}},
		{"bytes too long", &pb.Frame{Tick: 6, BaselineTick: 5, BytesValues: []*pb.BytesValue{{EntityId: 1, Field: 1, Value: []byte("abcde")}}}},
		{"bytes for a respawned entity of a class without them", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{1}, SpawnIds: []uint32{1}, SpawnClasses: []uint32{1}, SpawnValues: []int32{1},
			BytesValues: []*pb.BytesValue{{EntityId: 1, Field: 1, Value: []byte("a")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mirrorAt5(t, u)
			before := sim.NewState(u.s)
			before.CopyFrom(m.State())
			assert.ErrorIs(t, m.Apply(tt.frame), sim.ErrBadFrame)
			requireSame(t, before, m.State(), "a refused frame changes nothing")

			msg, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Frame{Frame: tt.frame}})
			require.NoError(t, err)
			_, err = m.ApplyMessage(msg)
			assert.ErrorIs(t, err, sim.ErrBadFrame)
			requireSame(t, before, m.State())
		})
	}
}

func TestMirrorAcceptsGoodFrames(t *testing.T) {
	u := newUnitSchema(t)
	tests := []struct {
		name  string
		frame *pb.Frame
		check func(t *testing.T, st *sim.State)
	}{
		{"despawn and respawn as another class", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{2}, SpawnIds: []uint32{2}, SpawnClasses: []uint32{1}, SpawnValues: []int32{9}},
			func(t *testing.T, st *sim.State) {
				c, ok := st.ClassOf(2)
				require.True(t, ok)
				assert.Equal(t, u.rock, c)
				assert.Equal(t, int32(9), st.Value(2, u.size))
			}},
		{"respawn drops old bytes", &pb.Frame{Tick: 6, BaselineTick: 5, DespawnIds: []uint32{2}, SpawnIds: []uint32{2}, SpawnClasses: []uint32{0}, SpawnValues: []int32{1, 2}},
			func(t *testing.T, st *sim.State) {
				assert.Empty(t, st.BytesValue(2, u.name))
				assert.Equal(t, []int32{1, 2}, st.Values(2))
			}},
		{"update wraps", &pb.Frame{Tick: 9, BaselineTick: 5, UpdateIds: []uint32{2}, UpdateMasks: []uint32{1}, UpdateValues: []int32{2147483647}},
			func(t *testing.T, st *sim.State) { assert.Equal(t, int32(50+2147483647-(1<<32)), st.Value(2, u.hp)) }},
		{"bytes cleared", &pb.Frame{Tick: 6, BaselineTick: 5, BytesValues: []*pb.BytesValue{{EntityId: 2, Field: 1}}},
			func(t *testing.T, st *sim.State) { assert.Empty(t, st.BytesValue(2, u.name)) }},
		{"snapshot replaces everything", &pb.Frame{Tick: 3, SpawnIds: []uint32{7}, SpawnClasses: []uint32{1}, SpawnValues: []int32{4}},
			func(t *testing.T, st *sim.State) {
				assert.Equal(t, 1, st.Len())
				_, ok := st.ClassOf(2)
				assert.False(t, ok)
				assert.Equal(t, uint32(3), st.Tick())
			}},
		{"empty delta", &pb.Frame{Tick: 6, BaselineTick: 5},
			func(t *testing.T, st *sim.State) { assert.Equal(t, 3, st.Len()) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mirrorAt5(t, u)
			require.NoError(t, m.Apply(tt.frame))
			assert.Equal(t, tt.frame.GetTick(), m.Tick())
			require.NoError(t, simtest.CheckState(m.State()))
			tt.check(t, m.State())
		})
	}
}

func TestMirrorApplyMessage(t *testing.T) {
	u := newUnitSchema(t)
	m := mirrorAt5(t, u)
	pong, err := proto.Marshal(&pb.ServerMessage{Kind: &pb.ServerMessage_Pong{Pong: &pb.Pong{Tick: 8}}})
	require.NoError(t, err)
	msg, err := m.ApplyMessage(pong)
	require.NoError(t, err)
	assert.Nil(t, msg.GetFrame())
	assert.Equal(t, uint32(8), msg.GetPong().GetTick())
	assert.Equal(t, uint32(5), m.Tick())

	for _, junk := range [][]byte{{0xff}, {0x12, 0x05, 0x08}, {0x12, 0x02, 0x3a, 0x05}} {
		_, err := m.ApplyMessage(junk)
		assert.ErrorIs(t, err, sim.ErrBadFrame, "%x", junk)
	}
	assert.Equal(t, uint32(5), m.Tick())
}

// A base at tick 0 (a world just made by Game.Init) cannot be a baseline on the wire, where
// baseline 0 means a full snapshot: the encoder makes a snapshot of it.
func TestEncodeFromTickZeroIsASnapshot(t *testing.T) {
	u := newUnitSchema(t)
	w := sim.NewWorld(u.s, 1)
	w.Spawn(u.unit)
	w.Spawn(u.rock)
	s0 := simtest.Snapshot(w)
	w.Step(&simtest.Game{S: u.s}, nil)
	w.Set(1, u.hp, 3)
	s1 := simtest.Snapshot(w)
	enc := &sim.Encoder{}
	assert.Equal(t, enc.AppendBody(nil, nil, s1, false), enc.AppendBody(nil, s0, s1, false))
	m := sim.NewMirror(u.s)
	_, err := m.ApplyMessage(simtest.EncodeFrame(enc, s0, s1, 0, false))
	require.NoError(t, err)
	requireSame(t, s1, m.State())
}
