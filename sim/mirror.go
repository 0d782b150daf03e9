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
// bit-identical to the server's after every frame (restricted to the client's view in a game
// with views), so their hashes agree.
type Mirror struct {
	st      State
	live    []Entity // held entities, in no particular order
	at      []int32  // by id: index in live
	parts   []part
	flags   []uint8  // by id, while a frame is checked and applied: isDespawned, isSpawned, isUpdated
	flagCls []uint16 // by id, while a frame is checked: the class a spawn gives it
	flagged []uint32 // the ids check flagged (cleared when Apply returns)
	msg     pb.ServerMessage
	frame   pb.Frame
}

// part is one list set of a frame: the frame's own fields 4 to 11 or one of its pieces.
type part struct {
	despawns, spawnIDs, spawnCls []uint32
	spawnVals                    []int32
	updIDs, updMasks             []uint32
	updVals                      []int32
	bytes                        []*pb.BytesValue
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

// split lists the frame's parts: its own fields, then its pieces.
func (m *Mirror) split(f *pb.Frame) []part {
	m.parts = append(m.parts[:0], part{
		f.GetDespawnIds(), f.GetSpawnIds(), f.GetSpawnClasses(), f.GetSpawnValues(),
		f.GetUpdateIds(), f.GetUpdateMasks(), f.GetUpdateValues(), f.GetBytesValues(),
	})
	for _, p := range f.GetPieces() {
		m.parts = append(m.parts, part{
			p.GetDespawnIds(), p.GetSpawnIds(), p.GetSpawnClasses(), p.GetSpawnValues(),
			p.GetUpdateIds(), p.GetUpdateMasks(), p.GetUpdateValues(), p.GetBytesValues(),
		})
	}
	return m.parts
}

// Apply applies one frame. A frame whose baseline is not the mirror's tick (nor 0, a full
// snapshot), or whose contents do not fit the schema, is refused with ErrBadFrame and changes
// nothing.
func (m *Mirror) Apply(f *pb.Frame) error {
	parts := m.split(f)
	defer m.unflag() // check's flags say, while applying, which ids the frame spawns and updates
	if err := m.check(f, parts); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	st := &m.st
	s := st.schema
	if f.GetBaselineTick() == 0 { // full snapshot: the spawns are the whole state
		for _, id := range m.live {
			st.cls[id] = noClass
		}
		m.live = m.live[:0]
		st.n = 0
	}
	for pi := range parts {
		id := uint32(0)
		for _, d := range parts[pi].despawns {
			id += d
			m.remove(Entity(id))
		}
	}
	maxID := len(st.cls)
	for pi := range parts {
		id := uint32(0)
		for _, d := range parts[pi].spawnIDs {
			id += d
			maxID = max(maxID, int(id)+1)
		}
	}
	st.resize(maxID)
	m.at = grow(m.at, maxID)
	for pi := range parts {
		p := &parts[pi]
		id := uint32(0)
		vals := p.spawnVals
		for i, d := range p.spawnIDs {
			id += d
			c := uint16(p.spawnCls[i])
			cs := &s.classes[c]
			st.cls[id] = c
			st.gen[id]++
			st.n++
			m.at[id] = int32(len(m.live))
			m.live = append(m.live, Entity(id))
			copy(st.vals[int(id)*st.stride:], vals[:len(cs.intCols)])
			vals = vals[len(cs.intCols):]
			clear(st.bytes[int(id)*st.bstride : int(id)*st.bstride+st.bstride])
		}
	}
	predicted := f.GetBaselineTick() != 0 && f.GetBaselineTick()+1 == f.GetTick()
	for pi := range parts {
		p := &parts[pi]
		id := uint32(0)
		uvals := p.updVals
		for i, d := range p.updIDs {
			id += d
			n := bits.OnesCount32(p.updMasks[i])
			m.update(int(id), p.updMasks[i], uvals[:n], predicted)
			uvals = uvals[n:]
		}
	}
	if predicted { // every held entity the frame did not list or spawn advances to its prediction
		for _, id := range m.live {
			if m.flag(uint64(id))&(isSpawned|isUpdated) == 0 {
				m.update(int(id), 0, nil, true)
			}
		}
	}
	for pi := range parts {
		for _, bv := range parts[pi].bytes {
			e := bv.GetEntityId()
			col := s.classes[st.cls[e]].colOf[bv.GetField()]
			var v []byte
			if len(bv.GetValue()) > 0 {
				v = append([]byte(nil), bv.GetValue()...)
			}
			st.bytes[int(e)*st.bstride+int(col)] = v
		}
	}
	st.tick = f.GetTick()
	return nil
}

// remove drops held entity id.
func (m *Mirror) remove(id Entity) {
	st := &m.st
	st.cls[id] = noClass
	st.n--
	i := m.at[id]
	last := m.live[len(m.live)-1]
	m.live[i] = last
	m.at[last] = i
	m.live = m.live[:len(m.live)-1]
}

// update applies one entity's listed differences (mask, vals in field-index order) and, on a
// predicted frame, advances its predicted fields: plain fields first, since predicted ones
// read the new velocity.
func (m *Mirror) update(e int, mask uint32, vals []int32, predicted bool) {
	st := &m.st
	cs := &st.schema.classes[st.cls[e]]
	row := st.vals[e*st.stride : e*st.stride+len(cs.intCols)]
	cols := cs.cols[:len(row)]
	k := 0
	for col := range cols {
		c := &cols[col]
		if mask&(1<<c.idx) == 0 {
			continue
		}
		if c.from < 0 || !predicted {
			row[col] += vals[k]
		}
		k++
	}
	if !predicted {
		return
	}
	k = 0
	for col := range cols {
		c := &cols[col]
		var d int32
		if mask&(1<<c.idx) != 0 {
			d = vals[k]
			k++
		}
		if c.from >= 0 {
			row[col] = predict(row[col], row[c.from], c.num, c.den) + d
		}
	}
}

// check validates a frame against the mirror without changing it, so Apply cannot fail halfway.
// Across the frame's parts an id is despawned, spawned and updated at most once each.
func (m *Mirror) check(f *pb.Frame, parts []part) error {
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
	}
	live := func(id uint64) bool {
		return base != 0 && id < uint64(len(st.cls)) && st.cls[id] != noClass
	}
	despawned := func(id uint64) bool { return m.flag(id)&isDespawned != 0 }
	for pi := range parts {
		p := &parts[pi]
		switch {
		case len(p.spawnCls) != len(p.spawnIDs):
			return errors.New("spawn ids and classes differ in length")
		case len(p.updMasks) != len(p.updIDs):
			return errors.New("update ids and masks differ in length")
		}
		var id uint64
		for i, d := range p.despawns {
			id += uint64(d)
			if (i > 0 && d == 0) || !live(id) || despawned(id) {
				return fmt.Errorf("despawn of unknown entity %d", id)
			}
			m.setFlag(id, isDespawned, 0)
		}
	}
	for pi := range parts {
		p := &parts[pi]
		var id uint64
		nvals := 0
		for i, d := range p.spawnIDs {
			id += uint64(d)
			c := p.spawnCls[i]
			switch {
			case id == 0 || (i > 0 && d == 0) || id >= maxEntityID || m.flag(id)&isSpawned != 0:
				return fmt.Errorf("spawn id %d invalid", id)
			case live(id) && !despawned(id):
				return fmt.Errorf("spawn of live entity %d", id)
			case c >= uint32(len(s.classes)):
				return fmt.Errorf("entity %d: unknown class %d", id, c)
			}
			m.setFlag(id, isSpawned, uint16(c))
			nvals += len(s.classes[c].intCols)
		}
		if nvals != len(p.spawnVals) {
			return fmt.Errorf("spawns need %d values, frame has %d", nvals, len(p.spawnVals))
		}
	}
	for pi := range parts {
		p := &parts[pi]
		var id uint64
		nvals := 0
		for i, d := range p.updIDs {
			id += uint64(d)
			if (i > 0 && d == 0) || !live(id) || m.flag(id)&(isDespawned|isUpdated) != 0 {
				return fmt.Errorf("update of unknown entity %d", id)
			}
			if m.flag(id)&isSpawned != 0 {
				return fmt.Errorf("update of entity %d spawned by the same frame", id)
			}
			m.setFlag(id, isUpdated, 0)
			cs := &s.classes[st.cls[id]]
			mask := p.updMasks[i]
			if mask == 0 || mask&^intMask(cs) != 0 {
				return fmt.Errorf("entity %d: bad mask %#x", id, mask)
			}
			nvals += bits.OnesCount32(mask)
		}
		if nvals != len(p.updVals) {
			return fmt.Errorf("updates need %d values, frame has %d", nvals, len(p.updVals))
		}
		for _, bv := range p.bytes {
			id := uint64(bv.GetEntityId())
			var c uint16
			if id < maxEntityID && m.flag(id)&isSpawned != 0 {
				c = m.flagCls[id]
			} else {
				if !live(id) || despawned(id) {
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
	}
	return nil
}

// The flags check sets on ids.
const (
	isDespawned uint8 = 1 << iota
	isSpawned
	isUpdated
)

// flag returns id's flags (0 for ids never flagged).
func (m *Mirror) flag(id uint64) uint8 {
	if id >= uint64(len(m.flags)) {
		return 0
	}
	return m.flags[id]
}

// setFlag adds flag f to id (below maxEntityID), and the class a spawn gives it.
func (m *Mirror) setFlag(id uint64, f uint8, cls uint16) {
	if id >= uint64(len(m.flags)) {
		m.flags = append(m.flags, make([]uint8, int(id)+1-len(m.flags))...)
		m.flagCls = append(m.flagCls, make([]uint16, int(id)+1-len(m.flagCls))...)
	}
	if m.flags[id] == 0 {
		m.flagged = append(m.flagged, uint32(id))
	}
	m.flags[id] |= f
	if f == isSpawned {
		m.flagCls[id] = cls
	}
}

// unflag clears the flags check set (Apply calls it when it returns).
func (m *Mirror) unflag() {
	for _, id := range m.flagged {
		m.flags[id] = 0
	}
	m.flagged = m.flagged[:0]
}

// intMask has a bit set for each non-bytes field index of the class.
func intMask(cs *ClassSpec) uint32 {
	var m uint32
	for _, idx := range cs.intCols {
		m |= 1 << idx
	}
	return m
}
