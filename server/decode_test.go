package server

import (
	"errors"
	"fmt"
	"github.com/ticksync/ticksync/server/internal/engine"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim/arena"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeClientMessage: the decoder never panics; what it accepts is one known kind with
// at most the schema's input values, which clamping then brings into range; what it refuses
// closes with 1008 and a documented reason.
func FuzzDecodeClientMessage(f *testing.F) {
	g, err := arena.New(20, nil)
	require.NoError(f, err)
	schema := g.Schema()
	nIn := len(schema.Input())
	reasons := []string{"malformed message", "unknown message kind", "too many input values"}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m pb.ClientMessage
		err := decodeClientMessage(b, &m, nIn)
		if err != nil {
			code, reason := closeFor(err)
			if code != CodePolicy || !slices.Contains(reasons, reason) {
				t.Fatalf("refusal closes with %d %q", code, reason)
			}
			return
		}
		if m.GetKind() == nil {
			t.Fatal("accepted a message without a kind")
		}
		if in := m.GetInput(); in != nil {
			if len(in.GetValues()) > nIn || in.GetSeq() == 0 {
				t.Fatalf("accepted input %v", in)
			}
			vals := make([]int32, nIn)
			copy(vals, in.GetValues())
			schema.ClampInput(vals)
			for i, f := range schema.Input() {
				if f.HasRange && (vals[i] < f.Min || vals[i] > f.Max) {
					t.Fatalf("value %d of field %s out of range after clamping", vals[i], f.Name)
				}
			}
		}
	})
}

func TestCloseFor(t *testing.T) {
	cases := []struct {
		err    error
		code   uint16
		reason string
	}{
		{errLeave, 1000, "bye"},
		{ErrShutdown, 1001, "server shutting down"},
		{errTextFrame, 1003, "binary frames only"},
		{errors.Join(errors.New("ctx"), errMalformed), 1008, "malformed message"},
		{errSeqRange, 1008, "seq out of range"},
		{errFlood, 1008, "input flood"},
		{errTooSlow, 1008, "too slow"},
		{errJoinTimeout, 1008, "join timeout"},
		{errControlFull, 1008, "control queue full"},
		{errRoomFailed, 1011, "internal error"},
		{errors.New("anything else"), 1011, "internal error"},
		{errSuperseded, 4001, "session superseded"},
		{errWrongRoom, 4001, "token not valid for this room"},
		{errRoomClosed, 4002, "room closed"},
		{ErrServerFull, 4003, "server full"},
		{ErrRoomNotFound, 4004, "room not found"},
		{ErrRoomFull, 4009, "room full"},
		{errReplaced, 4010, "replaced by a newer session"},
		{&CloseError{Code: 4002, Reason: string(make([]byte, 200))}, 4002, string(make([]byte, 123))},
		{errMatchOver, 4002, "match over"},
		{fmt.Errorf("%w: duel: hits 99 out of range", errGameRejected), 4004, "room cannot start: duel: hits 99 out of range"},
		{&engine.RefusedError{Reason: "team red is full"}, 4005, "team red is full"},
		{&engine.RefusedError{}, 4005, "join refused"},
		// A game's reason cut at 123 bytes keeps whole runes: 61 two-byte runes, not 61.5.
		{&engine.RefusedError{Reason: "x" + strings.Repeat("é", 100)}, 4005, "x" + strings.Repeat("é", 61)},
		{errMetaTooLong, 1008, "join meta too long"},
	}
	for _, tc := range cases {
		code, reason := closeFor(tc.err)
		assert.Equal(t, tc.code, code, tc.err.Error())
		assert.Equal(t, tc.reason, reason)
		assert.LessOrEqual(t, len(reason), maxReasonLen)
	}
}

func TestBucket(t *testing.T) {
	now := time.Unix(0, 0)
	b := newBucket(10, 5, now)
	n := 0
	for b.take(1, now) {
		n++
	}
	assert.Equal(t, 5, n, "burst")
	assert.False(t, b.take(1, now.Add(50*time.Millisecond)))
	assert.True(t, b.take(1, now.Add(100*time.Millisecond)), "refilled at 10/s")
}

// FuzzFastInput: whatever the allocation-free input decoder accepts, the reflective decoder
// accepts too, as the same input (seq and values); what it declines falls back, so it never
// needs to agree on refusals.
func FuzzFastInput(f *testing.F) {
	for _, in := range []*pb.Input{
		{Seq: 1, Values: []int32{1, -2, 3, 0}},
		{Seq: 7, ClientTimeUs: 1_700_000_000_000_000, Values: []int32{-1 << 31, 1<<31 - 1}},
		{Seq: 1 << 31},
		{Seq: 3, Values: []int32{5}, RenderTick: 99, Subtick: 70_000},
	} {
		b, err := proto.Marshal(&pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: in}})
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte{0x12, 0x04, 0x08, 0x01, 0x18, 0x03}) // unpacked value
	f.Add([]byte{0x12, 0x02, 0x08, 0x00})             // seq 0
	f.Fuzz(func(t *testing.T, b []byte) {
		const nIn = 4
		var when engine.When
		seq, vals, ok := fastInput(b, nil, nIn, &when)
		if !ok {
			return
		}
		var m pb.ClientMessage
		require.NoError(t, decodeClientMessage(b, &m, nIn), "fast path accepted what the decoder refuses")
		in := m.GetInput()
		require.NotNil(t, in)
		assert.Equal(t, in.GetSeq(), seq)
		assert.Equal(t, whenOf(in), when, "render tick and sub-tick")
		assert.Equal(t, len(in.GetValues()), len(vals))
		for i := range vals {
			assert.Equal(t, in.GetValues()[i], vals[i], "value %d", i)
		}
	})
}

// TestFastInputTakesClientInputs: inputs as the Go and JS clients encode them take the fast
// path (or it would be dead code); other kinds and over-long inputs do not.
func TestFastInputTakesClientInputs(t *testing.T) {
	enc := func(m *pb.ClientMessage) []byte {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return b
	}
	var when engine.When
	b := enc(&pb.ClientMessage{Kind: &pb.ClientMessage_Input{Input: &pb.Input{Seq: 42, ClientTimeUs: 123456789, Values: []int32{500, -500, 0, 7}}}})
	seq, vals, ok := fastInput(b, nil, 4, &when)
	require.True(t, ok)
	assert.Equal(t, uint32(42), seq)
	assert.Equal(t, []int32{500, -500, 0, 7}, vals)

	_, _, ok = fastInput(b, nil, 3, &when)
	assert.False(t, ok, "more values than the schema: the decoder refuses it with its reason")
	_, _, ok = fastInput(enc(&pb.ClientMessage{Kind: &pb.ClientMessage_Ping{Ping: &pb.Ping{ClientTimeUs: 1}}}), nil, 4, &when)
	assert.False(t, ok)
	_, _, ok = fastInput(enc(&pb.ClientMessage{Kind: &pb.ClientMessage_Join{Join: &pb.Join{Room: "r"}}}), nil, 4, &when)
	assert.False(t, ok)

	scratch := make([]int32, 0, 8)
	allocs := testing.AllocsPerRun(100, func() { _, _, _ = fastInput(b, scratch[:0], 4, &when) })
	assert.Zero(t, allocs)
}
