package sim_test

import (
	"bytes"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"github.com/ticksync/ticksync/sim"
	"github.com/ticksync/ticksync/sim/simtest"
	"google.golang.org/protobuf/proto"
)

// refFrame builds, the slow and obvious way, the ServerMessage that brings a client holding base
// (nil: a full snapshot) to cur, straight from docs/protocol.md and the Frame comments. The
// hand-written Encoder must produce exactly the bytes proto.Marshal makes of it (as raft's
// quick_test holds its fast code to a simple one).
func refFrame(base, cur *sim.State, lastSeq uint32, withHash bool) *pb.ServerMessage {
	f := &pb.Frame{Tick: cur.Tick(), LastInputSeq: lastSeq}
	predicted := false
	if base != nil && base.Tick() == 0 { // baseline 0 means a snapshot on the wire
		base = nil
	}
	if base != nil {
		f.BaselineTick = base.Tick()
		predicted = base.Tick()+1 == cur.Tick()
	}
	s := cur.Schema()
	n := cur.MaxID()
	if base != nil {
		n = max(n, base.MaxID())
	}
	var despawns, spawns, updates []uint32
	for id := sim.Entity(1); id < n; id++ {
		cc, live := cur.ClassOf(id)
		var bc sim.Class
		var was bool
		if base != nil {
			bc, was = base.ClassOf(id)
		}
		same := live && was && bc == cc && sim.Incarnation(base, id) == sim.Incarnation(cur, id)
		if was && !same {
			despawns = append(despawns, uint32(id))
		}
		if !live {
			continue
		}
		spec := s.ClassSpec(cc)
		if !same { // a spawn: every field absolute, non-empty bytes fields
			spawns = append(spawns, uint32(id))
			f.SpawnClasses = append(f.SpawnClasses, uint32(cc.Index()))
			for i, fs := range spec.Fields {
				if fs.Kind == sim.KindBytes {
					bf, _ := s.BytesFieldByName(cc, fs.Name)
					if v := cur.BytesValue(id, bf); len(v) > 0 {
						f.BytesValues = append(f.BytesValues, &pb.BytesValue{EntityId: uint32(id), Field: uint32(i), Value: v})
					}
					continue
				}
				fld, _ := s.FieldByName(cc, fs.Name)
				f.SpawnValues = append(f.SpawnValues, cur.Value(id, fld))
			}
			continue
		}
		var mask uint32
		var diffs []int32
		for i, fs := range spec.Fields {
			if fs.Kind == sim.KindBytes {
				bf, _ := s.BytesFieldByName(cc, fs.Name)
				if v := cur.BytesValue(id, bf); !bytes.Equal(v, base.BytesValue(id, bf)) {
					f.BytesValues = append(f.BytesValues, &pb.BytesValue{EntityId: uint32(id), Field: uint32(i), Value: v})
				}
				continue
			}
			fld, _ := s.FieldByName(cc, fs.Name)
			expected := base.Value(id, fld)
			if predicted && fs.PredictFrom != "" {
				from, _ := s.FieldByName(cc, fs.PredictFrom)
				expected = simtest.Predict(expected, cur.Value(id, from), fs.PredictNum, fs.PredictDen)
			}
			if d := cur.Value(id, fld) - expected; d != 0 {
				mask |= 1 << i
				diffs = append(diffs, d)
			}
		}
		if mask != 0 {
			updates = append(updates, uint32(id))
			f.UpdateMasks = append(f.UpdateMasks, mask)
			f.UpdateValues = append(f.UpdateValues, diffs...)
		}
	}
	f.DespawnIds, f.SpawnIds, f.UpdateIds = deltaCode(despawns), deltaCode(spawns), deltaCode(updates)
	if withHash {
		h := cur.Hash()
		f.ViewHash = &h
	}
	return &pb.ServerMessage{Kind: &pb.ServerMessage_Frame{Frame: f}}
}

// deltaCode turns ascending ids into the first id and the differences to the previous one.
func deltaCode(ids []uint32) []uint32 {
	var out []uint32
	prev := uint32(0)
	for _, id := range ids {
		out = append(out, id-prev)
		prev = id
	}
	return out
}

// deltaDecode undoes deltaCode.
func deltaDecode(d []uint32) []uint32 {
	var out []uint32
	id := uint32(0)
	for _, x := range d {
		id += x
		out = append(out, id)
	}
	return out
}

// refBytes is refFrame marshalled deterministically.
func refBytes(base, cur *sim.State, lastSeq uint32, withHash bool) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(refFrame(base, cur, lastSeq, withHash))
	if err != nil {
		panic(err)
	}
	return b
}
