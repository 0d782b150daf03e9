package sim

import (
	"bytes"
	"math/bits"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Views on the server side (docs/protocol.md, "Views"). A State of a game with views also
// knows each entity's cell and the entities of each cell (PlaceCells). A client that sees the
// cells V_b at its baseline b and V_t now holds exactly the entities of those cells, and its
// frame is made of:
//
//   - for each cell k in both V_b and V_t, the cell's delta piece: updates of the entities that
//     stayed in k, spawns of those born in k, despawns of those that died in k;
//   - for each cell k only in V_t, its enter piece: spawns of the entities in k that did not come
//     from another cell;
//   - for each cell k only in V_b, its leave piece: despawns of the entities of k at b that did
//     not go to another cell;
//   - its own part: the movers (entities that changed cells between b and t) that touch its
//     views: an update when it sees both ends, a despawn when it sees only the old cell, a spawn
//     when it sees only the new one.
//
// Pieces depend only on (cell, kind, baseline), so one encoding serves every client at that
// baseline; only the own part is per client, and it is small (the movers of about one view).
// The Everywhere bucket is in every view.

// PieceKind says which piece of a cell to encode.
type PieceKind uint8

// The kinds of pieces.
const (
	PieceDelta PieceKind = iota // the cell is in the client's view at its baseline and now
	PieceEnter                  // the cell entered the client's view
	PieceLeave                  // the cell left the client's view
)

// PlaceCells records the cell of every entity of st, which must be the snapshot of w just
// taken (same tick), as v says, and indexes the entities by cell. A cell outside the grid
// counts as Everywhere.
func (st *State) PlaceCells(v Viewer, w *World) {
	n := v.ViewGrid().Cells()
	st.ncells = n
	st.cells = grow(st.cells, len(st.cls))
	for i := range st.cells {
		st.cells[i] = Everywhere
	}
	v.Cells(w, st.cells)
	st.cellStart = grow(st.cellStart, n+2)
	clear(st.cellStart)
	for id := 1; id < len(st.cls); id++ {
		if st.cls[id] == noClass {
			continue
		}
		c := st.cells[id]
		if c < 0 || int(c) >= n {
			c = Everywhere
			st.cells[id] = c
		}
		st.cellStart[st.bucket(c)+1]++
	}
	for b := 1; b < len(st.cellStart); b++ {
		st.cellStart[b] += st.cellStart[b-1]
	}
	st.cellFill = append(st.cellFill[:0], st.cellStart...)
	st.cellIDs = grow(st.cellIDs, st.n)
	for id := 1; id < len(st.cls); id++ {
		if st.cls[id] == noClass {
			continue
		}
		b := st.bucket(st.cells[id])
		st.cellIDs[st.cellFill[b]] = Entity(id)
		st.cellFill[b]++
	}
}

// HasCells reports whether PlaceCells indexed st.
func (st *State) HasCells() bool { return len(st.cellStart) > 0 }

// bucket is the index of cell c's entity list: c itself, Everywhere after the grid's cells.
func (st *State) bucket(c Cell) int {
	if c == Everywhere {
		return st.ncells
	}
	return int(c)
}

// InCell returns the entities in cell c (Everywhere: those every view holds), ascending. The
// slice is the state's own.
func (st *State) InCell(c Cell) []Entity {
	b := st.bucket(c)
	return st.cellIDs[st.cellStart[b]:st.cellStart[b+1]]
}

// CellOf returns the cell of live entity e.
func (st *State) CellOf(e Entity) Cell { return st.cells[e] }

// same reports whether id is the same live entity in base and cur (not despawned, not reused).
func same(base, cur *State, id Entity) bool {
	return int(id) < len(base.cls) && int(id) < len(cur.cls) && base.cls[id] != noClass &&
		base.cls[id] == cur.cls[id] && base.gen[id] == cur.gen[id]
}

// Clean sorts a view's cells, drops duplicates and cells outside the grid, and returns it.
func (g Grid) Clean(view []Cell) []Cell {
	n := Cell(g.Cells())
	view = slices.DeleteFunc(view, func(c Cell) bool { return c < 0 || c >= n })
	slices.Sort(view)
	return slices.Compact(view)
}

// Sees reports whether a clean view holds cell c (Everywhere is in every view).
func Sees(view []Cell, c Cell) bool {
	if c == Everywhere {
		return true
	}
	_, ok := slices.BinarySearch(view, c)
	return ok
}

// ViewHash returns the state hash (docs/protocol.md, "State hash") of the entities of st in the
// clean view's cells and Everywhere: what a client with that view holds. scratch is reused
// (a bitmap of the ids, read in ascending order: no sort).
func (st *State) ViewHash(view []Cell, scratch []uint64) (uint64, []uint64) {
	words := (len(st.cls) + 63) / 64
	marks := grow(scratch, words)
	clear(marks)
	mark := func(ids []Entity) {
		for _, id := range ids {
			marks[id>>6] |= 1 << (id & 63)
		}
	}
	mark(st.InCell(Everywhere))
	for _, c := range view {
		mark(st.InCell(c))
	}
	h := newHasher()
	for w, m := range marks {
		for m != 0 {
			h = st.hashEntity(h, w*64+bits.TrailingZeros64(m))
			m &= m - 1
		}
	}
	return h.sum(), marks
}

// Delta is what changed from a baseline to the current state, found in one pass over the ids
// (memory in order, unlike a cell's entities): which ids are the same entity in both, each
// such entity's update (its changed fields, encoded once however many pieces and clients it
// goes to), and the movers (entities that changed cells), indexed by their old and new cell.
type Delta struct {
	base, cur *State
	predicted bool
	same      []bool   // by id below len(cur.cls): the same live entity in base and cur
	mask      []uint32 // by id: the update's field mask (0: nothing changed)
	off       []int32  // by id: the update's values are vals[off[id]:off[id+1]]
	vals      []byte
	ids       []Entity // movers, ascending
	fromStart []int32  // by bucket of the old cell: fromIDs[fromStart[b]:fromStart[b+1]]
	fromIDs   []Entity
	toStart   []int32
	toIDs     []Entity
	fill      []int32
}

// Find computes the delta from base to cur (both indexed by PlaceCells).
func (d *Delta) Find(base, cur *State) {
	d.base, d.cur = base, cur
	d.predicted = base.tick+1 == cur.tick
	n := len(cur.cls)
	d.same = grow(d.same, n)
	d.mask = grow(d.mask, n)
	d.off = grow(d.off, n+1)
	d.vals = d.vals[:0]
	d.ids = d.ids[:0]
	schema := cur.schema
	d.off[0] = 0
	for id := 0; id < n; id++ {
		d.mask[id] = 0
		d.same[id] = id > 0 && same(base, cur, Entity(id))
		if d.same[id] {
			cs := &schema.classes[cur.cls[id]]
			vals := cur.vals[id*cur.stride : id*cur.stride+len(cs.intCols)]
			prev := base.vals[id*base.stride : id*base.stride+len(cs.intCols)]
			cols := cs.cols[:len(vals)]
			var mask uint32
			for col, v := range vals {
				expected := prev[col]
				if c := &cols[col]; d.predicted && c.from >= 0 {
					expected = predict(prev[col], vals[c.from], c.num, c.den)
				}
				if diff := v - expected; diff != 0 {
					mask |= 1 << cols[col].idx
					d.vals = protowire.AppendVarint(d.vals, protowire.EncodeZigZag(int64(diff)))
				}
			}
			d.mask[id] = mask
			if base.cells[id] != cur.cells[id] {
				d.ids = append(d.ids, Entity(id))
			}
		}
		d.off[id+1] = int32(len(d.vals))
	}
	d.fromStart, d.fromIDs = d.index(d.fromStart, d.fromIDs, base)
	d.toStart, d.toIDs = d.index(d.toStart, d.toIDs, cur)
}

// isSame reports whether id is the same live entity in the delta's base and cur.
func (d *Delta) isSame(id Entity) bool { return int(id) < len(d.same) && d.same[id] }

// index buckets the movers by their cell in st (counting sort, ids ascending in a bucket).
func (d *Delta) index(start []int32, ids []Entity, st *State) ([]int32, []Entity) {
	start = grow(start, st.ncells+2)
	clear(start)
	for _, id := range d.ids {
		start[st.bucket(st.cells[id])+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	d.fill = append(d.fill[:0], start...)
	ids = grow(ids, len(d.ids))
	for _, id := range d.ids {
		b := st.bucket(st.cells[id])
		ids[d.fill[b]] = id
		d.fill[b]++
	}
	return start, ids
}

// from returns the movers whose old cell is c.
func (d *Delta) from(c Cell) []Entity {
	b := d.base.bucket(c)
	return d.fromIDs[d.fromStart[b]:d.fromStart[b+1]]
}

// to returns the movers whose new cell is c.
func (d *Delta) to(c Cell) []Entity {
	b := d.cur.bucket(c)
	return d.toIDs[d.toStart[b]:d.toStart[b+1]]
}

// AppendPiece appends cell c's piece of the given kind for a client at the baseline of d
// (nil: a full snapshot of cur, whose pieces are enter pieces holding every entity of the
// cell) as one Frame field 15 (tag, length, FramePiece), or nothing when the piece is empty.
func (e *Encoder) AppendPiece(dst []byte, kind PieceKind, d *Delta, cur *State, c Cell) []byte {
	e.begin()
	switch {
	case d == nil:
		for _, id := range cur.InCell(c) {
			e.spawn(fPieceBytes, cur, id)
		}
	case kind == PieceDelta:
		for _, id := range d.base.InCell(c) {
			if !d.isSame(id) {
				e.despawn(id)
			}
		}
		for _, id := range cur.InCell(c) {
			switch {
			case !d.isSame(id):
				e.spawn(fPieceBytes, cur, id)
			case d.base.cells[id] == c:
				e.update(fPieceBytes, d, id)
			}
		}
	case kind == PieceEnter:
		for _, id := range cur.InCell(c) {
			if !d.isSame(id) || d.base.cells[id] == c {
				e.spawn(fPieceBytes, cur, id)
			}
		}
	case kind == PieceLeave:
		for _, id := range d.base.InCell(c) {
			if !d.isSame(id) || cur.cells[id] == c {
				e.despawn(id)
			}
		}
	}
	size := e.fieldsSize()
	if size == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, fFramePieces, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(size))
	return e.appendFields(dst, 1)
}

// AppendMovers appends, as Frame fields 4 to 11, the part of a client's frame that only it
// gets: the movers of d that touch its clean views vb (at d's baseline) and vt (now).
func (e *Encoder) AppendMovers(dst []byte, d *Delta, vb, vt []Cell) []byte {
	base, cur := d.base, d.cur
	e.des, e.spa, e.upd = e.des[:0], e.spa[:0], e.upd[:0]
	e.inB = cellSet(e.inB, base, vb)
	e.inT = cellSet(e.inT, cur, vt)
	e.moversOf(d.from(Everywhere), cur)
	for _, c := range vb {
		e.moversOf(d.from(c), cur)
	}
	e.enters(d.to(Everywhere), base)
	for _, c := range vt {
		e.enters(d.to(c), base)
	}
	if len(e.des)+len(e.spa)+len(e.upd) == 0 {
		return dst
	}
	slices.Sort(e.des)
	slices.Sort(e.spa)
	slices.Sort(e.upd)
	e.begin()
	for _, id := range e.des {
		e.despawn(id)
	}
	for _, id := range e.spa {
		e.spawn(fFrameBytes, cur, id)
	}
	for _, id := range e.upd {
		e.update(fFrameBytes, d, id)
	}
	return e.appendFields(dst, fFrameDespawns)
}

// cellSet returns a bitset of st's buckets holding the clean view's cells and Everywhere.
func cellSet(set []uint64, st *State, view []Cell) []uint64 {
	set = grow(set, (st.ncells+1+63)/64)
	clear(set)
	for _, c := range view {
		set[c>>6] |= 1 << (c & 63)
	}
	b := st.ncells // Everywhere
	set[b>>6] |= 1 << (b & 63)
	return set
}

// has reports whether bucket b is in the set.
func has(set []uint64, b int) bool { return set[b>>6]&(1<<(b&63)) != 0 }

// moversOf sorts movers the client held into updates (it sees their new cell) and despawns.
func (e *Encoder) moversOf(ids []Entity, cur *State) {
	for _, id := range ids {
		if has(e.inT, cur.bucket(cur.cells[id])) {
			e.upd = append(e.upd, id)
		} else {
			e.des = append(e.des, id)
		}
	}
}

// enters adds the movers into a seen cell that the client did not hold as spawns.
func (e *Encoder) enters(ids []Entity, base *State) {
	for _, id := range ids {
		if !has(e.inB, base.bucket(base.cells[id])) {
			e.spa = append(e.spa, id)
		}
	}
}

// begin empties the field lists for a new piece or part.
func (e *Encoder) begin() {
	e.despawns, e.spawnIDs, e.spawnCls, e.spawnVals = e.despawns[:0], e.spawnIDs[:0], e.spawnCls[:0], e.spawnVals[:0]
	e.updIDs, e.updMasks, e.updVals, e.bytesVals = e.updIDs[:0], e.updMasks[:0], e.updVals[:0], e.bytesVals[:0]
	e.lastDespawn, e.lastSpawn, e.lastUpdate = 0, 0, 0
}

// despawn lists id as despawned (ids come ascending within a piece).
func (e *Encoder) despawn(id Entity) {
	e.despawns = protowire.AppendVarint(e.despawns, uint64(uint32(id)-e.lastDespawn))
	e.lastDespawn = uint32(id)
}

// spawn lists id with all its fields from cur; bytesTag is the bytes values' field number.
func (e *Encoder) spawn(bytesTag protowire.Number, cur *State, id Entity) {
	cc := cur.cls[id]
	cs := &cur.schema.classes[cc]
	e.spawnIDs = protowire.AppendVarint(e.spawnIDs, uint64(uint32(id)-e.lastSpawn))
	e.lastSpawn = uint32(id)
	e.spawnCls = protowire.AppendVarint(e.spawnCls, uint64(cc))
	for _, v := range cur.vals[int(id)*cur.stride : int(id)*cur.stride+len(cs.intCols)] {
		e.spawnVals = protowire.AppendVarint(e.spawnVals, protowire.EncodeZigZag(int64(v)))
	}
	for col, b := range cur.bytes[int(id)*cur.bstride : int(id)*cur.bstride+len(cs.bytesCols)] {
		if len(b) > 0 {
			e.appendBytes(bytesTag, uint32(id), uint32(cs.bytesCols[col]), b)
		}
	}
}

// update lists id's update from d (its changed fields; nothing when none changed).
func (e *Encoder) update(bytesTag protowire.Number, d *Delta, id Entity) {
	if mask := d.mask[id]; mask != 0 {
		e.updIDs = protowire.AppendVarint(e.updIDs, uint64(uint32(id)-e.lastUpdate))
		e.lastUpdate = uint32(id)
		e.updMasks = protowire.AppendVarint(e.updMasks, uint64(mask))
		e.updVals = append(e.updVals, d.vals[d.off[id]:d.off[id+1]]...)
	}
	base, cur := d.base, d.cur
	cs := &cur.schema.classes[cur.cls[id]]
	for col, b := range cur.bytes[int(id)*cur.bstride : int(id)*cur.bstride+len(cs.bytesCols)] {
		if !bytes.Equal(b, base.bytes[int(id)*base.bstride+col]) {
			e.appendBytes(bytesTag, uint32(id), uint32(cs.bytesCols[col]), b)
		}
	}
}

// fieldsSize is the encoded size of the lists as appendFields writes them.
func (e *Encoder) fieldsSize() int {
	n := len(e.bytesVals)
	for _, p := range [...][]byte{e.despawns, e.spawnIDs, e.spawnCls, e.spawnVals, e.updIDs, e.updMasks, e.updVals} {
		if len(p) > 0 {
			n += 1 + protowire.SizeBytes(len(p))
		}
	}
	return n
}

// appendFields appends the lists as packed fields first … first+6, then the bytes values
// (already tagged): Frame fields 4 to 11 or FramePiece fields 1 to 8.
func (e *Encoder) appendFields(dst []byte, first protowire.Number) []byte {
	dst = appendPacked(dst, first, e.despawns)
	dst = appendPacked(dst, first+1, e.spawnIDs)
	dst = appendPacked(dst, first+2, e.spawnCls)
	dst = appendPacked(dst, first+3, e.spawnVals)
	dst = appendPacked(dst, first+4, e.updIDs)
	dst = appendPacked(dst, first+5, e.updMasks)
	dst = appendPacked(dst, first+6, e.updVals)
	return append(dst, e.bytesVals...)
}

// AppendViewHash appends a Frame's view_hash field.
func AppendViewHash(dst []byte, h uint64) []byte {
	dst = protowire.AppendTag(dst, fFrameViewHash, protowire.Fixed64Type)
	return protowire.AppendFixed64(dst, h)
}

// PieceRef names one piece of a client's frame.
type PieceRef struct {
	Kind PieceKind
	Cell Cell
}

// AppendPieceRefs appends the pieces of the frame of a client that sees the clean view vt now
// and saw vb at its baseline, in frame order: Everywhere's, then the grid's cells ascending. A
// snapshot (no baseline) is the enter pieces of vt.
func AppendPieceRefs(dst []PieceRef, vb, vt []Cell, snapshot bool) []PieceRef {
	if snapshot {
		dst = append(dst, PieceRef{PieceEnter, Everywhere})
		for _, c := range vt {
			dst = append(dst, PieceRef{PieceEnter, c})
		}
		return dst
	}
	dst = append(dst, PieceRef{PieceDelta, Everywhere})
	i, j := 0, 0
	for i < len(vb) || j < len(vt) {
		switch {
		case j == len(vt) || (i < len(vb) && vb[i] < vt[j]):
			dst = append(dst, PieceRef{PieceLeave, vb[i]})
			i++
		case i == len(vb) || vt[j] < vb[i]:
			dst = append(dst, PieceRef{PieceEnter, vt[j]})
			j++
		default:
			dst = append(dst, PieceRef{PieceDelta, vt[j]})
			i, j = i+1, j+1
		}
	}
	return dst
}

// AppendViewBody appends the whole body of a client's frame to cur (Frame fields 4 to 12 and
// 15): its movers, then its pieces, then the view hash when withHash. d nil is a full snapshot
// of the view vt; otherwise d is the delta from the client's baseline to cur and vb its view
// there. It encodes everything for this one client: the server caches the pieces across
// clients instead, and its frames are byte-identical to these.
func (e *Encoder) AppendViewBody(dst []byte, d *Delta, cur *State, vb, vt []Cell, withHash bool) []byte {
	if d != nil {
		dst = e.AppendMovers(dst, d, vb, vt)
	}
	for _, r := range AppendPieceRefs(nil, vb, vt, d == nil) {
		dst = e.AppendPiece(dst, r.Kind, d, cur, r.Cell)
	}
	if withHash {
		h, _ := cur.ViewHash(vt, nil)
		dst = AppendViewHash(dst, h)
	}
	return dst
}
