package server

import (
	"fmt"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/proto"
)

// decodeOpts bounds decoding: unknown fields are dropped (a newer client's extras cost
// nothing) and nesting is shallow (our messages nest two deep).
var decodeOpts = proto.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: 8}

// maxSeqAhead is how far an input's seq may run ahead of the last applied one: a client
// coalesces to one input per tick, so 1024 is ~50 s of inputs at 20 Hz.
const maxSeqAhead = 1024

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
		if len(k.Join.GetRoom()) > maxRoomIDLen || len(k.Join.GetGame()) > maxRoomIDLen {
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
