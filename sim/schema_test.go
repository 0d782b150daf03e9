package sim_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

func TestSchemaBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		declare func(b *sim.SchemaBuilder)
	}{
		{"no class", func(b *sim.SchemaBuilder) {}},
		{"empty class name", func(b *sim.SchemaBuilder) { b.Class("").Int("x") }},
		{"duplicate class name", func(b *sim.SchemaBuilder) { b.Class("a").Int("x"); b.Class("a").Int("y") }},
		{"empty field name", func(b *sim.SchemaBuilder) { b.Class("a").Int("") }},
		{"duplicate field", func(b *sim.SchemaBuilder) { c := b.Class("a"); c.Int("x"); c.Bool("x") }},
		{"fixed scale 0", func(b *sim.SchemaBuilder) { b.Class("a").Fixed("x", 0) }},
		{"min > max", func(b *sim.SchemaBuilder) { b.Class("a").Int("x", sim.Range(2, 1)) }},
		{"bytes max 0", func(b *sim.SchemaBuilder) { b.Class("a").Bytes("x", 0) }},
		{"bytes too long", func(b *sim.SchemaBuilder) { b.Class("a").Bytes("x", 1025) }},
		{"33 fields", func(b *sim.SchemaBuilder) {
			c := b.Class("a")
			for i := range 33 {
				c.Int(string(rune('A' + i)))
			}
		}},
		{"predicted from unknown", func(b *sim.SchemaBuilder) { b.Class("a").Int("x", sim.PredictFrom("vx", 1, 20)) }},
		{"predicted from bytes", func(b *sim.SchemaBuilder) {
			c := b.Class("a")
			c.Bytes("v", 4)
			c.Int("x", sim.PredictFrom("v", 1, 20))
		}},
		{"predicted from predicted", func(b *sim.SchemaBuilder) {
			c := b.Class("a")
			c.Int("v")
			c.Int("x", sim.PredictFrom("v", 1, 20))
			c.Int("y", sim.PredictFrom("x", 1, 20))
		}},
		{"predicted from itself", func(b *sim.SchemaBuilder) { b.Class("a").Int("x", sim.PredictFrom("x", 1, 20)) }},
		{"denominator 0", func(b *sim.SchemaBuilder) {
			c := b.Class("a")
			c.Int("v")
			c.Int("x", sim.PredictFrom("v", 1, 0))
		}},
		{"bytes field predicted", func(b *sim.SchemaBuilder) {
			c := b.Class("a")
			c.Int("v")
			c.Bytes("x", 4, sim.PredictFrom("v", 1, 20))
		}},
		{"input predicted", func(b *sim.SchemaBuilder) {
			b.Class("a").Int("x")
			b.InputInt("v")
			b.InputInt("x", sim.PredictFrom("v", 1, 20))
		}},
		{"input empty name", func(b *sim.SchemaBuilder) { b.Class("a").Int("x"); b.InputInt("") }},
		{"input min > max", func(b *sim.SchemaBuilder) { b.Class("a").Int("x"); b.InputFixed("v", 100, sim.Range(5, -5)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sim.NewSchemaBuilder()
			tt.declare(b)
			s, err := b.Build()
			assert.Error(t, err)
			assert.Nil(t, s)
		})
	}
}

func TestSchemaHandles(t *testing.T) {
	b := sim.NewSchemaBuilder()
	npc := b.Class("npc")
	x := npc.Fixed("x", 100, sim.PredictFrom("vx", 1, 20), sim.Interpolate())
	name := npc.Bytes("name", 8)
	vx := npc.Fixed("vx", 100, sim.Range(-20000, 20000))
	own := npc.Int("owner", sim.Owner())
	player := b.Class("player")
	on := player.Bool("on")
	steer := b.InputFixed("steer", 100, sim.Range(-100, 100))
	fire := b.InputBool("fire")
	s, err := b.Build()
	require.NoError(t, err)

	assert.Equal(t, 2, s.NumClasses())
	assert.Equal(t, 0, npc.Handle().Index())
	assert.Equal(t, 1, player.Handle().Index())
	assert.Equal(t, []int{0, 2, 3, 0}, []int{x.Index(), vx.Index(), own.Index(), on.Index()})
	assert.Equal(t, npc.Handle(), vx.Class())
	assert.Equal(t, []int{0, 1}, []int{steer.Index(), fire.Index()})
	require.Len(t, s.Input(), 2)
	assert.Equal(t, "fire", s.Input()[1].Name)
	assert.Equal(t, sim.KindBool, s.Input()[1].Kind)
	assert.Equal(t, 2, s.NumInputs())
	in := s.Input()
	in[1].Name, in[0].Max = "mutated", 1
	assert.Equal(t, "fire", s.Input()[1].Name, "Input is a copy: the schema stays immutable")
	assert.Equal(t, int32(100), s.Input()[0].Max)
	assert.Equal(t, 0, s.ClampInput([]int32{50, 1}), "clamping reads the schema's own ranges")

	c, ok := s.ClassByName("player")
	require.True(t, ok)
	assert.Equal(t, player.Handle(), c)
	_, ok = s.ClassByName("nope")
	assert.False(t, ok)
	f, ok := s.FieldByName(npc.Handle(), "vx")
	require.True(t, ok)
	assert.Equal(t, vx, f)
	_, ok = s.FieldByName(npc.Handle(), "name") // a bytes field is not a Field
	assert.False(t, ok)
	bf, ok := s.BytesFieldByName(npc.Handle(), "name")
	require.True(t, ok)
	assert.Equal(t, name, bf)
	_, ok = s.BytesFieldByName(npc.Handle(), "x")
	assert.False(t, ok)

	spec := s.ClassSpec(npc.Handle())
	assert.Equal(t, 3, spec.NumInts())
	assert.Equal(t, 1, spec.NumBytes())
	assert.Equal(t, "vx", spec.Fields[0].PredictFrom)

	// Declaring more after Build does not change the built schema.
	npc.Int("late")
	assert.Len(t, s.ClassSpec(npc.Handle()).Fields, 4)
}

func TestSchemaProtoRoundTrip(t *testing.T) {
	b := sim.NewSchemaBuilder()
	npc := b.Class("npc")
	npc.Bytes("name", 8)
	npc.Fixed("x", 100, sim.PredictFrom("vx", 1, 20), sim.Interpolate())
	npc.Fixed("vx", 100, sim.Range(-20000, 20000))
	npc.Int("owner", sim.Owner())
	b.Class("flag").Bool("up")
	b.InputFixed("steer", 100, sim.Range(-100, 100))
	b.InputBool("fire")
	s, err := b.Build()
	require.NoError(t, err)

	st, in := s.Proto()
	x := st.GetClasses()[0].GetFields()[1]
	assert.Equal(t, uint32(3), x.GetPredictFrom(), "predict_from is 1 + the source's field index")
	assert.Equal(t, pb.FieldType_FIELD_TYPE_FIXED, x.GetType())
	assert.Equal(t, pb.FieldType_FIELD_TYPE_BYTES, st.GetClasses()[0].GetFields()[0].GetType())
	assert.Equal(t, uint32(8), st.GetClasses()[0].GetFields()[0].GetMaxLen())

	back, err := sim.SchemaFromProto(st, in)
	require.NoError(t, err)
	st2, in2 := back.Proto()
	assert.True(t, proto.Equal(st, st2), "state schema survives the wire")
	assert.True(t, proto.Equal(in, in2), "input schema survives the wire")

	forSeeds(t, func(t *testing.T, seed uint32) {
		r := sim.NewRand(seed)
		s := simtest.RandomSchema(&r)
		st, in := s.Proto()
		back, err := sim.SchemaFromProto(st, in)
		require.NoError(t, err)
		st2, in2 := back.Proto()
		require.True(t, proto.Equal(st, st2))
		require.True(t, proto.Equal(in, in2))
	})
}

func TestSchemaFromProtoErrors(t *testing.T) {
	field := func(name string, typ pb.FieldType) *pb.FieldSpec {
		return &pb.FieldSpec{Name: name, Type: typ, Scale: 1}
	}
	tests := []struct {
		name string
		st   *pb.StateSchema
		in   *pb.InputSchema
	}{
		{"nil", nil, nil},
		{"unspecified type", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a", Fields: []*pb.FieldSpec{field("x", 0)}}}}, nil},
		{"unknown type", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a", Fields: []*pb.FieldSpec{field("x", 9)}}}}, nil},
		{"type that wraps to a known kind", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a", Fields: []*pb.FieldSpec{field("x", 257)}}}}, nil},
		{"predict_from out of range", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a", Fields: []*pb.FieldSpec{
			{Name: "x", Type: pb.FieldType_FIELD_TYPE_INT, PredictFrom: 2, PredictDen: 1}}}}}, nil},
		{"predicted bytes field", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a", Fields: []*pb.FieldSpec{
			field("v", pb.FieldType_FIELD_TYPE_INT),
			{Name: "x", Type: pb.FieldType_FIELD_TYPE_BYTES, MaxLen: 4, PredictFrom: 1, PredictNum: 1, PredictDen: 1}}}}}, nil},
		{"bytes input", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a"}}},
			&pb.InputSchema{Fields: []*pb.FieldSpec{{Name: "x", Type: pb.FieldType_FIELD_TYPE_BYTES, MaxLen: 4}}}},
		{"huge max_len", &pb.StateSchema{Classes: []*pb.ClassSpec{{Name: "a", Fields: []*pb.FieldSpec{
			{Name: "x", Type: pb.FieldType_FIELD_TYPE_BYTES, MaxLen: math.MaxUint32}}}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sim.SchemaFromProto(tt.st, tt.in)
			assert.Error(t, err)
			assert.Nil(t, s)
		})
	}
}

func TestClampInput(t *testing.T) {
	b := sim.NewSchemaBuilder()
	b.Class("a").Int("x")
	b.InputFixed("vx", 100, sim.Range(-200, 200))
	b.InputInt("free")
	b.InputBool("fire")
	s, err := b.Build()
	require.NoError(t, err)
	tests := []struct {
		name    string
		in, out []int32
		clamped int
	}{
		{"inside", []int32{-200, math.MinInt32, 1}, []int32{-200, math.MinInt32, 1}, 0},
		{"outside", []int32{201, 5, -1}, []int32{200, 5, 0}, 2},
		{"extremes", []int32{math.MinInt32, math.MaxInt32, math.MaxInt32}, []int32{-200, math.MaxInt32, 1}, 2},
		{"short", []int32{-999}, []int32{-200}, 1},
		{"extra values are left alone", []int32{0, 0, 0, 99}, []int32{0, 0, 0, 99}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := append([]int32(nil), tt.in...)
			assert.Equal(t, tt.clamped, s.ClampInput(v))
			assert.Equal(t, tt.out, v)
		})
	}
}
