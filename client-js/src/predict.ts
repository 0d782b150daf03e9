// Client-side prediction of the player's own entity. The game supplies a step that applies one
// input to the entity's int32 row, the way the server's game does for one tick. When a frame
// arrives, the predictor starts again from the authoritative row, drops the inputs the frame
// says were applied (last_input_seq) and replays the rest on top.

import type { FieldValue, Mirror } from "./mirror.js";
import type { ClassInfo, FieldInfo, Schema } from "./schema.js";

/** PredictContext tells a predict step what it works on. */
export interface PredictContext {
  /** cls is the class of the predicted entity; cls.byName.get("x").col is x's column. */
  readonly cls: ClassInfo;
  readonly schema: Schema;
  /** tickRate is the room's ticks per second. */
  readonly tickRate: number;
  /**
   * mirror is the authoritative state the Predictor last reconciled against (a Predictor sets
   * it in reconcile; checkPredict passes the state at the tick before), for what the step reads
   * beyond its own row: a match phase, another entity. Read it, never change it. Absent when
   * the step runs outside a Predictor or checkPredict.
   */
  readonly mirror?: Mirror;
}

/**
 * PredictStep advances the predicted entity by one input (one tick): row holds the entity's
 * int columns (fixed-point integers, schema order among non-bytes fields) and is updated in
 * place; input holds the input's int32 values in input-schema order.
 */
export type PredictStep = (row: Int32Array, input: Int32Array, ctx: PredictContext) => void;

interface Pending {
  seq: number;
  values: Int32Array;
}

/** Predictor keeps the own entity's predicted state and the inputs not yet acknowledged. */
export class Predictor {
  /** entityId is the predicted entity, 0 when the player has none. */
  entityId = 0;
  /** row is the predicted int columns of the entity. */
  readonly row: Int32Array;
  /** maxPending bounds the unacknowledged inputs kept (the oldest go first). */
  readonly maxPending: number;
  private readonly schema: Schema;
  private readonly step: PredictStep | null;
  private pending: Pending[] = [];
  private ctx: PredictContext | null = null;
  private tickRate: number;

  constructor(schema: Schema, step: PredictStep | null, opts: { maxPending?: number; tickRate?: number } = {}) {
    this.schema = schema;
    this.step = step;
    this.row = new Int32Array(schema.stride);
    this.maxPending = opts.maxPending ?? 128;
    this.tickRate = opts.tickRate ?? 20;
  }

  /** pendingSeqs returns the seqs of the inputs not yet acknowledged, oldest first. */
  pendingSeqs(): number[] {
    return this.pending.map((p) => p.seq);
  }

  /** addInput records an input just sent and applies it to the predicted state. */
  addInput(seq: number, values: Int32Array): void {
    const p = { seq, values: values.slice() };
    this.pending.push(p);
    if (this.pending.length > this.maxPending) this.pending.shift();
    if (this.entityId !== 0 && this.step !== null && this.ctx !== null) this.step(this.row, p.values, this.ctx);
  }

  /**
   * reconcile restarts from the mirror's authoritative state of the entity player owns: drops
   * the inputs up to the mirror's last input seq and replays the others.
   */
  reconcile(mirror: Mirror, player: number): void {
    const acked = mirror.lastInputSeq;
    let drop = 0;
    while (drop < this.pending.length && this.pending[drop].seq <= acked) drop++;
    if (drop > 0) this.pending.splice(0, drop);
    let id = this.entityId;
    const c = id !== 0 ? mirror.classOf(id) : undefined;
    if (c === undefined || c.ownerCol < 0 || mirror.raw(id, c.ownerCol) !== (player | 0)) id = mirror.findOwned(player);
    this.entityId = id;
    if (id === 0) {
      this.ctx = null;
      return;
    }
    const cls = mirror.classOf(id) as ClassInfo;
    if (this.ctx === null || this.ctx.cls !== cls || this.ctx.mirror !== mirror) this.ctx = { cls, schema: this.schema, tickRate: this.tickRate, mirror };
    mirror.row(id, this.row);
    if (this.step === null) return;
    for (const p of this.pending) this.step(this.row, p.values, this.ctx);
  }

  /** setTickRate sets the tick rate passed to the step. */
  setTickRate(hz: number): void {
    this.tickRate = hz;
    if (this.ctx !== null) this.ctx = { ...this.ctx, tickRate: hz };
  }

  /** value returns a predicted field of the own entity (undefined without one; bytes fields read the mirror). */
  value(f: FieldInfo, mirror?: Mirror): FieldValue | undefined {
    if (this.entityId === 0) return undefined;
    if (f.kind === "bytes") return mirror?.rawBytes(this.entityId, f.col) ?? null;
    const v = this.row[f.col];
    if (f.kind === "fixed") return v / f.scale;
    if (f.kind === "bool") return v !== 0;
    return v;
  }

  /** reset drops the pending inputs and the predicted entity. */
  reset(): void {
    this.pending.length = 0;
    this.entityId = 0;
    this.ctx = null;
  }
}
