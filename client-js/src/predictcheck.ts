// Checking a game's predict step against its Go Step: checkPredict replays predict vectors
// (recorded by the game's Go test with sim/simtest.PredictVectors) through the step, tick by
// tick, and reports the first field where the step and the server disagree.

import { fromBinary } from "@bufbuild/protobuf";
import { HandDecoder } from "./decode.js";
import { InputSchemaSchema, StateSchemaSchema } from "./gen/ticksync/v1/schema_pb.js";
import { Mirror } from "./mirror.js";
import type { PredictContext, PredictStep } from "./predict.js";
import { compileSchema, dequantize } from "./schema.js";
import type { ClassInfo, FieldInfo, Schema } from "./schema.js";

/** PREDICT_VECTORS_FORMAT is the format checkPredict reads (simtest.PredictVectorsFormat). */
export const PREDICT_VECTORS_FORMAT = "ticksync-predict-vectors/1";

/** PredictVectors is a predict vectors file (JSON): one game, one or more scripted matches. */
export interface PredictVectors {
  readonly format: string;
  readonly game: string;
  readonly matches: readonly PredictVectorsMatch[];
}

/** PredictVectorsMatch is one recorded match. */
export interface PredictVectorsMatch {
  readonly name: string;
  /** tick_rate is the match's ticks per second (the step's ctx.tickRate). */
  readonly tick_rate: number;
  readonly seed: number;
  readonly config: string;
  /** state_schema and input_schema are the welcome's schemas: protobuf, base64. */
  readonly state_schema: string;
  readonly input_schema: string;
  /** ticks are consecutive, from tick 1. */
  readonly ticks: readonly PredictVectorsTick[];
}

/** PredictVectorsTick is one tick of a match. */
export interface PredictVectorsTick {
  readonly tick: number;
  /** frame is the ServerMessage a client receives for this tick (base64): a full snapshot at the first tick, then a delta from the tick before. */
  readonly frame: string;
  /** players are the players seated at this tick. */
  readonly players: readonly PredictVectorsPlayer[];
}

/** PredictVectorsPlayer is what one player's entity got at one tick. */
export interface PredictVectorsPlayer {
  readonly player: number;
  /** entity is the entity the player owns after the tick (0: none). */
  readonly entity: number;
  /** inputs are the move values the server applied for the player at this tick, clamped, in input-schema order. */
  readonly inputs: readonly (readonly number[])[];
  /** note names something Step did to the entity that a step cannot know (a respawn, a kill). */
  readonly note?: string;
}

/** CheckPredictOptions tunes checkPredict. */
export interface CheckPredictOptions {
  /**
   * fields are the int fields compared (by name), those the step predicts: a step need not
   * predict what others do to the entity (hp lost to their shots). Default: every int field of
   * the entity's class. A name the class lacks, or a bytes field, is an error.
   */
  readonly fields?: readonly string[];
}

/** Mismatch is the first field where the step and the Go Step disagree. */
export interface Mismatch {
  readonly match: string;
  readonly tick: number;
  readonly player: number;
  readonly entity: number;
  readonly field: string;
  /** go and ts are the field's wire values (fixed-point integers) after the tick. */
  readonly go: number;
  readonly ts: number;
  /** before is the entity's int columns at the tick before; input the input the step got. */
  readonly before: readonly number[];
  readonly input: readonly number[];
  /** message says it in one line: "20hz: tick 37, player 2, entity 5, field x: Go 12.34, TS 12.35 (raw 1234, 1235)". */
  readonly message: string;
}

/** PredictCheck is what checkPredict found. */
export interface PredictCheck {
  /** mismatch is the first disagreement, null when the step agreed on every compared tick. */
  readonly mismatch: Mismatch | null;
  /** compared counts the player ticks compared (up to the mismatch, if any). */
  readonly compared: number;
  /** skipped counts the player ticks not compared; skips counts them by reason. */
  readonly skipped: number;
  readonly skips: Readonly<Record<string, number>>;
}

/** PredictVectorsError reports a vectors file checkPredict cannot read or replay. */
export class PredictVectorsError extends Error {
  override name = "PredictVectorsError";
}

/**
 * checkPredict runs a predict step over predict vectors (the parsed JSON of the file) and
 * returns the first mismatch, with how many player ticks it compared and skipped.
 *
 * One tick t of one player is what a client's Predictor does with one input: the entity's
 * authoritative row at tick t-1 (from the frames, decoded and applied to a Mirror as a client
 * does), the step applied once with the input the server applied at tick t, compared with the
 * authoritative row at tick t. The step's ctx is the entity's class, the schema, the match's
 * tick rate and ctx.mirror, the mirror at tick t-1 (other entities: a match phase, walls).
 *
 * A player tick is skipped, and counted under its reason, when the step cannot know what the
 * Go side did: "spawn" (no entity at t-1), "despawn" (no entity at t), "no entity" (none at
 * either), "entity changed" (another entity, or the same id despawned and spawned again), the
 * vectors' note for that player and tick ("respawn", "killed": what the game's Go test noted),
 * "no input" and "several inputs" (a Predictor steps once per input, the server once per tick).
 *
 * It throws PredictVectorsError when the vectors are malformed or do not replay (a frame that
 * does not apply, a state hash that differs, an entity the player does not own), and Error when
 * opts.fields names a field the entity's class lacks.
 */
export function checkPredict(vectors: unknown, step: PredictStep, opts: CheckPredictOptions = {}): PredictCheck {
  const v = parseVectors(vectors);
  const skips: Record<string, number> = {};
  const count = { compared: 0, skipped: 0 };
  const skip = (reason: string) => {
    skips[reason] = (skips[reason] ?? 0) + 1;
    count.skipped++;
  };
  for (const m of v.matches) {
    const mismatch = checkMatch(m, step, opts, skip, count);
    if (mismatch !== null) return { mismatch, ...count, skips };
  }
  return { mismatch: null, ...count, skips };
}

/** checkMatch replays one match; skip and count collect the tallies. */
function checkMatch(m: PredictVectorsMatch, step: PredictStep, opts: CheckPredictOptions, skip: (reason: string) => void, count: { compared: number }): Mismatch | null {
  const where = `match ${m.name}`;
  let schema: Schema;
  try {
    schema = compileSchema(fromBinary(StateSchemaSchema, base64(m.state_schema, `${where}: state_schema`)), fromBinary(InputSchemaSchema, base64(m.input_schema, `${where}: input_schema`)));
  } catch (e) {
    if (e instanceof PredictVectorsError) throw e;
    throw new PredictVectorsError(`predict vectors: ${where}: schema: ${e instanceof Error ? e.message : String(e)}`);
  }
  const mirror = new Mirror(schema);
  const dec = new HandDecoder();
  const ctxs = new Map<ClassInfo, PredictContext>();
  const compared = new Map<ClassInfo, readonly FieldInfo[]>();
  const row = new Int32Array(schema.stride);
  let owned = new Map<number, number>(); // player → entity at the tick before
  for (const t of m.ticks) {
    const at = `${where}: tick ${t.tick}`;
    // Predict from the mirror at t-1, then apply tick t's frame and compare.
    const predicted: (Prediction | string)[] = []; // by player: the step's row, or why not
    const gens: number[] = [];
    for (const p of t.players) {
      if (p.inputs.some((i) => i.length !== schema.input.length)) {
        throw new PredictVectorsError(`predict vectors: ${at}: player ${p.player}: an input of the wrong length (the input schema has ${schema.input.length} fields)`);
      }
      const before = owned.get(p.player) ?? 0;
      gens.push(before !== 0 ? mirror.gen[before] : 0);
      const reason = skipReason(before, p);
      if (reason !== null) {
        predicted.push(reason);
        continue;
      }
      const cls = mirror.classOf(before) as ClassInfo;
      let ctx = ctxs.get(cls);
      if (ctx === undefined) {
        ctx = { cls, schema, tickRate: m.tick_rate, mirror };
        ctxs.set(cls, ctx);
      }
      row.fill(0);
      mirror.row(before, row);
      const prev = Array.from(row.subarray(0, cls.intFields.length));
      step(row, Int32Array.from(p.inputs[0]), ctx);
      predicted.push({ before: prev, row: row.slice() });
    }
    applyFrame(mirror, dec, t, at);
    const next = new Map<number, number>();
    for (let i = 0; i < t.players.length; i++) {
      const p = t.players[i];
      if (p.entity !== 0) {
        const c = mirror.classOf(p.entity);
        if (c === undefined || c.ownerCol < 0 || mirror.raw(p.entity, c.ownerCol) !== (p.player | 0)) {
          throw new PredictVectorsError(`predict vectors: ${at}: player ${p.player}: entity ${p.entity} is not a live entity it owns`);
        }
        next.set(p.player, p.entity);
      }
      let got = predicted[i];
      if (typeof got !== "string" && mirror.gen[p.entity] !== gens[i]) got = "entity changed";
      if (typeof got === "string") {
        skip(got);
        continue;
      }
      count.compared++;
      const cls = mirror.classOf(p.entity) as ClassInfo;
      let fields = compared.get(cls);
      if (fields === undefined) {
        fields = fieldsOf(cls, opts);
        compared.set(cls, fields);
      }
      for (const f of fields) {
        const want = mirror.raw(p.entity, f.col);
        if (got.row[f.col] === want) continue;
        const show = (x: number) => String(dequantize(f, x));
        const ts = got.row[f.col];
        const raw = f.kind === "fixed" ? ` (raw ${want}, ${ts})` : "";
        return {
          match: m.name,
          tick: t.tick,
          player: p.player,
          entity: p.entity,
          field: f.name,
          go: want,
          ts,
          before: got.before,
          input: [...p.inputs[0]],
          message: `${m.name}: tick ${t.tick}, player ${p.player}, entity ${p.entity}, field ${f.name}: Go ${show(want)}, TS ${show(ts)}${raw}`,
        };
      }
    }
    owned = next;
  }
  return null;
}

/** Prediction is the step's row for one player tick, and the row it started from. */
interface Prediction {
  before: number[];
  row: Int32Array;
}

/** skipReason says why a player tick cannot be checked before its frame is applied, or null. */
function skipReason(before: number, p: PredictVectorsPlayer): string | null {
  if (p.entity === 0) return before !== 0 ? "despawn" : "no entity";
  if (before === 0) return "spawn";
  if (before !== p.entity) return "entity changed";
  if (p.note !== undefined && p.note !== "") return p.note;
  if (p.inputs.length === 0) return "no input";
  if (p.inputs.length > 1) return "several inputs";
  return null;
}

/** applyFrame decodes tick t's frame, applies it and checks the state hash it carries. */
function applyFrame(mirror: Mirror, dec: HandDecoder, t: PredictVectorsTick, at: string): void {
  try {
    const d = dec.decode(base64(t.frame, `${at}: frame`));
    if (d.kind !== "frame") throw new Error("not a frame");
    const f = d.frame;
    if (f.tick !== t.tick) throw new Error(`the frame is of tick ${f.tick}`);
    mirror.apply(f);
    if (f.hasViewHash) {
      const h = mirror.hash();
      if (h.hi !== f.viewHashHi || h.lo !== f.viewHashLo) throw new Error("the mirror's state hash differs from the frame's");
    }
  } catch (e) {
    if (e instanceof PredictVectorsError) throw e;
    throw new PredictVectorsError(`predict vectors: ${at}: frame: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** fieldsOf resolves opts.fields in cls (default: every int field). */
function fieldsOf(cls: ClassInfo, opts: CheckPredictOptions): readonly FieldInfo[] {
  if (opts.fields === undefined) return cls.intFields;
  return opts.fields.map((name) => {
    const f = cls.byName.get(name);
    if (f === undefined || f.kind === "bytes") throw new Error(`checkPredict: class ${cls.name} has no int field ${JSON.stringify(name)}`);
    return f;
  });
}

/** base64 decodes standard base64 (what Go's encoding/json writes for bytes). */
function base64(s: string, what: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw new PredictVectorsError(`predict vectors: ${what}: not base64`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** parseVectors checks the shape of a vectors file and returns it typed. */
function parseVectors(v: unknown): PredictVectors {
  const root = object(v, "the file");
  const format = field(root, "format", "string", "the file");
  if (format !== PREDICT_VECTORS_FORMAT) throw new PredictVectorsError(`predict vectors: format ${JSON.stringify(format)}, want ${JSON.stringify(PREDICT_VECTORS_FORMAT)}`);
  field(root, "game", "string", "the file");
  const matches = list(root, "matches", "the file");
  if (matches.length === 0) throw new PredictVectorsError("predict vectors: no matches");
  matches.forEach((mv, mi) => {
    const mp = `matches[${mi}]`;
    const m = object(mv, mp);
    field(m, "name", "string", mp);
    const hz = field(m, "tick_rate", "number", mp);
    if (!Number.isInteger(hz) || hz < 1) throw new PredictVectorsError(`predict vectors: ${mp}.tick_rate: ${hz} is not a tick rate`);
    field(m, "state_schema", "string", mp);
    field(m, "input_schema", "string", mp);
    const ticks = list(m, "ticks", mp);
    ticks.forEach((tv, ti) => {
      const tp = `${mp}.ticks[${ti}]`;
      const t = object(tv, tp);
      if (field(t, "tick", "number", tp) !== ti + 1) throw new PredictVectorsError(`predict vectors: ${tp}.tick: ${String(t.tick)}, want ${ti + 1} (ticks are consecutive from 1)`);
      field(t, "frame", "string", tp);
      list(t, "players", tp).forEach((pv, pi) => {
        const pp = `${tp}.players[${pi}]`;
        const p = object(pv, pp);
        field(p, "player", "number", pp);
        field(p, "entity", "number", pp);
        if (p.note !== undefined) field(p, "note", "string", pp);
        list(p, "inputs", pp).forEach((iv, ii) => {
          if (!Array.isArray(iv) || !iv.every((x) => Number.isInteger(x))) throw new PredictVectorsError(`predict vectors: ${pp}.inputs[${ii}]: want an array of integers`);
        });
      });
    });
  });
  return v as PredictVectors;
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PredictVectorsError(`predict vectors: ${path}: want an object`);
  return v as Record<string, unknown>;
}

function field<K extends "string" | "number">(o: Record<string, unknown>, key: string, kind: K, path: string): K extends "string" ? string : number {
  const v = o[key];
  if (typeof v !== kind) throw new PredictVectorsError(`predict vectors: ${path}.${key}: want a ${kind}, have ${v === undefined ? "nothing" : JSON.stringify(v)}`);
  return v as K extends "string" ? string : number;
}

function list(o: Record<string, unknown>, key: string, path: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new PredictVectorsError(`predict vectors: ${path}.${key}: want an array`);
  return v;
}
