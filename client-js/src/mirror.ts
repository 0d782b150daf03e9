// The state mirror: a client's copy of the room's state, kept by applying frames as the contract
// says (docs/protocol.md, "Applying a frame"). Values are stored as int32 by id in one typed array, so
// the hash is bit-identical to the server's; entities are read through named, de-quantized views.

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
  private stamp = 0;
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
    const out: number[] = [];
    for (let id = 1; id < this.len; id++) if (this.cls[id] !== NONE) out.push(id);
    return out;
  }

  /** forEach calls fn for each live entity, ascending by id. */
  forEach(fn: (e: Entity) => void): void {
    for (let id = 1; id < this.len; id++) {
      if (this.cls[id] !== NONE) fn(this.entity(id) as Entity);
    }
  }

  /** findOwned returns the id of the live entity whose owner field equals player, or 0. */
  findOwned(player: number): number {
    if (player === 0) return 0;
    const classes = this.schema.classes;
    for (let id = 1; id < this.len; id++) {
      const c = this.cls[id];
      if (c === NONE) continue;
      const oc = classes[c].ownerCol;
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
    let size = 0;
    for (let id = 1; id < this.len; id++) {
      const c = this.cls[id];
      if (c === NONE) continue;
      const ci = classes[c];
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
    for (let id = 1; id < this.len; id++) {
      const c = this.cls[id];
      if (c === NONE) continue;
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
   * apply applies one decoded frame. A frame that does not fit (baseline not held, bad ids,
   * wrong value counts) throws FrameError and changes nothing.
   */
  apply(f: FrameData): void {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      this.despawnedAt.fill(0);
      this.spawnedAt.fill(0);
      this.stamp = 1;
    }
    this.check(f);
    const stamp = this.stamp;
    const cls = this.cls;
    const classes = this.schema.classes;
    const stride = this.stride;
    const bstride = this.bstride;
    const vals = this.vals;
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
      for (let id = 1; id < this.len; id++) {
        if (cls[id] !== NONE) this.despawnedAt[id] = stamp;
      }
    }
    for (let i = 0; i < f.nDespawn; i++) {
      const id = f.despawnIds[i];
      if (wantEvents) {
        despawned.push(id);
        despawnedCls.push(cls[id]);
      }
      cls[id] = NONE;
      this.views[id] = undefined;
      this.size--;
    }
    let si = 0;
    for (let i = 0; i < f.nSpawn; i++) {
      const id = f.spawnIds[i];
      const c = f.spawnClasses[i];
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
      this.spawnedAt[id] = stamp;
      vals.set(f.spawnValues.subarray(si, si + n), id * stride);
      si += n;
      for (let b = 0; b < bstride; b++) this.bytes[id * bstride + b] = null;
      if (id >= this.len) this.len = id + 1;
    }
    if (snapshot) {
      let n = 0;
      for (let id = 1; id < this.len; id++) {
        if (cls[id] === NONE) continue;
        if (this.despawnedAt[id] === stamp) {
          if (wantEvents) {
            despawned.push(id);
            despawnedCls.push(cls[id]);
          }
          cls[id] = NONE;
          this.views[id] = undefined;
        } else n++;
      }
      this.size = n;
    } else {
      this.size += f.nSpawn;
    }

    const predicted = f.baselineTick !== 0 && f.baselineTick + 1 === f.tick;
    const ids = f.updateIds;
    const masks = f.updateMasks;
    const uv = f.updateValues;
    const nUpd = f.nUpdate;
    let vi = 0;
    if (predicted) {
      let ui = 0;
      let next = nUpd > 0 ? ids[0] : -1;
      const spawnedAt = this.spawnedAt;
      for (let e = 1; e < this.len; e++) {
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
      for (let ui = 0; ui < nUpd; ui++) {
        const e = ids[ui];
        vi = applyRow(classes[cls[e]], vals, e * stride, masks[ui], uv, vi, false);
      }
    }
    for (let i = 0; i < f.nBytes; i++) {
      const id = f.bytesIds[i];
      const ci = classes[cls[id]];
      const fi = ci.fields[f.bytesFields[i]];
      const v = f.bytesValues[i];
      this.bytes[id * bstride + fi.col] = v.length > 0 ? v.slice() : null;
    }
    this.tick = f.tick;
    this.lastInputSeq = f.lastInputSeq;
    if (wantEvents) this.emit(despawned, despawnedCls, spawned);
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

  /** check validates f against the mirror without changing the entities (it may grow arrays). */
  private check(f: FrameData): void {
    const base = f.baselineTick;
    const stamp = this.stamp;
    if (f.tick === 0) throw new FrameError("tick 0");
    if (base !== 0 && base !== this.tick) {
      throw new FrameError(`baseline ${base}, mirror holds ${this.tick}`, true);
    }
    if (base !== 0 && f.tick <= base) throw new FrameError(`tick ${f.tick} not after baseline ${base}`);
    if (f.nSpawnClasses !== f.nSpawn) throw new FrameError("spawn ids and classes differ in length");
    if (f.nUpdateMasks !== f.nUpdate) throw new FrameError("update ids and masks differ in length");
    const classes = this.schema.classes;
    const cls = this.cls;
    const live = (id: number): boolean => base !== 0 && id < this.len && cls[id] !== NONE;
    let prev = 0;
    for (let i = 0; i < f.nDespawn; i++) {
      const id = f.despawnIds[i];
      if ((i > 0 && id <= prev) || !live(id)) throw new FrameError(`despawn of unknown entity ${id}`);
      prev = id;
    }
    // Mark despawns only once all are known good: marks of a refused frame must not linger
    // (stamps are per apply, so an aborted apply's marks are never read again anyway).
    for (let i = 0; i < f.nDespawn; i++) this.despawnedAt[f.despawnIds[i]] = stamp;
    if (f.nSpawn > 0) {
      const last = f.spawnIds[f.nSpawn - 1];
      if (last >= MAX_ENTITY_ID) throw new FrameError(`spawn id ${last} invalid`);
      this.ensure(last + 1);
    }
    prev = 0;
    let nvals = 0;
    for (let i = 0; i < f.nSpawn; i++) {
      const id = f.spawnIds[i];
      const c = f.spawnClasses[i];
      if (id === 0 || id <= prev || id >= MAX_ENTITY_ID) throw new FrameError(`spawn id ${id} invalid`);
      if (live(id) && this.despawnedAt[id] !== stamp) throw new FrameError(`spawn of live entity ${id}`);
      if (c >= classes.length) throw new FrameError(`entity ${id}: unknown class ${c}`);
      this.spawnedAt[id] = stamp;
      nvals += classes[c].intFields.length;
      prev = id;
    }
    if (nvals !== f.nSpawnValues) throw new FrameError(`spawns need ${nvals} values, frame has ${f.nSpawnValues}`);
    prev = 0;
    nvals = 0;
    for (let i = 0; i < f.nUpdate; i++) {
      const id = f.updateIds[i];
      if ((i > 0 && id <= prev) || !live(id) || this.despawnedAt[id] === stamp) {
        throw new FrameError(`update of unknown entity ${id}`);
      }
      if (this.spawnedAt[id] === stamp) throw new FrameError(`update of entity ${id} spawned by the same frame`);
      const mask = f.updateMasks[i];
      const ci = classes[cls[id]];
      if (mask === 0 || (mask & ~ci.intMask) !== 0) throw new FrameError(`entity ${id}: bad mask 0x${mask.toString(16)}`);
      nvals += popcount(mask);
      prev = id;
    }
    if (nvals !== f.nUpdateValues) throw new FrameError(`updates need ${nvals} values, frame has ${f.nUpdateValues}`);
    for (let i = 0; i < f.nBytes; i++) {
      const id = f.bytesIds[i];
      let c: number;
      if (id < this.spawnedAt.length && this.spawnedAt[id] === stamp) {
        // Spawned by this frame: its class is the frame's.
        c = f.spawnClasses[indexOf(f.spawnIds, f.nSpawn, id)];
      } else {
        if (!live(id) || this.despawnedAt[id] === stamp) throw new FrameError(`bytes value for unknown entity ${id}`);
        c = cls[id];
      }
      const fi = classes[c].fields[f.bytesFields[i]];
      if (fi === undefined || fi.kind !== "bytes" || f.bytesValues[i].length > fi.maxLen) {
        throw new FrameError(`entity ${id}: bad bytes field ${f.bytesFields[i]}`);
      }
    }
  }
}

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
