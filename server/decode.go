package server

import (
	"fmt"
	"math"
	"strings"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/server/internal/engine"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// decodeOpts bounds decoding: unknown fields are dropped (a newer client's extras cost
// nothing) and nesting is shallow (our messages nest two deep).
var decodeOpts = proto.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: 8}

// maxSeqAhead is how far an input's seq may run ahead of the last applied one (the engine's
// inbox enforces it).
const maxSeqAhead = engine.MaxSeqAhead

// decodeClientMessage decodes one binary message into m (reset first) and checks what does
// not depend on the connection's state: exactly one known kind, and for inputs at most
// nInputs values. It returns an error from close.go's vocabulary.
func decodeClientMessage(b []byte, m *pb.ClientMessage, nInputs int) error {
	m.Reset()
	if err := decodeOpts.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %v", errMalformed, err)
	}
	switch k := m.GetKind().(type) {
	case *pb.ClientMessage_Join:
		if len(k.Join.GetRoom()) > maxJoinRoomLen(k.Join.GetRoom()) || len(k.Join.GetGame()) > maxRoomIDLen {
			return fmt.Errorf("%w: room or game name too long", errMalformed)
		}
	case *pb.ClientMessage_Input:
		if len(k.Input.GetValues()) > nInputs {
			return errExtraValues
		}
		if k.Input.GetSeq() == 0 {
			return fmt.Errorf("%w: seq 0", errMalformed)
		}
	case *pb.ClientMessage_Leave, *pb.ClientMessage_Ping, *pb.ClientMessage_ReplayControl:
	default:
		return errUnknownKind
	}
	return nil
}

// fastInput decodes the message every player sends twenty times a second, a ClientMessage
// holding only an Input, without the reflective decoder's allocations (three per input): it
// returns the seq, appends the values to vals and reads the render tick and sub-tick into when
// (the sub-tick clamped to 65535, as whenOf does). ok is false for anything it does not expect
// (another kind, an unknown field, an unexpected wire type, too many values, seq 0, a
// truncated varint); such a message takes decodeClientMessage's path, so refusals and their
// reasons stay that decoder's. FuzzFastInput checks the two agree on what this one accepts.
func fastInput(b []byte, vals []int32, nInputs int, when *engine.When) (seq uint32, out []int32, ok bool) {
	*when = engine.When{}
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != 2 || typ != protowire.BytesType {
		return 0, vals, false
	}
	body, m := protowire.ConsumeBytes(b[n:])
	if m < 0 || n+m != len(b) {
		return 0, vals, false
	}
	out = vals
	for len(body) > 0 {
		num, typ, n := protowire.ConsumeTag(body)
		if n < 0 {
			return 0, vals, false
		}
		body = body[n:]
		switch {
		case num >= 1 && num <= 5 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(body)
			if n < 0 {
				return 0, vals, false
			}
			body = body[n:]
			switch num {
			case 1:
				seq = uint32(v)
			case 3:
				out = append(out, int32(protowire.DecodeZigZag(v&math.MaxUint32)))
			case 4:
				when.RenderTick = uint32(v)
			case 5:
				when.Subtick = uint16(min(uint32(v), math.MaxUint16))
			}
		case num == 3 && typ == protowire.BytesType: // packed values
			p, n := protowire.ConsumeBytes(body)
			if n < 0 {
				return 0, vals, false
			}
			body = body[n:]
			for len(p) > 0 {
				v, k := protowire.ConsumeVarint(p)
				if k < 0 {
					return 0, vals, false
				}
				p = p[k:]
				out = append(out, int32(protowire.DecodeZigZag(v&math.MaxUint32)))
			}
		default:
			return 0, vals, false
		}
		if len(out)-len(vals) > nInputs {
			return 0, vals, false
		}
	}
	if seq == 0 {
		return 0, vals, false
	}
	return seq, out, true
}

// whenOf is an Input's render tick and sub-tick as the engine takes them.
func whenOf(in *pb.Input) engine.When {
	return engine.When{RenderTick: in.GetRenderTick(), Subtick: uint16(min(in.GetSubtick(), math.MaxUint16))}
}

// maxJoinRoomLen is how long a join's room may be: a live room id, or "replay:" and a recording
// name (longer than room ids: a recording is named after its room and its start time).
func maxJoinRoomLen(room string) int {
	if strings.HasPrefix(room, ReplayRoomPrefix) {
		return len(ReplayRoomPrefix) + maxReplayNameLen
	}
	return maxRoomIDLen
}
