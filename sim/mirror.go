package sim

import (
	"errors"
	"fmt"
	"math/bits"

	pb "github.com/ticksync/ticksync/proto/ticksync/v1"
	"google.golang.org/protobuf/proto"
)

// ErrBadFrame reports a frame that cannot apply to the mirror; the mirror is left unchanged.
var ErrBadFrame = errors.New("sim: bad frame")

// Mirror is a client's copy of the room's state, kept by applying frames in the order the
// contract gives: despawns, spawns, then updates (docs/protocol.md, "Applying a frame"). Its State is
// bit-identical to the server's after every frame, so their hashes agree.
type Mirror struct {
	st      State
	spawned []bool // by id: spawned by the frame being applied
	msg     pb.ServerMessage
	frame   pb.Frame
}

// NewMirror returns an empty mirror for schema s.
func NewMirror(s *Schema) *Mirror {
	m := &Mirror{}
	m.st.reset(s)
	return m
}

// State returns the mirrored state. It changes with every applied frame.
func (m *Mirror) State() *State { return &m.st }

// Tick returns the tick the mirror holds.
func (m *Mirror) Tick() uint32 { return m.st.tick }

// ApplyMessage decodes one ServerMessage; if it holds a frame, the frame is applied and returned.
// Other kinds are returned undecoded into a frame (nil frame, the message in msg).
func (m *Mirror) ApplyMessage(b []byte) (msg *pb.ServerMessage, err error) {
	m.msg.Reset()
	if err := proto.Unmarshal(b, &m.msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	if f := m.msg.GetFrame(); f != nil {
		if err := m.Apply(f); err != nil {
			return nil, err
		}
	}
	return &m.msg, nil
}

// Apply applies one frame. A frame whose baseline is not the mirror's tick (nor 0, a full
// snapshot), or whose contents do not fit the schema, is refused with ErrBadFrame and changes
// nothing.
func (m *Mirror) Apply(f *pb.Frame) error {
	if err := m.check(f); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	st := &m.st
	s := st.schema
	if f.GetBaselineTick() == 0 { // full snapshot: the spawns are the whole state
		for i := range st.cls {
			st.cls[i] = noClass
		}
		st.n = 0
	}
	id := uint32(0)
	for _, d := range f.GetDespawnIds() {
		id += d
		st.cls[id] = noClass
		st.n--
	}
	maxID := len(st.cls)
	id = 0
	for _, d := range f.GetSpawnIds() {
		id += d
		maxID = max(maxID, int(id)+1)
	}
	st.resize(maxID)
	m.spawned = grow(m.spawned, maxID)
	clear(m.spawned)
	id = 0
	vals := f.GetSpawnValues()
	for i, d := range f.GetSpawnIds() {
		id += d
		c := uint16(f.GetSpawnClasses()[i])
		cs := &s.classes[c]
		st.cls[id] = c
		st.gen[id]++
		st.n++
		m.spawned[id] = true
		copy(st.vals[int(id)*st.stride:], vals[:len(cs.intCols)])
		vals = vals[len(cs.intCols):]
		clear(st.bytes[int(id)*st.bstride : int(id)*st.bstride+st.bstride])
	}
	predicted := f.GetBaselineTick() != 0 && f.GetBaselineTick()+1 == f.GetTick()
	upd, masks, uvals := f.GetUpdateIds(), f.GetUpdateMasks(), f.GetUpdateValues()
	next := uint32(0)
	if len(upd) > 0 {
		next = upd[0]
	}
	for e := 1; e < len(st.cls); e++ {
		c := st.cls[e]
		if c == noClass || m.spawned[e] {
			continue
		}
		listed := len(upd) > 0 && uint32(e) == next
		if !listed && !predicted {
			continue
		}
		cs := &s.classes[c]
		row := st.vals[e*st.stride : e*st.stride+len(cs.intCols)]
		var mask uint32
		var mine []int32
		if listed {
			mask = masks[0]
			n := bits.OnesCount32(mask)
			mine, uvals = uvals[:n], uvals[n:]
			masks, upd = masks[1:], upd[1:]
			if len(upd) > 0 {
				next += upd[0]
			}
		}
		// Plain fields first: predicted ones read the new velocity.
		cols := cs.cols[:len(row)]
		k := 0
		for col := range cols {
			c := &cols[col]
			if mask&(1<<c.idx) == 0 {
				continue
			}
			if c.from < 0 || !predicted {
				row[col] += mine[k]
			}
			k++
		}
		if !predicted {
			continue
		}
		k = 0
		for col := range cols {
			c := &cols[col]
			var d int32
			if mask&(1<<c.idx) != 0 {
				d = mine[k]
				k++
			}
			if c.from >= 0 {
				row[col] = predict(row[col], row[c.from], c.num, c.den) + d
			}
		}
	}
	for _, bv := range f.GetBytesValues() {
		e := bv.GetEntityId()
		col := s.classes[st.cls[e]].colOf[bv.GetField()]
		var v []byte
		if len(bv.GetValue()) > 0 {
			v = append([]byte(nil), bv.GetValue()...)
		}
		st.bytes[int(e)*st.bstride+int(col)] = v
	}
	st.tick = f.GetTick()
	return nil
}

// check validates a frame against the mirror without changing it, so Apply cannot fail halfway.
func (m *Mirror) check(f *pb.Frame) error {
	st := &m.st
	s := st.schema
	base := f.GetBaselineTick()
	switch {
	case f.GetTick() == 0:
		return errors.New("tick 0")
	case base != 0 && base != st.tick:
		return fmt.Errorf("baseline %d, mirror holds %d", base, st.tick)
	case base != 0 && f.GetTick() <= base:
		return fmt.Errorf("tick %d not after baseline %d", f.GetTick(), base)
	case len(f.GetSpawnClasses()) != len(f.GetSpawnIds()):
		return errors.New("spawn ids and classes differ in length")
	case len(f.GetUpdateMasks()) != len(f.GetUpdateIds()):
		return errors.New("update ids and masks differ in length")
	}
	live := func(id uint64) bool {
		return base != 0 && id < uint64(len(st.cls)) && st.cls[id] != noClass
	}
	despawned := map[uint64]bool{}
	var id uint64
	for i, d := range f.GetDespawnIds() {
		id += uint64(d)
		if (i > 0 && d == 0) || !live(id) {
			return fmt.Errorf("despawn of unknown entity %d", id)
		}
		despawned[id] = true
	}
	spawned := map[uint64]uint16{}
	id = 0
	nvals := 0
	for i, d := range f.GetSpawnIds() {
		id += uint64(d)
		c := f.GetSpawnClasses()[i]
		switch {
		case id == 0 || (i > 0 && d == 0) || id >= maxEntityID:
			return fmt.Errorf("spawn id %d invalid", id)
		case live(id) && !despawned[id]:
			return fmt.Errorf("spawn of live entity %d", id)
		case c >= uint32(len(s.classes)):
			return fmt.Errorf("entity %d: unknown class %d", id, c)
		}
		spawned[id] = uint16(c)
		nvals += len(s.classes[c].intCols)
	}
	if nvals != len(f.GetSpawnValues()) {
		return fmt.Errorf("spawns need %d values, frame has %d", nvals, len(f.GetSpawnValues()))
	}
	id = 0
	nvals = 0
	for i, d := range f.GetUpdateIds() {
		id += uint64(d)
		if (i > 0 && d == 0) || !live(id) || despawned[id] {
			return fmt.Errorf("update of unknown entity %d", id)
		}
		if _, ok := spawned[id]; ok {
			return fmt.Errorf("update of entity %d spawned by the same frame", id)
		}
		cs := &s.classes[st.cls[id]]
		mask := f.GetUpdateMasks()[i]
		if mask == 0 || mask&^intMask(cs) != 0 {
			return fmt.Errorf("entity %d: bad mask %#x", id, mask)
		}
		nvals += bits.OnesCount32(mask)
	}
	if nvals != len(f.GetUpdateValues()) {
		return fmt.Errorf("updates need %d values, frame has %d", nvals, len(f.GetUpdateValues()))
	}
	for _, bv := range f.GetBytesValues() {
		id := uint64(bv.GetEntityId())
		c, ok := spawned[id]
		if !ok {
			if !live(id) || despawned[id] {
				return fmt.Errorf("bytes value for unknown entity %d", id)
			}
			c = st.cls[id]
		}
		cs := &s.classes[c]
		fi := bv.GetField()
		if fi >= uint32(len(cs.Fields)) || cs.Fields[fi].Kind != KindBytes || len(bv.GetValue()) > cs.Fields[fi].MaxLen {
			return fmt.Errorf("entity %d: bad bytes field %d", id, fi)
		}
	}
	return nil
}

// intMask has a bit set for each non-bytes field index of the class.
func intMask(cs *ClassSpec) uint32 {
	var m uint32
	for _, idx := range cs.intCols {
		m |= 1 << idx
	}
	return m
}
