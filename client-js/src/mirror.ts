// The state mirror: a client's copy of the room's state, kept by applying frames as the contract
// says (docs/protocol.md, "Applying a frame"). Values are stored as int32 by id in one typed array, so
// the hash is bit-identical to the server's; entities are read through named, de-quantized views.

import { growF64 } from "./frame.js";
import type { FrameData } from "./frame.js";
import { Fnv64 } from "./hash.js";
import { predictValue } from "./predictrule.js";
import type { ClassInfo, FieldInfo, Schema } from "./schema.js";

/** MAX_ENTITY_ID bounds ids the mirror accepts (as the Go mirror does): a hostile frame cannot make it allocate gigabytes. */
export const MAX_ENTITY_ID = 1 << 20;

const NONE = 0xffff;

/** FrameError reports a frame that cannot apply to the mirror; the mirror is left unchanged. */
export class FrameError extends Error {
  override name = "FrameError";
  /** baselineMismatch says the frame is a delta from a tick the mirror does not hold. */
  readonly baselineMismatch: boolean;

  constructor(message: string, baselineMismatch = false) {
    super(message);
    this.baselineMismatch = baselineMismatch;
  }
}

/** FieldValue is a de-quantized field value: a number, a boolean, or bytes (null when empty). */
export type FieldValue = number | boolean | Uint8Array | null;

/**
 * Entity is a live view of one entity: a property per field (de-quantized: fixed-point fields
 * are numbers, bools are booleans, bytes fields Uint8Array or null), plus id and className
 * unless a field has the same name. A view stays valid until its entity despawns.
 */
export type Entity = {
  readonly id: number;
  readonly className: string;
  readonly [field: string]: FieldValue | string;
};

interface ViewInternals {
  readonly m: Mirror;
  readonly i: number;
}

/** Mirror holds the entities of one room view, by id. */
export class Mirror {
  readonly schema: Schema;
  /** tick is the tick the mirror holds (0: nothing yet). */
  tick = 0;
  /** lastInputSeq is the last applied frame's last_input_seq. */
  lastInputSeq = 0;
  /** size is the number of live entities. */
  size = 0;
  /**
   * live[0..size) are the live ids, ascending: what the hash, the prediction and every walk over
   * the entities iterate, so a client holding a few hundred entities with ids up to tens of
   * thousands (a room with views) does not pay for the ids it does not hold.
   */
  live: Int32Array = new Int32Array(64);
  /** onSpawn, when set, is called after a frame for each entity it spawned. */
  onSpawn: ((e: Entity) => void) | null = null;
  /** onDespawn, when set, is called after a frame for each entity it removed, with the class it had. */
  onDespawn: ((id: number, className: string) => void) | null = null;

  /** cls[id] is the entity's class, NONE when absent. Exposed for interpolation and tests. */
  cls: Uint16Array = new Uint16Array(0);
  /** gen[id] counts the id's incarnations, so a reused id reads as a new entity. */
  gen: Uint32Array = new Uint32Array(0);
  /** vals[id*stride + col] is int column col of entity id. */
  vals: Int32Array = new Int32Array(0);
  /** bytes[id*bstride + col] is bytes column col of entity id (null: empty). */
  bytes: (Uint8Array | null)[] = [];
  /** len is one past the highest id slot in use. */
  len = 1;

  private despawnedAt: Uint32Array = new Uint32Array(0);
  private spawnedAt: Uint32Array = new Uint32Array(0);
  private updatedAt: Uint32Array = new Uint32Array(0);
  private stamp = 0;
  private liveSpare: Int32Array = new Int32Array(64);
  private spawnScratch: Float64Array = new Float64Array(0);
  private views: (Entity | undefined)[] = [];
  private readonly protos: object[];
  private readonly stride: number;
  private readonly bstride: number;
  private spawnedList: number[] = [];
  private despawnedList: number[] = [];
  private despawnedCls: number[] = [];
  private readonly hasher = new Fnv64();
  private layout = new Uint8Array(0);
  private layoutView = new DataView(this.layout.buffer);

  constructor(schema: Schema) {
    this.schema = schema;
    this.stride = schema.stride;
    this.bstride = schema.bstride;
    this.protos = schema.classes.map((c) => entityProto(c, this.stride, this.bstride));
    this.ensure(64);
  }

  /** clear drops every entity (no callbacks) and goes back to tick 0. */
  clear(): void {
    this.cls.fill(NONE);
    this.bytes.fill(null);
    this.views.length = 0;
    this.size = 0;
    this.len = 1;
    this.tick = 0;
    this.lastInputSeq = 0;
  }

  private ensure(n: number): void {
    const cap = this.cls.length;
    if (n <= cap) return;
    const c = Math.min(Math.max(n, cap * 2), MAX_ENTITY_ID);
    const cls = new Uint16Array(c).fill(NONE);
    cls.set(this.cls);
    this.cls = cls;
    const gen = new Uint32Array(c);
    gen.set(this.gen);
    this.gen = gen;
    const vals = new Int32Array(c * this.stride);
    vals.set(this.vals);
    this.vals = vals;
    for (let i = this.bytes.length; i < c * this.bstride; i++) this.bytes.push(null);
    const d = new Uint32Array(c);
    d.set(this.despawnedAt);
    this.despawnedAt = d;
    const s = new Uint32Array(c);
    s.set(this.spawnedAt);
    this.spawnedAt = s;
    const u = new Uint32Array(c);
    u.set(this.updatedAt);
    this.updatedAt = u;
  }

  /** has reports whether entity id is live. */
  has(id: number): boolean {
    return id > 0 && id < this.len && this.cls[id] !== NONE;
  }

  /** classOf returns the class of a live entity. */
  classOf(id: number): ClassInfo | undefined {
    return this.has(id) ? this.schema.classes[this.cls[id]] : undefined;
  }

  /** raw returns int column col of live entity id (the int32 wire value). */
  raw(id: number, col: number): number {
    return this.vals[id * this.stride + col];
  }

  /** rawBytes returns bytes column col of live entity id (null when empty). */
  rawBytes(id: number, col: number): Uint8Array | null {
    return this.bytes[id * this.bstride + col];
  }

  /** row copies the int columns of live entity id into out (which must be long enough). */
  row(id: number, out: Int32Array): Int32Array {
    const n = this.schema.classes[this.cls[id]].intFields.length;
    out.set(this.vals.subarray(id * this.stride, id * this.stride + n));
    return out;
  }

  /** value returns a field of a live entity, de-quantized. */
  value(id: number, f: FieldInfo): FieldValue {
    return fieldValue(f, this, id, this.stride, this.bstride);
  }

  /** entity returns the live view of entity id, or undefined when it is not live. */
  entity(id: number): Entity | undefined {
    if (!this.has(id)) return undefined;
    let v = this.views[id];
    if (v === undefined) {
      const o = Object.create(this.protos[this.cls[id]]) as ViewInternals;
      Object.defineProperties(o, { m: { value: this }, i: { value: id } });
      v = o as unknown as Entity;
      this.views[id] = v;
    }
    return v;
  }

  /** ids returns the live ids, ascending. */
  ids(): number[] {
    return Array.from(this.live.subarray(0, this.size));
  }

  /** forEach calls fn for each live entity, ascending by id. */
  forEach(fn: (e: Entity) => void): void {
    const live = this.live;
    for (let k = 0; k < this.size; k++) fn(this.entity(live[k]) as Entity);
  }

  /** findOwned returns the id of the live entity whose owner field equals player, or 0. */
  findOwned(player: number): number {
    if (player === 0) return 0;
    const classes = this.schema.classes;
    const live = this.live;
    for (let k = 0; k < this.size; k++) {
      const id = live[k];
      const oc = classes[this.cls[id]].ownerCol;
      if (oc >= 0 && this.vals[id * this.stride + oc] === (player | 0)) return id;
    }
    return 0;
  }

  /** hash returns the state hash (docs/protocol.md, "State hash") as uint32 halves, written into out. */
  hash(out: { hi: number; lo: number } = { hi: 0, lo: 0 }): { hi: number; lo: number } {
    // Lay the state out in a reused buffer, then hash it in one tight loop.
    const classes = this.schema.classes;
    const stride = this.stride;
    const bstride = this.bstride;
    const live = this.live;
    const n = this.size;
    let size = 0;
    for (let k = 0; k < n; k++) {
      const id = live[k];
      const ci = classes[this.cls[id]];
      size += 6 + 4 * ci.intFields.length;
      for (const f of ci.bytesFields) size += 2 + (this.bytes[id * bstride + f.col]?.length ?? 0);
    }
    if (this.layout.length < size) {
      this.layout = new Uint8Array(size + (size >> 2));
      this.layoutView = new DataView(this.layout.buffer);
    }
    const buf = this.layout;
    const dv = this.layoutView;
    let p = 0;
    for (let k = 0; k < n; k++) {
      const id = live[k];
      const c = this.cls[id];
      const fields = classes[c].fields;
      dv.setUint16(p, c, true);
      dv.setUint32(p + 2, id, true);
      p += 6;
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i];
        if (f.kind === "bytes") {
          const b = this.bytes[id * bstride + f.col];
          const n = b === null ? 0 : b.length;
          dv.setUint16(p, n, true);
          p += 2;
          if (b !== null) {
            buf.set(b, p);
            p += n;
          }
        } else {
          dv.setInt32(p, this.vals[id * stride + f.col], true);
          p += 4;
        }
      }
    }
    const h = this.hasher.reset();
    h.raw(buf, p);
    out.hi = h.hi;
    out.lo = h.lo;
    return out;
  }

  /**
   * apply applies one decoded frame: its own part and every piece, as one union (docs/protocol.md,
   * "Applying a frame" and "Views"). A frame that does not fit (baseline not held, bad ids, an id
   * despawned, spawned or updated twice across the parts, wrong value counts) throws FrameError
   * and changes nothing.
   */
  apply(f: FrameData): void {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.despawnedAt.fill(0);
      this.spawnedAt.fill(0);
      this.updatedAt.fill(0);
      this.stamp = 1;
    }
    this.check(f);
    const stamp = this.stamp;
    const cls = this.cls;
    const classes = this.schema.classes;
    const stride = this.stride;
    const bstride = this.bstride;
    const vals = this.vals;
    const spawnedAt = this.spawnedAt;
    const nParts = 1 + f.nPieces;
    // The entities held before this frame: the prediction and the new list walk them.
    const held = this.live;
    const nHeld = this.size;
    const wantEvents = this.onSpawn !== null || this.onDespawn !== null;
    const despawned = this.despawnedList;
    const despawnedCls = this.despawnedCls;
    const spawned = this.spawnedList;
    despawned.length = 0;
    despawnedCls.length = 0;
    spawned.length = 0;
    const snapshot = f.baselineTick === 0;
    if (snapshot) {
      // The spawns are the whole state. An id spawned again with the same class is the same
      // entity to callbacks (a resync or a resume); the rest despawn.
      for (let k = 0; k < nHeld; k++) this.despawnedAt[held[k]] = stamp;
    }
    let nDespawn = 0;
    let nSpawn = 0;
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      for (let i = 0; i < part.nDespawn; i++) {
        const id = part.despawnIds[i];
        if (wantEvents) {
          despawned.push(id);
          despawnedCls.push(cls[id]);
        }
        cls[id] = NONE;
        this.views[id] = undefined;
      }
      nDespawn += part.nDespawn;
    }
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      let si = 0;
      for (let i = 0; i < part.nSpawn; i++) {
        const id = part.spawnIds[i];
        const c = part.spawnClasses[i];
        const ci = classes[c];
        const n = ci.intFields.length;
        const continued = snapshot && cls[id] === c;
        if (!continued) {
          if (snapshot && cls[id] !== NONE) {
            if (wantEvents) {
              despawned.push(id);
              despawnedCls.push(cls[id]);
            }
            this.views[id] = undefined;
          }
          this.gen[id]++;
          if (wantEvents) spawned.push(id);
        }
        this.despawnedAt[id] = 0;
        cls[id] = c;
        spawnedAt[id] = stamp;
        vals.set(part.spawnValues.subarray(si, si + n), id * stride);
        si += n;
        for (let b = 0; b < bstride; b++) this.bytes[id * bstride + b] = null;
        if (id >= this.len) this.len = id + 1;
      }
      nSpawn += part.nSpawn;
    }
    if (snapshot) {
      for (let k = 0; k < nHeld; k++) {
        const id = held[k];
        if (this.despawnedAt[id] !== stamp) continue;
        if (wantEvents) {
          despawned.push(id);
          despawnedCls.push(cls[id]);
        }
        cls[id] = NONE;
        this.views[id] = undefined;
      }
      this.size = nSpawn;
    } else {
      this.size = nHeld - nDespawn + nSpawn;
    }

    const predicted = f.baselineTick !== 0 && f.baselineTick + 1 === f.tick;
    if (predicted && nParts === 1) {
      // One sorted update list: walk it beside the held entities (ascending too).
      const ids = f.updateIds;
      const masks = f.updateMasks;
      const uv = f.updateValues;
      const nUpd = f.nUpdate;
      let vi = 0;
      let ui = 0;
      let next = nUpd > 0 ? ids[0] : -1;
      for (let k = 0; k < nHeld; k++) {
        const e = held[k];
        const c = cls[e];
        if (c === NONE) continue;
        const listed = e === next;
        if (spawnedAt[e] === stamp) continue;
        const ci = classes[c];
        let mask = 0;
        if (listed) {
          mask = masks[ui];
          ui++;
          next = ui < nUpd ? ids[ui] : -1;
        } else if (!ci.hasPredicted) continue;
        vi = applyRow(ci, vals, e * stride, mask, uv, vi, true);
      }
    } else {
      for (let p = 0; p < nParts; p++) {
        const part = f.part(p);
        const ids = part.updateIds;
        const masks = part.updateMasks;
        const uv = part.updateValues;
        let vi = 0;
        for (let ui = 0; ui < part.nUpdate; ui++) {
          const e = ids[ui];
          vi = applyRow(classes[cls[e]], vals, e * stride, masks[ui], uv, vi, predicted);
        }
      }
      if (predicted) {
        // Pieces: the listed entities are done (check marked them); now every other held entity.
        const updatedAt = this.updatedAt;
        for (let k = 0; k < nHeld; k++) {
          const e = held[k];
          const c = cls[e];
          if (c === NONE || spawnedAt[e] === stamp || updatedAt[e] === stamp) continue;
          const ci = classes[c];
          if (ci.hasPredicted) applyRow(ci, vals, e * stride, 0, NO_VALUES, 0, true);
        }
      }
    }
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      for (let i = 0; i < part.nBytes; i++) {
        const id = part.bytesIds[i];
        const ci = classes[cls[id]];
        const fi = ci.fields[part.bytesFields[i]];
        const v = part.bytesValues[i];
        this.bytes[id * bstride + fi.col] = v.length > 0 ? v.slice() : null;
      }
    }
    if (snapshot || nDespawn + nSpawn > 0) this.relist(f, nHeld, snapshot);
    this.tick = f.tick;
    this.lastInputSeq = f.lastInputSeq;
    if (wantEvents) this.emit(despawned, despawnedCls, spawned);
  }

  /**
   * relist rebuilds the ascending list of live ids after a frame changed who is live: the held
   * ids still live and not spawned again, merged with the frame's spawns (all of them after a
   * snapshot). O(held + spawns), plus sorting the spawns of a frame with pieces.
   */
  private relist(f: FrameData, nHeld: number, snapshot: boolean): void {
    let sp: Float64Array = f.spawnIds;
    let ns = f.nSpawn;
    if (f.nPieces > 0) {
      ns = 0;
      for (let p = 0; p <= f.nPieces; p++) ns += f.part(p).nSpawn;
      sp = this.spawnScratch = growF64(this.spawnScratch, ns);
      ns = 0;
      for (let p = 0; p <= f.nPieces; p++) {
        const part = f.part(p);
        sp.set(part.spawnIds.subarray(0, part.nSpawn), ns);
        ns += part.nSpawn;
      }
      sp.subarray(0, ns).sort();
    }
    const old = this.live;
    let out = this.liveSpare;
    if (out.length < this.size) out = new Int32Array(Math.max(this.size, 2 * out.length));
    const cls = this.cls;
    const spawnedAt = this.spawnedAt;
    const stamp = this.stamp;
    let j = 0;
    let k = 0;
    if (!snapshot) {
      for (let i = 0; i < nHeld; i++) {
        const id = old[i];
        if (cls[id] === NONE || spawnedAt[id] === stamp) continue; // gone, or back among the spawns
        while (j < ns && sp[j] < id) out[k++] = sp[j++];
        out[k++] = id;
      }
    }
    while (j < ns) out[k++] = sp[j++];
    this.liveSpare = old;
    this.live = out;
  }

  private emit(despawned: number[], despawnedCls: number[], spawned: number[]): void {
    const classes = this.schema.classes;
    if (this.onDespawn !== null) {
      for (let i = 0; i < despawned.length; i++) this.onDespawn(despawned[i], classes[despawnedCls[i]].name);
    }
    if (this.onSpawn !== null) {
      for (const id of spawned) {
        const e = this.entity(id);
        if (e !== undefined) this.onSpawn(e);
      }
    }
  }

  /**
   * check validates f against the mirror without changing the entities (it may grow arrays). It
   * stamps the ids the frame despawns, spawns and (with pieces) updates, which finds an id named
   * twice across the parts; the stamps of a refused frame are never read again (stamps are per
   * apply).
   */
  private check(f: FrameData): void {
    const base = f.baselineTick;
    const stamp = this.stamp;
    if (f.tick === 0) throw new FrameError("tick 0");
    if (base !== 0 && base !== this.tick) {
      throw new FrameError(`baseline ${base}, mirror holds ${this.tick}`, true);
    }
    if (base !== 0 && f.tick <= base) throw new FrameError(`tick ${f.tick} not after baseline ${base}`);
    const nParts = 1 + f.nPieces;
    const multi = nParts > 1;
    let maxSpawn = 0;
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      if (part.nSpawnClasses !== part.nSpawn) throw new FrameError(`${where(p)}spawn ids and classes differ in length`);
      if (part.nUpdateMasks !== part.nUpdate) throw new FrameError(`${where(p)}update ids and masks differ in length`);
      if (part.nSpawn > 0) maxSpawn = Math.max(maxSpawn, part.spawnIds[part.nSpawn - 1]);
    }
    if (maxSpawn >= MAX_ENTITY_ID) throw new FrameError(`spawn id ${maxSpawn} invalid`);
    if (maxSpawn > 0) this.ensure(maxSpawn + 1);
    const classes = this.schema.classes;
    const cls = this.cls;
    const despawnedAt = this.despawnedAt;
    const spawnedAt = this.spawnedAt;
    const updatedAt = this.updatedAt;
    const live = (id: number): boolean => base !== 0 && id < this.len && cls[id] !== NONE;
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      let prev = 0;
      for (let i = 0; i < part.nDespawn; i++) {
        const id = part.despawnIds[i];
        if ((i > 0 && id <= prev) || !live(id)) throw new FrameError(`${where(p)}despawn of unknown entity ${id}`);
        if (despawnedAt[id] === stamp) throw new FrameError(`${where(p)}entity ${id} despawned twice`);
        despawnedAt[id] = stamp;
        prev = id;
      }
    }
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      let prev = 0;
      let nvals = 0;
      for (let i = 0; i < part.nSpawn; i++) {
        const id = part.spawnIds[i];
        const c = part.spawnClasses[i];
        if (id === 0 || id <= prev || id >= MAX_ENTITY_ID) throw new FrameError(`${where(p)}spawn id ${id} invalid`);
        if (live(id) && despawnedAt[id] !== stamp) throw new FrameError(`${where(p)}spawn of live entity ${id}`);
        if (spawnedAt[id] === stamp) throw new FrameError(`${where(p)}entity ${id} spawned twice`);
        if (c >= classes.length) throw new FrameError(`${where(p)}entity ${id}: unknown class ${c}`);
        spawnedAt[id] = stamp;
        nvals += classes[c].intFields.length;
        prev = id;
      }
      if (nvals !== part.nSpawnValues) throw new FrameError(`${where(p)}spawns need ${nvals} values, frame has ${part.nSpawnValues}`);
    }
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      let prev = 0;
      let nvals = 0;
      for (let i = 0; i < part.nUpdate; i++) {
        const id = part.updateIds[i];
        if ((i > 0 && id <= prev) || !live(id)) throw new FrameError(`${where(p)}update of unknown entity ${id}`);
        if (despawnedAt[id] === stamp) throw new FrameError(`${where(p)}update of entity ${id} despawned by the same frame`);
        if (spawnedAt[id] === stamp) throw new FrameError(`${where(p)}update of entity ${id} spawned by the same frame`);
        if (multi) {
          if (updatedAt[id] === stamp) throw new FrameError(`${where(p)}entity ${id} updated twice`);
          updatedAt[id] = stamp;
        }
        const mask = part.updateMasks[i];
        const ci = classes[cls[id]];
        if (mask === 0 || (mask & ~ci.intMask) !== 0) throw new FrameError(`${where(p)}entity ${id}: bad mask 0x${mask.toString(16)}`);
        nvals += popcount(mask);
        prev = id;
      }
      if (nvals !== part.nUpdateValues) throw new FrameError(`${where(p)}updates need ${nvals} values, frame has ${part.nUpdateValues}`);
    }
    for (let p = 0; p < nParts; p++) {
      const part = f.part(p);
      for (let i = 0; i < part.nBytes; i++) {
        const id = part.bytesIds[i];
        let c: number;
        if (id < spawnedAt.length && spawnedAt[id] === stamp) {
          c = spawnClass(f, id); // spawned by this frame: its class is the frame's
        } else {
          if (!live(id) || despawnedAt[id] === stamp) throw new FrameError(`${where(p)}bytes value for unknown entity ${id}`);
          c = cls[id];
        }
        const fi = classes[c].fields[part.bytesFields[i]];
        if (fi === undefined || fi.kind !== "bytes" || part.bytesValues[i].length > fi.maxLen) {
          throw new FrameError(`${where(p)}entity ${id}: bad bytes field ${part.bytesFields[i]}`);
        }
      }
    }
  }
}

/** where names part p of a frame in an error ("" for the frame's own fields). */
function where(p: number): string {
  return p === 0 ? "" : `piece ${p - 1}: `;
}

/** spawnClass returns the class a checked frame spawns id with (its parts' spawn ids are ascending). */
function spawnClass(f: FrameData, id: number): number {
  for (let p = 0; p <= f.nPieces; p++) {
    const part = f.part(p);
    const i = indexOf(part.spawnIds, part.nSpawn, id);
    if (i >= 0) return part.spawnClasses[i];
  }
  throw new FrameError(`entity ${id} is not among the frame's spawns`);
}

const NO_VALUES = new Int32Array(0);

/**
 * applyRow applies one entity's listed differences (mask, values from uv[vi]) to its row and,
 * on a t-1 frame, advances its predicted fields. It returns the index after its values.
 * Non-predicted fields first: predicted ones read the new velocity.
 */
function applyRow(ci: ClassInfo, vals: Int32Array, base: number, mask: number, uv: Int32Array, vi: number, predicted: boolean): number {
  const idx = ci.intIndex;
  const pf = ci.predictFrom;
  const n = idx.length;
  let k = vi;
  if (mask !== 0) {
    for (let col = 0; col < n; col++) {
      if ((mask & (1 << idx[col])) === 0) continue;
      if (!predicted || pf[col] < 0) vals[base + col] = (vals[base + col] + uv[k]) | 0;
      k++;
    }
  }
  if (predicted && ci.hasPredicted) {
    let j = vi;
    for (let col = 0; col < n; col++) {
      let d = 0;
      if ((mask & (1 << idx[col])) !== 0) d = uv[j++];
      const src = pf[col];
      if (src >= 0) {
        vals[base + col] = (predictValue(vals[base + col], vals[base + src], ci.predictNum[col], ci.predictDen[col]) + d) | 0;
      }
    }
  }
  return k;
}

function indexOf(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else if (a[mid] > v) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/** popcount counts the set bits of a uint32. */
export function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

interface ValueSource {
  vals: Int32Array;
  bytes: (Uint8Array | null)[];
}

function fieldValue(f: FieldInfo, src: ValueSource, id: number, stride: number, bstride: number): FieldValue {
  if (f.kind === "bytes") return src.bytes[id * bstride + f.col];
  const v = src.vals[id * stride + f.col];
  if (f.kind === "fixed") return v / f.scale;
  if (f.kind === "bool") return v !== 0;
  return v;
}

/** entityProto builds the prototype of a class's entity views: one getter per field. */
function entityProto(ci: ClassInfo, stride: number, bstride: number): object {
  const proto: PropertyDescriptorMap = {
    id: {
      get(this: ViewInternals) {
        return this.i;
      },
    },
    className: { value: ci.name },
  };
  for (const f of ci.fields) {
    proto[f.name] = {
      enumerable: true,
      get(this: ViewInternals) {
        return fieldValue(f, this.m, this.i, stride, bstride);
      },
    };
  }
  return Object.create(Object.prototype, proto) as object;
}
