package sim

import (
	"bytes"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of ticksync.v1.Frame and ServerMessage (messages.proto). The hand-written
// encoder below must produce exactly what proto.Marshal produces for the same message; a test
// holds it to that.
const (
	fServerFrame     = 2
	fFrameTick       = 1
	fFrameBaseline   = 2
	fFrameLastSeq    = 3
	fFrameDespawns   = 4
	fFrameSpawnIDs   = 5
	fFrameSpawnCls   = 6
	fFrameSpawnVals  = 7
	fFrameUpdateIDs  = 8
	fFrameUpdateMask = 9
	fFrameUpdateVals = 10
	fFrameBytes      = 11
	fFrameViewHash   = 12
	fFramePieces     = 15
	fPieceBytes      = 8
	fBytesEntity     = 1
	fBytesField      = 2
	fBytesValue      = 3
)

// Encoder computes and encodes frame bodies: the part of a Frame every client at the same
// baseline shares (despawns, spawns, updates, bytes values, view hash). It keeps its scratch
// buffers, so encoding allocates nothing in steady state. One goroutine uses an Encoder.
type Encoder struct {
	despawns, spawnIDs, spawnCls, spawnVals []byte
	updIDs, updMasks, updVals, bytesVals    []byte

	// Views (views.go): the last id of each list of the piece being encoded, and a client's
	// movers sorted into despawns, spawns and updates.
	lastDespawn, lastSpawn, lastUpdate uint32
	des, spa, upd                      []Entity
	inB, inT                           []uint64 // the client's views as bitsets of buckets
}

// predict is the contract's prediction rule: prev + trunc(v*num/den), wrapping mod 2^32.
func predict(prev, v, num, den int32) int32 {
	return int32(int64(prev) + int64(v)*int64(num)/int64(den))
}

// AppendBody appends to dst the body of the frame that brings a client holding base to cur:
// Frame fields 4 to 12. base nil means a full snapshot, and so does a base at tick 0: on the
// wire baseline 0 means a full snapshot, so no delta can start there. withHash adds cur's state
// hash as the view hash. Prediction applies when base is the tick right before cur.
func (e *Encoder) AppendBody(dst []byte, base, cur *State, withHash bool) []byte {
	if base != nil && base.tick == 0 {
		base = nil
	}
	e.despawns, e.spawnIDs, e.spawnCls, e.spawnVals = e.despawns[:0], e.spawnIDs[:0], e.spawnCls[:0], e.spawnVals[:0]
	e.updIDs, e.updMasks, e.updVals, e.bytesVals = e.updIDs[:0], e.updMasks[:0], e.updVals[:0], e.bytesVals[:0]
	predicted := base != nil && base.tick+1 == cur.tick
	n := len(cur.cls)
	if base != nil {
		n = max(n, len(base.cls))
	}
	var lastDespawn, lastSpawn, lastUpdate uint32
	schema := cur.schema
	for id := 1; id < n; id++ {
		cc, bc := uint16(noClass), uint16(noClass)
		if id < len(cur.cls) {
			cc = cur.cls[id]
		}
		if base != nil && id < len(base.cls) {
			bc = base.cls[id]
		}
		same := cc != noClass && bc == cc && base.gen[id] == cur.gen[id]
		if bc != noClass && !same {
			e.despawns = protowire.AppendVarint(e.despawns, uint64(uint32(id)-lastDespawn))
			lastDespawn = uint32(id)
		}
		if cc == noClass {
			continue
		}
		cs := &schema.classes[cc]
		vals := cur.vals[id*cur.stride : id*cur.stride+len(cs.intCols)]
		if !same {
			e.spawnIDs = protowire.AppendVarint(e.spawnIDs, uint64(uint32(id)-lastSpawn))
			lastSpawn = uint32(id)
			e.spawnCls = protowire.AppendVarint(e.spawnCls, uint64(cc))
			for _, v := range vals {
				e.spawnVals = protowire.AppendVarint(e.spawnVals, protowire.EncodeZigZag(int64(v)))
			}
			for col, b := range cur.bytes[id*cur.bstride : id*cur.bstride+len(cs.bytesCols)] {
				if len(b) > 0 {
					e.appendBytes(fFrameBytes, uint32(id), uint32(cs.bytesCols[col]), b)
				}
			}
			continue
		}
		prev := base.vals[id*base.stride : id*base.stride+len(cs.intCols)]
		var mask uint32
		mark := len(e.updVals)
		cols := cs.cols[:len(vals)]
		for col, v := range vals {
			expected := prev[col]
			if c := &cols[col]; predicted && c.from >= 0 {
				expected = predict(prev[col], vals[c.from], c.num, c.den)
			}
			if d := v - expected; d != 0 {
				mask |= 1 << cols[col].idx
				e.updVals = protowire.AppendVarint(e.updVals, protowire.EncodeZigZag(int64(d)))
			}
		}
		for col, b := range cur.bytes[id*cur.bstride : id*cur.bstride+len(cs.bytesCols)] {
			if !bytes.Equal(b, base.bytes[id*base.bstride+col]) {
				e.appendBytes(fFrameBytes, uint32(id), uint32(cs.bytesCols[col]), b)
			}
		}
		if mask != 0 {
			e.updIDs = protowire.AppendVarint(e.updIDs, uint64(uint32(id)-lastUpdate))
			lastUpdate = uint32(id)
			e.updMasks = protowire.AppendVarint(e.updMasks, uint64(mask))
		} else {
			e.updVals = e.updVals[:mark]
		}
	}
	dst = appendPacked(dst, fFrameDespawns, e.despawns)
	dst = appendPacked(dst, fFrameSpawnIDs, e.spawnIDs)
	dst = appendPacked(dst, fFrameSpawnCls, e.spawnCls)
	dst = appendPacked(dst, fFrameSpawnVals, e.spawnVals)
	dst = appendPacked(dst, fFrameUpdateIDs, e.updIDs)
	dst = appendPacked(dst, fFrameUpdateMask, e.updMasks)
	dst = appendPacked(dst, fFrameUpdateVals, e.updVals)
	dst = append(dst, e.bytesVals...)
	if withHash {
		dst = protowire.AppendTag(dst, fFrameViewHash, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, cur.Hash())
	}
	return dst
}

// appendBytes adds one BytesValue (field tag: 11 in a Frame, 8 in a FramePiece) to the bytes list.
func (e *Encoder) appendBytes(tag protowire.Number, id, field uint32, b []byte) {
	size := protowire.SizeTag(fBytesEntity) + protowire.SizeVarint(uint64(id))
	if field != 0 {
		size += protowire.SizeTag(fBytesField) + protowire.SizeVarint(uint64(field))
	}
	if len(b) > 0 {
		size += protowire.SizeTag(fBytesValue) + protowire.SizeBytes(len(b))
	}
	e.bytesVals = protowire.AppendTag(e.bytesVals, tag, protowire.BytesType)
	e.bytesVals = protowire.AppendVarint(e.bytesVals, uint64(size))
	e.bytesVals = protowire.AppendTag(e.bytesVals, fBytesEntity, protowire.VarintType)
	e.bytesVals = protowire.AppendVarint(e.bytesVals, uint64(id))
	if field != 0 {
		e.bytesVals = protowire.AppendTag(e.bytesVals, fBytesField, protowire.VarintType)
		e.bytesVals = protowire.AppendVarint(e.bytesVals, uint64(field))
	}
	if len(b) > 0 {
		e.bytesVals = protowire.AppendTag(e.bytesVals, fBytesValue, protowire.BytesType)
		e.bytesVals = protowire.AppendBytes(e.bytesVals, b)
	}
}

func appendPacked(dst []byte, num protowire.Number, payload []byte) []byte {
	if len(payload) == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendBytes(dst, payload)
}

// AppendFrameHeader appends the start of a ServerMessage holding a Frame: the message tag and
// length and the per-client fields (tick, baseline, last applied input seq). The body from
// AppendBody (bodyLen bytes) follows it unchanged, so clients at the same baseline share one
// encoded body and each gets a header of a few bytes.
func AppendFrameHeader(dst []byte, tick, baseline, lastSeq uint32, bodyLen int) []byte {
	n := bodyLen + sizeUint(fFrameTick, tick) + sizeUint(fFrameBaseline, baseline) + sizeUint(fFrameLastSeq, lastSeq)
	dst = protowire.AppendTag(dst, fServerFrame, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(n))
	dst = appendUint(dst, fFrameTick, tick)
	dst = appendUint(dst, fFrameBaseline, baseline)
	return appendUint(dst, fFrameLastSeq, lastSeq)
}

func sizeUint(num protowire.Number, v uint32) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
}

func appendUint(dst []byte, num protowire.Number, v uint32) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, uint64(v))
}
