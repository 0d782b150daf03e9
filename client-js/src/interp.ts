// Interpolation: entities the client does not predict are drawn a little in the past (by
// default two ticks), between the two frames around that moment, so motion stays smooth when
// frames arrive unevenly or ticks are skipped. Only fields marked "interpolate" are smoothed;
// the others take the value of the older frame.

import type { FieldValue, Mirror } from "./mirror.js";
import type { ClassInfo, FieldInfo } from "./schema.js";

const NONE = 0xffff;

/** Snap is one recorded state: rows by id like the mirror's (cls NONE where absent), and the ids present. */
interface Snap {
  tick: number;
  len: number;
  cls: Uint16Array;
  gen: Uint32Array;
  vals: Int32Array;
  bytes: (Uint8Array | null)[];
  /** ids[0..n) are the ids present, ascending: cls is NONE at every other id. */
  ids: Int32Array;
  n: number;
}

/** InterpolatedEntity is a view of an entity as drawn at the render tick (same shape as Entity). */
export type InterpolatedEntity = {
  readonly id: number;
  readonly className: string;
  readonly [field: string]: FieldValue | string;
};

/** InterpolatorOptions configures an Interpolator. */
export interface InterpolatorOptions {
  /** delayTicks is how far behind the newest estimated server tick to draw (default 2). */
  delayTicks?: number;
  /** capacity is how many past frames are kept (default 16). */
  capacity?: number;
}

/** Interpolator keeps recent states of a mirror and samples them at a fractional tick. */
export class Interpolator {
  readonly delayTicks: number;
  private readonly mirror: Mirror;
  private readonly ring: Snap[] = [];
  private head = 0; // index of the next slot to write
  private count = 0;
  private a: Snap | null = null;
  private b: Snap | null = null;
  private alpha = 0;
  private readonly stride: number;
  private readonly bstride: number;
  private readonly protos: object[];
  private readonly views = new Map<number, InterpolatedEntity>();
  // Tick clock: estimated server tick = now * rate / 1000 + offset.
  private offset = 0;
  private hasOffset = false;
  private tickRate = 20;

  constructor(mirror: Mirror, opts: InterpolatorOptions = {}) {
    this.mirror = mirror;
    this.delayTicks = opts.delayTicks ?? 2;
    const cap = Math.max(2, opts.capacity ?? 16);
    this.stride = mirror.schema.stride;
    this.bstride = mirror.schema.bstride;
    for (let i = 0; i < cap; i++) {
      this.ring.push({ tick: 0, len: 0, cls: new Uint16Array(0), gen: new Uint32Array(0), vals: new Int32Array(0), bytes: [], ids: new Int32Array(0), n: 0 });
    }
    this.protos = mirror.schema.classes.map((c) => viewProto(c));
  }

  /** reset forgets every recorded state (after a full snapshot that is not continuous). */
  reset(): void {
    this.count = 0;
    this.head = 0;
    this.a = this.b = null;
    this.hasOffset = false;
  }

  /**
   * record keeps the mirror's current state (call it after each applied frame). nowMs and
   * tickRate, when given, feed the clock that maps local time to server ticks.
   */
  record(nowMs?: number, tickRate?: number): void {
    const m = this.mirror;
    if (this.count > 0 && this.newest().tick >= m.tick) this.reset(); // time went back: a resync
    const s = this.ring[this.head];
    const stride = this.stride;
    const bstride = this.bstride;
    const n = m.size;
    const live = m.live;
    if (s.cls.length < m.len) {
      const cap = m.cls.length;
      s.cls = new Uint16Array(cap).fill(NONE);
      s.gen = new Uint32Array(cap);
      s.vals = new Int32Array(cap * stride);
      s.bytes = new Array<Uint8Array | null>(cap * bstride).fill(null);
      s.n = 0;
    }
    if (2 * n >= m.len) {
      // Dense (the whole world): copy the rows wholesale, and forget ids past the mirror's.
      s.cls.set(m.cls.subarray(0, m.len));
      if (s.len > m.len) s.cls.fill(NONE, m.len, s.len);
      s.gen.set(m.gen.subarray(0, m.len));
      s.vals.set(m.vals.subarray(0, m.len * stride));
      for (let i = 0; i < m.len * bstride; i++) s.bytes[i] = m.bytes[i];
    } else {
      // Sparse (a view of a big world): forget the ids this slot held, copy the live rows only,
      // so the cost is the entities held, not the highest id.
      const cls = s.cls;
      const gen = s.gen;
      const vals = s.vals;
      const mvals = m.vals;
      const held = s.ids;
      for (let k = 0; k < s.n; k++) cls[held[k]] = NONE;
      for (let k = 0; k < n; k++) {
        const id = live[k];
        cls[id] = m.cls[id];
        gen[id] = m.gen[id];
        const b = id * stride;
        for (let c = b; c < b + stride; c++) vals[c] = mvals[c];
        for (let c = id * bstride; c < (id + 1) * bstride; c++) s.bytes[c] = m.bytes[c];
      }
    }
    if (s.ids.length < n) s.ids = new Int32Array(live.length);
    s.ids.set(live.subarray(0, n));
    s.n = n;
    s.tick = m.tick;
    s.len = m.len;
    this.head = (this.head + 1) % this.ring.length;
    this.count = Math.min(this.count + 1, this.ring.length);
    if (nowMs !== undefined) this.observe(m.tick, nowMs, tickRate ?? this.tickRate);
  }

  /** observe feeds the tick clock: tick arrived at nowMs. */
  observe(tick: number, nowMs: number, tickRate: number): void {
    this.tickRate = tickRate;
    const sample = tick - (nowMs * tickRate) / 1000;
    // Late frames pull the estimate back slowly; a jump of more than 4 ticks (a pause, a
    // resync) snaps it.
    if (!this.hasOffset || Math.abs(sample - this.offset) > 4) {
      this.offset = sample;
      this.hasOffset = true;
    } else {
      this.offset += (sample - this.offset) * 0.1;
    }
  }

  /** renderTickAt returns the (fractional) tick to draw at local time nowMs. */
  renderTickAt(nowMs: number): number {
    if (!this.hasOffset) return this.count > 0 ? this.newest().tick : 0;
    return (nowMs * this.tickRate) / 1000 + this.offset - this.delayTicks;
  }

  /** sample chooses the states around local time nowMs (see renderTickAt) and returns the tick. */
  sample(nowMs: number): number {
    const t = this.renderTickAt(nowMs);
    this.at(t);
    return t;
  }

  /** at chooses the states around the fractional tick t; later reads interpolate at t. */
  at(t: number): void {
    this.a = this.b = null;
    this.alpha = 0;
    if (this.count === 0) return;
    // Newest to oldest: a is the newest state at or before t, b the one after it.
    let after: Snap | null = null;
    for (let i = 0; i < this.count; i++) {
      const s = this.ring[(this.head - 1 - i + this.ring.length) % this.ring.length];
      if (s.tick <= t) {
        this.a = s;
        this.b = after;
        if (after !== null) this.alpha = (t - s.tick) / (after.tick - s.tick);
        return;
      }
      after = s;
    }
    this.a = after; // t is before the oldest state: draw the oldest
  }

  /** renderTick is the tick of the older state in use, plus the fraction towards the next. */
  get renderTick(): number {
    if (this.a === null) return 0;
    return this.b === null ? this.a.tick : this.a.tick + this.alpha * (this.b.tick - this.a.tick);
  }

  private newest(): Snap {
    return this.ring[(this.head - 1 + this.ring.length) % this.ring.length];
  }

  /** has reports whether entity id exists at the render tick. */
  has(id: number): boolean {
    const a = this.a;
    return a !== null && id > 0 && id < a.len && a.cls[id] !== NONE;
  }

  /** value returns field f of entity id at the render tick (undefined when it is not there). */
  value(id: number, f: FieldInfo): FieldValue | undefined {
    const a = this.a;
    if (a === null || id <= 0 || id >= a.len || a.cls[id] === NONE) return undefined;
    if (f.kind === "bytes") return a.bytes[id * this.bstride + f.col] ?? null;
    let v = a.vals[id * this.stride + f.col];
    const b = this.b;
    if (f.interpolate && b !== null && id < b.len && b.cls[id] === a.cls[id] && b.gen[id] === a.gen[id]) {
      const d = (b.vals[id * this.stride + f.col] - v) | 0; // shortest way round int32
      v += d * this.alpha;
    }
    if (f.kind === "fixed") return v / f.scale;
    if (f.kind === "bool") return v !== 0;
    return v;
  }

  /** entity returns a view of entity id at the render tick, or undefined when it is not there. */
  entity(id: number): InterpolatedEntity | undefined {
    if (!this.has(id)) return undefined;
    const c = (this.a as Snap).cls[id];
    let v = this.views.get(id);
    if (v === undefined || v.className !== this.mirror.schema.classes[c].name) {
      const o = Object.create(this.protos[c]) as { ip: Interpolator; i: number };
      Object.defineProperties(o, { ip: { value: this }, i: { value: id } });
      v = o as unknown as InterpolatedEntity;
      this.views.set(id, v);
    }
    return v;
  }

  /** ids returns the ids present at the render tick, ascending. */
  ids(): number[] {
    const out: number[] = [];
    const a = this.a;
    if (a !== null) for (let k = 0; k < a.n; k++) out.push(a.ids[k]);
    return out;
  }
}

function viewProto(ci: ClassInfo): object {
  const proto: PropertyDescriptorMap = {
    id: {
      get(this: { i: number }) {
        return this.i;
      },
    },
    className: { value: ci.name },
  };
  for (const f of ci.fields) {
    proto[f.name] = {
      enumerable: true,
      get(this: { ip: Interpolator; i: number }) {
        return this.ip.value(this.i, f);
      },
    };
  }
  return Object.create(Object.prototype, proto) as object;
}
