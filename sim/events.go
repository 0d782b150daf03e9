package sim

import (
	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Field numbers of ticksync.v1.Frame's events and result, and of GameEvent and MatchResult.
const (
	fFrameEvents = 13
	fFrameResult = 14
	fEventTick   = 1
	fEventKind   = 2
	fEventValues = 3
	fEventData   = 4
	fEventTo     = 5
)

// AppendEvent appends ev, emitted at tick, as one Frame.events field: a frame is its header,
// its body, then these (a repeated field may come in any position). withTo includes the
// recipients (recordings do; frames do not).
func AppendEvent(dst []byte, tick uint32, ev *Event, withTo bool) []byte {
	var m []byte
	m = appendUint(m, fEventTick, tick)
	m = appendUint(m, fEventKind, ev.Kind)
	if len(ev.Values) > 0 {
		var p []byte
		for _, v := range ev.Values {
			p = protowire.AppendVarint(p, protowire.EncodeZigZag(int64(v)))
		}
		m = appendPacked(m, fEventValues, p)
	}
	if len(ev.Data) > 0 {
		m = protowire.AppendTag(m, fEventData, protowire.BytesType)
		m = protowire.AppendBytes(m, ev.Data)
	}
	if withTo && len(ev.To) > 0 {
		var p []byte
		for _, v := range ev.To {
			p = protowire.AppendVarint(p, uint64(v))
		}
		m = appendPacked(m, fEventTo, p)
	}
	dst = protowire.AppendTag(dst, fFrameEvents, protowire.BytesType)
	return protowire.AppendBytes(dst, m)
}

// AppendResult appends r as the Frame.result field.
func AppendResult(dst []byte, r *Result) []byte {
	b, err := proto.Marshal(ResultProto(r))
	if err != nil { // a MatchResult of plain fields always marshals
		panic(err)
	}
	dst = protowire.AppendTag(dst, fFrameResult, protowire.BytesType)
	return protowire.AppendBytes(dst, b)
}

// EventProto returns ev, emitted at tick, as a GameEvent with its recipients (recordings).
func EventProto(tick uint32, ev *Event) *pb.GameEvent {
	return &pb.GameEvent{Tick: tick, Kind: ev.Kind, Values: ev.Values, Data: ev.Data, To: ev.To}
}

// ResultProto returns r as a MatchResult.
func ResultProto(r *Result) *pb.MatchResult {
	return &pb.MatchResult{Tick: r.Tick, Winners: r.Winners, Summary: r.Summary, Data: r.Data}
}
