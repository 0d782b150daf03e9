// Test helpers: paths, schemas, a model world and a frame encoder (a port of the Go encoder in
// sim/encode.go) that builds frames with protobuf-es, so tests need no Go.

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { clone, create, toBinary } from "@bufbuild/protobuf";
import { BytesValueSchema, FramePieceSchema, FrameSchema, ServerMessageSchema } from "../src/gen/ticksync/v1/messages_pb";
import type { Frame } from "../src/gen/ticksync/v1/messages_pb";
import { FieldType, StateSchemaSchema } from "../src/gen/ticksync/v1/schema_pb";
import type { StateSchema } from "../src/gen/ticksync/v1/schema_pb";
import { HandDecoder, ProtobufEsDecoder } from "../src/decode";
import type { FrameData } from "../src/frame";
import { predictValue } from "../src/predictrule";
import { compileSchema } from "../src/schema";
import type { ClassInfo, Schema } from "../src/schema";
import { popcount } from "../src/mirror";
import type { Mirror } from "../src/mirror";
import { Fnv64 } from "../src/hash";

/** repoRoot is the repository root: client-js/.. (tests run from client-js/build/test/). */
export const repoRoot: string = process.env.TICKSYNC_ROOT ?? resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** b64 decodes standard base64 (Go's encoding/json bytes in the golden and vector files). */
export const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "base64"));

/** readJSON reads a JSON file. */
export function readJSON(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8")) as unknown;
}

/** FieldDecl declares a field for tests. */
export interface FieldDecl {
  name: string;
  type?: "int" | "fixed" | "bool" | "bytes";
  scale?: number;
  interpolate?: boolean;
  predictFrom?: string;
  num?: number;
  den?: number;
  owner?: boolean;
  maxLen?: number;
  min?: number;
  max?: number;
}

const TYPES = { int: FieldType.INT, fixed: FieldType.FIXED, bool: FieldType.BOOL, bytes: FieldType.BYTES };

/** stateSchema builds a StateSchema message. */
export function stateSchema(classes: { name: string; fields: FieldDecl[] }[]): StateSchema {
  return create(StateSchemaSchema, {
    classes: classes.map((c) => ({
      name: c.name,
      fields: c.fields.map((f) => ({
        name: f.name,
        type: TYPES[f.type ?? "int"],
        scale: f.scale ?? (f.type === "fixed" ? 100 : 1),
        interpolate: f.interpolate ?? false,
        predictFrom: f.predictFrom === undefined ? 0 : c.fields.findIndex((g) => g.name === f.predictFrom) + 1,
        predictNum: f.num ?? 0,
        predictDen: f.den ?? 0,
        owner: f.owner ?? false,
        maxLen: f.maxLen ?? (f.type === "bytes" ? 16 : 0),
        hasRange: f.min !== undefined,
        min: f.min ?? 0,
        max: f.max ?? 0,
      })),
    })),
  });
}

/** arenaSchema is the arena game's schema (sim/arena): npc and player, x/y predicted from vx/vy. */
export function arenaProto(hz = 20): StateSchema {
  const pos = (n: string, v: string): FieldDecl => ({ name: n, type: "fixed", scale: 100, interpolate: true, predictFrom: v, num: 1, den: hz });
  return stateSchema([
    { name: "npc", fields: [pos("x", "vx"), pos("y", "vy"), { name: "vx", type: "fixed" }, { name: "vy", type: "fixed" }, { name: "hp" }] },
    {
      name: "player",
      fields: [pos("x", "vx"), pos("y", "vy"), { name: "vx", type: "fixed" }, { name: "vy", type: "fixed" }, { name: "hp" }, { name: "player", owner: true }],
    },
  ]);
}

/** ModelEntity is one entity of a ModelState. */
export interface ModelEntity {
  cls: number;
  gen: number;
  vals: number[]; // int columns (schema order among non-bytes fields)
  bytes: (Uint8Array | null)[]; // bytes columns
}

/** ModelState is a plain world state for tests: entities by id. */
export interface ModelState {
  tick: number;
  entities: Map<number, ModelEntity>;
}

/** cloneState deep-copies a state. */
export function cloneState(s: ModelState): ModelState {
  const entities = new Map<number, ModelEntity>();
  for (const [id, e] of s.entities) entities.set(id, { cls: e.cls, gen: e.gen, vals: [...e.vals], bytes: [...e.bytes] });
  return { tick: s.tick, entities };
}

function sortedIds(s: ModelState): number[] {
  return [...s.entities.keys()].sort((a, b) => a - b);
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  const x = a ?? new Uint8Array(0);
  const y = b ?? new Uint8Array(0);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * encodeFrame builds the Frame that brings a client holding base (null: nothing, a full
 * snapshot) to cur, as the server does (sim/encode.go): prediction on t-1 frames.
 */
export function encodeFrame(schema: Schema, base: ModelState | null, cur: ModelState, opts: { lastInputSeq?: number; withHash?: boolean } = {}): Frame {
  const predicted = base !== null && base.tick + 1 === cur.tick;
  const f = create(FrameSchema, { tick: cur.tick, baselineTick: base === null ? 0 : base.tick, lastInputSeq: opts.lastInputSeq ?? 0 });
  const ids = new Set<number>([...cur.entities.keys(), ...(base === null ? [] : base.entities.keys())]);
  let lastD = 0;
  let lastS = 0;
  let lastU = 0;
  for (const id of [...ids].sort((a, b) => a - b)) {
    const c = cur.entities.get(id);
    const b = base?.entities.get(id);
    const same = c !== undefined && b !== undefined && b.cls === c.cls && b.gen === c.gen;
    if (b !== undefined && !same) {
      f.despawnIds.push(id - lastD);
      lastD = id;
    }
    if (c === undefined) continue;
    const ci = schema.classes[c.cls];
    if (!same) {
      f.spawnIds.push(id - lastS);
      lastS = id;
      f.spawnClasses.push(c.cls);
      f.spawnValues.push(...c.vals);
      c.bytes.forEach((v, col) => {
        if (v !== null && v.length > 0) f.bytesValues.push(create(BytesValueSchema, { entityId: id, field: ci.bytesFields[col].index, value: v }));
      });
      continue;
    }
    const prev = (b as ModelEntity).vals;
    let mask = 0;
    const diffs: number[] = [];
    ci.intFields.forEach((fi, col) => {
      let expected = prev[col];
      if (predicted && fi.predictCol >= 0) expected = predictValue(prev[col], c.vals[fi.predictCol], fi.predictNum, fi.predictDen);
      const d = (c.vals[col] - expected) | 0;
      if (d !== 0) {
        mask |= 1 << fi.index;
        diffs.push(d);
      }
    });
    c.bytes.forEach((v, col) => {
      if (!bytesEqual(v, (b as ModelEntity).bytes[col])) {
        f.bytesValues.push(create(BytesValueSchema, { entityId: id, field: ci.bytesFields[col].index, value: v ?? new Uint8Array(0) }));
      }
    });
    if (mask !== 0) {
      f.updateIds.push(id - lastU);
      lastU = id;
      f.updateMasks.push(mask >>> 0);
      f.updateValues.push(...diffs);
    }
  }
  if (opts.withHash) {
    const h = modelHash(schema, cur);
    f.viewHash = (BigInt(h.hi) << 32n) | BigInt(h.lo);
  }
  return f;
}

/**
 * PartSpec is one part of a frame (a Frame's fields 4..11 or a FramePiece) with absolute ids:
 * despawned ids, [id, class, values] spawns, [id, mask, values] updates, [id, field, hex] bytes values.
 */
export interface PartSpec {
  despawn?: number[];
  spawn?: [number, number, number[]][];
  update?: [number, number, number[]][];
  bytes?: [number, number, string][];
}

/** delta delta-codes ascending ids (the first absolute). */
export function delta(ids: number[]): number[] {
  return ids.map((id, i) => (i === 0 ? id : id - ids[i - 1]));
}

/** partFields lays a part out as the wire does, ids delta-coded within it: spread it into a Frame or a FramePiece. */
export function partFields(p: PartSpec) {
  return {
    despawnIds: delta(p.despawn ?? []),
    spawnIds: delta((p.spawn ?? []).map((s) => s[0])),
    spawnClasses: (p.spawn ?? []).map((s) => s[1]),
    spawnValues: (p.spawn ?? []).flatMap((s) => s[2]),
    updateIds: delta((p.update ?? []).map((u) => u[0])),
    updateMasks: (p.update ?? []).map((u) => u[1]),
    updateValues: (p.update ?? []).flatMap((u) => u[2]),
    bytesValues: (p.bytes ?? []).map(([entityId, field, h]) => create(BytesValueSchema, { entityId, field, value: unhex(h) })),
  };
}

/**
 * splitFrame spreads a frame's entity changes over its own fields (part 0) and nPieces pieces:
 * each despawn, spawn, update and bytes value goes to part pick(id), asked anew for each, so one
 * id may be despawned in one part and spawned in another. Ids stay ascending within each part.
 */
export function splitFrame(schema: Schema, f: Frame, nPieces: number, pick: (id: number) => number): Frame {
  const parts: Required<PartSpec>[] = Array.from({ length: nPieces + 1 }, () => ({ despawn: [], spawn: [], update: [], bytes: [] }));
  const undelta = (d: number[]) => {
    let id = 0;
    return d.map((x) => (id += x));
  };
  for (const id of undelta(f.despawnIds)) parts[pick(id)].despawn.push(id);
  let vi = 0;
  undelta(f.spawnIds).forEach((id, i) => {
    const c = f.spawnClasses[i];
    const n = schema.classes[c].intFields.length;
    parts[pick(id)].spawn.push([id, c, f.spawnValues.slice(vi, vi + n)]);
    vi += n;
  });
  vi = 0;
  undelta(f.updateIds).forEach((id, i) => {
    const n = popcount(f.updateMasks[i]);
    parts[pick(id)].update.push([id, f.updateMasks[i], f.updateValues.slice(vi, vi + n)]);
    vi += n;
  });
  for (const bv of f.bytesValues) parts[pick(bv.entityId)].bytes.push([bv.entityId, bv.field, hex(bv.value)]);
  const out = clone(FrameSchema, f);
  Object.assign(out, partFields(parts[0]));
  out.pieces = parts.slice(1).map((p) => create(FramePieceSchema, partFields(p)));
  return out;
}

/** frameBytes wraps a Frame in a ServerMessage and encodes it. */
export function frameBytes(f: Frame): Uint8Array {
  return toBinary(ServerMessageSchema, create(ServerMessageSchema, { kind: { case: "frame", value: f } }));
}

/** stateLayout returns the bytes the state hash runs over (docs/protocol.md, "State hash"), built independently. */
export function stateLayout(schema: Schema, s: ModelState): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  for (const id of sortedIds(s)) {
    const e = s.entities.get(id) as ModelEntity;
    const ci = schema.classes[e.cls];
    u16(e.cls);
    u32(id);
    for (const f of ci.fields) {
      if (f.kind === "bytes") {
        const b = e.bytes[f.col] ?? new Uint8Array(0);
        u16(b.length);
        out.push(...b);
      } else u32(e.vals[f.col]);
    }
  }
  return Uint8Array.from(out);
}

/** modelHash is the state hash of a model state. */
export function modelHash(schema: Schema, s: ModelState): { hi: number; lo: number } {
  const h = new Fnv64();
  h.raw(stateLayout(schema, s));
  return { hi: h.hi, lo: h.lo };
}

/** hex encodes bytes as lowercase hex. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** unhex decodes lowercase hex. */
export function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** compiled compiles a StateSchema. */
export function compiled(s: StateSchema): Schema {
  return compileSchema(s);
}

/** rand returns a seeded PRNG (mulberry32) of floats in [0, 1) for property tests; failures name the seed. */
export function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** MirrorRow is one entity as tests compare it. */
export interface MirrorRow {
  id: number;
  class: number;
  values: number[];
  bytes: string[];
}

/** mirrorRows lists a mirror's entities ascending by id, with raw int values and hex bytes. */
export function mirrorRows(m: Mirror): MirrorRow[] {
  return m.ids().map((id) => {
    const c = m.classOf(id) as ClassInfo;
    return {
      id,
      class: c.index,
      values: c.intFields.map((f) => m.raw(id, f.col)),
      bytes: c.bytesFields.map((f) => hex(m.rawBytes(id, f.col) ?? new Uint8Array(0))),
    };
  });
}

/** flatRows is a mirror's rows as [id, class, ...values, ...bytes], for compact expectations. */
export const flatRows = (m: Mirror): (number | string)[][] => mirrorRows(m).map((r) => [r.id, r.class, ...r.values, ...r.bytes]);

/** decoders are the two frame decoders, by name: mirror tests run with each. */
export const decoders = [
  ["hand", () => new HandDecoder()],
  ["protobuf-es", () => new ProtobufEsDecoder()],
] as const;

/** decodeFrame decodes a server message that must be a frame. */
export function decodeFrame(dec: HandDecoder | ProtobufEsDecoder, b: Uint8Array): FrameData {
  const d = dec.decode(b);
  if (d.kind !== "frame") throw new Error(`decoded a ${d.kind} message, want a frame`);
  return d.frame;
}

/** modelRows lists a model state like mirrorRows. */
export function modelRows(s: ModelState): MirrorRow[] {
  return sortedIds(s).map((id) => {
    const e = s.entities.get(id) as ModelEntity;
    return { id, class: e.cls, values: [...e.vals], bytes: e.bytes.map((b) => hex(b ?? new Uint8Array(0))) };
  });
}
